// The op interface every backend implements: <op>_forward / <op>_backward with explicit shapes.
// The CPU backend (src/cpu/, one op family per file) is the reference; a CUDA twin keeps these
// signatures with device pointers. Tensors are row-major float32 unless a type says otherwise.
// Dimension letters: N=tokens in the micro-batch (all sequences packed back to back)
// C=hidden  F=FFN  V=vocab  H=query heads  KV=key/value heads  D=head_dim  I=in  O=out  R=LoRA rank.
// Backward ops OVERWRITE their input gradients unless the parameter is named *_accumulate or the
// comment says "+=": that is the one convention a reader must know.
#pragma once

#include <cstdint>

#include "model_config.h"
#include "nf4.h"
#include "thread_pool.h"

namespace tunesmith {

// Per-call backend context: the CPU backend needs only its threads.
struct OpContext {
  ThreadPool* pool;
};

// NF4 storage of a frozen [rows, cols] weight, bitsandbytes layout (formats.md §7): blocks of
// 64 consecutive row-major elements, one fp32 absmax each, element 2i in the high nibble.
struct Nf4Matrix {
  const uint8_t* codes = nullptr;  // [(rows*cols+1)/2]
  const float* absmax = nullptr;   // [ceil(rows*cols / 64)]
};

// A frozen projection weight W[O, I] (torch Linear layout), either f32 or NF4.
struct FrozenWeight {
  int out = 0, in = 0;
  const float* f32 = nullptr;  // [O, I] when not quantized
  Nf4Matrix nf4;               // when f32 == nullptr
  bool quantized() const { return f32 == nullptr; }
};


// ---- matmul -------------------------------------------------------------------------------------------
// The one GEMM: C[M,N] = alpha * A[M,K] · B[K,N] (+ C when accumulate). A is row-major with lda.
// B is read through a view so a frozen weight never needs a transposed or dequantized copy:
struct GemmB {
  enum Layout { kRowMajor, kTransposed } layout = kRowMajor;  // B[k][j] = p[k*ld+j] | p[j*ld+k]
  const float* f32 = nullptr;
  const Nf4Matrix* nf4 = nullptr;  // used when f32 == nullptr
  int64_t ld = 0;
};
void gemm(const OpContext& ctx, int M, int N, int K, float alpha, const float* A, int64_t lda, const GemmB& B,
          bool accumulate, float* C, int64_t ldc);

// y[N,O] = x[N,I] · Wᵀ (+ bias[O])
void matmul_forward(const OpContext& ctx, float* y, const float* x, const FrozenWeight& W, const float* bias, int N);
// dx[N,I] (= or +=) dy[N,O] · W      (W frozen: no dW)
void matmul_backward(const OpContext& ctx, float* dx, bool accumulate, const float* dy, const FrozenWeight& W, int N);

// ---- lora_matmul: the ONE place LoRA is applied -------------------------------------------------------
// y = x·Wᵀ + bias + scale · (dropout(x)·Aᵀ)·Bᵀ.  A[R,I] (kaiming-uniform), B[O,R] (zeros at init).
struct LoraFactors {
  const float* A = nullptr;  // [R, I]; nullptr = this projection has no adapter
  const float* B = nullptr;  // [O, R]
  int rank = 0;
  float scale = 0.f;  // alpha/R, or alpha/√R (rsLoRA)
};
// Dropout on the LoRA input, regenerated from (seed, element index) so backward needs no stored mask.
struct LoraDropout {
  float p = 0.f;  // 0 = off (always off outside training)
  uint64_t seed = 0;
};
// Scratch floats lora_matmul_forward/backward need for N tokens.
int64_t lora_matmul_scratch_floats(int N, int I, int O, int R);
// y[N,O]; u[N,R] saved for backward (= dropout(x)·Aᵀ).
void lora_matmul_forward(const OpContext& ctx, float* y, float* u, const float* x, const FrozenWeight& W,
                         const float* bias, const LoraFactors& lora, const LoraDropout& drop, int N, float* scratch);
// dx[N,I] (= or +=), dA[R,I] +=, dB[O,R] +=.  No dW: the base is frozen.
void lora_matmul_backward(const OpContext& ctx, float* dx, bool accumulate_dx, float* dA, float* dB, const float* dy,
                          const float* x, const float* u, const FrozenWeight& W, const LoraFactors& lora,
                          const LoraDropout& drop, int N, float* scratch);

// ---- rmsnorm ------------------------------------------------------------------------------------------
// y[N,C] = w ⊙ x / sqrt(mean(x²) + eps); rstd[N] saved.
void rmsnorm_forward(const OpContext& ctx, float* y, float* rstd, const float* x, const float* w, int N, int C, float eps);
// dx[N,C] += ..., dw[C] += ... (dw may be nullptr: norm weights are frozen in LoRA training)
void rmsnorm_backward(const OpContext& ctx, float* dx, float* dw, const float* dy, const float* x, const float* w,
                      const float* rstd, int N, int C);

// ---- rope (Hugging Face rotate-half) ------------------------------------------------------------------
// cos/sin tables [T, D/2] for positions 0..T-1 (RopeScaling from model_config.h: none or llama3).
void rope_table(float* cos_table, float* sin_table, int T, int D, float theta, const RopeScaling& scaling);
// x[N, heads*D] rotated in place by angle(pos[n]); backward rotates dx by the negative angle.
void rope_forward(const OpContext& ctx, float* x, const int* pos, const float* cos_table, const float* sin_table,
                  int N, int heads, int D);
void rope_backward(const OpContext& ctx, float* dx, const int* pos, const float* cos_table, const float* sin_table,
                   int N, int heads, int D);

// ---- attention (causal, GQA, optional sliding window) -------------------------------------------------
// Sequences lie back to back in the token dimension; no token attends across a sequence boundary.
struct SeqSpans {
  const int* start = nullptr;  // [S] first token of each sequence
  const int* len = nullptr;    // [S]
  int count = 0;
};
// out[N,H*D], lse[N,H] (log-sum-exp of each query row, saved), q[N,H*D], k,v[N,KV*D].
// window > 0: query t sees keys t-window+1 .. t (Mistral). Softmax is streamed per query row.
void attention_forward(const OpContext& ctx, float* out, float* lse, const float* q, const float* k, const float* v,
                       const SeqSpans& seqs, int H, int KV, int D, int window);
void attention_backward(const OpContext& ctx, float* dq, float* dk, float* dv, const float* dout, const float* out,
                        const float* lse, const float* q, const float* k, const float* v, const SeqSpans& seqs, int H,
                        int KV, int D, int window);

// One new query at position t against a KV cache (generation): out[H*D], q[H*D],
// k_cache/v_cache [T, KV*D] with rows 0..t filled.
void attention_decode(const OpContext& ctx, float* out, const float* q, const float* k_cache, const float* v_cache,
                      int t, int H, int KV, int D, int window);

// ---- swiglu -------------------------------------------------------------------------------------------
// h[n] = silu(gate[n]) * up[n] over n = N*F elements.
void swiglu_forward(const OpContext& ctx, float* h, const float* gate, const float* up, int64_t n);
void swiglu_backward(const OpContext& ctx, float* dgate, float* dup, const float* dh, const float* gate,
                     const float* up, int64_t n);

// ---- embedding (+ NEFTune) ----------------------------------------------------------------------------
// out[N,C] = table[tokens[n]] + U(-mag, mag), mag = alpha / sqrt(L*C) (alpha 0 = no noise).
// The table is frozen, so there is no backward.
struct Neftune {
  float alpha = 0.f;
  int L = 1;  // padded sequence length of the batch (HF: output.size(1))
  uint64_t seed = 0;
};
void embedding_forward(const OpContext& ctx, float* out, const int* tokens, const float* table, int N, int C,
                       const Neftune& noise);

// ---- cross_entropy (over a chunk of trained positions) ------------------------------------------------
// losses[n] = logsumexp(logits[n]) - logits[n][target[n]]; lse[n] saved. Returns Σ losses (double).
double cross_entropy_forward(const OpContext& ctx, float* losses, float* lse, const float* logits, const int* targets,
                             int n, int V);
// Training's fused pass: forward and backward with one exponential per logit. losses[n] as forward;
// logits[n,V] becomes grad_scale·(softmax − onehot) in place. Returns Σ losses.
double cross_entropy_forward_backward(const OpContext& ctx, float* losses, float* logits, const int* targets, int n,
                                      int V, float grad_scale);
// In place: logits[n,V] becomes dlogits = grad_scale * (softmax - onehot).
void cross_entropy_backward(const OpContext& ctx, float* logits, const float* lse, const int* targets, int n, int V,
                            float grad_scale);

// ---- optimizer ----------------------------------------------------------------------------------------
struct AdamWParams {
  float lr = 1e-4f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.f;
};
// One flat loop over every trainable float; `step` is 1-based (bias correction).
void adamw_step(const OpContext& ctx, float* params, const float* grads, float* m, float* v, int64_t n,
                const AdamWParams& hp, int64_t step);
// Σ g² in double, summed in fixed-size chunks in a fixed order (independent of the thread count).
double grad_sum_squares(const OpContext& ctx, const float* grads, int64_t n);
void scale_inplace(const OpContext& ctx, float* x, int64_t n, float s);

// Counter-based uniform random in [0,1) from (seed, index): the same value on any thread.
inline float hash_uniform(uint64_t seed, uint64_t index) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
}

}  // namespace tunesmith
