// Causal grouped-query attention with an optional sliding window (Mistral), in blocks of 64 query rows:
// scores and products go through the GEMM, forward keeps only a block of score rows (64 × T floats per
// thread) and saves each row's log-sum-exp, and backward recomputes the probabilities from it (as
// FlashAttention-2 does) — no T×T matrix per head. Generation's single query row stays a plain loop.
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
TS_ALWAYS_INLINE float dot(const float* a, const float* b, int D) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int d = 0;
  for (; d + 8 <= D; d += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[d + j] * b[d + j];
  float tail = 0.f;
  for (; d < D; ++d) tail += a[d] * b[d];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

// dst[cols, rows] = srcᵀ for src[rows, cols]
TS_ALWAYS_INLINE void transpose_into(float* dst, const float* src, int rows, int cols) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) dst[size_t(c) * rows + r] = src[size_t(r) * cols + c];
}

// First key a query at sequence position t may see.
TS_ALWAYS_INLINE int first_key(int t, int window) { return window > 0 ? std::max(0, t - window + 1) : 0; }

}  // namespace

namespace {

constexpr int QB = 64;  // query rows per block

// Query rows of one (sequence, head), QB at a time: S = scale·Q·Kᵀ for the block's visible keys (GEMM),
// masked softmax per row (its log-sum-exp saved), then O = P·V (GEMM).
TS_ALWAYS_INLINE void forward_head(float* out, float* lse, const float* q, const float* k,
                                                         const float* v, int start, int T, int h, int H, int KV,
                                                         int D, int window) {
  const int g = h / (H / KV);
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  const int64_t qs = static_cast<int64_t>(H) * D, kvs = static_cast<int64_t>(KV) * D;  // token strides
  const OpContext serial{nullptr};  // already inside a pool task
  thread_local std::vector<float> S;
  S.resize(size_t(QB) * T);
  GemmB kt, vrow;
  kt.layout = GemmB::kTransposed;
  vrow.layout = GemmB::kRowMajor;
  kt.ld = vrow.ld = kvs;
  for (int t0 = 0; t0 < T; t0 += QB) {
    const int t1 = std::min(T, t0 + QB), nb = t1 - t0;
    const int s0 = window > 0 ? std::max(0, t0 - window + 1) : 0, nk = t1 - s0;
    kt.f32 = k + (start + s0) * kvs + g * D;
    vrow.f32 = v + (start + s0) * kvs + g * D;
    gemm(serial, nb, nk, D, scale, q + (start + t0) * qs + h * D, qs, kt, false, S.data(), nk);  // S[nb,nk]
    for (int i = 0; i < nb; ++i) {
      const int t = t0 + i;
      float* row = S.data() + size_t(i) * nk;
      const int lo = first_key(t, window) - s0, hi = t - s0;  // visible keys, block-relative
      float mx = -INFINITY;
      for (int j = lo; j <= hi; ++j) mx = std::max(mx, row[j]);
      float sum = 0.f;
      for (int j = 0; j < nk; ++j) {
        const float p = (j >= lo && j <= hi) ? std::exp(row[j] - mx) : 0.f;
        row[j] = p;
        sum += p;
      }
      const float inv = 1.f / sum;
      for (int j = 0; j < nk; ++j) row[j] *= inv;
      lse[(start + t) * H + h] = mx + std::log(sum);
    }
    gemm(serial, nb, D, nk, 1.f, S.data(), nk, vrow, false, out + (start + t0) * qs + h * D, qs);  // O = P·V
  }
}

// One (sequence, KV head): that head's dk/dv rows and its query heads' dq. Queries go in blocks of QB
// rows (FlashAttention-2's backward): S = Q·Kᵀ and dP = dO·Vᵀ for the block's keys come from the GEMM,
// P is recomputed from the saved log-sum-exp, and dQ = dS·K, dK += dSᵀ·Q, dV += Pᵀ·dO are GEMMs too.
// Scratch is QB × T floats per buffer (a block of rows, not T×T), and blocks run in a fixed order.
TS_ALWAYS_INLINE void backward_group(float* dq, float* dk, float* dv, const float* dout,
                                                           const float* out, const float* lse, const float* q,
                                                           const float* k, const float* v, int start, int T, int g,
                                                           int H, int KV, int D, int window) {
  const int rep = H / KV;
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  const int64_t qs = static_cast<int64_t>(H) * D, kvs = static_cast<int64_t>(KV) * D;
  const OpContext serial{nullptr};  // already inside a pool task: the GEMMs run on this thread
  thread_local std::vector<float> S, dP, Tr;
  S.resize(size_t(QB) * T), dP.resize(size_t(QB) * T), Tr.resize(size_t(QB) * T);
  for (int t = 0; t < T; ++t) {
    std::memset(dk + (start + t) * kvs + g * D, 0, sizeof(float) * D);
    std::memset(dv + (start + t) * kvs + g * D, 0, sizeof(float) * D);
  }
  GemmB kt, vt, krow, qrow, orow;
  kt.layout = vt.layout = GemmB::kTransposed;
  krow.layout = qrow.layout = orow.layout = GemmB::kRowMajor;
  kt.ld = vt.ld = krow.ld = kvs;
  qrow.ld = orow.ld = qs;
  for (int h = g * rep; h < (g + 1) * rep; ++h) {
    for (int t0 = 0; t0 < T; t0 += QB) {
      const int t1 = std::min(T, t0 + QB), nb = t1 - t0;
      const int s0 = window > 0 ? std::max(0, t0 - window + 1) : 0, nk = t1 - s0;
      const float* qb = q + (start + t0) * qs + h * D;      // [nb, D] rows of stride qs
      const float* dob = dout + (start + t0) * qs + h * D;  // [nb, D]
      const float* kb = k + (start + s0) * kvs + g * D;     // [nk, D] rows of stride kvs
      const float* vb = v + (start + s0) * kvs + g * D;     // [nk, D]
      kt.f32 = krow.f32 = kb;
      vt.f32 = vb;
      gemm(serial, nb, nk, D, scale, qb, qs, kt, false, S.data(), nk);  // S[nb,nk] = scale·Q·Kᵀ
      gemm(serial, nb, nk, D, 1.f, dob, qs, vt, false, dP.data(), nk);  // dP[nb,nk] = dO·Vᵀ
      for (int i = 0; i < nb; ++i) {
        const int t = t0 + i;
        const float m = lse[(start + t) * H + h];
        const float delta = dot(dob + i * qs, out + (start + t) * qs + h * D, D);  // dO·O
        float* srow = S.data() + size_t(i) * nk;   // becomes P
        float* dprow = dP.data() + size_t(i) * nk;  // becomes dS
        const int lo = first_key(t, window) - s0, hi = t - s0;  // visible keys, block-relative
        for (int j = 0; j < nk; ++j) {
          const bool visible = j >= lo && j <= hi;
          const float p = visible ? std::exp(srow[j] - m) : 0.f;
          srow[j] = p;
          dprow[j] = p * (dprow[j] - delta) * scale;
        }
      }
      gemm(serial, nb, D, nk, 1.f, dP.data(), nk, krow, false, dq + (start + t0) * qs + h * D, qs);  // dQ = dS·K
      transpose_into(Tr.data(), dP.data(), nb, nk);                                                   // dSᵀ [nk,nb]
      qrow.f32 = qb;
      gemm(serial, nk, D, nb, 1.f, Tr.data(), nb, qrow, true, dk + (start + s0) * kvs + g * D, kvs);  // dK += dSᵀ·Q
      transpose_into(Tr.data(), S.data(), nb, nk);                                                    // Pᵀ [nk,nb]
      orow.f32 = dob;
      gemm(serial, nk, D, nb, 1.f, Tr.data(), nb, orow, true, dv + (start + s0) * kvs + g * D, kvs);  // dV += Pᵀ·dO
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
