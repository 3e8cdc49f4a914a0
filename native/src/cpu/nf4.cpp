// NF4 quantization and double quantization, bit-for-bit as bitsandbytes' CUDA kernels
// (csrc kQuantizeBlockwise with dQuantizeNF4 / dQuantize<0>, formats.md §7). See nf4.h.
// N = elements, NB = 64-blocks (N/64 rounded up), NB2 = 256-blocks of absmax.
// The one decision to know: every operation is float32 as in the kernel: scale = 1.0f / absmax, then
// x * scale (not x / absmax), thresholds are the kernel's float literals rounded directly from decimal
// to float32 (as nvcc does; a detour through double differs at 4 of the 15). This file must be built
// without FMA contraction (CMake sets -ffp-contract=off for it) so dequantize_absmax rounds twice.
#include "nf4.h"

#include <cmath>
#include <string>

#include "engine_error.h"

namespace tunesmith {

const float kNf4Code[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
};

// Exactly the literals of bnb's dQuantizeNF4, ascending: x > kNf4Midpoints[k] means code >= k + 1.
const float kNf4Midpoints[15] = {
    -0.8480964004993439f, -0.6106329262256622f, -0.4599952697753906f, -0.33967943489551544f,
    -0.23460740596055984f, -0.13791173323988914f, -0.045525018125772476f, 0.03979014977812767f,
    0.1202552504837513f, 0.2035212516784668f, 0.2920137718319893f, 0.3893125355243683f,
    0.5016634166240692f, 0.6427869200706482f, 0.8614784181118011f,
};

// create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8) as torch computes it in float32
// (torch.linspace(0.1, 1, 2^i + 1), midpoints, times 10^(i-6), both signs, plus 0 and 1), sorted.
// Regenerated and compared bit-for-bit by test/reference/nf4_reference.py.
const float kDynamicCode[256] = {
    -0x1.fc6666p-1f, -0x1.f53332p-1f, -0x1.eep-1f, -0x1.e6ccccp-1f, -0x1.df9998p-1f, -0x1.d86666p-1f,
    -0x1.d13334p-1f, -0x1.cap-1f, -0x1.c2ccccp-1f, -0x1.bb9998p-1f, -0x1.b46666p-1f, -0x1.ad3332p-1f,
    -0x1.a6p-1f, -0x1.9eccccp-1f, -0x1.979998p-1f, -0x1.906666p-1f, -0x1.893334p-1f, -0x1.82p-1f,
    -0x1.7acccep-1f, -0x1.73999ap-1f, -0x1.6c6668p-1f, -0x1.653334p-1f, -0x1.5ep-1f, -0x1.56cccep-1f,
    -0x1.4f999ap-1f, -0x1.486666p-1f, -0x1.413334p-1f, -0x1.3ap-1f, -0x1.32ccccp-1f, -0x1.2b999ap-1f,
    -0x1.246668p-1f, -0x1.1d3334p-1f, -0x1.16p-1f, -0x1.0eccccp-1f, -0x1.07999ap-1f, -0x1.006666p-1f,
    -0x1.f26668p-2f, -0x1.e4p-2f, -0x1.d59998p-2f, -0x1.c73334p-2f, -0x1.b8ccccp-2f, -0x1.aa6664p-2f,
    -0x1.9cp-2f, -0x1.8d9998p-2f, -0x1.7f3334p-2f, -0x1.70ccccp-2f, -0x1.626664p-2f, -0x1.54p-2f,
    -0x1.459998p-2f, -0x1.373334p-2f, -0x1.28ccccp-2f, -0x1.1a6668p-2f, -0x1.0cp-2f, -0x1.fb3334p-3f,
    -0x1.de6668p-3f, -0x1.c1999ap-3f, -0x1.a4ccccp-3f, -0x1.88p-3f, -0x1.6b3332p-3f, -0x1.4e6666p-3f,
    -0x1.31999ap-3f, -0x1.14ccccp-3f, -0x1.fp-4f, -0x1.b66668p-4f, -0x1.93d70ap-4f, -0x1.8851eap-4f,
    -0x1.7ccccep-4f, -0x1.7147aep-4f, -0x1.65c29p-4f, -0x1.5a3d7p-4f, -0x1.4eb85p-4f, -0x1.433334p-4f,
    -0x1.37ae14p-4f, -0x1.2c28f6p-4f, -0x1.20a3d6p-4f, -0x1.151ebap-4f, -0x1.09999ap-4f, -0x1.fc28f4p-5f,
    -0x1.e51ebap-5f, -0x1.ce147ap-5f, -0x1.b70a3ep-5f, -0x1.ap-5f, -0x1.88f5c2p-5f, -0x1.71eb86p-5f,
    -0x1.5ae146p-5f, -0x1.43d70ap-5f, -0x1.2ccccep-5f, -0x1.15c28ep-5f, -0x1.fd70a4p-6f, -0x1.cf5c26p-6f,
    -0x1.a147aep-6f, -0x1.733334p-6f, -0x1.451eb8p-6f, -0x1.170a3ep-6f, -0x1.d1eb86p-7f, -0x1.75c29p-7f,
    -0x1.3e76c8p-7f, -0x1.2c083p-7f, -0x1.19999ap-7f, -0x1.072b02p-7f, -0x1.e978d4p-8f, -0x1.c49ba6p-8f,
    -0x1.9fbe76p-8f, -0x1.7ae148p-8f, -0x1.56041ap-8f, -0x1.3126e8p-8f, -0x1.0c49bap-8f, -0x1.ced914p-9f,
    -0x1.851eb8p-9f, -0x1.3b645ap-9f, -0x1.e353f8p-10f, -0x1.4fdf3ap-10f, -0x1.eecbfep-11f, -0x1.b3d07cp-11f,
    -0x1.78d5p-11f, -0x1.3dd982p-11f, -0x1.02de02p-11f, -0x1.8fc506p-12f, -0x1.19ce0ap-12f, -0x1.47ae16p-13f,
    -0x1.743e96p-14f, -0x1.15df66p-14f, -0x1.6f0068p-15f, -0x1.64840cp-16f, -0x1.040bfep-17f, -0x1.b43528p-19f,
    -0x1.27476ep-21f, 0.0f, 0x1.27476ep-21f, 0x1.b43528p-19f, 0x1.040bfep-17f, 0x1.64840cp-16f,
    0x1.6f0068p-15f, 0x1.15df66p-14f, 0x1.743e96p-14f, 0x1.47ae16p-13f, 0x1.19ce0ap-12f, 0x1.8fc506p-12f,
    0x1.02de02p-11f, 0x1.3dd982p-11f, 0x1.78d5p-11f, 0x1.b3d07cp-11f, 0x1.eecbfep-11f, 0x1.4fdf3ap-10f,
    0x1.e353f8p-10f, 0x1.3b645ap-9f, 0x1.851eb8p-9f, 0x1.ced914p-9f, 0x1.0c49bap-8f, 0x1.3126e8p-8f,
    0x1.56041ap-8f, 0x1.7ae148p-8f, 0x1.9fbe76p-8f, 0x1.c49ba6p-8f, 0x1.e978d4p-8f, 0x1.072b02p-7f,
    0x1.19999ap-7f, 0x1.2c083p-7f, 0x1.3e76c8p-7f, 0x1.75c29p-7f, 0x1.d1eb86p-7f, 0x1.170a3ep-6f,
    0x1.451eb8p-6f, 0x1.733334p-6f, 0x1.a147aep-6f, 0x1.cf5c26p-6f, 0x1.fd70a4p-6f, 0x1.15c28ep-5f,
    0x1.2ccccep-5f, 0x1.43d70ap-5f, 0x1.5ae146p-5f, 0x1.71eb86p-5f, 0x1.88f5c2p-5f, 0x1.ap-5f,
    0x1.b70a3ep-5f, 0x1.ce147ap-5f, 0x1.e51ebap-5f, 0x1.fc28f4p-5f, 0x1.09999ap-4f, 0x1.151ebap-4f,
    0x1.20a3d6p-4f, 0x1.2c28f6p-4f, 0x1.37ae14p-4f, 0x1.433334p-4f, 0x1.4eb85p-4f, 0x1.5a3d7p-4f,
    0x1.65c29p-4f, 0x1.7147aep-4f, 0x1.7ccccep-4f, 0x1.8851eap-4f, 0x1.93d70ap-4f, 0x1.b66668p-4f,
    0x1.fp-4f, 0x1.14ccccp-3f, 0x1.31999ap-3f, 0x1.4e6666p-3f, 0x1.6b3332p-3f, 0x1.88p-3f,
    0x1.a4ccccp-3f, 0x1.c1999ap-3f, 0x1.de6668p-3f, 0x1.fb3334p-3f, 0x1.0cp-2f, 0x1.1a6668p-2f,
    0x1.28ccccp-2f, 0x1.373334p-2f, 0x1.459998p-2f, 0x1.54p-2f, 0x1.626664p-2f, 0x1.70ccccp-2f,
    0x1.7f3334p-2f, 0x1.8d9998p-2f, 0x1.9cp-2f, 0x1.aa6664p-2f, 0x1.b8ccccp-2f, 0x1.c73334p-2f,
    0x1.d59998p-2f, 0x1.e4p-2f, 0x1.f26668p-2f, 0x1.006666p-1f, 0x1.07999ap-1f, 0x1.0eccccp-1f,
    0x1.16p-1f, 0x1.1d3334p-1f, 0x1.246668p-1f, 0x1.2b999ap-1f, 0x1.32ccccp-1f, 0x1.3ap-1f,
    0x1.413334p-1f, 0x1.486666p-1f, 0x1.4f999ap-1f, 0x1.56cccep-1f, 0x1.5ep-1f, 0x1.653334p-1f,
    0x1.6c6668p-1f, 0x1.73999ap-1f, 0x1.7acccep-1f, 0x1.82p-1f, 0x1.893334p-1f, 0x1.906666p-1f,
    0x1.979998p-1f, 0x1.9eccccp-1f, 0x1.a6p-1f, 0x1.ad3332p-1f, 0x1.b46666p-1f, 0x1.bb9998p-1f,
    0x1.c2ccccp-1f, 0x1.cap-1f, 0x1.d13334p-1f, 0x1.d86666p-1f, 0x1.df9998p-1f, 0x1.e6ccccp-1f,
    0x1.eep-1f, 0x1.f53332p-1f, 0x1.fc6666p-1f, 0x1p+0f,
};

uint8_t nf4_code_of(float x) {
  // bnb's decision tree, comparison for comparison; NaN fails every '>' and lands on 0b0000.
  if (x > 0.03979014977812767f) {
    if (x > 0.3893125355243683f) {
      if (x > 0.6427869200706482f) return x > 0.8614784181118011f ? 0b1111 : 0b1110;
      return x > 0.5016634166240692f ? 0b1101 : 0b1100;
    }
    if (x > 0.2035212516784668f) return x > 0.2920137718319893f ? 0b1011 : 0b1010;
    return x > 0.1202552504837513f ? 0b1001 : 0b1000;
  }
  if (x > -0.33967943489551544f) {
    if (x > -0.13791173323988914f) return x > -0.045525018125772476f ? 0b0111 : 0b0110;
    return x > -0.23460740596055984f ? 0b0101 : 0b0100;
  }
  if (x > -0.6106329262256622f) return x > -0.4599952697753906f ? 0b0011 : 0b0010;
  return x > -0.8480964004993439f ? 0b0001 : 0b0000;
}

namespace {

// fmaxf over |x|, starting from -FLT_MAX as the kernel does (NaN inputs are skipped by fmaxf).
float block_absmax(const float* x, int64_t count) {
  float m = -3.402823466e+38f;
  for (int64_t i = 0; i < count; ++i) m = std::fmax(m, std::fabs(x[i]));
  return m;
}

void check_count(const char* what, int64_t n) {
  if (n < 0) TS_FAIL(std::string(what) + ": negative element count " + std::to_string(n));
}

}  // namespace

void quantize_nf4(const float* w, int64_t n, uint8_t* packed, float* absmax) {
  check_count("quantize_nf4", n);
  const int64_t nblocks = nf4_blocks(n);
  for (int64_t b = 0; b < nblocks; ++b) {
    const int64_t start = b * kNf4BlockSize;
    const int64_t count = n - start < kNf4BlockSize ? n - start : kNf4BlockSize;
    const float amax = block_absmax(w + start, count);
    absmax[b] = amax;
    const float scale = 1.0f / amax;  // inf for an all-zero block: 0 * inf = NaN -> code 0, as in bnb
    // Blocks are 64 wide, so a block starts on a byte boundary; an odd tail pairs with a padding 0.
    for (int64_t i = 0; i < count; i += 2) {
      const uint8_t hi = nf4_code_of(w[start + i] * scale);
      const uint8_t lo = nf4_code_of((i + 1 < count ? w[start + i + 1] : 0.0f) * scale);
      packed[(start + i) / 2] = static_cast<uint8_t>((hi << 4) | lo);
    }
  }
}

void dequantize_nf4_range(const uint8_t* packed, const float* absmax, int64_t begin, int64_t count, float* out) {
  if (begin < 0 || count < 0) TS_FAIL("dequantize_nf4_range: negative range");
  int64_t i = 0;
  if ((begin & 1) != 0 && count > 0) {  // starts on a low nibble
    out[0] = kNf4Code[packed[begin >> 1] & 0x0f] * absmax[begin / kNf4BlockSize];
    i = 1;
  }
  for (; i + 1 < count; i += 2) {
    const int64_t e = begin + i;  // even
    const uint8_t byte = packed[e >> 1];
    const float a = absmax[e / kNf4BlockSize];  // e and e + 1 share a block: blocks are even-aligned
    out[i] = kNf4Code[byte >> 4] * a;
    out[i + 1] = kNf4Code[byte & 0x0f] * a;
  }
  if (i < count) {
    const int64_t e = begin + i;
    out[i] = kNf4Code[packed[e >> 1] >> 4] * absmax[e / kNf4BlockSize];
  }
}

void dequantize_nf4(const uint8_t* packed, const float* absmax, int64_t n, float* out) {
  check_count("dequantize_nf4", n);
  dequantize_nf4_range(packed, absmax, 0, n, out);
}

uint8_t dynamic_code_index(const float* code, float x) {
  // bnb dQuantize<0>: a 7-step binary search from pivot 127, then the nearer of pivot and its neighbour
  // by a float32 midpoint; ties go to `pivot` (the lower index above it, the upper index below it).
  int pivot = 127, upper_pivot = 255, lower_pivot = 0;
  float lower = -1.0f, upper = 1.0f;
  float val = code[pivot];
  for (int i = 64; i > 0; i >>= 1) {
    if (x > val) {
      lower_pivot = pivot;
      lower = val;
      pivot += i;
    } else {
      upper_pivot = pivot;
      upper = val;
      pivot -= i;
    }
    val = code[pivot];
  }
  if (upper_pivot == 255) upper = code[upper_pivot];
  if (lower_pivot == 0) lower = code[lower_pivot];
  if (x > val) {
    const float midpoint = (upper + val) * 0.5f;
    return static_cast<uint8_t>(x > midpoint ? upper_pivot : pivot);
  }
  const float midpoint = (lower + val) * 0.5f;
  return static_cast<uint8_t>(x < midpoint ? lower_pivot : pivot);
}

void quantize_blockwise_8bit(const float* code, const float* x, int64_t n, int blocksize, uint8_t* q,
                             float* absmax) {
  check_count("quantize_blockwise_8bit", n);
  if (blocksize <= 0) TS_FAIL("quantize_blockwise_8bit: blocksize must be positive");
  const int64_t nblocks = (n + blocksize - 1) / blocksize;
  for (int64_t b = 0; b < nblocks; ++b) {
    const int64_t start = b * blocksize;
    const int64_t count = n - start < blocksize ? n - start : blocksize;
    const float amax = block_absmax(x + start, count);
    absmax[b] = amax;
    const float scale = 1.0f / amax;
    for (int64_t i = 0; i < count; ++i) q[start + i] = dynamic_code_index(code, x[start + i] * scale);
  }
}

void double_quantize_absmax(const float* absmax, int64_t nblocks, uint8_t* qabsmax, float* absmax2, float* offset) {
  check_count("double_quantize_absmax", nblocks);
  if (nblocks == 0) {
    *offset = 0.0f;
    return;
  }
  // bnb takes torch's float32 mean on the GPU, whose summation order is the reduction kernel's; a
  // double sum rounded once is the order-independent choice, and it is stored, so dequantization uses
  // exactly the offset quantization used.
  double sum = 0.0;
  for (int64_t i = 0; i < nblocks; ++i) sum += absmax[i];
  const auto mean = static_cast<float>(sum / static_cast<double>(nblocks));
  *offset = mean;
  constexpr int64_t kChunk = 4096;  // centred values, a 256-multiple chunk at a time
  float centred[kChunk];
  for (int64_t start = 0; start < nblocks; start += kChunk) {
    const int64_t count = nblocks - start < kChunk ? nblocks - start : kChunk;
    for (int64_t i = 0; i < count; ++i) centred[i] = absmax[start + i] - mean;
    quantize_blockwise_8bit(kDynamicCode, centred, count, kDqBlockSize, qabsmax + start, absmax2 + start / kDqBlockSize);
  }
}

void dequantize_absmax(const uint8_t* qabsmax, const float* absmax2, float offset, int64_t nblocks, float* absmax) {
  check_count("dequantize_absmax", nblocks);
  for (int64_t i = 0; i < nblocks; ++i) {
    const float scaled = kDynamicCode[qabsmax[i]] * absmax2[i / kDqBlockSize];  // bnb: dequantize_blockwise,
    absmax[i] = scaled + offset;                                                 // then += offset
  }
}

}  // namespace tunesmith
