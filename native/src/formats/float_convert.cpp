// Exact f16/bf16 <-> f32 conversion and to_f32 over a TensorView (declared in safetensors.h).
// bf16/f16 -> f32 is exact for every value; f32 -> bf16/f16 rounds to nearest, ties to even.
#include <cstring>
#include <string>

#include "engine_error.h"
#include "safetensors.h"

namespace tunesmith {

float bf16_to_f32(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t u;
  if (exp == 0x1f) {
    u = sign | 0x7f800000 | (mant << 13);  // inf, or NaN keeping its payload
  } else if (exp != 0) {
    u = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    u = sign;  // +-0
  } else {
    // Subnormal: normalize. value = mant * 2^-24.
    exp = 113;
    while ((mant & 0x400) == 0) {
      mant <<= 1;
      --exp;
    }
    u = sign | (exp << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32_to_bf16(float value) {
  uint32_t u;
  std::memcpy(&u, &value, 4);
  if ((u & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fff + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}

uint16_t f32_to_f16(float value) {
  uint32_t u;
  std::memcpy(&u, &value, 4);
  const auto sign = static_cast<uint16_t>((u >> 16) & 0x8000);
  const uint32_t a = u & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00 | static_cast<uint16_t>((a >> 13) & 0x3ff);  // NaN
  if (a >= 0x477ff000) return sign | 0x7c00;  // >= 65520 rounds to inf
  const uint32_t exp = a >> 23;
  if (exp < 113) {  // below 2^-14: half subnormal, units of 2^-24
    const uint32_t shift = 126 - exp;
    if (shift > 24) return sign;
    const uint32_t mant = (a & 0x7fffff) | (exp != 0 ? 0x800000 : 0);
    const uint32_t kept = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    const uint32_t rounded = kept + ((rest > half || (rest == half && (kept & 1))) ? 1 : 0);
    return sign | static_cast<uint16_t>(rounded);
  }
  const uint32_t h = ((exp - 112) << 10) | ((a >> 13) & 0x3ff);
  const uint32_t rest = a & 0x1fff;
  const uint32_t rounded = h + ((rest > 0x1000 || (rest == 0x1000 && (h & 1))) ? 1 : 0);
  return sign | static_cast<uint16_t>(rounded);
}

void to_f32(const TensorView& t, float* out, int64_t begin, int64_t count) {
  const int64_t n = t.numel();
  if (begin < 0 || count < 0 || begin > n || count > n - begin) {
    TS_FAIL("tensor " + t.name + ": elements [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
            ") are outside its " + std::to_string(n));
  }
  switch (t.dtype) {
    case DType::F32:
      if (count > 0) std::memcpy(out, t.data + begin * 4, static_cast<size_t>(count) * 4);
      return;
    case DType::BF16:
    case DType::F16: {
      const uint8_t* p = t.data + begin * 2;
      const bool bf16 = t.dtype == DType::BF16;
      for (int64_t i = 0; i < count; ++i) {
        const auto bits = static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8));
        out[i] = bf16 ? bf16_to_f32(bits) : f16_to_f32(bits);
      }
      return;
    }
    default:
      TS_FAIL("tensor " + t.name + " has dtype " + dtype_name(t.dtype) +
              "; only F32, F16 and BF16 tensors can be read as floats. Use a checkpoint saved in one of these");
  }
}

void to_f32(const TensorView& t, float* out) { to_f32(t, out, 0, t.numel()); }

}  // namespace tunesmith
