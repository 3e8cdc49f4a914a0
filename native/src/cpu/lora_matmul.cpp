// lora_matmul: the one function through which every projection runs, adapter or not.
//   y = x·Wᵀ + bias + scale·(d(x)·Aᵀ)·Bᵀ,   d = dropout on the LoRA input (training only)
// Backward gives dx, dA, dB — never dW. The decision to know: the dropout mask is not stored; it is
// regenerated from (seed, element index) in backward, so the only saved LoRA activation is u = d(x)·Aᵀ.
// N=tokens I=in O=out R=rank
#include <algorithm>
#include <cstring>

#include "ops.h"

namespace tunesmith {
namespace {

// xd[N,I] = x ⊙ keep / (1-p), keep regenerated from the seed.
void apply_dropout(const OpContext& ctx, float* xd, const float* x, int64_t n, const LoraDropout& drop) {
  const float keep_scale = 1.f / (1.f - drop.p);
  const int64_t chunk = 1 << 14;
  const int tasks = static_cast<int>((n + chunk - 1) / chunk);
  ctx.pool->parallel_for(tasks, [&](int t) {
    const int64_t end = std::min(n, (t + 1) * chunk);
    for (int64_t e = t * chunk; e < end; ++e)
      xd[e] = hash_uniform(drop.seed, static_cast<uint64_t>(e)) < drop.p ? 0.f : x[e] * keep_scale;
  });
}

// dst[cols, rows] = srcᵀ for src[rows, cols]
void transpose(float* dst, const float* src, int rows, int cols) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) dst[static_cast<int64_t>(c) * rows + r] = src[static_cast<int64_t>(r) * cols + c];
}

GemmB row_major(const float* p, int64_t ld) {
  GemmB b;
  b.layout = GemmB::kRowMajor;
  b.f32 = p;
  b.ld = ld;
  return b;
}
GemmB transposed(const float* p, int64_t ld) {
  GemmB b = row_major(p, ld);
  b.layout = GemmB::kTransposed;
  return b;
}

}  // namespace

int64_t lora_matmul_scratch_floats(int N, int I, int O, int R) {
  const int64_t n = N;
  // forward: xd[N,I]; backward: xd[N,I], du[N,R], duT[R,N], uT[R,N], dBT[R,O], dxl[N,I]
  return 2 * n * I + n * R * 3 + static_cast<int64_t>(R) * O;
}

void lora_matmul_forward(const OpContext& ctx, float* y, float* u, const float* x, const FrozenWeight& W,
                         const float* bias, const LoraFactors& lora, const LoraDropout& drop, int N, float* scratch) {
  const int I = W.in, O = W.out, R = lora.rank;
  matmul_forward(ctx, y, x, W, bias, N);  // y[N,O]
  if (!lora.A) return;
  const float* xd = x;
  if (drop.p > 0.f) {
    apply_dropout(ctx, scratch, x, static_cast<int64_t>(N) * I, drop);
    xd = scratch;
  }
  gemm(ctx, N, R, I, 1.f, xd, I, transposed(lora.A, I), false, u, R);        // u[N,R] = xd · Aᵀ
  gemm(ctx, N, O, R, lora.scale, u, R, transposed(lora.B, R), true, y, O);    // y += s · u · Bᵀ
}

void lora_matmul_backward(const OpContext& ctx, float* dx, bool accumulate_dx, float* dA, float* dB, const float* dy,
                          const float* x, const float* u, const FrozenWeight& W, const LoraFactors& lora,
                          const LoraDropout& drop, int N, float* scratch) {
  const int I = W.in, O = W.out, R = lora.rank;
  matmul_backward(ctx, dx, accumulate_dx, dy, W, N);  // dx[N,I] (=|+=) dy · W
  if (!lora.A) return;
  const int64_t n = N;
  float* xd = scratch;             // [N,I]
  float* du = xd + n * I;          // [N,R]
  float* duT = du + n * R;         // [R,N]
  float* uT = duT + n * R;         // [R,N]
  float* dBT = uT + n * R;         // [R,O]
  float* dxl = dBT + int64_t(R) * O;  // [N,I]
  const float s = lora.scale;

  // dB[O,R] += s · dyᵀ · u, computed as (uᵀ · dy)ᵀ so the transposes are the small R-sized ones.
  transpose(uT, u, N, R);
  gemm(ctx, R, O, N, s, uT, N, row_major(dy, O), false, dBT, O);  // dBT[R,O]
  for (int o = 0; o < O; ++o)
    for (int r = 0; r < R; ++r) dB[static_cast<int64_t>(o) * R + r] += dBT[static_cast<int64_t>(r) * O + o];

  gemm(ctx, N, R, O, s, dy, O, row_major(lora.B, R), false, du, R);  // du[N,R] = s · dy · B

  const float* xin = x;
  if (drop.p > 0.f) {
    apply_dropout(ctx, xd, x, n * I, drop);
    xin = xd;
  }
  transpose(duT, du, N, R);
  gemm(ctx, R, I, N, 1.f, duT, N, row_major(xin, I), true, dA, I);  // dA[R,I] += duᵀ · xd

  if (drop.p > 0.f) {
    // dx += keep/(1-p) ⊙ (du · A): the mask is regenerated, not stored.
    gemm(ctx, N, I, R, 1.f, du, R, row_major(lora.A, I), false, dxl, I);
    const float keep_scale = 1.f / (1.f - drop.p);
    for (int64_t e = 0; e < n * I; ++e)
      if (!(hash_uniform(drop.seed, static_cast<uint64_t>(e)) < drop.p)) dx[e] += dxl[e] * keep_scale;
  } else {
    gemm(ctx, N, I, R, 1.f, du, R, row_major(lora.A, I), true, dx, I);  // dx += du · A
  }
}

}  // namespace tunesmith
