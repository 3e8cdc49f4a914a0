// lora_matmul on the GPU, the twin of src/cpu/lora_matmul.cpp: every projection runs through it.
//   y = x·Wᵀ + bias + scale·(d(x)·Aᵀ)·Bᵀ,   d = dropout on the LoRA input (training only)
// Six GEMMs (cuda::gemm), no transposed copies: each operand is read through a view. Backward gives
// dx, dA, dB — never dW. The decision to know, as on the CPU: the dropout mask is not stored; it is
// regenerated from hash_uniform(seed, n·I + i), once to rebuild d(x) and once inside the epilogue of
// dx += keep ⊙ (du·A)/(1-p), so the only saved LoRA activation is u = d(x)·Aᵀ (fp32).
// The small operands (A, B, u, du) are rounded to bf16 copies in scratch first — the numbers the GEMM
// would round them to anyway — so every LoRA GEMM streams through cp.async; their rows are padded to
// Rp = R rounded up to 8 so that any rank keeps 16-byte rows. The skinny ones (x·Aᵀ, dy·B, dyᵀ·u, duᵀ·x:
// one side R wide, K up to 14336) split K over blocks, with a workspace in the same scratch.
// N=tokens I=in O=out R=rank Rp=R padded to a multiple of 8
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

// x [rows, cols] fp32 (ld src_ld) -> bf16 (ld dst_ld).
__global__ void lora_to_bf16_kernel(bf16* dst, int64_t dst_ld, const float* src, int64_t src_ld, int rows, int cols) {
  const int64_t n = int64_t(rows) * cols;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = e / cols, c = e % cols;
    dst[r * dst_ld + c] = __float2bfloat16_rn(src[r * src_ld + c]);
  }
}

void to_bf16(const CudaContext& ctx, bf16* dst, int64_t dst_ld, const float* src, int64_t src_ld, int rows, int cols) {
  const int64_t n = int64_t(rows) * cols;
  if (n == 0) return;
  const int64_t blocks = std::min<int64_t>((n + 255) / 256, 4096);
  launch(lora_to_bf16_kernel, dim3(static_cast<unsigned>(blocks)), dim3(256), 0, ctx.stream, dst, dst_ld, src, src_ld,
         rows, cols);
  CUDA_CHECK_LAUNCH(ctx, "lora_matmul (to bf16)");
}

int padded_rank(int R) { return (R + 7) / 8 * 8; }

// Split-K workspace: up to 8 splits of the largest skinny output (u/du [N,R], dB [O,R], dA [R,I]).
int64_t workspace_floats(int N, int I, int O, int R) {
  return 8 * int64_t(R) * std::max<int64_t>({int64_t(N), int64_t(I), int64_t(O)});
}

struct Scratch {
  bf16* xd = nullptr;    // [N,I] when dropout is on
  bf16* a16 = nullptr;   // [R,I]   A in bf16
  bf16* b16 = nullptr;   // [O,Rp]  B in bf16
  bf16* u16 = nullptr;   // [N,Rp]  u in bf16
  bf16* du16 = nullptr;  // [N,Rp]  du = s·dy·B, bf16
  float* work = nullptr;  // split-K partial sums
  int64_t work_floats = 0;
};

// Pieces in this order, each 256-byte aligned; lora_matmul_scratch_bytes adds up the same list.
Scratch carve(void* scratch, int N, int I, int O, int R, const LoraDropout& drop) {
  Scratch s;
  auto* at = static_cast<unsigned char*>(scratch);
  auto take = [&](int64_t bytes) {
    unsigned char* p = at;
    at += align_up(bytes);
    return p;
  };
  const int Rp = padded_rank(R);
  if (drop.p > 0.f) s.xd = reinterpret_cast<bf16*>(take(int64_t(N) * I * 2));
  s.a16 = reinterpret_cast<bf16*>(take(int64_t(R) * I * 2));
  s.b16 = reinterpret_cast<bf16*>(take(int64_t(O) * Rp * 2));
  s.u16 = reinterpret_cast<bf16*>(take(int64_t(N) * Rp * 2));
  s.du16 = reinterpret_cast<bf16*>(take(int64_t(N) * Rp * 2));
  s.work_floats = workspace_floats(N, I, O, R);
  s.work = reinterpret_cast<float*>(take(s.work_floats * 4));
  return s;
}

