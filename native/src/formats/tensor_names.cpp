// The HF <-> GGUF tensor name table (formats.md §2.2) and the shapes a config implies.
// Dimension letters: V=vocab C=hidden F=intermediate H=heads KVH=kv heads D=head_dim.
#include "tensor_names.h"

#include <string>

#include "engine_error.h"
#include "model_config.h"

namespace tunesmith {

const std::vector<TensorNameEntry>& tensor_name_table() {
  static const std::vector<TensorNameEntry> table = {
      {TensorRole::TokenEmbd, false, "model.embed_tokens.weight", "token_embd.weight", false},
      {TensorRole::AttnNorm, true, "model.layers.{L}.input_layernorm.weight", "blk.{L}.attn_norm.weight", false},
      {TensorRole::AttnQ, true, "model.layers.{L}.self_attn.q_proj.weight", "blk.{L}.attn_q.weight", true},
      {TensorRole::AttnK, true, "model.layers.{L}.self_attn.k_proj.weight", "blk.{L}.attn_k.weight", true},
      {TensorRole::AttnV, true, "model.layers.{L}.self_attn.v_proj.weight", "blk.{L}.attn_v.weight", true},
      {TensorRole::AttnQBias, true, "model.layers.{L}.self_attn.q_proj.bias", "blk.{L}.attn_q.bias", false},
      {TensorRole::AttnKBias, true, "model.layers.{L}.self_attn.k_proj.bias", "blk.{L}.attn_k.bias", false},
      {TensorRole::AttnVBias, true, "model.layers.{L}.self_attn.v_proj.bias", "blk.{L}.attn_v.bias", false},
      {TensorRole::AttnOut, true, "model.layers.{L}.self_attn.o_proj.weight", "blk.{L}.attn_output.weight", true},
      {TensorRole::FfnNorm, true, "model.layers.{L}.post_attention_layernorm.weight", "blk.{L}.ffn_norm.weight",
       false},
      {TensorRole::FfnGate, true, "model.layers.{L}.mlp.gate_proj.weight", "blk.{L}.ffn_gate.weight", true},
      {TensorRole::FfnUp, true, "model.layers.{L}.mlp.up_proj.weight", "blk.{L}.ffn_up.weight", true},
      {TensorRole::FfnDown, true, "model.layers.{L}.mlp.down_proj.weight", "blk.{L}.ffn_down.weight", true},
      {TensorRole::OutputNorm, false, "model.norm.weight", "output_norm.weight", false},
      {TensorRole::Output, false, "lm_head.weight", "output.weight", false},
  };
  return table;
}

const TensorNameEntry& tensor_names(TensorRole role) {
  for (const TensorNameEntry& entry : tensor_name_table()) {
    if (entry.role == role) return entry;
  }
  TS_FAIL("unknown tensor role " + std::to_string(static_cast<int>(role)));
}

namespace {

std::string with_layer(const char* pattern, bool per_layer, int layer) {
  std::string name(pattern);
  if (!per_layer) return name;
  if (layer < 0) TS_FAIL(std::string("tensor name ") + pattern + " needs a layer index");
  const size_t at = name.find("{L}");
  return name.replace(at, 3, std::to_string(layer));
}

}  // namespace

std::string hf_tensor_name(TensorRole role, int layer) {
  const TensorNameEntry& e = tensor_names(role);
  return with_layer(e.hf, e.per_layer, layer);
}

std::string gguf_tensor_name(TensorRole role, int layer) {
  const TensorNameEntry& e = tensor_names(role);
  return with_layer(e.gguf, e.per_layer, layer);
}

std::string hf_module(TensorRole role, int layer) {
  const std::string name = hf_tensor_name(role, layer);
  return name.substr(0, name.find_last_of('.'));
}

bool role_present(TensorRole role, const ModelConfig& config) {
  switch (role) {
    case TensorRole::AttnQBias:
    case TensorRole::AttnKBias:
    case TensorRole::AttnVBias: return config.qkv_bias;
    case TensorRole::Output: return !config.tie_embeddings;
    default: return true;
  }
}

std::vector<int64_t> expected_shape(TensorRole role, const ModelConfig& c) {
  const int64_t C = c.hidden, F = c.intermediate, V = c.vocab;
  const int64_t QD = static_cast<int64_t>(c.heads) * c.head_dim;
  const int64_t KVD = static_cast<int64_t>(c.kv_heads) * c.head_dim;
  switch (role) {
    case TensorRole::TokenEmbd:
    case TensorRole::Output: return {V, C};
    case TensorRole::AttnNorm:
    case TensorRole::FfnNorm:
    case TensorRole::OutputNorm: return {C};
    case TensorRole::AttnQ: return {QD, C};
    case TensorRole::AttnK:
    case TensorRole::AttnV: return {KVD, C};
    case TensorRole::AttnQBias: return {QD};
    case TensorRole::AttnKBias:
    case TensorRole::AttnVBias: return {KVD};
    case TensorRole::AttnOut: return {C, QD};
    case TensorRole::FfnGate:
    case TensorRole::FfnUp: return {F, C};
    case TensorRole::FfnDown: return {C, F};
  }
  TS_FAIL("unknown tensor role");
}

}  // namespace tunesmith
