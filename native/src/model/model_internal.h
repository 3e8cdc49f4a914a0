// Model::Impl, shared by the files of src/model/: weights.cpp (frozen base), transformer.cpp (forward,
// backward, loss, optimizer), generate.cpp (KV-cached decoding), adapter_io.cpp (PEFT + state files).
// Three arenas, one allocation each: the frozen base, the trainable state (LoRA params, grads, m, v —
// four flat arrays with one layout, so the optimizer is one loop), and the activations for the largest
// micro-batch seen so far.
// N=tokens C=hidden F=ffn V=vocab H=heads KV=kv heads D=head_dim R=rank L=layers
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model.h"
#include "tensor_names.h"

namespace tunesmith {

struct FrozenLayer {
  FrozenWeight w[kProjCount];
  const float* attn_norm = nullptr;  // [C]
  const float* ffn_norm = nullptr;   // [C]
  const float* bias[3] = {nullptr, nullptr, nullptr};  // q [H*D], k [KV*D], v [KV*D] (Qwen2)
};

// Saved activations of one layer for backward.
struct LayerActs {
  float* x_in = nullptr;   // [N,C] residual stream entering the layer
  float* ln1 = nullptr;    // [N,C]
  float* rstd1 = nullptr;  // [N]
  float* q = nullptr;      // [N,H*D] after RoPE
  float* k = nullptr;      // [N,KV*D] after RoPE
  float* v = nullptr;      // [N,KV*D]
  float* att = nullptr;    // [N,H*D] attention output (o_proj input)
  float* lse = nullptr;    // [N,H]
  float* x_mid = nullptr;  // [N,C] residual after attention
  float* ln2 = nullptr;    // [N,C]
  float* rstd2 = nullptr;  // [N]
  float* gate = nullptr;   // [N,F]
  float* up = nullptr;     // [N,F]
  float* h = nullptr;      // [N,F] silu(gate)·up (down_proj input)
  float* u[kProjCount] = {};  // [N,R] LoRA intermediates
};

struct Model::Impl {
  ModelOptions opt;
  ModelConfig cfg;
  ThreadPool pool;
  OpContext ctx;
  int C = 0, F = 0, V = 0, H = 0, KV = 0, D = 0, L = 0;

  // ---- frozen base (weights.cpp)
  Arena base_arena;
  const float* embed = nullptr;       // [V,C]
  const float* final_norm = nullptr;  // [C]
  FrozenWeight lm_head;               // [V,C] f32 (the embedding when tied)
  std::vector<FrozenLayer> layers;
  float* rope_cos = nullptr;  // [max_seq_len, D/2]
  float* rope_sin = nullptr;

  // ---- trainable state
  Arena train_arena;
  float* params = nullptr;  // [P] all LoRA A and B, slot after slot
  float* grads = nullptr;   // [P] Σ-loss gradients
  float* m = nullptr;       // [P]
  float* v = nullptr;       // [P]
  int64_t n_params = 0;
  std::vector<LoraSlot> slots;
  std::vector<int> slot_of;  // [L*7] index into slots, -1 = not adapted
  int64_t step_count = 0;      // optimizer steps taken
  uint64_t rng_counter = 0;    // advances once per step(): noise and dropout seeds (saved in the state)
  uint64_t sample_counter = 0;  // advances once per generate(): sampling draws, apart from training
  int64_t pending_tokens = 0;  // trained tokens accumulated since the last optimizer step
  double pending_loss = 0;     // Σ their losses

  // ---- activations (transformer.cpp)
  Arena act_arena;
  int act_capacity = 0;
  std::vector<LayerActs> acts;  // [L]; with checkpointing all but x_in alias one scratch set
  float *x_final = nullptr, *lnf = nullptr, *rstdf = nullptr;  // [N,C] [N,C] [N]
  float *d_res = nullptr, *d_ln = nullptr, *tmp_c = nullptr;   // [N,C]
  float *d_q = nullptr, *d_k = nullptr, *d_v = nullptr, *d_att = nullptr;  // [N,H*D] [N,KV*D]x2 [N,H*D]
  float *d_gate = nullptr, *d_up = nullptr, *d_h = nullptr;              // [N,F]
  float* lora_scratch = nullptr;
  int* pos = nullptr;  // [N] position of each token in its sequence
  static constexpr int kLossChunk = 256;  // rows per lm_head chunk: [256, V] logits at a time
  float *chunk_in = nullptr, *chunk_logits = nullptr, *chunk_losses = nullptr, *chunk_lse = nullptr;
  int* chunk_targets = nullptr;
  int* chunk_rows = nullptr;
  int64_t peak_bytes = 0;

  explicit Impl(const ModelOptions& options);
  void load_base();                // weights.cpp
  void init_lora();                // transformer.cpp
  void ensure_activations(int N);  // transformer.cpp

  LoraFactors lora_of(int layer, Proj p) const;
  float* grad_a(int layer, Proj p);
  float* grad_b(int layer, Proj p);
  int window_of(int layer) const;
  uint64_t next_seed();

  void validate(const Batch& b) const;
  // Runs the model over the batch; with backward, adds gradients of Σ losses into grads.
  LossResult run(const Batch& b, bool backward, const StepOptions& so, std::vector<float>* logits_out);
  // Runs a prompt through every layer, filling k_cache/v_cache [L, cache_rows, KV*D] rows 0..n-1;
  // the last position's final-normed hidden state is lnf row n-1.
  void prefill(const int* tokens, int n, bool use_adapter, float* k_cache, float* v_cache, int cache_rows);
  int64_t bytes_held() const;
};

// The tensor-name table's role for a projection (weights.cpp).
TensorRole proj_role(Proj p);

// 64-bit mix of two values (seeds for noise and dropout).
inline uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t z = a ^ (b + 0x9E3779B97F4A7C15ull + (a << 6) + (a >> 2));
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace tunesmith
