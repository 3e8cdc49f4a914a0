// GEMM throughput on the S15 shapes (dev experiment, not built by CMake):
//   g++ -std=c++17 -O3 -Inative/include native/dev/bench_gemm.cpp native/src/cpu/{matmul,thread_pool,nf4}.cpp -lpthread
// Prints GFLOP/s per shape for f32 and NF4 weights, so kernel changes can be compared.
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "nf4.h"
#include "ops.h"

using namespace tunesmith;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : 2;
  ThreadPool pool(threads);
  OpContext ctx{&pool};
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0, 1);
  struct Shape { const char* name; int M, N, K; bool transposed, nf4; };
  const Shape shapes[] = {
      {"lm_head fwd 128x32000x288 (Bt f32)", 128, 32000, 288, true, false},
      {"lm_head bwd 128x288x32000 (B f32)", 128, 288, 32000, false, false},
      {"q fwd 1024x288x288 (Bt nf4)", 1024, 288, 288, true, true},
      {"gate fwd 1024x768x288 (Bt nf4)", 1024, 768, 288, true, true},
      {"down bwd 1024x768x288 (B nf4)", 1024, 768, 288, false, true},
      {"lora u 1024x16x288 (Bt f32)", 1024, 16, 288, true, false},
      {"lora dA 16x288x1024 (B f32)", 16, 288, 1024, false, false},
  };
  for (const Shape& s : shapes) {
    std::vector<float> A(size_t(s.M) * s.K), B(size_t(s.K) * s.N), C(size_t(s.M) * s.N);
    for (auto& x : A) x = d(rng);
    for (auto& x : B) x = d(rng);
    std::vector<uint8_t> codes(nf4_packed_bytes(B.size()));
    std::vector<float> absmax(nf4_blocks(B.size()));
    quantize_nf4(B.data(), int64_t(B.size()), codes.data(), absmax.data());
    Nf4Matrix q{codes.data(), absmax.data()};
    GemmB view;
    view.layout = s.transposed ? GemmB::kTransposed : GemmB::kRowMajor;
    view.ld = s.transposed ? s.K : s.N;
    if (s.nf4) view.nf4 = &q; else view.f32 = B.data();
    gemm(ctx, s.M, s.N, s.K, 1.f, A.data(), s.K, view, false, C.data(), s.N);
    const int reps = 5;
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) gemm(ctx, s.M, s.N, s.K, 1.f, A.data(), s.K, view, false, C.data(), s.N);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
    std::printf("%-40s %7.1f GFLOP/s  %7.2f ms\n", s.name, 2.0 * s.M * s.N * s.K / sec / 1e9, sec * 1e3);
  }
}
