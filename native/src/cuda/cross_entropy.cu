// Cross-entropy over a chunk of positions, CUDA twin of src/cpu/cross_entropy.cpp: the model feeds
// lm_head's fp32 logits chunk by chunk, so [N,V] never exists. One block per row; the row's V logits
// are streamed once with an online max/sum (device_math.h) to get its log-sum-exp, and training's fused
// pass then writes dlogits = grad_scale·(softmax − onehot) in bf16 (the lm_head backward GEMM's input).
// A negative target marks an ignored row (loss 0, gradient 0), so a chunk may carry padding rows.
// n=rows in the chunk V=vocab
#include "cuda_check.h"
#include "device_math.h"
#include "reduce.cuh"

namespace tunesmith {
namespace cuda {

static int row_threads(int V) { return V >= 8192 ? 512 : V >= 1024 ? 256 : 64; }

// The row's log-sum-exp, every thread of the block receives it. shared: 2 × 32 floats.
static __device__ float row_logsumexp(const float* row, int V, float* shared) {
  dm::SoftmaxState s = dm::softmax_empty();
  for (int v = threadIdx.x; v < V; v += blockDim.x) {
    const float x = row[v];
    if (x > s.m) {
      s.l = s.l * dm::softmax_rescale(s.m, x) + 1.f;
      s.m = x;
    } else {
      s.l += dm::softmax_weight(x, s.m);
    }
  }
  float wa, wb;
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    const dm::SoftmaxState o{__shfl_xor_sync(kFullMask, s.m, offset), __shfl_xor_sync(kFullMask, s.l, offset)};
    s = dm::softmax_merge(s, o, &wa, &wb);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  if (lane == 0) shared[warp] = s.m, shared[32 + warp] = s.l;
  __syncthreads();
  s = lane < warps ? dm::SoftmaxState{shared[lane], shared[32 + lane]} : dm::softmax_empty();
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    const dm::SoftmaxState o{__shfl_xor_sync(kFullMask, s.m, offset), __shfl_xor_sync(kFullMask, s.l, offset)};
    s = dm::softmax_merge(s, o, &wa, &wb);
  }
  return dm::softmax_lse(s);
}

// losses[n], lse[n] from logits[n,V]. One block per row.
static __global__ void cross_entropy_forward_kernel(float* losses, float* lse, const float* logits,
                                                    const int* targets, int V) {
  __shared__ float shared[64];
  const int64_t i = blockIdx.x;
  const float* row = logits + i * V;
  const float m = row_logsumexp(row, V, shared);
  if (threadIdx.x == 0) {
    const int target = targets[i];
    lse[i] = m;
    losses[i] = target >= 0 && target < V ? m - row[target] : 0.f;
  }
}

// losses[n] and dlogits[n,V] bf16 = grad_scale·(softmax − onehot). One block per row.
static __global__ void cross_entropy_forward_backward_kernel(float* losses, bf16* dlogits, const float* logits,
                                                             const int* targets, int V, float grad_scale) {
  __shared__ float shared[64];
  const int64_t i = blockIdx.x;
  const float* row = logits + i * V;
  bf16* drow = dlogits + i * V;
  const int target = targets[i];
  const bool trained = target >= 0 && target < V;
  if (!trained) {  // uniform per block: every thread takes this branch or none does
    for (int v = threadIdx.x; v < V; v += blockDim.x) drow[v] = to_bf16(0.f);
    if (threadIdx.x == 0) losses[i] = 0.f;
    return;
  }
  const float m = row_logsumexp(row, V, shared);
  for (int v = threadIdx.x; v < V; v += blockDim.x) {
    float d = grad_scale * expf(row[v] - m);
    if (v == target) d -= grad_scale;
    drow[v] = to_bf16(d);
  }
  if (threadIdx.x == 0) losses[i] = m - row[target];
}

// *total += Σ losses over trained rows, *count += their number. One block, fixed order.
static __global__ void loss_sum_accumulate_kernel(double* total, int64_t* count, const float* losses,
                                                  const int* targets, int n) {
  __shared__ double shared[32];
  double sum = 0;
  double trained = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    if (targets[i] >= 0) sum += losses[i], trained += 1;
  }
  sum = block_sum(sum, shared);
  trained = block_sum(trained, shared);
  if (threadIdx.x == 0) {
    *total += sum;
    *count += static_cast<int64_t>(trained);
  }
}

static void launch_cross_entropy_forward(float* losses, float* lse, const float* logits, const int* targets, int n,
                                         int V, cudaStream_t stream) {
  launch(cross_entropy_forward_kernel, n, row_threads(V), 0, stream, losses, lse, logits, targets, V);
}

static void launch_cross_entropy_forward_backward(float* losses, bf16* dlogits, const float* logits,
                                                  const int* targets, int n, int V, float grad_scale,
                                                  cudaStream_t stream) {
  launch(cross_entropy_forward_backward_kernel, n, row_threads(V), 0, stream, losses, dlogits, logits, targets, V,
         grad_scale);
}

static void check_ce_shape(const char* op, int n, int V) {
  TS_CHECK(n >= 0 && V > 0, std::string(op) + ": bad shape n=" + std::to_string(n) + " V=" + std::to_string(V));
}

void cross_entropy_forward(const CudaContext& ctx, float* losses, float* lse, const float* logits, const int* targets,
                           int n, int V) {
  check_ce_shape("cross_entropy_forward", n, V);
  if (n == 0) return;
  launch_cross_entropy_forward(losses, lse, logits, targets, n, V, ctx.stream);
  CUDA_CHECK_LAUNCH(ctx, "cross_entropy_forward");
}

void cross_entropy_forward_backward(const CudaContext& ctx, float* losses, bf16* dlogits, const float* logits,
                                    const int* targets, int n, int V, float grad_scale) {
  check_ce_shape("cross_entropy_forward_backward", n, V);
  if (n == 0) return;
  launch_cross_entropy_forward_backward(losses, dlogits, logits, targets, n, V, grad_scale, ctx.stream);
  CUDA_CHECK_LAUNCH(ctx, "cross_entropy_forward_backward");
}

void loss_sum_accumulate(const CudaContext& ctx, double* total, int64_t* count, const float* losses,
                         const int* targets, int n) {
  TS_CHECK(n >= 0, "loss_sum_accumulate: negative row count");
  if (n == 0) return;
  launch(loss_sum_accumulate_kernel, 1, 256, 0, ctx.stream, total, count, losses, targets, n);
  CUDA_CHECK_LAUNCH(ctx, "loss_sum_accumulate");
}

}  // namespace cuda
}  // namespace tunesmith
