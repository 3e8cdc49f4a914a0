// Host emulation of the bf16 types the kernels use (see cuda_runtime.h here): the 16 bits, converted by
// device_math.h's round-to-nearest-even, which is what __float2bfloat16_rn does on the GPU.
#pragma once

#include <cstdint>

#include "cuda/device_math.h"
#include "cuda_runtime.h"

struct __nv_bfloat16 {
  uint16_t bits;
};
struct __nv_bfloat162 {
  __nv_bfloat16 x, y;
};

inline float __bfloat162float(__nv_bfloat16 b) { return tunesmith::dm::float_from_bf16_bits(b.bits); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16{tunesmith::dm::bf16_bits_from_float(f)}; }
inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }
inline float2 __bfloat1622float2(__nv_bfloat162 v) { return float2{__bfloat162float(v.x), __bfloat162float(v.y)}; }
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) {
  return __nv_bfloat162{__float2bfloat16_rn(a), __float2bfloat16_rn(b)};
}
