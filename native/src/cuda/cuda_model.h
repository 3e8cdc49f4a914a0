// The decoder's training path on the GPU: the twin of src/model/transformer.cpp, layer for layer, through
// the CUDA ops (cuda_ops.h) and lora_matmul's CUDA twin (cuda_gemm.h).
// A CudaModel mirrors a host Model: its config and options, its LoRA slots and current LoRA parameters
// (same flat layout, so gradients and AdamW moments are one loop here too). The frozen base is read again
// from options.model_dir straight into device memory — projections as the CPU quantizes them (NF4) or
// bf16, embeddings and lm_head bf16, norms and biases fp32 — so the host's copy is never needed on the GPU.
// Three device arenas, one cudaMalloc each: the base, the trainable state, the activations of the
// largest micro-batch seen (sized like the CPU's, gradient checkpointing included).
// The decisions to know: the same seeds as the CPU (dropout, NEFTune) advance with the same counter, so a
// CPU and a CUDA model built alike train alike; and a step's loss stays on the device until the step ends,
// when one synchronization reads the loss sum and the trained-token count.
// N=tokens C=hidden F=ffn V=vocab H=heads KV=kv heads D=head_dim R=rank L=layers P=LoRA floats
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "model.h"

namespace tunesmith {
namespace cuda {

class CudaModel {
 public:
  // Reads the base from host.options().model_dir and copies host's LoRA parameters. Throws EngineError
  // (out of memory with the numbers, CUDA errors naming the op).
  explicit CudaModel(Model& host);
  ~CudaModel();
  CudaModel(const CudaModel&) = delete;
  CudaModel& operator=(const CudaModel&) = delete;

  // As Model::step / eval_loss / optimizer_step (model.h), on the GPU.
  LossResult step(const Batch& batch, const StepOptions& options);
  LossResult eval_loss(const Batch& batch);
  OptimizerResult optimizer_step(const AdamWParams& hp, float max_grad_norm);

  // The LoRA parameters [P] and the Σ-loss gradients accumulated since the last update [P], downloaded.
  std::vector<float> lora_params() const;
  std::vector<float> lora_grads() const;
  // The LoRA parameters into the host Model (before it saves the adapter, generates or computes logits),
  // or from it (after it loaded an adapter).
  void copy_params_to_host();
  void copy_params_from_host();
  // The whole trainable state — parameters, pending gradients, AdamW moments, step, RNG counter, pending
  // tokens and loss — into the host Model (before save_state there) or from it (after load_state there,
  // which may also change the LoRA scale).
  void copy_state_to_host();
  void copy_state_from_host();

  // Device bytes: held by this model's arenas now, and the process's peak.
  MemoryInfo memory() const;
  int64_t optimizer_steps() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cuda
}  // namespace tunesmith
