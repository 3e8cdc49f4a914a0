// tunesmith_gemm_bench: our GEMM on the M7 projection shapes (Mistral-7B: hidden 4096, FFN 14336, 8 KV
// heads of 128; N = 2048 tokens), printed as one JSON object on stdout for scripts/bench-gpu.mjs, which
// compares it with torch.matmul (test/gpu/torch_reference.py) measured in the same run.
// Every projection shape in both layouts training needs — forward y[N,O] = x·Wᵀ, backward dx[N,I] = dy·W —
// with W bf16, W NF4 dequantized in the GEMM's tile load ("nf4_fused"), and W NF4 dequantized into a
// bf16 scratch first ("nf4_scratch" = dequantize + bf16 GEMM, the alternative strategy), each tile shape
// forced as well as the automatic choice; then LoRA's six small GEMMs (r 16, as lora_matmul runs them: bf16
// copies of A, B, u, du; split-K for the skinny ones) and whole lora_matmul calls.
// Timing: CUDA events around `reps` back-to-back calls after a warm-up, median of `trials`.
// Usage: tunesmith_gemm_bench [--tokens N] [--reps R] [--trials T] [--quick]
// M,N,K = GEMM dims; T = tokens, O = out, I = in, R = LoRA rank.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "cuda/cuda_check.h"
#include "cuda_gemm.h"

namespace tunesmith {
namespace cuda {
namespace {

// ---- random device data (values do not change the speed; they only need to be finite) --------------

__device__ uint32_t mix(uint64_t i, uint32_t seed) {
  uint64_t z = i * 0x9E3779B97F4A7C15ull + seed;
  z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
  return static_cast<uint32_t>(z >> 32);
}
__global__ void fill_bf16(bf16* p, int64_t n, float scale, uint32_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    p[i] = __float2bfloat16_rn(scale * (mix(i, seed) * (2.f / 4294967296.f) - 1.f));
}
__global__ void fill_f32(float* p, int64_t n, float lo, float hi, uint32_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    p[i] = lo + (hi - lo) * (mix(i, seed) * (1.f / 4294967296.f));
}
__global__ void fill_bytes(uint8_t* p, int64_t n, uint32_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    p[i] = static_cast<uint8_t>(mix(i, seed));
}

template <typename T>
T* device_alloc(int64_t n) {
  void* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, size_t(n) * sizeof(T)));
  return static_cast<T*>(p);
}

struct Options {
  int tokens = 2048, reps = 20, trials = 5;
  bool quick = false;
};

struct Timer {
  cudaEvent_t start, stop;
  Timer() {
    CUDA_CHECK(cudaEventCreate(&start));
    CUDA_CHECK(cudaEventCreate(&stop));
  }
  ~Timer() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  // Median over trials of the mean milliseconds of one call.
  double median_ms(const std::function<void()>& call, const Options& o) {
    for (int i = 0; i < 3; ++i) call();
    CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<double> ms;
    for (int t = 0; t < o.trials; ++t) {
      CUDA_CHECK(cudaEventRecord(start));
      for (int r = 0; r < o.reps; ++r) call();
      CUDA_CHECK(cudaEventRecord(stop));
      CUDA_CHECK(cudaEventSynchronize(stop));
      float total = 0;
      CUDA_CHECK(cudaEventElapsedTime(&total, start, stop));
      ms.push_back(double(total) / o.reps);
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  }
};

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

// Prints the JSON; throws EngineError on a CUDA failure.
void run_bench(const Options& o) {
  cudaDeviceProp props{};
  CUDA_CHECK(cudaGetDeviceProperties(&props, 0));
  const CudaContext ctx;  // default stream, no per-op sync: this measures
  const int T = o.tokens;
  const int64_t kMaxIO = 14336, kHidden = 4096;
  bf16* x = device_alloc<bf16>(T * kMaxIO);              // activations / dy [T, ≤14336]
  bf16* w = device_alloc<bf16>(kMaxIO * kHidden);        // W [O, I], ≤ 14336·4096
  bf16* w_scratch = device_alloc<bf16>(kMaxIO * kHidden);
  uint8_t* codes = device_alloc<uint8_t>(kMaxIO * kHidden / 2);
  float* absmax = device_alloc<float>(kMaxIO * kHidden / 64);
  bf16* y = device_alloc<bf16>(T * kMaxIO);
  float* y32 = device_alloc<float>(T * kMaxIO);
  const int R = 16;
  float* lora_a = device_alloc<float>(R * kMaxIO);
  float* lora_b = device_alloc<float>(kMaxIO * R);
  float* u = device_alloc<float>(int64_t(T) * R);
  float* dA = device_alloc<float>(R * kMaxIO);
  float* dB = device_alloc<float>(kMaxIO * R);
  // LoRA's GEMMs as lora_matmul runs them: A, B, u, du as bf16 copies, skinny ones split over K.
  bf16* a16 = device_alloc<bf16>(R * kMaxIO);
  bf16* b16 = device_alloc<bf16>(kMaxIO * R);
  bf16* u16 = device_alloc<bf16>(int64_t(T) * R);
  const int64_t work_floats = 8 * R * std::max<int64_t>(kMaxIO, T);
  float* work = device_alloc<float>(work_floats);
  fill_bf16<<<1024, 256>>>(x, T * kMaxIO, 1.f, 1);
  fill_bf16<<<1024, 256>>>(w, kMaxIO * kHidden, 0.02f, 2);
  fill_bytes<<<1024, 256>>>(codes, kMaxIO * kHidden / 2, 3);
  fill_f32<<<1024, 256>>>(absmax, kMaxIO * kHidden / 64, 0.01f, 0.05f, 4);
  fill_f32<<<1024, 256>>>(lora_a, R * kMaxIO, -0.02f, 0.02f, 5);
  fill_f32<<<1024, 256>>>(lora_b, kMaxIO * R, -0.02f, 0.02f, 6);
  fill_f32<<<1024, 256>>>(u, int64_t(T) * R, -1.f, 1.f, 7);
  fill_bf16<<<1024, 256>>>(a16, R * kMaxIO, 0.02f, 8);
  fill_bf16<<<1024, 256>>>(b16, kMaxIO * R, 0.02f, 9);
  fill_bf16<<<1024, 256>>>(u16, int64_t(T) * R, 1.f, 10);
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaDeviceSynchronize());
  Timer timer;

