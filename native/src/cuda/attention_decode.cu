// Generation's attention: one new query (position t) of every head against the KV cache, CUDA twin of
// attention_decode in src/cpu/attention.cpp. One block per query head; its four warps take every fourth
// visible key, each keeping an online-softmax state (device_math.h) and a D-wide accumulator spread over
// its lanes, and the four states merge at the end. bf16 in and out, fp32 inside.
// H=query heads KV=key/value heads D=head_dim T=cache rows
#include <cmath>

#include "cuda_check.h"
#include "device_math.h"
#include "reduce.cuh"

namespace tunesmith {
namespace cuda {

constexpr int kDecodeWarps = 4;

// out[H*D], q[H*D], k_cache/v_cache[T, KV*D]; lanes own bf16 pairs lane + 32i, i < PAIRS. Grid (H).
template <int PAIRS>
static __global__ void __launch_bounds__(kDecodeWarps * 32)
    attention_decode_kernel(bf16* out, const bf16* q, const bf16* k_cache, const bf16* v_cache, int t, int H, int KV,
                            int D, int window, float scale) {
  __shared__ float m_s[kDecodeWarps], l_s[kDecodeWarps];
  __shared__ float acc_s[kDecodeWarps][PAIRS * 64];
  const int h = blockIdx.x, g = h / (H / KV);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t kvs = int64_t(KV) * D;
  const int d2 = D / 2;

  float2 qv[PAIRS];
#pragma unroll
  for (int i = 0; i < PAIRS; ++i) {
    const int p = lane + 32 * i;
    qv[i] = p < d2 ? __bfloat1622float2(reinterpret_cast<const __nv_bfloat162*>(q + int64_t(h) * D)[p])
                   : make_float2(0.f, 0.f);
  }
  dm::SoftmaxState st = dm::softmax_empty();
  float2 acc[PAIRS];
#pragma unroll
  for (int i = 0; i < PAIRS; ++i) acc[i] = make_float2(0.f, 0.f);

  for (int s = dm::first_visible_key(t, window) + warp; s <= t; s += kDecodeWarps) {
    const __nv_bfloat162* ks = reinterpret_cast<const __nv_bfloat162*>(k_cache + s * kvs + int64_t(g) * D);
    const __nv_bfloat162* vs = reinterpret_cast<const __nv_bfloat162*>(v_cache + s * kvs + int64_t(g) * D);
    float dot = 0.f;
#pragma unroll
    for (int i = 0; i < PAIRS; ++i) {
      const int p = lane + 32 * i;
      if (p < d2) {
        const float2 kk = __bfloat1622float2(ks[p]);
        dot += qv[i].x * kk.x + qv[i].y * kk.y;
      }
    }
    const float score = warp_sum(dot) * scale;
    const float m_new = fmaxf(st.m, score);
    const float keep = dm::softmax_rescale(st.m, m_new);
    const float p = dm::softmax_weight(score, m_new);
    st.l = st.l * keep + p;
    st.m = m_new;
#pragma unroll
    for (int i = 0; i < PAIRS; ++i) {
      const int pp = lane + 32 * i;
      const float2 vv = pp < d2 ? __bfloat1622float2(vs[pp]) : make_float2(0.f, 0.f);
      acc[i].x = acc[i].x * keep + p * vv.x;
      acc[i].y = acc[i].y * keep + p * vv.y;
    }
  }

  if (lane == 0) m_s[warp] = st.m, l_s[warp] = st.l;
#pragma unroll
  for (int i = 0; i < PAIRS; ++i) {
    const int p = lane + 32 * i;
    acc_s[warp][2 * p] = acc[i].x;
    acc_s[warp][2 * p + 1] = acc[i].y;
  }
  __syncthreads();
  // Merge the warps' states in a fixed order; thread d finishes output element d.
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    dm::SoftmaxState merged = dm::softmax_empty();
    float value = 0.f;
    for (int w = 0; w < kDecodeWarps; ++w) {
      float wa, wb;
      merged = dm::softmax_merge(merged, dm::SoftmaxState{m_s[w], l_s[w]}, &wa, &wb);
      value = value * wa + acc_s[w][d] * wb;
    }
    out[int64_t(h) * D + d] = to_bf16(merged.l > 0.f ? value / merged.l : 0.f);
  }
}

template <int PAIRS>
static void launch_attention_decode(bf16* out, const bf16* q, const bf16* k_cache, const bf16* v_cache, int t, int H,
                                    int KV, int D, int window, float scale, cudaStream_t stream) {
  launch(attention_decode_kernel<PAIRS>, H, kDecodeWarps * 32, 0, stream, out, q, k_cache, v_cache, t, H, KV, D,
         window, scale);
}

void attention_decode(const CudaContext& ctx, bf16* out, const bf16* q, const bf16* k_cache, const bf16* v_cache,
                      int t, int H, int KV, int D, int window) {
  const std::string shape = "attention_decode: t=" + std::to_string(t) + " H=" + std::to_string(H) +
                            " KV=" + std::to_string(KV) + " D=" + std::to_string(D);
  TS_CHECK(t >= 0 && H > 0 && KV > 0 && H % KV == 0, shape + ": H must be a multiple of KV");
  TS_CHECK(D > 0 && D % 2 == 0 && D <= 256, shape + ": head_dim must be even and at most 256");
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  if (D <= 64) {
    launch_attention_decode<1>(out, q, k_cache, v_cache, t, H, KV, D, window, scale, ctx.stream);
  } else if (D <= 128) {
    launch_attention_decode<2>(out, q, k_cache, v_cache, t, H, KV, D, window, scale, ctx.stream);
  } else {
    launch_attention_decode<4>(out, q, k_cache, v_cache, t, H, KV, D, window, scale, ctx.stream);
  }
  CUDA_CHECK_LAUNCH(ctx, "attention_decode");
}

}  // namespace cuda
}  // namespace tunesmith
