// Next-token sampling on the device, the twin of the sampler in src/model/generate.cpp: greedy (the first
// maximum), or temperature + top-p. One block of 1024 threads does it all; only the token goes back.
// The decision to know: nothing is sorted. With e_i = exp((l_i − max)/T) ∈ (0, 1], the mass of the tokens
// at least as likely as a threshold, M(τ) = Σ_{e_i ≥ τ} e_i, falls as τ rises, and for non-negative floats
// the order of the values is the order of their bit patterns; so the nucleus threshold (the largest τ with
// M(τ) ≥ top_p·Σe) and the sampled token (the largest τ with M(τ) ≥ uniform·M(nucleus)) are each a binary
// search over 32-bit patterns, ~31 block-wide sums apiece. Within a group of tokens of exactly equal
// probability the walk goes in index order and the nucleus takes only as many of them as it needs, as
// the CPU's sort-and-accumulate does.
// V=vocab
#include "cuda_check.h"
#include "device_math.h"
#include "reduce.cuh"

namespace tunesmith {
namespace cuda {

constexpr int kSampleThreads = 1024;

// Σ e_i over tokens whose bits are ≥ threshold (double, fixed order).
static __device__ double mass_at_or_above(const float* e, int V, uint32_t threshold, double* shared) {
  double s = 0;
  for (int i = threadIdx.x; i < V; i += blockDim.x)
    if (dm::float_bits(e[i]) >= threshold) s += e[i];
  return block_sum(s, shared);
}

// The largest bit pattern u in [0, hi) with mass_at_or_above(u) ≥ target (mass(0) ≥ target assumed).
static __device__ uint32_t largest_threshold_with_mass(const float* e, int V, double target, uint32_t hi,
                                                       double* shared) {
  uint32_t lo = 0;
  while (hi - lo > 1) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (mass_at_or_above(e, V, mid, shared) >= target) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// *token from logits[V] (overwritten by e). uniform in [0, 1).
static __global__ void sample_token_kernel(int* token, float* logits, int V, float temperature, float top_p,
                                           double uniform) {
  __shared__ double dshared[32];
  __shared__ float fshared[32];
  __shared__ int ishared[32];
  __shared__ int found;

  // Greedy pass: the maximum, and its first index.
  float best = -INFINITY;
  int best_index = V;
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    const float x = logits[i];
    if (x > best) best = x, best_index = i;  // strided in index order: the first maximum of this thread
  }
  const float mx = block_max(best, fshared);
  int candidate = best == mx ? best_index : V;
  for (int offset = 16; offset > 0; offset >>= 1)
    candidate = min(candidate, __shfl_xor_sync(kFullMask, candidate, offset));
  __syncthreads();
  if ((threadIdx.x & 31) == 0) ishared[threadIdx.x >> 5] = candidate;
  __syncthreads();
  candidate = int(threadIdx.x & 31) < int(blockDim.x >> 5) ? ishared[threadIdx.x & 31] : V;
  for (int offset = 16; offset > 0; offset >>= 1)
    candidate = min(candidate, __shfl_xor_sync(kFullMask, candidate, offset));
  if (temperature <= 0.f) {
    if (threadIdx.x == 0) *token = candidate < V ? candidate : 0;
    return;
  }

  // e_i = exp((l_i − max)/T), as the CPU: float subtraction and division, then exp.
  double sum = 0;
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    const float e = expf(__fdiv_rn(__fsub_rn(logits[i], mx), temperature));
    logits[i] = e;
    sum += e;
  }
  sum = block_sum(sum, dshared);
  __syncthreads();  // every e_i written before any thread reads another's

