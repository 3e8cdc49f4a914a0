// The CUDA GEMM: C[M,N] = alpha · A[M,K] · B[K,N] (+ bias[N]) (+ C), bf16 products accumulated in fp32 on
// tensor cores (mma.sync m16n8k16, sm_80+), with the frozen weight read as bf16 or as NF4 that is
// dequantized while its tile is loaded — and the NF4 → bf16 dequantize kernel for the other strategy
// (dequantize a layer's weight into scratch, then a bf16 GEMM), so the two can be measured — and
// lora_matmul, the twin of ops.h's, built on them (lora_matmul.cu).
// The decision to know: operands are views, as in ops.h's GemmB, so a frozen weight W[O,I] is never
// copied or transposed: forward reads B[k][j] = W[j][k] ("transposed"), backward B[k][j] = W[k][j]
// ("row-major"). fp32 operands (LoRA factors, saved u) are rounded to bf16 as their tile is loaded.
// Every entry asserts shapes and dtypes (EngineError naming the op); aligned operands take the tensor-core
// path, anything else (odd leading dimensions, unaligned pointers, NF4 with I % 64 != 0) a simple kernel
// with the same arithmetic, so every shape is handled, only slower.
// M,N,K = GEMM dims (for a projection: M = tokens, N and K = O and I or I and O).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "cuda_ops.h"  // CudaContext, bf16; ops.h's Nf4Matrix, LoraFactors, LoraDropout

