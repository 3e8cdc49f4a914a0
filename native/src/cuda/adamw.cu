// AdamW (torch.optim.AdamW) and the global gradient norm, CUDA twins of src/cpu/adamw.cpp: one flat loop
// over every trainable float (LoRA params, grads and moments share one layout).
// The decisions to know: the update uses the CPU's float operations in the CPU's order, spelled with
// __fmul_rn/__fadd_rn/__fdiv_rn/__fsqrt_rn so nothing is contracted or approximated — the GPU's parameters
// after a step are bit-identical to the CPU's. Σ g² is accumulated in double in a fixed order (a fixed
// grid whose size depends only on n, then one block over the partials), so the norm — and with it
// clipping — is the same on every run.
// n = trainable floats
#include <cmath>

#include "cuda_check.h"
#include "reduce.cuh"

namespace tunesmith {
namespace cuda {

constexpr int kThreads = 256;
constexpr int kNormBlocks = 1024;  // partial sums of Σ g²; the scratch holds this many doubles

struct AdamWScalars {
  float decay, beta1, one_minus_beta1, beta2, one_minus_beta2, step_size, bc2_sqrt, eps;
};

static __global__ void adamw_step_kernel(float* params, const float* grads, float* m, float* v, int64_t n,
                                         AdamWScalars s) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float g = grads[i];
    float p = __fmul_rn(params[i], s.decay);
    const float mi = __fadd_rn(__fmul_rn(s.beta1, m[i]), __fmul_rn(s.one_minus_beta1, g));
    const float vi = __fadd_rn(__fmul_rn(s.beta2, v[i]), __fmul_rn(__fmul_rn(s.one_minus_beta2, g), g));
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), s.bc2_sqrt), s.eps);
    p = __fsub_rn(p, __fdiv_rn(__fmul_rn(s.step_size, mi), denom));
    m[i] = mi;
    v[i] = vi;
    params[i] = p;
  }
}

// partial[b] = Σ g² over the elements block b visits (grid-stride, fixed grid).
static __global__ void grad_sum_squares_partial_kernel(double* partial, const float* grads, int64_t n) {
  __shared__ double shared[32];
  double s = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const double g = grads[i];
    s += g * g;
  }
  s = block_sum(s, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

static __global__ void grad_sum_squares_final_kernel(double* out, const double* partial, int count) {
  __shared__ double shared[32];
  double s = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += partial[i];
  s = block_sum(s, shared);
  if (threadIdx.x == 0) *out = s;
}

static __global__ void scale_inplace_kernel(float* x, int64_t n, float s) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    x[i] *= s;
}

static void launch_adamw_step(float* params, const float* grads, float* m, float* v, int64_t n,
                              const AdamWScalars& s, cudaStream_t stream) {
  launch(adamw_step_kernel, grid_for(n, kThreads), kThreads, 0, stream, params, grads, m, v, n, s);
}

static void launch_grad_sum_squares(double* out, const float* grads, int64_t n, double* scratch,
                                    cudaStream_t stream) {
  const unsigned blocks = grid_for(n, kThreads, kNormBlocks);  // depends on n only: a fixed order
  launch(grad_sum_squares_partial_kernel, blocks, kThreads, 0, stream, scratch, grads, n);
  launch(grad_sum_squares_final_kernel, 1, kThreads, 0, stream, out, scratch, int(blocks));
}

void adamw_step(const CudaContext& ctx, float* params, const float* grads, float* m, float* v, int64_t n,
                const AdamWParams& hp, int64_t step) {
  TS_CHECK(n >= 0 && step >= 1, "adamw_step: bad size or step (step is 1-based)");
  if (n == 0) return;
  // The CPU's scalars, computed by the same host expressions.
  const double bc1 = 1.0 - std::pow(static_cast<double>(hp.beta1), static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(static_cast<double>(hp.beta2), static_cast<double>(step));
  AdamWScalars s;
  s.step_size = static_cast<float>(hp.lr / bc1);
  s.bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  s.decay = 1.f - hp.lr * hp.weight_decay;
  s.beta1 = hp.beta1, s.one_minus_beta1 = 1.f - hp.beta1;
  s.beta2 = hp.beta2, s.one_minus_beta2 = 1.f - hp.beta2;
  s.eps = hp.eps;
  launch_adamw_step(params, grads, m, v, n, s, ctx.stream);
  CUDA_CHECK_LAUNCH(ctx, "adamw_step");
}

int64_t grad_sum_squares_scratch_doubles() { return kNormBlocks; }

void grad_sum_squares(const CudaContext& ctx, double* out, const float* grads, int64_t n, double* scratch) {
  TS_CHECK(n >= 0, "grad_sum_squares: negative size");
  launch_grad_sum_squares(out, grads, n, scratch, ctx.stream);
  CUDA_CHECK_LAUNCH(ctx, "grad_sum_squares");
}

void scale_inplace(const CudaContext& ctx, float* x, int64_t n, float s) {
  TS_CHECK(n >= 0, "scale_inplace: negative size");
  if (n == 0) return;
  launch(scale_inplace_kernel, grid_for(n, kThreads), kThreads, 0, ctx.stream, x, n, s);
  CUDA_CHECK_LAUNCH(ctx, "scale_inplace");
}

}  // namespace cuda
}  // namespace tunesmith
