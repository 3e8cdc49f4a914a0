// A Hugging Face config.json for the three supported decoder architectures (llama, mistral, qwen2),
// parsed strictly (formats.md §10.1) and validated before any tensor is read.
// The one decision to know: anything the engine does not implement (another model_type, a rope
// scaling other than llama3, mlp_bias, a hidden_act other than silu) is an error, never ignored.
#pragma once

#include <string>
#include <vector>

namespace tunesmith {

enum class Arch { Llama, Mistral, Qwen2 };

// "llama", "mistral", "qwen2": the HF model_type strings.
const char* arch_name(Arch arch);

struct RopeScaling {
  enum class Type { None, Llama3 };
  Type type = Type::None;
  float factor = 1.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int original_max_position = 0;  // original_max_position_embeddings
};

struct ModelConfig {
  Arch arch = Arch::Llama;
  int hidden = 0;        // hidden_size (C)
  int intermediate = 0;  // intermediate_size (F)
  int layers = 0;        // num_hidden_layers (L)
  int heads = 0;         // num_attention_heads (H)
  int kv_heads = 0;      // num_key_value_heads (KVH), = heads when absent or null
  int head_dim = 0;      // head_dim when given, else hidden / heads (D)
  int vocab = 0;         // vocab_size (V)
  float rms_eps = 1e-6f;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int max_position = 0;  // max_position_embeddings
  bool tie_embeddings = false;
  int sliding_window = 0;  // 0 = none. Mistral: when set; Qwen2: only when use_sliding_window is true
  int max_window_layers = 0;  // Qwen2: layers >= this use the window (when sliding_window > 0)
  bool qkv_bias = false;      // Qwen2 always; Llama/Mistral when attention_bias is true
  int bos_id = -1;            // -1 when absent
  int eos_id = -1;            // the first of eos_ids, -1 when absent
  std::vector<int> eos_ids;   // eos_token_id may be a list (Llama-3.x Instruct)
};

// Parses config.json text. `source` names the file in error messages. Throws EngineError.
ModelConfig parse_model_config(const std::string& json_text, const std::string& source);

// Reads and parses <model_dir>/config.json. Throws EngineError naming the file.
ModelConfig load_model_config(const std::string& model_dir);

}  // namespace tunesmith