  std::printf("{\n  \"device\": \"%s\", \"sm\": \"%d.%d\", \"sms\": %d, \"tokens\": %d,\n  \"gemm\": [\n",
              json_escape(props.name).c_str(), props.major, props.minor, props.multiProcessorCount, T);
  struct Proj {
    const char* name;
    int O, I;
  };
  const Proj projs[] = {{"q_proj/o_proj", 4096, 4096}, {"k_proj/v_proj", 1024, 4096},
                        {"gate_proj/up_proj", 14336, 4096}, {"down_proj", 4096, 14336}};
  bool first = true;
  for (const Proj& pr : projs) {
    for (bool forward : {true, false}) {
      // forward: y[T,O] = x[T,I]·Wᵀ (M=T, N=O, K=I); backward: dx[T,I] = dy[T,O]·W (M=T, N=I, K=O)
      const int M = T, N = forward ? pr.O : pr.I, K = forward ? pr.I : pr.O;
      const double flops = 2.0 * M * N * K;
      GemmA A;
      A.data = x, A.ld = K;
      GemmB wb;
      wb.layout = forward ? GemmB::kTransposed : GemmB::kRowMajor;
      wb.data = w, wb.ld = pr.I;
      GemmB wn = wb;
      wn.dtype = DType::kNF4, wn.nf4_codes = codes, wn.nf4_absmax = absmax;
      GemmB ws = wb;
      ws.data = w_scratch;
      GemmOut C;
      C.dtype = DType::kBF16, C.data = y, C.ld = N;
      const int64_t wn_elems = int64_t(pr.O) * pr.I;
      struct Variant {
        std::string name;
        std::function<void()> call;
      };
      std::vector<Variant> variants = {
          {"bf16", [&] { gemm(ctx, M, N, K, A, wb, C); }},
          {"nf4_fused", [&] { gemm(ctx, M, N, K, A, wn, C); }},
          {"nf4_scratch",
           [&] {
             nf4_dequantize_bf16(ctx, w_scratch, codes, absmax, wn_elems);
             gemm(ctx, M, N, K, A, ws, C);
           }},
          {"nf4_dequantize_only", [&] { nf4_dequantize_bf16(ctx, w_scratch, codes, absmax, wn_elems); }},
      };
      if (!o.quick) {
        for (GemmTile tile : {GemmTile::k64x64, GemmTile::k128x128}) {
          const GemmTuning tune{GemmPath::kTensorCore, tile};
          const std::string suffix = tile == GemmTile::k64x64 ? "_tile64" : "_tile128";
          variants.push_back({"bf16" + suffix, [=, &ctx] { gemm(ctx, M, N, K, A, wb, C, tune); }});
          variants.push_back({"nf4_fused" + suffix, [=, &ctx] { gemm(ctx, M, N, K, A, wn, C, tune); }});
        }
      }
      for (const Variant& v : variants) {
        const double ms = timer.median_ms(v.call, o);
        const bool gemm_flops = v.name != "nf4_dequantize_only";
        std::printf("%s    {\"proj\": \"%s\", \"layout\": \"%s\", \"M\": %d, \"N\": %d, \"K\": %d, \"variant\": \"%s\", "
                    "\"ms\": %.5f, \"tflops\": %.2f}",
                    first ? "" : ",\n", pr.name, forward ? "forward" : "backward", M, N, K, v.name.c_str(), ms,
                    gemm_flops ? flops / (ms * 1e-3) / 1e12 : 0.0);
        std::fflush(stdout);
        first = false;
      }
    }
  }
  std::printf("\n  ],\n  \"lora\": [\n");

