// NF4 quantization exactly as bitsandbytes' CUDA kernel does it (formats.md §7), and its double
// quantization of the per-block scales (§7.3).
//
// The one decision to know: NF4 blocks are 64 consecutive elements of the row-major tensor, one fp32
// absmax each, two codes per byte with element 2i in the HIGH nibble. The code of x is the decision
// tree of bnb's dQuantizeNF4 applied to x * (1.0f / absmax) in float32 (strict '>' against float32
// midpoints: a value exactly on a midpoint takes the lower code). Like bnb, an all-zero block has
// absmax 0 and its elements (0 * inf = NaN) all take code 0, which dequantizes to -0.0f.
// Non-finite inputs are outside the contract (bnb's result for them depends on thread layout); the
// model loader rejects weights that are not finite before quantizing.
// Arithmetic is IEEE float32. bnb's release builds compile the kernel with --use_fast_math, so on a GPU
// 1.0f / absmax is rcp.approx (within 1 ulp) and subnormals flush to zero: for normal weights a code
// can differ by one step where x * scale lies within an ulp of a threshold (measured on N(0, 0.02)
// blocks: at most ~3 in 10 million elements, and only for blocks whose reciprocal the GPU rounds
// differently). Codes are bit-identical to the algorithm in exact float32 (test/reference/).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tunesmith {

constexpr int kNf4BlockSize = 64;     // elements per absmax
constexpr int kDqBlockSize = 256;     // absmax values per second-level scale (double quantization)

// The 16 NF4 values, index = 4-bit code (bnb get_4bit_type("nf4")), and the 15 float32 midpoints of
// adjacent values that dQuantizeNF4 compares against.
extern const float kNf4Code[16];
extern const float kNf4Midpoints[15];
// bnb create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): 256 values, ascending.
extern const float kDynamicCode[256];

inline int64_t nf4_packed_bytes(int64_t n) { return (n + 1) / 2; }
inline int64_t nf4_blocks(int64_t n) { return (n + kNf4BlockSize - 1) / kNf4BlockSize; }
inline int64_t dq_blocks(int64_t nblocks) { return (nblocks + kDqBlockSize - 1) / kDqBlockSize; }

// The 4-bit code of a value already scaled to [-1, 1] (bnb dQuantizeNF4; NaN -> 0).
uint8_t nf4_code_of(float scaled);

// w[n] -> packed[nf4_packed_bytes(n)], absmax[nf4_blocks(n)]. With odd n the last low nibble is the
// code of a padding 0.0f (7, or 0 in an all-zero block), as bnb writes it.
void quantize_nf4(const float* w, int64_t n, uint8_t* packed, float* absmax);

// packed + absmax -> out[n], out[i] = kNf4Code[code_i] * absmax[i / 64] in float32.
void dequantize_nf4(const uint8_t* packed, const float* absmax, int64_t n, float* out);

// Elements [begin, begin + count) of the same flat tensor -> out[count]. For a [rows, cols] weight,
// row r is begin = r * cols, count = cols; any begin works (odd ones too), so a fused NF4 GEMM can
// dequantize one row or one 64-block at a time.
void dequantize_nf4_range(const uint8_t* packed, const float* absmax, int64_t begin, int64_t count,
                          float* out);

// ---- double quantization (bnb compress_statistics=True) -------------------------------------------
// offset = mean(absmax) (accumulated in double, rounded once to float32: see nf4.cpp for why);
// then (absmax - offset) is quantized with bnb's 8-bit blockwise scheme: blocks of 256, one fp32
// absmax2 each, code = index into kDynamicCode chosen by bnb's dQuantize binary search on
// x * (1.0f / absmax2).
// absmax[nblocks] -> qabsmax[nblocks], absmax2[dq_blocks(nblocks)], *offset.
void double_quantize_absmax(const float* absmax, int64_t nblocks, uint8_t* qabsmax, float* absmax2,
                            float* offset);
// absmax_i = kDynamicCode[qabsmax_i] * absmax2[i / 256] + offset, in float32 (bnb's dequant order).
void dequantize_absmax(const uint8_t* qabsmax, const float* absmax2, float offset, int64_t nblocks,
                       float* absmax);

// bnb's 8-bit blockwise quantization with an arbitrary 256-entry ascending code (the building block
// of double quantization): x[n] -> q[n], absmax[ceil(n / blocksize)].
void quantize_blockwise_8bit(const float* code256, const float* x, int64_t n, int blocksize, uint8_t* q,
                             float* absmax);
// The index bnb's dQuantize<0> picks for an already-scaled value.
uint8_t dynamic_code_index(const float* code256, float scaled);

}  // namespace tunesmith
