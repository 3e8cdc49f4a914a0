// Causal grouped-query attention with an optional sliding window (Mistral), one softmax row at a time:
// forward keeps only a row of scores (≤ T floats per thread) and saves each row's log-sum-exp, and
// backward recomputes the probabilities from it (as FlashAttention does) — no T×T matrix per head.
// Query head h reads KV head h / (H/KV) (HF repeat_kv). Scale 1/sqrt(D). The row loops are compiled
// twice (AVX2+FMA and portable), picked once per process.
// N=tokens H=query heads KV=key/value heads D=head_dim T=sequence length
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "parallel.h"

namespace tunesmith {
namespace {

// Eight running sums, combined in a fixed order: the compiler vectorizes this (a single running sum
// it may not reorder), and the result is the same on every run.
__attribute__((always_inline)) inline float dot(const float* a, const float* b, int D) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int d = 0;
  for (; d + 8 <= D; d += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[d + j] * b[d + j];
  float tail = 0.f;
  for (; d < D; ++d) tail += a[d] * b[d];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

// First key a query at sequence position t may see.
__attribute__((always_inline)) inline int first_key(int t, int window) { return window > 0 ? std::max(0, t - window + 1) : 0; }

}  // namespace

namespace {

// Query rows of one (sequence, head): out, lse.
__attribute__((always_inline)) inline void forward_head(float* out, float* lse, const float* q, const float* k,
                                                         const float* v, int start, int T, int h, int H, int KV,
                                                         int D, int window) {
  const int g = h / (H / KV);
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  const int64_t qs = static_cast<int64_t>(H) * D, kvs = static_cast<int64_t>(KV) * D;  // token strides
  thread_local std::vector<float> row;
  row.resize(T);
  for (int t = 0; t < T; ++t) {
    const float* qt = q + (start + t) * qs + h * D;  // [D]
    float* ot = out + (start + t) * qs + h * D;      // [D]
    const int lo = first_key(t, window);
    float mx = -INFINITY;
    for (int s = lo; s <= t; ++s) {
      row[s] = dot(qt, k + (start + s) * kvs + g * D, D) * scale;
      mx = std::max(mx, row[s]);
    }
    float sum = 0.f;
    for (int s = lo; s <= t; ++s) {
      row[s] = std::exp(row[s] - mx);
      sum += row[s];
    }
    const float inv = 1.f / sum;
    std::memset(ot, 0, sizeof(float) * D);
    for (int s = lo; s <= t; ++s) {
      const float p = row[s] * inv;
      const float* vs = v + (start + s) * kvs + g * D;
      for (int d = 0; d < D; ++d) ot[d] += p * vs[d];
    }
    lse[(start + t) * H + h] = mx + std::log(sum);
  }
}

// One (sequence, KV head): that head's dk/dv rows and its query heads' dq.
__attribute__((always_inline)) inline void backward_group(float* dq, float* dk, float* dv, const float* dout,
                                                           const float* out, const float* lse, const float* q,
                                                           const float* k, const float* v, int start, int T, int g,
                                                           int H, int KV, int D, int window) {
  const int rep = H / KV;
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  const int64_t qs = static_cast<int64_t>(H) * D, kvs = static_cast<int64_t>(KV) * D;
  for (int t = 0; t < T; ++t) {
    std::memset(dk + (start + t) * kvs + g * D, 0, sizeof(float) * D);
    std::memset(dv + (start + t) * kvs + g * D, 0, sizeof(float) * D);
  }
  for (int h = g * rep; h < (g + 1) * rep; ++h) {
    for (int t = 0; t < T; ++t) {
      const int64_t qi = (start + t) * qs + h * D;
      const float* qt = q + qi;
      const float* dot_ = dout + qi;  // dO_t [D]
      float* dqt = dq + qi;
      std::memset(dqt, 0, sizeof(float) * D);
      const float m = lse[(start + t) * H + h];
      const float delta = dot(dot_, out + qi, D);  // Σ_s p_s dO·v_s = dO·O
      for (int s = first_key(t, window); s <= t; ++s) {
        const float* ks = k + (start + s) * kvs + g * D;
        const float* vs = v + (start + s) * kvs + g * D;
        const float p = std::exp(dot(qt, ks, D) * scale - m);
        const float ds = p * (dot(dot_, vs, D) - delta) * scale;
        float* dks = dk + (start + s) * kvs + g * D;
        float* dvs = dv + (start + s) * kvs + g * D;
        for (int d = 0; d < D; ++d) {
          dqt[d] += ds * ks[d];
          dks[d] += ds * qt[d];
          dvs[d] += p * dot_[d];
        }
      }
    }
  }
}

using ForwardHead = void (*)(float*, float*, const float*, const float*, const float*, int, int, int, int, int, int,
                             int);
using BackwardGroup = void (*)(float*, float*, float*, const float*, const float*, const float*, const float*,
                               const float*, const float*, int, int, int, int, int, int, int);

void forward_head_generic(float* out, float* lse, const float* q, const float* k, const float* v, int start, int T,
                          int h, int H, int KV, int D, int window) {
  forward_head(out, lse, q, k, v, start, T, h, H, KV, D, window);
}
void backward_group_generic(float* dq, float* dk, float* dv, const float* dout, const float* out, const float* lse,
                            const float* q, const float* k, const float* v, int start, int T, int g, int H, int KV,
                            int D, int window) {
  backward_group(dq, dk, dv, dout, out, lse, q, k, v, start, T, g, H, KV, D, window);
}
#ifdef TS_HAVE_AVX2
TS_TARGET_AVX2 void forward_head_avx2(float* out, float* lse, const float* q, const float* k, const float* v,
                                      int start, int T, int h, int H, int KV, int D, int window) {
  forward_head(out, lse, q, k, v, start, T, h, H, KV, D, window);
}
TS_TARGET_AVX2 void backward_group_avx2(float* dq, float* dk, float* dv, const float* dout, const float* out,
                                        const float* lse, const float* q, const float* k, const float* v, int start,
                                        int T, int g, int H, int KV, int D, int window) {
  backward_group(dq, dk, dv, dout, out, lse, q, k, v, start, T, g, H, KV, D, window);
}
const ForwardHead forward_head_impl = cpu_has_avx2_fma() ? forward_head_avx2 : forward_head_generic;
const BackwardGroup backward_group_impl = cpu_has_avx2_fma() ? backward_group_avx2 : backward_group_generic;
#else
const ForwardHead forward_head_impl = forward_head_generic;
const BackwardGroup backward_group_impl = backward_group_generic;
#endif

}  // namespace

void attention_forward(const OpContext& ctx, float* out, float* lse, const float* q, const float* k, const float* v,
                       const SeqSpans& seqs, int H, int KV, int D, int window) {
  ctx.pool->parallel_for(seqs.count * H, [&](int task) {
    const int sidx = task / H;
    forward_head_impl(out, lse, q, k, v, seqs.start[sidx], seqs.len[sidx], task % H, H, KV, D, window);
  });
}

void attention_backward(const OpContext& ctx, float* dq, float* dk, float* dv, const float* dout, const float* out,
                        const float* lse, const float* q, const float* k, const float* v, const SeqSpans& seqs, int H,
                        int KV, int D, int window) {
  ctx.pool->parallel_for(seqs.count * KV, [&](int task) {
    const int sidx = task / KV;
    backward_group_impl(dq, dk, dv, dout, out, lse, q, k, v, seqs.start[sidx], seqs.len[sidx], task % KV, H, KV, D,
                        window);
  });
}

void attention_decode(const OpContext& ctx, float* out, const float* q, const float* k_cache, const float* v_cache,
                      int t, int H, int KV, int D, int window) {
  const int rep = H / KV;
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  const int64_t kvs = static_cast<int64_t>(KV) * D;
  ctx.pool->parallel_for(H, [&](int h) {
    const int g = h / rep;
    thread_local std::vector<float> row;
    row.resize(t + 1);
    const float* qh = q + h * D;
    float* oh = out + h * D;
    const int lo = first_key(t, window);
    float mx = -INFINITY;
    for (int s = lo; s <= t; ++s) {
      row[s] = dot(qh, k_cache + s * kvs + g * D, D) * scale;
      mx = std::max(mx, row[s]);
    }
    float sum = 0.f;
    for (int s = lo; s <= t; ++s) sum += (row[s] = std::exp(row[s] - mx));
    std::memset(oh, 0, sizeof(float) * D);
    for (int s = lo; s <= t; ++s) {
      const float p = row[s] / sum;
      const float* vs = v_cache + s * kvs + g * D;
      for (int d = 0; d < D; ++d) oh[d] += p * vs[d];
    }
  });
}

}  // namespace tunesmith