  // LoRA's GEMMs (r 16) and whole lora_matmul calls, per projection shape, NF4 base (fused).
  first = true;
  for (const Proj& pr : projs) {
    const int O = pr.O, I = pr.I;
    DeviceWeight W;
    W.out = O, W.in = I;
    W.nf4.codes = codes, W.nf4.absmax = absmax;
    const LoraFactors lora{lora_a, lora_b, R, 2.f};
    const LoraDropout no_drop{};
    void* scratch = nullptr;
    CUDA_CHECK(cudaMalloc(&scratch, size_t(lora_matmul_scratch_bytes(T, I, O, R, no_drop))));
    auto rows = [](const void* p, DType t, int64_t ld, bool trans) {
      GemmA a;
      a.data = p, a.dtype = t, a.ld = ld, a.layout = trans ? GemmA::kTransposed : GemmA::kRowMajor;
      return a;
    };
    auto view = [](const void* p, DType t, int64_t ld, bool trans) {
      GemmB b;
      b.data = p, b.dtype = t, b.ld = ld, b.layout = trans ? GemmB::kTransposed : GemmB::kRowMajor;
      return b;
    };
    auto out = [](void* p, DType t, int64_t ld, bool acc) {
      GemmOut c;
      c.data = p, c.dtype = t, c.ld = ld, c.accumulate = acc;
      return c;
    };
    struct Item {
      const char* name;
      double flops;
      std::function<void()> call;
    };
    GemmTuning split;
    split.workspace = work, split.workspace_floats = work_floats;
    const std::vector<Item> items = {
        {"u = x·Aᵀ", 2.0 * T * R * I,
         [&] { gemm(ctx, T, R, I, rows(x, DType::kBF16, I, false), view(a16, DType::kBF16, I, true), out(u, DType::kF32, R, false), split); }},
        {"y += s·u·Bᵀ", 2.0 * T * O * R,
         [&] { gemm(ctx, T, O, R, rows(u16, DType::kBF16, R, false), view(b16, DType::kBF16, R, true), out(y, DType::kBF16, O, true)); }},
        {"dB += s·dyᵀ·u", 2.0 * O * R * T,
         [&] { gemm(ctx, O, R, T, rows(x, DType::kBF16, O, true), view(u16, DType::kBF16, R, false), out(dB, DType::kF32, R, true), split); }},
        {"du = s·dy·B", 2.0 * T * R * O,
         [&] { gemm(ctx, T, R, O, rows(x, DType::kBF16, O, false), view(b16, DType::kBF16, R, false), out(u16, DType::kBF16, R, false), split); }},
        {"dA += duᵀ·x", 2.0 * R * I * T,
         [&] { gemm(ctx, R, I, T, rows(u16, DType::kBF16, R, true), view(x, DType::kBF16, I, false), out(dA, DType::kF32, I, true), split); }},
        {"dx += du·A", 2.0 * T * I * R,
         [&] { gemm(ctx, T, I, R, rows(u16, DType::kBF16, R, false), view(a16, DType::kBF16, I, false), out(y, DType::kBF16, I, true)); }},
        {"lora_matmul_forward (nf4, y bf16)", 2.0 * T * O * I + 2.0 * T * R * (I + O),
         [&] { lora_matmul_forward(ctx, y, u, x, W, nullptr, lora, no_drop, T, scratch); }},
        {"lora_matmul_backward (nf4, dx f32 +=)", 2.0 * T * O * I + 4.0 * T * R * (I + O),
         [&] { lora_matmul_backward(ctx, y32, true, dA, dB, x, x, u, W, lora, no_drop, T, scratch); }},
    };
    for (const Item& it : items) {
      const double ms = timer.median_ms(it.call, o);
      std::printf("%s    {\"proj\": \"%s\", \"op\": \"%s\", \"ms\": %.5f, \"tflops\": %.2f}", first ? "" : ",\n",
                  pr.name, it.name, ms, it.flops / (ms * 1e-3) / 1e12);
      std::fflush(stdout);
      first = false;
    }
    CUDA_CHECK(cudaFree(scratch));
  }
  std::printf("\n  ]\n}\n");
  CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace cuda
}  // namespace tunesmith

int main(int argc, char** argv) {
  tunesmith::cuda::Options o;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--tokens") && i + 1 < argc) o.tokens = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) o.reps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--trials") && i + 1 < argc) o.trials = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--quick")) o.quick = true, o.reps = 5, o.trials = 3;
    else {
      std::fprintf(stderr, "usage: tunesmith_gemm_bench [--tokens N] [--reps R] [--trials T] [--quick]\n");
      return 2;
    }
  }
  try {
    tunesmith::cuda::run_bench(o);
    return 0;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "tunesmith_gemm_bench: %s\n", e.what());
    return 1;
  }
}
