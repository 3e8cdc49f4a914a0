// The one table of on-disk tensor names (STYLE.md rule 5): each weight of a Llama/Mistral/Qwen2 model
// by role, with its Hugging Face name, its GGUF name (formats.md §2.2) and its shape from the config.
// "{L}" in a pattern stands for the layer index. PEFT adapter names are built from hf_module():
// "base_model.model." + module + ".lora_A.weight" (formats.md §4.2).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tunesmith {

struct ModelConfig;

enum class TensorRole {
  TokenEmbd,   // model.embed_tokens.weight          [V, C]
  AttnNorm,    // input_layernorm.weight             [C]
  AttnQ,       // self_attn.q_proj.weight            [H*D, C]
  AttnK,       // self_attn.k_proj.weight            [KVH*D, C]
  AttnV,       // self_attn.v_proj.weight            [KVH*D, C]
  AttnQBias,   // self_attn.q_proj.bias (qkv_bias)   [H*D]
  AttnKBias,   // self_attn.k_proj.bias (qkv_bias)   [KVH*D]
  AttnVBias,   // self_attn.v_proj.bias (qkv_bias)   [KVH*D]
  AttnOut,     // self_attn.o_proj.weight            [C, H*D]
  FfnNorm,     // post_attention_layernorm.weight    [C]
  FfnGate,     // mlp.gate_proj.weight               [F, C]
  FfnUp,       // mlp.up_proj.weight                 [F, C]
  FfnDown,     // mlp.down_proj.weight               [C, F]
  OutputNorm,  // model.norm.weight                  [C]
  Output,      // lm_head.weight (absent when tied)  [V, C]
};

struct TensorNameEntry {
  TensorRole role;
  bool per_layer;
  const char* hf;    // e.g. "model.layers.{L}.self_attn.q_proj.weight"
  const char* gguf;  // e.g. "blk.{L}.attn_q.weight"
  bool quantizable;  // a frozen projection NF4 applies to (q, k, v, o, gate, up, down)
};

// All roles, in the order above.
const std::vector<TensorNameEntry>& tensor_name_table();
const TensorNameEntry& tensor_names(TensorRole role);

// Names with "{L}" replaced by `layer` (ignored for global tensors).
std::string hf_tensor_name(TensorRole role, int layer = -1);
std::string gguf_tensor_name(TensorRole role, int layer = -1);
// The HF module path: the HF name without its ".weight"/".bias" suffix ("model.layers.3.mlp.up_proj").
std::string hf_module(TensorRole role, int layer = -1);

// Whether a model with `config` has this tensor (biases only with qkv_bias; lm_head only untied).
bool role_present(TensorRole role, const ModelConfig& config);
// The torch shape (out, in) the config implies.
std::vector<int64_t> expected_shape(TensorRole role, const ModelConfig& config);

}  // namespace tunesmith
