// RoPE, CUDA twin of src/cpu/rope.cpp (HF rotate-half): for i < D/2 the pair (x[i], x[i+D/2]) of every
// head turns by the angle of the token's position; backward turns the gradient back by −angle. The
// cos/sin tables are the CPU's rope_table() (fp32 from double math), uploaded once per session.
// The decision to know: q and k are bf16 and rotated in place, one thread per pair, in fp32.
// N=tokens D=head_dim T=positions
#include "cuda_check.h"
#include "reduce.cuh"

namespace tunesmith {
namespace cuda {

constexpr int kThreads = 256;

// x[N, heads*D] bf16 in place; pos[N]; cos/sin[T, D/2]. sign = +1 forward, −1 backward.
static __global__ void rope_rotate_kernel(bf16* x, const int* pos, const float* cos_table, const float* sin_table,
                                          int N, int heads, int D, float sign) {
  const int half = D / 2;
  const int64_t pairs = int64_t(N) * heads * half;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < pairs; e += int64_t(gridDim.x) * blockDim.x) {
    const int i = int(e % half);
    const int64_t row = e / half;  // n*heads + head
    const int64_t n = row / heads;
    const int64_t t = pos[n];
    const float c = cos_table[t * half + i], s = sign * sin_table[t * half + i];
    bf16* v = x + row * D;
    const float a = to_float(v[i]), b = to_float(v[i + half]);
    v[i] = to_bf16(a * c - b * s);
    v[i + half] = to_bf16(b * c + a * s);
  }
}

static void launch_rope(bf16* x, const int* pos, const float* cos_table, const float* sin_table, int N, int heads,
                        int D, float sign, cudaStream_t stream) {
  const int64_t pairs = int64_t(N) * heads * (D / 2);
  launch(rope_rotate_kernel, grid_for(pairs, kThreads), kThreads, 0, stream, x, pos, cos_table, sin_table, N, heads,
         D, sign);
}

static void check_rope_shape(const char* op, int N, int heads, int D) {
  TS_CHECK(N >= 0 && heads > 0 && D > 0 && D % 2 == 0,
           std::string(op) + ": bad shape N=" + std::to_string(N) + " heads=" + std::to_string(heads) +
               " D=" + std::to_string(D) + " (D must be even)");
}

void rope_forward(const CudaContext& ctx, bf16* x, const int* pos, const float* cos_table, const float* sin_table,
                  int N, int heads, int D) {
  check_rope_shape("rope_forward", N, heads, D);
  if (N == 0) return;
  launch_rope(x, pos, cos_table, sin_table, N, heads, D, 1.f, ctx.stream);
  CUDA_CHECK_LAUNCH(ctx, "rope_forward");
}

void rope_backward(const CudaContext& ctx, bf16* dx, const int* pos, const float* cos_table,
                   const float* sin_table, int N, int heads, int D) {
  check_rope_shape("rope_backward", N, heads, D);
  if (N == 0) return;
  launch_rope(dx, pos, cos_table, sin_table, N, heads, D, -1.f, ctx.stream);
  CUDA_CHECK_LAUNCH(ctx, "rope_backward");
}

}  // namespace cuda
}  // namespace tunesmith
