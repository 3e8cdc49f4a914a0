// The Llama / Mistral / Qwen2 decoder with LoRA adapters, on the CPU backend (formats.md §10):
// frozen base weights (f32, or NF4 for the seven projections), LoRA A/B in fp32 with AdamW moments,
// forward + backward over a micro-batch of sequences packed back to back, gradient accumulation,
// global-norm clipping, KV-cached generation, and the PEFT adapter / optimizer-state files.
// The decision to know: step() accumulates gradients of the SUM of token losses; optimizerStep()
// divides by the trained-token count of all micro-batches since the last update, so the loss the
// optimizer sees is the mean over the trained tokens of the whole optimizer step.
// N=tokens C=hidden F=ffn V=vocab H=heads KV=kv heads D=head_dim R=rank L=layers
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "model_config.h"
#include "ops.h"
#include "tensor.h"
#include "thread_pool.h"

namespace tunesmith {

// The seven projections LoRA can adapt, in PEFT's module names.
enum Proj { kQ, kK, kV, kO, kGate, kUp, kDown, kProjCount };
const char* proj_name(Proj p);  // "q_proj", ..., "down_proj"
bool proj_from_name(const std::string& name, Proj* out);

struct LoraSpec {
  int rank = 16;
  float alpha = 32.f;
  bool rslora = false;
  float dropout = 0.f;
  bool targets[kProjCount] = {true, true, true, true, true, true, true};
  float scale() const;
};

struct ModelOptions {
  std::string model_dir;
  bool nf4 = false;
  LoraSpec lora;
  int max_seq_len = 512;
  bool gradient_checkpointing = false;
  uint64_t seed = 0;
  int threads = 0;  // 0 = core count
};

struct Batch {
  const int32_t* tokens = nullptr;  // [N]
  const uint8_t* trained = nullptr;  // [N] 1 = this token is a target (predicted from the one before)
  const int32_t* seq_lens = nullptr;  // [S], Σ = N
  int n_tokens = 0;
  int n_seqs = 0;
};

struct StepOptions {
  float neftune_alpha = 0.f;
  bool lora_dropout = true;  // apply LoraSpec::dropout (training only)
};

struct LossResult {
  double loss = 0;  // mean over the batch's trained tokens (0 when none)
  int64_t trained_tokens = 0;
};

struct OptimizerResult {
  double grad_norm = 0;        // global norm of the mean-loss gradients, before clipping
  double loss = 0;             // mean loss over every trained token of this optimizer step
  int64_t trained_tokens = 0;  // across the accumulated micro-batches
};

struct GenerateOptions {
  int max_new_tokens = 64;
  float temperature = 0.f;  // <= 0: greedy
  float top_p = 1.f;
  std::vector<int> stop_tokens;
  bool use_adapter = true;
};

struct MemoryInfo {
  int64_t host_bytes = 0;  // arenas held now
  int64_t peak_bytes = 0;
};

class Model {
 public:
  explicit Model(const ModelOptions& options);  // loads and quantizes; throws EngineError
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const;
  const ModelOptions& options() const;

  // Forward + backward; gradients of Σ token losses accumulate until optimizer_step().
  LossResult step(const Batch& batch, const StepOptions& options);
  // Forward only, no noise, no dropout, gradients untouched.
  LossResult eval_loss(const Batch& batch);
  // Averages, clips (max_grad_norm <= 0: no clipping) and updates; resets the accumulation.
  OptimizerResult optimizer_step(const AdamWParams& hp, float max_grad_norm);

  // on_token sees each new token; returning false stops the generation after that token.
  std::vector<int> generate(const std::vector<int>& prompt, const GenerateOptions& options,
                            const std::function<bool(int)>& on_token);

  // PEFT folder: adapter_config.json + adapter_model.safetensors (formats.md §4).
  void save_adapter(const std::string& dir, const std::string& base_model_name) const;
  void load_adapter(const std::string& dir);
  // Optimizer moments, step, RNG counter, LoRA params: exact resume.
  void save_state(const std::string& path) const;
  void load_state(const std::string& path);

  MemoryInfo memory() const;
  int64_t optimizer_steps() const;

  // For tests and the PyTorch parity harness.
  struct LoraSlot {
    int layer;
    Proj proj;
    int64_t a_offset, b_offset;  // into lora_params()
    int rows_a, cols_a, rows_b, cols_b;  // A [R, I], B [O, R]
  };
  const std::vector<LoraSlot>& lora_slots() const;
  float* lora_params();
  const float* lora_grads() const;  // Σ-loss gradients accumulated since the last update
  int64_t lora_param_count() const;
  int64_t pending_trained_tokens() const;
  // Logits [N, V] of the last position of every token (forward only; for parity tests).
  std::vector<float> logits(const Batch& batch);
  // The frozen weight of a projection as the engine uses it (dequantized NF4), [O, I].
  std::vector<float> frozen_weight(int layer, Proj proj) const;

  struct Impl;  // src/model/model_internal.h; public only so the model's .cpp files can share it
  // The CUDA backend (src/cuda/transformer.cu) mirrors the trainable state and hands it back here
  // before this model saves it or generates, and takes it after this model loads it.
  Impl& internals() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tunesmith
