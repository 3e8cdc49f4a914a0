// RMSNorm, CUDA twin of src/cpu/rmsnorm.cpp: y = w ⊙ x·r, r = 1/sqrt(mean(x²) + eps), in fp32 from the
// fp32 residual stream, y rounded to bf16 (it feeds the projections). Backward: x̂ = x·r, g = dy ⊙ w,
// dx += r·(g − x̂·mean(g ⊙ x̂)), dw += Σ_n dy ⊙ x̂.
// The decision to know: one block per token row, the row's sums reduced in a fixed order; dw, a sum over
// tokens, is one thread per channel walking the tokens in order — deterministic, and rarely used (norm
// weights are frozen in LoRA training).
// N=tokens C=channels
#include "cuda_check.h"
#include "reduce.cuh"

namespace tunesmith {
namespace cuda {

constexpr int kRowThreads = 256;

// y[N,C] bf16, rstd[N]; x[N,C], w[C] f32. One block per row.
static __global__ void rmsnorm_forward_kernel(bf16* y, float* rstd, const float* x, const float* w, int C,
                                              float eps) {
  __shared__ float shared[32];
  const int64_t n = blockIdx.x;
  const float* xn = x + n * C;
  float ss = 0.f;
  for (int c = threadIdx.x; c < C; c += blockDim.x) ss += xn[c] * xn[c];
  ss = block_sum(ss, shared);
  const float r = 1.f / sqrtf(ss / float(C) + eps);
  if (threadIdx.x == 0) rstd[n] = r;
  bf16* yn = y + n * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) yn[c] = to_bf16(w[c] * (xn[c] * r));
}

// dx[N,C] += r·(dy⊙w − x̂·mean(dy⊙w⊙x̂)). One block per row.
static __global__ void rmsnorm_backward_kernel(float* dx, const float* dy, const float* x, const float* w,
                                               const float* rstd, int C) {
  __shared__ float shared[32];
  const int64_t n = blockIdx.x;
  const float* xn = x + n * C;
  const float* dyn = dy + n * C;
  const float r = rstd[n];
  float dot = 0.f;
  for (int c = threadIdx.x; c < C; c += blockDim.x) dot += dyn[c] * w[c] * xn[c] * r;
  const float mean = block_sum(dot, shared) / float(C);
  float* dxn = dx + n * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) dxn[c] += r * (dyn[c] * w[c] - xn[c] * r * mean);
}

// dw[C] += Σ_n dy[n,c]·x[n,c]·rstd[n], tokens in order. One thread per channel.
static __global__ void rmsnorm_backward_weight_kernel(float* dw, const float* dy, const float* x, const float* rstd,
                                                      int N, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float acc = 0.f;
  for (int n = 0; n < N; ++n) acc += dy[int64_t(n) * C + c] * x[int64_t(n) * C + c] * rstd[n];
  dw[c] += acc;
}

static int row_threads(int C) { return C >= kRowThreads ? kRowThreads : (C + 31) / 32 * 32; }

static void launch_rmsnorm_forward(bf16* y, float* rstd, const float* x, const float* w, int N, int C, float eps,
                                   cudaStream_t stream) {
  launch(rmsnorm_forward_kernel, N, row_threads(C), 0, stream, y, rstd, x, w, C, eps);
}

static void launch_rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w,
                                    const float* rstd, int N, int C, cudaStream_t stream) {
  launch(rmsnorm_backward_kernel, N, row_threads(C), 0, stream, dx, dy, x, w, rstd, C);
  if (dw) launch(rmsnorm_backward_weight_kernel, (C + 127) / 128, 128, 0, stream, dw, dy, x, rstd, N, C);
}

void rmsnorm_forward(const CudaContext& ctx, bf16* y, float* rstd, const float* x, const float* w, int N, int C,
                     float eps) {
  TS_CHECK(N >= 0 && C > 0, "rmsnorm_forward: bad shape N=" + std::to_string(N) + " C=" + std::to_string(C));
  if (N == 0) return;
  launch_rmsnorm_forward(y, rstd, x, w, N, C, eps, ctx.stream);
  CUDA_CHECK_LAUNCH(ctx, "rmsnorm_forward");
}

void rmsnorm_backward(const CudaContext& ctx, float* dx, float* dw, const float* dy, const float* x, const float* w,
                      const float* rstd, int N, int C) {
  TS_CHECK(N >= 0 && C > 0, "rmsnorm_backward: bad shape N=" + std::to_string(N) + " C=" + std::to_string(C));
  if (N == 0) return;
  launch_rmsnorm_backward(dx, dw, dy, x, w, rstd, N, C, ctx.stream);
  CUDA_CHECK_LAUNCH(ctx, "rmsnorm_backward");
}

}  // namespace cuda
}  // namespace tunesmith
