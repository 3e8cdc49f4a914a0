// lora_matmul on the GPU, the twin of src/cpu/lora_matmul.cpp: every projection runs through it.
//   y = x·Wᵀ + bias + scale·(d(x)·Aᵀ)·Bᵀ,   d = dropout on the LoRA input (training only)
// Six GEMMs (cuda::gemm), no transposed copies: each operand is read through a view. Backward gives
// dx, dA, dB — never dW. The decision to know, as on the CPU: the dropout mask is not stored; it is
// regenerated from hash_uniform(seed, n·I + i), once to rebuild d(x) and once inside the epilogue of
// dx += keep ⊙ (du·A)/(1-p), so the only saved LoRA activation is u = d(x)·Aᵀ (fp32).
// N=tokens I=in O=out R=rank
#include <algorithm>
#include <cstdint>
#include <string>

#include "cuda_check.h"
#include "cuda_gemm.h"
#include "gemm_math.h"
#include "reduce.cuh"  // launch()

namespace tunesmith {
namespace cuda {
namespace {

constexpr int64_t kScratchAlign = 256;
int64_t align_up(int64_t bytes) { return (bytes + kScratchAlign - 1) / kScratchAlign * kScratchAlign; }

// xd bf16 [n] = x ⊙ keep / (1-p), keep = hash_uniform(seed, e) >= p.
__global__ void lora_dropout_kernel(bf16* xd, const bf16* x, int64_t n, float p, float keep_scale, uint64_t seed) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const bool drop = gemm_math::hash_uniform_hd(seed, static_cast<uint64_t>(e)) < p;
    xd[e] = drop ? __float2bfloat16_rn(0.f) : __float2bfloat16_rn(__bfloat162float(x[e]) * keep_scale);
  }
}

void apply_dropout(const CudaContext& ctx, bf16* xd, const bf16* x, int64_t n, const LoraDropout& drop) {
  const int threads = 256;
  const int64_t blocks = std::min<int64_t>((n + threads - 1) / threads, 65536);
  launch(lora_dropout_kernel, dim3(static_cast<unsigned>(blocks)), dim3(threads), 0, ctx.stream, xd, x, n, drop.p,
         1.f / (1.f - drop.p), drop.seed);
  CUDA_CHECK_LAUNCH(ctx, "lora_matmul (dropout)");
}

struct Scratch {
  bf16* xd = nullptr;   // [N,I] when dropout is on
  float* du = nullptr;  // [N,R]
};

Scratch carve(void* scratch, int N, int I, const LoraDropout& drop) {
  Scratch s;
  auto* at = static_cast<unsigned char*>(scratch);
  if (drop.p > 0.f) {
    s.xd = reinterpret_cast<bf16*>(at);
    at += align_up(int64_t(N) * I * 2);
  }
  s.du = reinterpret_cast<float*>(at);
  return s;
}

GemmA rows_of(const void* data, DType dtype, int64_t ld, GemmA::Layout layout = GemmA::kRowMajor) {
  GemmA a;
  a.layout = layout;
  a.dtype = dtype;
  a.data = data;
  a.ld = ld;
  return a;
}

GemmB view_of(const void* data, DType dtype, int64_t ld, GemmB::Layout layout) {
  GemmB b;
  b.layout = layout;
  b.dtype = dtype;
  b.data = data;
  b.ld = ld;
  return b;
}

GemmB weight_view(const DeviceWeight& W, GemmB::Layout layout) {
  GemmB b = view_of(W.bf16_data, DType::kBF16, W.in, layout);
  if (W.quantized()) {
    b.dtype = DType::kNF4;
    b.nf4_codes = W.nf4.codes;
    b.nf4_absmax = W.nf4.absmax;
  }
  return b;
}

GemmOut out_of(void* data, DType dtype, int64_t ld, float alpha, bool accumulate) {
  GemmOut c;
  c.dtype = dtype;
  c.data = data;
  c.ld = ld;
  c.alpha = alpha;
  c.accumulate = accumulate;
  return c;
}

void validate(const char* op, const DeviceWeight& W, const LoraFactors& lora, const LoraDropout& drop, int N,
              const void* scratch, const void* u) {
  const std::string name(op);
  if (N < 0) TS_FAIL(name + ": negative token count");
  if (W.out <= 0 || W.in <= 0) TS_FAIL(name + ": the weight has no shape");
  if (!W.quantized() ? W.bf16_data == nullptr : (W.nf4.codes == nullptr || W.nf4.absmax == nullptr))
    TS_FAIL(name + ": the weight has no data");
  if (!lora.A) return;
  if (lora.B == nullptr || lora.rank <= 0) TS_FAIL(name + ": LoRA B is missing or the rank is not positive");
  if (u == nullptr) TS_FAIL(name + ": the saved LoRA activation u is null");
  if (!(drop.p >= 0.f && drop.p < 1.f)) TS_FAIL(name + ": dropout must be in [0, 1)");
  if (scratch == nullptr && N > 0) TS_FAIL(name + ": scratch is null (see lora_matmul_scratch_bytes)");
}

void forward_impl(const CudaContext& ctx, void* y, DType y_dtype, bool accumulate_y, float* u, const bf16* x,
                  const DeviceWeight& W, const float* bias, const LoraFactors& lora, const LoraDropout& drop, int N,
                  void* scratch) {
  validate("lora_matmul_forward", W, lora, drop, N, scratch, u);
  const int I = W.in, O = W.out, R = lora.rank;
  GemmOut base = out_of(y, y_dtype, O, 1.f, accumulate_y);
  base.bias = bias;
  gemm(ctx, N, O, I, rows_of(x, DType::kBF16, I), weight_view(W, GemmB::kTransposed), base);  // y[N,O] (+)= x·Wᵀ + b
  if (!lora.A || N == 0) return;
  const Scratch s = carve(scratch, N, I, drop);
  const bf16* xd = x;
  if (drop.p > 0.f) {
    apply_dropout(ctx, s.xd, x, int64_t(N) * I, drop);
    xd = s.xd;
  }
  gemm(ctx, N, R, I, rows_of(xd, DType::kBF16, I), view_of(lora.A, DType::kF32, I, GemmB::kTransposed),
       out_of(u, DType::kF32, R, 1.f, false));  // u[N,R] = xd · Aᵀ
  gemm(ctx, N, O, R, rows_of(u, DType::kF32, R), view_of(lora.B, DType::kF32, R, GemmB::kTransposed),
       out_of(y, y_dtype, O, lora.scale, true));  // y += s · u · Bᵀ
}

void backward_impl(const CudaContext& ctx, void* dx, DType dx_dtype, bool accumulate_dx, float* dA, float* dB,
                   const bf16* dy, const bf16* x, const float* u, const DeviceWeight& W, const LoraFactors& lora,
                   const LoraDropout& drop, int N, void* scratch) {
  validate("lora_matmul_backward", W, lora, drop, N, scratch, u);
  const int I = W.in, O = W.out, R = lora.rank;
  gemm(ctx, N, I, O, rows_of(dy, DType::kBF16, O), weight_view(W, GemmB::kRowMajor),
       out_of(dx, dx_dtype, I, 1.f, accumulate_dx));  // dx[N,I] (=|+=) dy · W
  if (!lora.A || N == 0) return;
  if (dA == nullptr || dB == nullptr) TS_FAIL("lora_matmul_backward: dA or dB is null");
  const Scratch s = carve(scratch, N, I, drop);
  const float sc = lora.scale;

  // dB[O,R] += s · dyᵀ · u   (M=O, N=R, K=tokens: A[o][n] = dy[n][o], B[n][r] = u[n][r])
  gemm(ctx, O, R, N, rows_of(dy, DType::kBF16, O, GemmA::kTransposed), view_of(u, DType::kF32, R, GemmB::kRowMajor),
       out_of(dB, DType::kF32, R, sc, true));
  // du[N,R] = s · dy · B     (B[o][r] read row-major)
  gemm(ctx, N, R, O, rows_of(dy, DType::kBF16, O), view_of(lora.B, DType::kF32, R, GemmB::kRowMajor),
       out_of(s.du, DType::kF32, R, sc, false));

  const bf16* xd = x;
  if (drop.p > 0.f) {
    apply_dropout(ctx, s.xd, x, int64_t(N) * I, drop);
    xd = s.xd;
  }
  // dA[R,I] += duᵀ · xd      (M=R, N=I, K=tokens: A[r][n] = du[n][r])
  gemm(ctx, R, I, N, rows_of(s.du, DType::kF32, R, GemmA::kTransposed), view_of(xd, DType::kBF16, I, GemmB::kRowMajor),
       out_of(dA, DType::kF32, I, 1.f, true));
  // dx += keep ⊙ (du · A) / (1-p): the mask regenerated in the epilogue, element index n·I + i.
  GemmOut lora_dx = out_of(dx, dx_dtype, I, drop.p > 0.f ? 1.f / (1.f - drop.p) : 1.f, true);
  if (drop.p > 0.f) lora_dx.keep = GemmKeepMask{drop.p, drop.seed, I};
  gemm(ctx, N, I, R, rows_of(s.du, DType::kF32, R), view_of(lora.A, DType::kF32, I, GemmB::kRowMajor), lora_dx);
}

}  // namespace