GemmTuning split_k(const Scratch& s) {
  GemmTuning t;
  t.workspace = s.work;
  t.workspace_floats = s.work_floats;
  return t;
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
  const int Rp = padded_rank(R);
  const Scratch s = carve(scratch, N, I, O, R, drop);
  to_bf16(ctx, s.a16, I, lora.A, I, R, I);
  to_bf16(ctx, s.b16, Rp, lora.B, R, O, R);
  const bf16* xd = x;
  if (drop.p > 0.f) {
    apply_dropout(ctx, s.xd, x, int64_t(N) * I, drop);
    xd = s.xd;
  }
  gemm(ctx, N, R, I, rows_of(xd, DType::kBF16, I), view_of(s.a16, DType::kBF16, I, GemmB::kTransposed),
       out_of(u, DType::kF32, R, 1.f, false), split_k(s));  // u[N,R] = xd · Aᵀ
  to_bf16(ctx, s.u16, Rp, u, R, N, R);
  gemm(ctx, N, O, R, rows_of(s.u16, DType::kBF16, Rp), view_of(s.b16, DType::kBF16, Rp, GemmB::kTransposed),
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
  const int Rp = padded_rank(R);
  const Scratch s = carve(scratch, N, I, O, R, drop);
  const float sc = lora.scale;
  to_bf16(ctx, s.a16, I, lora.A, I, R, I);
  to_bf16(ctx, s.b16, Rp, lora.B, R, O, R);
  to_bf16(ctx, s.u16, Rp, u, R, N, R);

  // dB[O,R] += s · dyᵀ · u   (M=O, N=R, K=tokens: A[o][n] = dy[n][o], B[n][r] = u[n][r])
  gemm(ctx, O, R, N, rows_of(dy, DType::kBF16, O, GemmA::kTransposed),
       view_of(s.u16, DType::kBF16, Rp, GemmB::kRowMajor), out_of(dB, DType::kF32, R, sc, true), split_k(s));
  // du[N,R] = s · dy · B     (B[o][r] read row-major), kept only in bf16: it is only ever an operand
  gemm(ctx, N, R, O, rows_of(dy, DType::kBF16, O), view_of(s.b16, DType::kBF16, Rp, GemmB::kRowMajor),
       out_of(s.du16, DType::kBF16, Rp, sc, false), split_k(s));

  const bf16* xd = x;
  if (drop.p > 0.f) {
    apply_dropout(ctx, s.xd, x, int64_t(N) * I, drop);
    xd = s.xd;
  }
  // dA[R,I] += duᵀ · xd      (M=R, N=I, K=tokens: A[r][n] = du[n][r])
  gemm(ctx, R, I, N, rows_of(s.du16, DType::kBF16, Rp, GemmA::kTransposed),
       view_of(xd, DType::kBF16, I, GemmB::kRowMajor), out_of(dA, DType::kF32, I, 1.f, true), split_k(s));
  // dx += keep ⊙ (du · A) / (1-p): the mask regenerated in the epilogue, element index n·I + i.
  GemmOut lora_dx = out_of(dx, dx_dtype, I, drop.p > 0.f ? 1.f / (1.f - drop.p) : 1.f, true);
  if (drop.p > 0.f) lora_dx.keep = GemmKeepMask{drop.p, drop.seed, I};
  gemm(ctx, N, I, R, rows_of(s.du16, DType::kBF16, Rp), view_of(s.a16, DType::kBF16, I, GemmB::kRowMajor), lora_dx);
}

}  // namespace

int64_t lora_matmul_scratch_bytes(int N, int I, int O, int R, const LoraDropout& drop) {
  const int64_t Rp = padded_rank(R);
  return (drop.p > 0.f ? align_up(int64_t(N) * I * 2) : 0) + align_up(int64_t(R) * I * 2) + align_up(O * Rp * 2) +
         2 * align_up(N * Rp * 2) + align_up(workspace_floats(N, I, O, R) * 4);
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
