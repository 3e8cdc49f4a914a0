// The CUDA twins of ops.h: same op names, same shapes, same math, in namespace tunesmith::cuda, on
// device pointers, enqueued on CudaContext::stream (nothing here synchronizes unless it says so).
// One .cu per op family in src/cuda/; the GEMM and lora_matmul twins are declared in cuda_gemm.h.
// Dtypes: bf16 where the model computes in bf16 (projection inputs and outputs, attention, SwiGLU),
// fp32 where precision is kept (the residual stream and its gradient, norms' statistics, logits and the
// loss, LoRA parameters, gradients and AdamW moments). Every parameter below names its dtype; `bf16`
// tensors are __nv_bfloat16, all arithmetic inside the kernels is fp32.
// Dimension letters as in ops.h: N=tokens C=hidden F=FFN V=vocab H=query heads KV=key/value heads
// D=head_dim T=positions S=sequences. Backward ops OVERWRITE their outputs unless a comment says "+=".
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "ops.h"  // AdamWParams, Neftune, hash_uniform (the CPU noise the GPU reproduces bit for bit)

namespace tunesmith {
namespace cuda {

using bf16 = __nv_bfloat16;

// Per-call backend context.
struct CudaContext {
  cudaStream_t stream = nullptr;
  bool sync_each_op = false;            // synchronize after every launch (TUNESMITH_CUDA_SYNC=1): pins faults
  mutable const char* last_op = "";     // the last op launched, named when a later sync finds a fault
};

// Sequences packed back to back in the token dimension (the device form of SeqSpans): no token attends
// across a boundary. start/len are DEVICE arrays; max_len is known on the host and sizes the grids.
struct DeviceSeqSpans {
  const int* start = nullptr;  // device int [S] first token of each sequence
  const int* len = nullptr;    // device int [S]
  int count = 0;               // S
  int max_len = 0;             // max over len (host value)
};

// ---- dtype moves (convert.cu) ---------------------------------------------------------------------------
void convert_f32_to_bf16(const CudaContext& ctx, bf16* out, const float* in, int64_t n);  // round to nearest even
void convert_bf16_to_f32(const CudaContext& ctx, float* out, const bf16* in, int64_t n);
// out[n] = a[n] + b[n], fp32 (residual adds). out may alias a or b.
void add_f32(const CudaContext& ctx, float* out, const float* a, const float* b, int64_t n);
// dst[i, :] = src[rows[i], :] for i < n; src, dst bf16, rows device int [n]. (lm_head chunks)
void gather_rows_bf16(const CudaContext& ctx, bf16* dst, const bf16* src, const int* rows, int n, int C);
// dst[rows[i], :] += src[i, :], fp32; rows distinct within a call.
void scatter_add_rows_f32(const CudaContext& ctx, float* dst, const float* src, const int* rows, int n, int C);

// ---- rmsnorm (rmsnorm.cu) ---------------------------------------------------------------------------------
// y bf16 [N,C] = w ⊙ x / sqrt(mean(x²) + eps); rstd f32 [N] saved; x f32 [N,C] (residual); w f32 [C].
void rmsnorm_forward(const CudaContext& ctx, bf16* y, float* rstd, const float* x, const float* w, int N, int C,
                     float eps);
// dx f32 [N,C] +=, dw f32 [C] += (nullptr: frozen norm), from dy f32 [N,C].
void rmsnorm_backward(const CudaContext& ctx, float* dx, float* dw, const float* dy, const float* x, const float* w,
                      const float* rstd, int N, int C);

// ---- rope (rope.cu; HF rotate-half) ----------------------------------------------------------------------
// x bf16 [N, heads*D] rotated in place by the angle of pos[n] (device int [N]); cos/sin f32 [T, D/2] are
// rope_table()'s host tables uploaded once. Backward rotates by the negative angle.
void rope_forward(const CudaContext& ctx, bf16* x, const int* pos, const float* cos_table, const float* sin_table,
                  int N, int heads, int D);
void rope_backward(const CudaContext& ctx, bf16* dx, const int* pos, const float* cos_table,
                   const float* sin_table, int N, int heads, int D);

// ---- attention (attention.cu, attention_decode.cu; causal, GQA, optional sliding window) -----------------
// Flash-attention style: K/V stream through shared memory in tiles with an online softmax; no T×T matrix.
// q bf16 [N,H*D], k/v bf16 [N,KV*D], out bf16 [N,H*D], lse f32 [N,H] (log-sum-exp of each query row).
// window > 0: query t sees keys t-window+1..t. Query head h reads KV head h / (H/KV). D even, ≤ 128.
void attention_forward(const CudaContext& ctx, bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                       const DeviceSeqSpans& seqs, int N, int H, int KV, int D, int window);
// Floats of scratch attention_backward needs (the per-row dO·O).
int64_t attention_backward_scratch_floats(int N, int H);
// dq bf16 [N,H*D], dk/dv bf16 [N,KV*D] (overwritten) from dout bf16 [N,H*D]; scratch f32 as above.
// Deterministic: no atomics (dK/dV and dQ come from two kernels that each own their outputs).
void attention_backward(const CudaContext& ctx, bf16* dq, bf16* dk, bf16* dv, const bf16* dout, const bf16* out,
                        const float* lse, const bf16* q, const bf16* k, const bf16* v, const DeviceSeqSpans& seqs,
                        int N, int H, int KV, int D, int window, float* scratch);
// One new query at position t against a KV cache (generation): out bf16 [H*D], q bf16 [H*D],
// k_cache/v_cache bf16 [T, KV*D] with rows 0..t filled.
void attention_decode(const CudaContext& ctx, bf16* out, const bf16* q, const bf16* k_cache, const bf16* v_cache,
                      int t, int H, int KV, int D, int window);

// ---- swiglu (swiglu.cu) ------------------------------------------------------------------------------------
// h[i] = silu(gate[i]) · up[i] over n = N*F elements; all bf16.
void swiglu_forward(const CudaContext& ctx, bf16* h, const bf16* gate, const bf16* up, int64_t n);
// dgate, dup bf16 [n] from dh bf16 [n].
void swiglu_backward(const CudaContext& ctx, bf16* dgate, bf16* dup, const bf16* dh, const bf16* gate,
                     const bf16* up, int64_t n);

// ---- embedding + NEFTune (embedding.cu) ----------------------------------------------------------------------
// out f32 [N,C] = table[tokens[n]] + U(−mag, mag), mag = alpha / sqrt(L·C); tokens device int [N], table bf16
// [V,C]. The noise is hash_uniform(seed, n·C + c) as on the CPU, added without FMA contraction, so out is
// bit-identical to the CPU's for the same (bf16-valued) table.
void embedding_forward(const CudaContext& ctx, float* out, const int* tokens, const bf16* table, int N, int C,
                       const Neftune& noise);

// ---- cross_entropy over a chunk of positions (cross_entropy.cu) ------------------------------------------------
// logits f32 [n,V]; targets device int [n], a negative target = ignored row (loss 0, gradient 0).
// losses f32 [n] = logsumexp(logits) − logits[target]; lse f32 [n]. One block per row, V streamed in
// chunks with an online max/sum, so any V works.
void cross_entropy_forward(const CudaContext& ctx, float* losses, float* lse, const float* logits, const int* targets,
                           int n, int V);
// Training's fused pass: losses as above and dlogits bf16 [n,V] = grad_scale · (softmax − onehot).
void cross_entropy_forward_backward(const CudaContext& ctx, float* losses, bf16* dlogits, const float* logits,
                                    const int* targets, int n, int V, float grad_scale);
// *total (device double) += Σ losses[i] over rows with targets[i] ≥ 0, summed in a fixed order; *count
// (device int64) += their number. The step's loss stays on the device until the host reads it once.
void loss_sum_accumulate(const CudaContext& ctx, double* total, int64_t* count, const float* losses,
                         const int* targets, int n);

// ---- optimizer (adamw.cu) ------------------------------------------------------------------------------------
// One flat loop over every trainable float (params, grads, m, v f32 [n]); `step` is 1-based. The same
// float operations as the CPU's adamw_step, without FMA contraction: the update is bit-identical.
void adamw_step(const CudaContext& ctx, float* params, const float* grads, float* m, float* v, int64_t n,
                const AdamWParams& hp, int64_t step);
// Doubles of scratch grad_sum_squares needs.
int64_t grad_sum_squares_scratch_doubles();
// *out (device double) = Σ grads² accumulated in double in a fixed order (same result on every run).
void grad_sum_squares(const CudaContext& ctx, double* out, const float* grads, int64_t n, double* scratch);
void scale_inplace(const CudaContext& ctx, float* x, int64_t n, float s);

// ---- sampling for generation (sampling.cu) --------------------------------------------------------------------
// *token (device int) = the next token from logits f32 [V] (overwritten with unnormalized probabilities).
// temperature <= 0: greedy (the first maximum, as std::max_element). Otherwise softmax(logits/T), the
// smallest set of most likely tokens whose mass reaches top_p (the nucleus), and the token where the
// cumulative mass in descending order crosses uniform·(nucleus mass); `uniform` in [0,1) is drawn by the
// host, so a seed reproduces a generation. Ties are taken in index order, as the CPU's stable order does.
void sample_token(const CudaContext& ctx, int* token, float* logits, int V, float temperature, float top_p,
                  double uniform);

}  // namespace cuda
}  // namespace tunesmith
