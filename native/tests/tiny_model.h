// Writes a tiny random Llama / Mistral / Qwen2 model folder (config.json + model.safetensors, f32) for
// the model tests: 2 layers, hidden 16, 4 heads (2 KV heads for mistral), FFN 24, vocab 40.
#pragma once

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "model_config.h"
#include "safetensors.h"
#include "tensor_names.h"

namespace tinymodel {

inline std::string config_json(const std::string& arch, int vocab = 40, int hidden = 16, int layers = 2) {
  const bool mistral = arch == "mistral", qwen = arch == "qwen2";
  std::string j = "{\n  \"architectures\": [\"" +
                  std::string(mistral ? "MistralForCausalLM" : qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM") +
                  "\"],\n  \"model_type\": \"" + arch + "\",\n";
  j += "  \"vocab_size\": " + std::to_string(vocab) + ",\n  \"hidden_size\": " + std::to_string(hidden) + ",\n";
  j += "  \"intermediate_size\": " + std::to_string(hidden * 3 / 2) + ",\n  \"num_hidden_layers\": " +
       std::to_string(layers) + ",\n";
  j += "  \"num_attention_heads\": 4,\n  \"num_key_value_heads\": " + std::string(mistral ? "2" : "4") + ",\n";
  j += "  \"hidden_act\": \"silu\",\n  \"max_position_embeddings\": 256,\n  \"rms_norm_eps\": 1e-05,\n";
  j += "  \"rope_theta\": 10000.0,\n  \"tie_word_embeddings\": " + std::string(qwen ? "true" : "false") + ",\n";
  if (mistral) j += "  \"sliding_window\": 3,\n";
  if (arch == "llama")  // llama3 frequency scaling with a short original context, so it changes most frequencies
    j += "  \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, "
         "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 16},\n";
  if (qwen) j += "  \"use_sliding_window\": false,\n";
  j += "  \"bos_token_id\": 1,\n  \"eos_token_id\": 2\n}\n";
  return j;
}

// Writes the folder and returns its config.
inline tunesmith::ModelConfig write(const std::string& dir, const std::string& arch, uint32_t seed = 7,
                                   int vocab = 40, int hidden = 16) {
  const std::string cfg_text = config_json(arch, vocab, hidden);
  std::ofstream(dir + "/config.json") << cfg_text;
  const tunesmith::ModelConfig cfg = tunesmith::parse_model_config(cfg_text, "config.json");
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<std::vector<float>> store;
  std::vector<tunesmith::TensorToWrite> tensors;
  for (const auto& e : tunesmith::tensor_name_table()) {
    if (!tunesmith::role_present(e.role, cfg)) continue;
    for (int l = 0; l < (e.per_layer ? cfg.layers : 1); ++l) {
      const auto shape = tunesmith::expected_shape(e.role, cfg);
      int64_t n = 1;
      for (auto d : shape) n *= d;
      std::vector<float> data(n);
      const bool norm = shape.size() == 1 && e.role != tunesmith::TensorRole::AttnQBias &&
                        e.role != tunesmith::TensorRole::AttnKBias && e.role != tunesmith::TensorRole::AttnVBias;
      const float scale = norm ? 0.1f : (shape.size() == 1 ? 0.1f : 1.f / std::sqrt(float(shape.back())));
      for (auto& x : data) x = (norm ? 1.f : 0.f) + scale * dist(rng);
      store.push_back(std::move(data));
      tensors.push_back({tunesmith::hf_tensor_name(e.role, l), tunesmith::DType::F32, shape, store.back().data()});
    }
  }
  tunesmith::write_safetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}});
  return cfg;
}

}  // namespace tinymodel