  const uint32_t one = dm::float_bits(1.0f);  // the largest e (the maximum's own)
  const double target = double(top_p) * sum;
  const uint32_t nucleus = largest_threshold_with_mass(logits, V, target, one + 1, dshared);
  // The CPU adds tokens one by one until the mass reaches the target, so of the tokens tied at the
  // nucleus threshold it keeps only as many as that takes (the first ones by index).
  const float nucleus_value = dm::float_from_bits(nucleus);
  const double nucleus_above = mass_at_or_above(logits, V, nucleus + 1, dshared);
  double nucleus_ties = 0;
  for (int i = threadIdx.x; i < V; i += blockDim.x) nucleus_ties += dm::float_bits(logits[i]) == nucleus;
  nucleus_ties = block_sum(nucleus_ties, dshared);
  double needed = ceil((target - nucleus_above) / double(nucleus_value));
  needed = fmin(fmax(needed, 1.0), nucleus_ties);
  const double kept = nucleus_above + needed * double(nucleus_value);
  const double r = uniform * kept;
  // The token's value: where the descending cumulative mass first reaches r.
  const uint32_t value = largest_threshold_with_mass(logits, V, r, one + 1, dshared);
  const double above = value == 0xffffffffu ? 0.0 : mass_at_or_above(logits, V, value + 1, dshared);
  // Ties at `value` are walked in index order: the k-th of them (0-based) is where the walk crosses r.
  const float tie_value = dm::float_from_bits(value);
  int k = tie_value > 0.f ? int(ceil((r - above) / double(tie_value))) - 1 : 0;
  if (k < 0) k = 0;
  // Each thread takes a contiguous slice of indices, counts its ties, and an exclusive scan over threads
  // finds the slice holding tie number k.
  const int per = (V + blockDim.x - 1) / blockDim.x;
  const int begin = threadIdx.x * per, end = min(V, begin + per);
  int ties = 0;
  for (int i = begin; i < end; ++i) ties += dm::float_bits(logits[i]) == value;
  // Inclusive scan of `ties` over the block: within warps by shuffles, then over warp totals.
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int inclusive = ties;
  for (int offset = 1; offset < 32; offset <<= 1) {
    const int up = __shfl_up_sync(kFullMask, inclusive, offset);
    if (lane >= offset) inclusive += up;
  }
  __syncthreads();
  if (lane == 31) ishared[warp] = inclusive;
  if (threadIdx.x == 0) found = -1;
  __syncthreads();
  int warp_offset = 0;
  for (int w = 0; w < warp; ++w) warp_offset += ishared[w];
  const int total_ties = [&] {
    int t = 0;
    for (int w = 0; w < int(blockDim.x >> 5); ++w) t += ishared[w];
    return t;
  }();
  if (k >= total_ties) k = total_ties - 1;  // rounding put r past the group: its last member
  const int first = warp_offset + inclusive - ties;  // ties before this thread's slice
  if (ties > 0 && k >= first && k < first + ties) {
    int seen = first;
    for (int i = begin; i < end; ++i) {
      if (dm::float_bits(logits[i]) != value) continue;
      if (seen == k) {
        found = i;
        break;
      }
      ++seen;
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) *token = found >= 0 ? found : (candidate < V ? candidate : 0);
}

static void launch_sample_token(int* token, float* logits, int V, float temperature, float top_p, double uniform,
                                cudaStream_t stream) {
  launch(sample_token_kernel, 1, kSampleThreads, 0, stream, token, logits, V, temperature, top_p, uniform);
}

void sample_token(const CudaContext& ctx, int* token, float* logits, int V, float temperature, float top_p,
                  double uniform) {
  TS_CHECK(V > 0, "sample_token: empty vocabulary");
  TS_CHECK(top_p > 0.f && top_p <= 1.f, "topP must be in (0, 1]");
  TS_CHECK(uniform >= 0.0 && uniform < 1.0, "sample_token: uniform must be in [0, 1)");
  launch_sample_token(token, logits, V, temperature, top_p, uniform, ctx.stream);
  CUDA_CHECK_LAUNCH(ctx, "sample_token");
}

}  // namespace cuda
}  // namespace tunesmith