int64_t lora_matmul_scratch_bytes(int N, int I, int O, int R, const LoraDropout& drop) {
  (void)O;
  const int64_t xd = drop.p > 0.f ? align_up(int64_t(N) * I * 2) : 0;
  return xd + align_up(int64_t(N) * R * 4);
}

void lora_matmul_forward(const CudaContext& ctx, bf16* y, float* u, const bf16* x, const DeviceWeight& W,
                         const float* bias, const LoraFactors& lora, const LoraDropout& drop, int N, void* scratch) {
  forward_impl(ctx, y, DType::kBF16, false, u, x, W, bias, lora, drop, N, scratch);
}

void lora_matmul_forward(const CudaContext& ctx, float* y, bool accumulate_y, float* u, const bf16* x,
                         const DeviceWeight& W, const float* bias, const LoraFactors& lora, const LoraDropout& drop,
                         int N, void* scratch) {
  forward_impl(ctx, y, DType::kF32, accumulate_y, u, x, W, bias, lora, drop, N, scratch);
}

void lora_matmul_backward(const CudaContext& ctx, bf16* dx, bool accumulate_dx, float* dA, float* dB,
                          const bf16* dy, const bf16* x, const float* u, const DeviceWeight& W,
                          const LoraFactors& lora, const LoraDropout& drop, int N, void* scratch) {
  backward_impl(ctx, dx, DType::kBF16, accumulate_dx, dA, dB, dy, x, u, W, lora, drop, N, scratch);
}

void lora_matmul_backward(const CudaContext& ctx, float* dx, bool accumulate_dx, float* dA, float* dB,
                          const bf16* dy, const bf16* x, const float* u, const DeviceWeight& W,
                          const LoraFactors& lora, const LoraDropout& drop, int N, void* scratch) {
  backward_impl(ctx, dx, DType::kF32, accumulate_dx, dA, dB, dy, x, u, W, lora, drop, N, scratch);
}

}  // namespace cuda
}  // namespace tunesmith
