// Token embedding lookup + NEFTune noise, CUDA twin of src/cpu/embedding.cpp (formats.md §8):
// out = table[token] + mag·(2u − 1), u = hash_uniform(seed, n·C + c), mag = alpha/sqrt(L·C).
// The decision to know: the noise is the CPU's counter-based hash, and the arithmetic is spelled with
// __fmul_rn/__fadd_rn so nvcc cannot contract it into an FMA: for the same table values the output is
// bit-identical to the CPU's, whatever the thread layout. The bf16 table row widens to fp32 (the
// residual stream's dtype). No backward: the table is frozen.
// N=tokens C=channels V=vocab
#include <cmath>

#include "cuda_check.h"
#include "reduce.cuh"

namespace tunesmith {
namespace cuda {

constexpr int kThreads = 256;

// hash_uniform of ops.h, for the device: the same integer mixing, the same exact conversion.
static __device__ __forceinline__ float hash_uniform_device(uint64_t seed, uint64_t index) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return __fmul_rn(static_cast<float>(z >> 40), 1.0f / 16777216.0f);
}

// out[N,C] f32; tokens[N]; table[V,C] bf16. mag = 0: no noise.
static __global__ void embedding_forward_kernel(float* out, const int* tokens, const bf16* table, int N, int C,
                                                float mag, uint64_t seed) {
  const int64_t total = int64_t(N) * C;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = e / C, c = e % C;
    float value = to_float(table[int64_t(tokens[n]) * C + c]);
    if (mag > 0.f) {
      const float u = hash_uniform_device(seed, static_cast<uint64_t>(e));
      value = __fadd_rn(value, __fmul_rn(mag, __fsub_rn(__fmul_rn(2.f, u), 1.f)));
    }
    out[e] = value;
  }
}

static void launch_embedding_forward(float* out, const int* tokens, const bf16* table, int N, int C, float mag,
                                     uint64_t seed, cudaStream_t stream) {
  launch(embedding_forward_kernel, grid_for(int64_t(N) * C, kThreads), kThreads, 0, stream, out, tokens, table, N, C,
         mag, seed);
}

void embedding_forward(const CudaContext& ctx, float* out, const int* tokens, const bf16* table, int N, int C,
                       const Neftune& noise) {
  TS_CHECK(N >= 0 && C > 0, "embedding_forward: bad shape N=" + std::to_string(N) + " C=" + std::to_string(C));
  if (N == 0) return;
  // The CPU's expression, evaluated on the host in the same float operations.
  const float mag = noise.alpha > 0.f ? noise.alpha / std::sqrt(static_cast<float>(noise.L) * C) : 0.f;
  launch_embedding_forward(out, tokens, table, N, C, mag, noise.seed, ctx.stream);
  CUDA_CHECK_LAUNCH(ctx, "embedding_forward");
}

}  // namespace cuda
}  // namespace tunesmith
