// GEMM tile variants on the M7 projection shapes (dev experiment, not built by CMake; test/gpu/run.sh runs
// it when time is left). Build and run, from the repository root, on a GPU machine:
//   nvcc -std=c++17 -O3 -arch=sm_90 --expt-relaxed-constexpr -Inative/include -Inative/src -Inative/src/cuda \
//     native/dev/cuda/gemm_variants.cu native/src/cuda/gemm.cu native/src/cuda/gemm_mma_bf16.cu \
//     native/src/cuda/gemm_mma_nf4.cu native/src/cuda/gemm_mma_lora.cu -o /tmp/gemm_variants && /tmp/gemm_variants
// Every variant instantiates gemm_mma.cuh's kernel with another Tile (block tile, k-tile, warps, stages),
// checks its fp32 output against the simple kernel (NMSE ≤ 1e-8, every element finite), then times it
// (CUDA events, 20 calls after a warm-up, median of 5). The table ends with the best variant per shape;
// a variant that wins everywhere replaces TileLarge in gemm_mma.cuh. Pass --quick for two shapes only.
// M,N,K = GEMM dims; T = tokens (2048), O = out, I = in.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "cuda/cuda_check.h"
#include "cuda_gemm.h"
#include "gemm_mma.cuh"

namespace tunesmith {
namespace cuda {
namespace {

using mma::Tile;

__global__ void fill_bf16(bf16* p, int64_t n, float scale, uint32_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    uint64_t z = i * 0x9E3779B97F4A7C15ull + seed;
    z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
    p[i] = __float2bfloat16_rn(scale * (float(z >> 40) * (2.f / 16777216.f) - 1.f));
  }
}
__global__ void fill_codes(uint8_t* p, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    p[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
}
__global__ void fill_absmax(float* p, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    p[i] = 0.01f + 0.04f * float((i * 40503u) & 1023) / 1023.f;
}

struct Problem {
  const char* name;
  int M, N, K;
  bool forward;  // B = W transposed (x·Wᵀ) or row-major (dy·W)
  int ldw;       // W's row length I
};

mma::Params params_for(const Problem& pr, const bf16* a, const void* b, const uint8_t* codes, const float* absmax,
                       float* c, int bm, int bn) {
  mma::Params p{};
  p.M = pr.M, p.N = pr.N, p.K = pr.K;
  p.a = a, p.lda = pr.K;
  p.b = b, p.codes = codes, p.absmax = absmax, p.ldb = pr.ldw;
  p.c = c, p.ldc = pr.N, p.c_bf16 = false, p.accumulate = false, p.c_pairs = true, p.alpha = 1.f;
  p.tiles_m = int((pr.M + bm - 1) / bm), p.tiles_n = int((pr.N + bn - 1) / bn);
  return p;
}

struct Variant {
  std::string name;
  std::function<cudaError_t(const Problem&, bool nf4, const mma::Params& base)> run;
  int bm, bn;
};

template <class T>
Variant variant(const std::string& name) {
  Variant v;
  v.name = name;
  v.bm = T::BM, v.bn = T::BN;
  v.run = [](const Problem& pr, bool nf4, const mma::Params& p) -> cudaError_t {
    if (pr.forward) {
      return nf4 ? mma::run<T, mma::ABf16K, mma::BNf4K>(p, nullptr) : mma::run<T, mma::ABf16K, mma::BBf16K>(p, nullptr);
    }
    return nf4 ? mma::run<T, mma::ABf16K, mma::BNf4N>(p, nullptr) : mma::run<T, mma::ABf16K, mma::BBf16N>(p, nullptr);
  };
  return v;
}

double median_ms(const std::function<void()>& call) {
  cudaEvent_t start, stop;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  for (int i = 0; i < 3; ++i) call();
  std::vector<double> ms;
  for (int t = 0; t < 5; ++t) {
    CUDA_CHECK(cudaEventRecord(start));
    for (int r = 0; r < 20; ++r) call();
    CUDA_CHECK(cudaEventRecord(stop));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float total = 0;
    CUDA_CHECK(cudaEventElapsedTime(&total, start, stop));
    ms.push_back(total / 20.0);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(ms.begin(), ms.end());
  return ms[2];
}

int run_all(bool quick) {
  const int T = 2048;
  std::vector<Problem> problems = {
      {"q/o fwd", T, 4096, 4096, true, 4096},     {"q/o bwd", T, 4096, 4096, false, 4096},
      {"k/v fwd", T, 1024, 4096, true, 4096},     {"k/v bwd", T, 4096, 1024, false, 4096},
      {"gate/up fwd", T, 14336, 4096, true, 4096}, {"gate/up bwd", T, 4096, 14336, false, 4096},
      {"down fwd", T, 4096, 14336, true, 14336},  {"down bwd", T, 14336, 4096, false, 14336},
  };
  if (quick) problems = {problems[0], problems[5]};
  std::vector<Variant> variants = {
      variant<mma::TileLarge>("128x128x32 s4 (src)"),
      variant<mma::TileSmall>("64x64x32 s4 (src)"),
      variant<Tile<128, 128, 32, 2, 4, 5, 1>>("128x128x32 s5"),
      variant<Tile<128, 128, 64, 2, 4, 3, 1>>("128x128x64 s3"),
      variant<Tile<128, 256, 32, 2, 4, 4, 1>>("128x256x32 s4 w64x64"),
      variant<Tile<256, 128, 32, 4, 2, 4, 1>>("256x128x32 s4 w64x64"),
      variant<Tile<128, 256, 64, 2, 4, 3, 1>>("128x256x64 s3 w64x64"),
      variant<Tile<128, 64, 32, 2, 2, 4, 2>>("128x64x32 s4"),
  };
  const int64_t kMax = 14336LL * 4096;
  bf16 *x = nullptr, *w = nullptr;
  uint8_t* codes = nullptr;
  float *absmax = nullptr, *c = nullptr, *ref = nullptr;
  CUDA_CHECK(cudaMalloc(&x, T * 14336LL * 2));
  CUDA_CHECK(cudaMalloc(&w, kMax * 2));
  CUDA_CHECK(cudaMalloc(&codes, kMax / 2));
  CUDA_CHECK(cudaMalloc(&absmax, kMax / 64 * 4));
  CUDA_CHECK(cudaMalloc(&c, T * 14336LL * 4));
  CUDA_CHECK(cudaMalloc(&ref, T * 14336LL * 4));
  fill_bf16<<<1024, 256>>>(x, T * 14336LL, 1.f, 1);
  fill_bf16<<<1024, 256>>>(w, kMax, 0.05f, 2);
  fill_codes<<<1024, 256>>>(codes, kMax / 2);
  fill_absmax<<<1024, 256>>>(absmax, kMax / 64);
  CUDA_CHECK(cudaDeviceSynchronize());
  const CudaContext ctx;
  int failures = 0;
  std::printf("%-14s %-5s %-24s %9s %9s  %s\n", "shape", "W", "variant", "ms", "TFLOP/s", "check");
  for (const Problem& pr : problems) {
    for (bool nf4 : {false, true}) {
      // Reference: the simple kernel (one thread per output pair, the same bf16 operands, fp32 sums).
      GemmA A;
      A.data = x, A.ld = pr.K;
      GemmB B;
      B.layout = pr.forward ? GemmB::kTransposed : GemmB::kRowMajor;
      B.dtype = nf4 ? DType::kNF4 : DType::kBF16, B.data = w, B.nf4_codes = codes, B.nf4_absmax = absmax;
      B.ld = pr.ldw;
      GemmOut C;
      C.data = ref, C.ld = pr.N;
      gemm(ctx, pr.M, pr.N, pr.K, A, B, C, GemmTuning{GemmPath::kSimple, GemmTile::kAuto});
      std::vector<float> want(size_t(pr.M) * pr.N), got(want.size());
      CUDA_CHECK(cudaMemcpy(want.data(), ref, want.size() * 4, cudaMemcpyDeviceToHost));
      double best = 1e30;
      std::string best_name;
      for (const Variant& v : variants) {
        const mma::Params p = params_for(pr, x, w, codes, absmax, c, v.bm, v.bn);
        CUDA_CHECK(cudaMemset(c, 0xFF, want.size() * 4));
        cudaError_t e = v.run(pr, nf4, p);
        if (e == cudaSuccess) e = cudaDeviceSynchronize();
        if (e != cudaSuccess) {
          std::printf("%-14s %-5s %-24s  launch failed: %s\n", pr.name, nf4 ? "nf4" : "bf16", v.name.c_str(),
                      cudaGetErrorString(e));
          cudaGetLastError();
          ++failures;
          continue;
        }
        CUDA_CHECK(cudaMemcpy(got.data(), c, got.size() * 4, cudaMemcpyDeviceToHost));
        double err = 0, norm = 0;
        bool finite = true;
        for (size_t i = 0; i < got.size(); ++i) {
          finite = finite && std::isfinite(got[i]);
          err += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
          norm += double(want[i]) * want[i];
        }
        const double nmse = err / std::max(norm, 1e-30);
        const bool ok = finite && nmse <= 1e-8;
        failures += !ok;
        const double ms = median_ms([&] { v.run(pr, nf4, p); });
        const double tflops = 2.0 * pr.M * pr.N * pr.K / (ms * 1e-3) / 1e12;
        std::printf("%-14s %-5s %-24s %9.4f %9.1f  %s (NMSE %.1e)\n", pr.name, nf4 ? "nf4" : "bf16", v.name.c_str(), ms,
                    tflops, ok ? "ok" : "WRONG", nmse);
        if (ok && ms < best) best = ms, best_name = v.name;
      }
      std::printf("%-14s %-5s best: %s, %.1f TFLOP/s\n", pr.name, nf4 ? "nf4" : "bf16", best_name.c_str(),
                  2.0 * pr.M * pr.N * pr.K / (best * 1e-3) / 1e12);
    }
  }
  std::printf("%d variant(s) wrong or failed\n", failures);
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace cuda
}  // namespace tunesmith

int main(int argc, char** argv) {
  try {
    return tunesmith::cuda::run_all(argc > 1 && std::strcmp(argv[1], "--quick") == 0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gemm_variants: %s\n", e.what());
    return 1;
  }
}
