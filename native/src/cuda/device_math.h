// Kernel math that is plain arithmetic, written once for the device and the host so the host test runner
// (native/tests/cuda_device_math_test.cpp, compiled by g++) can check it without a GPU: bf16 rounding,
// the online-softmax update and merge that flash attention streams with, the causal/sliding-window tile
// ranges, and NF4 code decoding. TS_HD marks them __host__ __device__ under nvcc and inline under g++.
// The one decision to know: bf16 is handled here as its 16 raw bits (uint16_t), rounding to nearest
// even exactly like __float2bfloat16_rn, so the parity harness can round CPU inputs the way the GPU does.
// Nothing here may include a CUDA header.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define TS_HD __host__ __device__ __forceinline__
#else
#define TS_HD inline
#endif

namespace tunesmith {
namespace dm {

// ---- float bits -----------------------------------------------------------------------------------------

TS_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

TS_HD float float_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// ---- bf16 -------------------------------------------------------------------------------------------------
// bf16 = the top 16 bits of a float32. Rounding to nearest, ties to even; NaN stays NaN (quieted, sign
// kept); values past the largest bf16 round to ±inf, as IEEE rounding does.

TS_HD uint16_t bf16_bits_from_float(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // NaN
  const uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>((u + rounding) >> 16);
}

TS_HD float float_from_bf16_bits(uint16_t b) { return float_from_bits(static_cast<uint32_t>(b) << 16); }

// The float a value becomes after a round trip through bf16.
TS_HD float round_to_bf16(float f) { return float_from_bf16_bits(bf16_bits_from_float(f)); }

// ---- online softmax (flash attention) --------------------------------------------------------------------
// A row's softmax is streamed over key tiles: the state keeps the running maximum m of the scores seen and
// l = Σ exp(s − m). A new tile with maximum m_tile rescales what was accumulated by exp(m − m_new).
// m = −inf means "nothing visible yet"; every function below keeps that case free of NaN (exp(−inf − −inf)).

struct SoftmaxState {
  float m;  // running max (−inf: no visible score yet)
  float l;  // Σ exp(s − m) over the scores seen
};

TS_HD SoftmaxState softmax_empty() { return SoftmaxState{-INFINITY, 0.f}; }

// The factor that moves sums taken relative to m_old onto m_new (m_new ≥ m_old). 0 when m_old is −inf.
TS_HD float softmax_rescale(float m_old, float m_new) {
  return m_old == -INFINITY ? 0.f : expf(m_old - m_new);
}

// exp(s − m) of one score against the current max; 0 for a masked score (s = −inf).
TS_HD float softmax_weight(float s, float m) { return s == -INFINITY ? 0.f : expf(s - m); }

// The new running max after a tile whose largest score is tile_max; the caller rescales its sums and
// accumulators by softmax_rescale(state.m, result) and adds the tile's weights relative to the result.
TS_HD float softmax_next_max(const SoftmaxState& state, float tile_max) { return fmaxf(state.m, tile_max); }

// Whole-state update with one tile: l ← l·rescale + Σ exp(s − m_new), given the tile's sum taken relative
// to its own maximum (tile_sum = Σ exp(s − tile_max)). Returns the factor the accumulator must be scaled by.
TS_HD float softmax_update(SoftmaxState& state, float tile_max, float tile_sum) {
  const float m_new = softmax_next_max(state, tile_max);
  const float keep = softmax_rescale(state.m, m_new);
  state.l = state.l * keep + tile_sum * softmax_rescale(tile_max, m_new);
  state.m = m_new;
  return keep;
}

// Two partial states over disjoint keys, combined (split-K decode). The accumulators combine as
// acc = acc_a·wa + acc_b·wb with the weights returned in *wa, *wb.
TS_HD SoftmaxState softmax_merge(const SoftmaxState& a, const SoftmaxState& b, float* wa, float* wb) {
  const float m = fmaxf(a.m, b.m);
  *wa = softmax_rescale(a.m, m);
  *wb = softmax_rescale(b.m, m);
  return SoftmaxState{m, a.l * *wa + b.l * *wb};
}

// log Σ exp(s) of the row, the value saved for backward; −inf for a row with no visible key.
TS_HD float softmax_lse(const SoftmaxState& s) { return s.l > 0.f ? s.m + logf(s.l) : -INFINITY; }

// ---- causal / sliding-window visibility --------------------------------------------------------------------
// Positions are within one sequence. Query t sees key j when j ≤ t and, with a window w > 0, j > t − w
// (Mistral: the w most recent keys, itself included).

TS_HD bool key_visible(int t, int j, int window) { return j <= t && (window <= 0 || j > t - window); }

// First key query t sees.
TS_HD int first_visible_key(int t, int window) {
  return window > 0 ? (t - window + 1 > 0 ? t - window + 1 : 0) : 0;
}

// Keys [*lo, *hi) that any query of [q0, q1) sees (q1 > q0); empty when *lo ≥ *hi.
TS_HD void keys_for_queries(int q0, int q1, int window, int* lo, int* hi) {
  *lo = first_visible_key(q0, window);
  *hi = q1;
}

// Queries [*lo, *hi) of a sequence of length T that see any key of [k0, k1) (k1 > k0).
TS_HD void queries_for_keys(int k0, int k1, int T, int window, int* lo, int* hi) {
  *lo = k0;
  const int last = window > 0 ? k1 - 1 + window - 1 : T - 1;  // the last query that sees key k1 − 1
  *hi = last + 1 < T ? last + 1 : T;
}

// Whether every (query, key) pair of the tile [q0,q1)×[k0,k1) is visible, so the kernel can skip the mask.
TS_HD bool tile_fully_visible(int q0, int q1, int k0, int k1, int window) {
  // The hardest pairs: the first query with the last key (causality), the last query with the first key
  // (the window).
  return key_visible(q0, k1 - 1, window) && key_visible(q1 - 1, k0, window);
}

TS_HD int ceil_div(int a, int b) { return (a + b - 1) / b; }

// ---- NF4 (formats.md §7) -------------------------------------------------------------------------------------

// The value of a 4-bit NF4 code (bnb get_4bit_type("nf4")), bit-identical to kNf4Code in nf4.cpp.
TS_HD float nf4_code_value(unsigned code) {
  // A branchless select would be faster; this keeps the table in one place without device memory.
  switch (code & 15u) {
    case 0: return -1.0f;
    case 1: return -0.6961928009986877f;
    case 2: return -0.5250730514526367f;
    case 3: return -0.39491748809814453f;
    case 4: return -0.28444138169288635f;
    case 5: return -0.18477343022823334f;
    case 6: return -0.09105003625154495f;
    case 7: return 0.0f;
    case 8: return 0.07958029955625534f;
    case 9: return 0.16093020141124725f;
    case 10: return 0.24611230194568634f;
    case 11: return 0.33791524171829224f;
    case 12: return 0.44070982933044434f;
    case 13: return 0.5626170039176941f;
    case 14: return 0.7229568362236023f;
    default: return 1.0f;
  }
}

// The code of element i of a packed tensor: element 2k in the HIGH nibble of byte k.
TS_HD unsigned nf4_code_at(const uint8_t* packed, int64_t i) {
  const unsigned byte = packed[i >> 1];
  return (i & 1) ? (byte & 15u) : (byte >> 4);
}

// Element i dequantized: code value × absmax of its 64-block, in float32 (as dequantize_nf4).
TS_HD float nf4_dequant_at(const uint8_t* packed, const float* absmax, int64_t i) {
  return nf4_code_value(nf4_code_at(packed, i)) * absmax[i >> 6];
}

}  // namespace dm
}  // namespace tunesmith