namespace tunesmith {
namespace cuda {

enum class DType { kF32, kBF16, kNF4 };

// A[i][k] = data[i*ld + k] (kRowMajor) | data[k*ld + i] (kTransposed). bf16 or fp32.
struct GemmA {
  enum Layout { kRowMajor, kTransposed } layout = kRowMajor;
  DType dtype = DType::kBF16;
  const void* data = nullptr;
  int64_t ld = 0;
};

// B[k][j] = data[k*ld + j] (kRowMajor) | data[j*ld + k] (kTransposed). bf16, fp32, or NF4: then `data` is
// unused and element e = (row-major index as above) of the flat weight is nf4_codes/nf4_absmax's
// (bitsandbytes layout: 64-element blocks, fp32 absmax, element 2i in the high nibble).
struct GemmB {
  enum Layout { kRowMajor, kTransposed } layout = kRowMajor;
  DType dtype = DType::kBF16;
  const void* data = nullptr;
  const uint8_t* nf4_codes = nullptr;
  const float* nf4_absmax = nullptr;
  int64_t ld = 0;
};

// LoRA dropout folded into the epilogue: the product is zeroed where hash_uniform(seed, row*ld + col)
// < p (the same mask ops.h's lora_matmul regenerates), so dx += keep ⊙ (du·A)/(1-p) needs no mask tensor.
struct GemmKeepMask {
  float p = 0.f;  // 0 = no mask
  uint64_t seed = 0;
  int64_t ld = 0;
};

// C[i][j] = alpha · keep(i,j) · Σ_k A[i][k]·B[k][j] + bias[j] (+ C[i][j] when accumulate).
struct GemmOut {
  DType dtype = DType::kF32;  // kF32 or kBF16
  void* data = nullptr;
  int64_t ld = 0;
  float alpha = 1.f;
  bool accumulate = false;
  const float* bias = nullptr;  // [N] fp32 or nullptr
  GemmKeepMask keep;
};

// Which kernel runs. kAuto picks by alignment and shape; the others are for tests and benchmarks
// (kTensorCore throws when the operands do not meet its alignment).
enum class GemmPath { kAuto, kTensorCore, kSimple };
enum class GemmTile { kAuto, k128x128, k64x64 };
struct GemmTuning {
  GemmPath path = GemmPath::kAuto;
  GemmTile tile = GemmTile::kAuto;
  // Split-K, for skinny GEMMs (few output tiles, long K: LoRA's x·Aᵀ, dy·B, dyᵀ·u, duᵀ·x): split_k blocks
  // share a tile's k-tiles, write fp32 partial sums to `workspace` (split_k·M·N floats), and a second kernel
  // adds them in a fixed order, so results stay reproducible. 0 = decide by shape when a workspace is
  // given, 1 = never.
  int split_k = 0;
  float* workspace = nullptr;
  int64_t workspace_floats = 0;
};

void gemm(const CudaContext& ctx, int M, int N, int K, const GemmA& A, const GemmB& B, const GemmOut& C,
          const GemmTuning& tuning = GemmTuning{});

// Would gemm() take the tensor-core path for these operands? "" if yes, else why not (for tests and logs).
std::string gemm_tensor_core_refusal(int M, int N, int K, const GemmA& A, const GemmB& B, const GemmOut& C);

// out[n] (bf16) = bf16(code[nibble e] · absmax[e / 64]) for e < n: the scratch-buffer strategy. The
// arithmetic is the fused loader's, so both strategies feed the tensor cores bit-identical operands.
void nf4_dequantize_bf16(const CudaContext& ctx, bf16* out, const uint8_t* codes, const float* absmax,
                         int64_t n);

// ---- lora_matmul: the ONE place LoRA is applied (twin of ops.h's, in lora_matmul.cu) -------------------
// y = x·Wᵀ + bias + scale·(d(x)·Aᵀ)·Bᵀ, d = dropout regenerated from hash_uniform(seed, n·I + i) as on the
// CPU. x bf16 [N,I]; W bf16 or NF4 [O,I]; bias f32 [O] or nullptr; LoRA A f32 [R,I], B f32 [O,R] (device
// pointers in LoraFactors; A == nullptr: no adapter); u f32 [N,R] saved for backward.

// A frozen projection weight W[O, I] on the device: bf16, or NF4 (codes and absmax device pointers).
// To use the scratch-buffer strategy, dequantize with nf4_dequantize_bf16 and pass the bf16 copy.
struct DeviceWeight {
  int out = 0, in = 0;
  const bf16* bf16_data = nullptr;  // [O, I]; nullptr = use nf4
  Nf4Matrix nf4;
  bool quantized() const { return bf16_data == nullptr; }
};

// Bytes of scratch lora_matmul_forward/backward need for N tokens (256-byte aligned pieces).
int64_t lora_matmul_scratch_bytes(int N, int I, int O, int R, const LoraDropout& drop);

// y bf16 [N,O] (q, k, v, gate, up: the next op reads bf16).
void lora_matmul_forward(const CudaContext& ctx, bf16* y, float* u, const bf16* x, const DeviceWeight& W,
                         const float* bias, const LoraFactors& lora, const LoraDropout& drop, int N, void* scratch);
// y f32 [N,O], = or += (accumulate_y: o_proj and down_proj add straight into the fp32 residual stream).
void lora_matmul_forward(const CudaContext& ctx, float* y, bool accumulate_y, float* u, const bf16* x,
                         const DeviceWeight& W, const float* bias, const LoraFactors& lora, const LoraDropout& drop,
                         int N, void* scratch);
// dx [N,I] (= or +=), dA f32 [R,I] +=, dB f32 [O,R] += from dy bf16 [N,O]. No dW: the base is frozen.
// dx bf16 (o_proj → attention, down_proj → SwiGLU) or f32 (q/k/v and gate/up add into the norm's gradient).
// dy is bf16: a gradient kept in fp32 (the residual stream's) is converted once (convert_f32_to_bf16).
void lora_matmul_backward(const CudaContext& ctx, bf16* dx, bool accumulate_dx, float* dA, float* dB,
                          const bf16* dy, const bf16* x, const float* u, const DeviceWeight& W,
                          const LoraFactors& lora, const LoraDropout& drop, int N, void* scratch);
void lora_matmul_backward(const CudaContext& ctx, float* dx, bool accumulate_dx, float* dA, float* dB,
                          const bf16* dy, const bf16* x, const float* u, const DeviceWeight& W,
                          const LoraFactors& lora, const LoraDropout& drop, int N, void* scratch);

}  // namespace cuda
}  // namespace tunesmith
