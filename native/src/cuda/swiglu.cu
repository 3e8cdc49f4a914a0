// SwiGLU, CUDA twin of src/cpu/swiglu.cpp: h = silu(g)·u, silu(z) = z·σ(z),
// silu'(z) = σ(z)·(1 + z·(1 − σ(z))). Elementwise on bf16 tensors, fp32 arithmetic, two elements per
// thread step when the pointers allow (bf16x2 loads).
// n = N*F elements
#include "cuda_check.h"
#include "reduce.cuh"

namespace tunesmith {
namespace cuda {

constexpr int kThreads = 256;

static __device__ __forceinline__ float sigmoid(float z) { return 1.f / (1.f + expf(-z)); }

// h[n] = silu(gate[n]) · up[n]
static __global__ void swiglu_forward_kernel(bf16* h, const bf16* gate, const bf16* up, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float g = to_float(gate[i]);
    h[i] = to_bf16(g * sigmoid(g) * to_float(up[i]));
  }
}

// Same, two elements per step (n even, all three pointers 4-byte aligned).
static __global__ void swiglu_forward_pairs_kernel(__nv_bfloat162* h, const __nv_bfloat162* gate,
                                                   const __nv_bfloat162* up, int64_t pairs) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < pairs; i += int64_t(gridDim.x) * blockDim.x) {
    const float2 g = __bfloat1622float2(gate[i]), u = __bfloat1622float2(up[i]);
    h[i] = __floats2bfloat162_rn(g.x * sigmoid(g.x) * u.x, g.y * sigmoid(g.y) * u.y);
  }
}

// dgate[n], dup[n] from dh[n]
static __global__ void swiglu_backward_kernel(bf16* dgate, bf16* dup, const bf16* dh, const bf16* gate,
                                              const bf16* up, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float g = to_float(gate[i]), u = to_float(up[i]), d = to_float(dh[i]);
    const float sig = sigmoid(g);
    dup[i] = to_bf16(d * g * sig);
    dgate[i] = to_bf16(d * u * sig * (1.f + g * (1.f - sig)));
  }
}

static bool pairs_ok(int64_t n, const void* a, const void* b, const void* c) {
  return n % 2 == 0 && (reinterpret_cast<uintptr_t>(a) | reinterpret_cast<uintptr_t>(b) |
                        reinterpret_cast<uintptr_t>(c)) % 4 == 0;
}

static void launch_swiglu_forward(bf16* h, const bf16* gate, const bf16* up, int64_t n, cudaStream_t stream) {
  if (pairs_ok(n, h, gate, up)) {
    launch(swiglu_forward_pairs_kernel, grid_for(n / 2, kThreads), kThreads, 0, stream,
           reinterpret_cast<__nv_bfloat162*>(h), reinterpret_cast<const __nv_bfloat162*>(gate),
           reinterpret_cast<const __nv_bfloat162*>(up), n / 2);
  } else {
    launch(swiglu_forward_kernel, grid_for(n, kThreads), kThreads, 0, stream, h, gate, up, n);
  }
}

static void launch_swiglu_backward(bf16* dgate, bf16* dup, const bf16* dh, const bf16* gate, const bf16* up,
                                   int64_t n, cudaStream_t stream) {
  launch(swiglu_backward_kernel, grid_for(n, kThreads), kThreads, 0, stream, dgate, dup, dh, gate, up, n);
}

void swiglu_forward(const CudaContext& ctx, bf16* h, const bf16* gate, const bf16* up, int64_t n) {
  TS_CHECK(n >= 0, "swiglu_forward: negative element count");
  if (n == 0) return;
  launch_swiglu_forward(h, gate, up, n, ctx.stream);
  CUDA_CHECK_LAUNCH(ctx, "swiglu_forward");
}

void swiglu_backward(const CudaContext& ctx, bf16* dgate, bf16* dup, const bf16* dh, const bf16* gate,
                     const bf16* up, int64_t n) {
  TS_CHECK(n >= 0, "swiglu_backward: negative element count");
  if (n == 0) return;
  launch_swiglu_backward(dgate, dup, dh, gate, up, n, ctx.stream);
  CUDA_CHECK_LAUNCH(ctx, "swiglu_backward");
}

}  // namespace cuda
}  // namespace tunesmith
