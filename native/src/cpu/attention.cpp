// Causal grouped-query attention with an optional sliding window (Mistral), one softmax row at a time:
// forward keeps only a row of scores (≤ T floats per thread) and saves each row's log-sum-exp, and
// backward recomputes the probabilities from it (as FlashAttention does) — no T×T matrix per head.
// Query head h reads KV head h / (H/KV) (HF repeat_kv). Scale 1/sqrt(D).
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
inline float dot(const float* a, const float* b, int D) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int d = 0;
  for (; d + 8 <= D; d += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[d + j] * b[d + j];
  float tail = 0.f;
  for (; d < D; ++d) tail += a[d] * b[d];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

// First key a query at sequence position t may see.
inline int first_key(int t, int window) { return window > 0 ? std::max(0, t - window + 1) : 0; }

}  // namespace

void attention_forward(const OpContext& ctx, float* out, float* lse, const float* q, const float* k, const float* v,
                       const SeqSpans& seqs, int H, int KV, int D, int window) {
  const int rep = H / KV;
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  const int64_t qs = static_cast<int64_t>(H) * D, kvs = static_cast<int64_t>(KV) * D;  // token strides
  ctx.pool->parallel_for(seqs.count * H, [&](int task) {
    const int sidx = task / H, h = task % H, g = h / rep;
    const int start = seqs.start[sidx], T = seqs.len[sidx];
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
  });
}

void attention_backward(const OpContext& ctx, float* dq, float* dk, float* dv, const float* dout, const float* out,
                        const float* lse, const float* q, const float* k, const float* v, const SeqSpans& seqs, int H,
                        int KV, int D, int window) {
  const int rep = H / KV;
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  const int64_t qs = static_cast<int64_t>(H) * D, kvs = static_cast<int64_t>(KV) * D;
  // One task per (sequence, KV head): it alone writes that head's dk/dv rows and its query heads' dq.
  ctx.pool->parallel_for(seqs.count * KV, [&](int task) {
    const int sidx = task / KV, g = task % KV;
    const int start = seqs.start[sidx], T = seqs.len[sidx];
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
