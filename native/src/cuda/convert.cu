// Moves between dtypes and rows that the model path needs around the GEMMs: fp32 ↔ bf16 (round to
// nearest even), the fp32 residual add, and the gather / scatter-add of the rows that go through lm_head
// in chunks. All grid-stride loops over elements.
// N=rows C=channels n=elements
#include "cuda_check.h"
#include "reduce.cuh"

namespace tunesmith {
namespace cuda {

constexpr int kThreads = 256;

static __global__ void convert_f32_to_bf16_kernel(bf16* out, const float* in, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = __float2bfloat16_rn(in[i]);
}

static __global__ void convert_bf16_to_f32_kernel(float* out, const bf16* in, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = __bfloat162float(in[i]);
}

static __global__ void add_f32_kernel(float* out, const float* a, const float* b, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = a[i] + b[i];
}

// dst[i, c] = src[rows[i], c]
static __global__ void gather_rows_bf16_kernel(bf16* dst, const bf16* src, const int* rows, int n, int C) {
  const int64_t total = int64_t(n) * C;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / C, c = e % C;
    dst[e] = src[int64_t(rows[i]) * C + c];
  }
}

// dst[rows[i], c] += src[i, c]  (rows distinct: no two threads write one element)
static __global__ void scatter_add_rows_f32_kernel(float* dst, const float* src, const int* rows, int n, int C) {
  const int64_t total = int64_t(n) * C;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / C, c = e % C;
    dst[int64_t(rows[i]) * C + c] += src[e];
  }
}

void convert_f32_to_bf16(const CudaContext& ctx, bf16* out, const float* in, int64_t n) {
  if (n <= 0) return;
  launch(convert_f32_to_bf16_kernel, grid_for(n, kThreads), kThreads, 0, ctx.stream, out, in, n);
  CUDA_CHECK_LAUNCH(ctx, "convert_f32_to_bf16");
}

void convert_bf16_to_f32(const CudaContext& ctx, float* out, const bf16* in, int64_t n) {
  if (n <= 0) return;
  launch(convert_bf16_to_f32_kernel, grid_for(n, kThreads), kThreads, 0, ctx.stream, out, in, n);
  CUDA_CHECK_LAUNCH(ctx, "convert_bf16_to_f32");
}

void add_f32(const CudaContext& ctx, float* out, const float* a, const float* b, int64_t n) {
  if (n <= 0) return;
  launch(add_f32_kernel, grid_for(n, kThreads), kThreads, 0, ctx.stream, out, a, b, n);
  CUDA_CHECK_LAUNCH(ctx, "add_f32");
}

void gather_rows_bf16(const CudaContext& ctx, bf16* dst, const bf16* src, const int* rows, int n, int C) {
  if (n <= 0 || C <= 0) return;
  launch(gather_rows_bf16_kernel, grid_for(int64_t(n) * C, kThreads), kThreads, 0, ctx.stream, dst, src, rows, n, C);
  CUDA_CHECK_LAUNCH(ctx, "gather_rows_bf16");
}

void scatter_add_rows_f32(const CudaContext& ctx, float* dst, const float* src, const int* rows, int n, int C) {
  if (n <= 0 || C <= 0) return;
  launch(scatter_add_rows_f32_kernel, grid_for(int64_t(n) * C, kThreads), kThreads, 0, ctx.stream, dst, src, rows, n,
         C);
  CUDA_CHECK_LAUNCH(ctx, "scatter_add_rows_f32");
}

}  // namespace cuda
}  // namespace tunesmith
