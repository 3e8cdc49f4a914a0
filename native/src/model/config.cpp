// config.json -> ModelConfig (see model_config.h). Defaults follow transformers' LlamaConfig,
// MistralConfig and Qwen2Config for keys a file leaves out; keys with values the engine cannot honour
// are errors that say so. Unknown keys are ignored (configs carry many irrelevant ones).
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "engine_error.h"
#include "../formats/json.h"
#include "model_config.h"

namespace tunesmith {

const char* arch_name(Arch arch) {
  switch (arch) {
    case Arch::Llama: return "llama";
    case Arch::Mistral: return "mistral";
    case Arch::Qwen2: return "qwen2";
  }
  return "?";
}

namespace {

constexpr int kMaxDimension = 1 << 24;  // far above any real model; keeps products inside int64

class ConfigReader {
 public:
  ConfigReader(const json::Value& root, const std::string& source) : root_(root), source_(source) {}

  [[noreturn]] void fail(const std::string& what) const { TS_FAIL(source_ + ": " + what); }

  const json::Value* get(const char* key) const {
    const json::Value* v = root_.find(key);
    return v != nullptr && !v->is_null() ? v : nullptr;
  }

  int positive_int(const char* key, int fallback, bool required) const {
    const json::Value* v = get(key);
    if (v == nullptr) {
      if (required) fail(std::string("\"") + key + "\" is missing; a model's config.json must give it");
      return fallback;
    }
    return positive_int_value(*v, key);
  }

  int positive_int_value(const json::Value& v, const std::string& key) const {
    if (!v.is_number() || !v.is_integer || !v.fits_i64 || v.int_value <= 0 || v.int_value > kMaxDimension) {
      fail("\"" + key + "\" must be a positive integer up to " + std::to_string(kMaxDimension) + ", found " +
           describe(v));
    }
    return static_cast<int>(v.int_value);
  }

  int token_id(const json::Value& v, const std::string& key) const {
    if (!v.is_number() || !v.is_integer || !v.fits_i64 || v.int_value < 0 || v.int_value > INT32_MAX) {
      fail("\"" + key + "\" must be a token id (a non-negative integer), found " + describe(v));
    }
    return static_cast<int>(v.int_value);
  }

  double positive_number(const char* key, double fallback) const {
    const json::Value* v = get(key);
    if (v == nullptr) return fallback;
    return positive_number_value(*v, key);
  }

  double positive_number_value(const json::Value& v, const std::string& key) const {
    if (!v.is_number() || !std::isfinite(v.number) || v.number <= 0) {
      fail("\"" + key + "\" must be a positive number, found " + describe(v));
    }
    return v.number;
  }

  bool boolean(const char* key, bool fallback) const {
    const json::Value* v = get(key);
    if (v == nullptr) return fallback;
    if (!v->is_bool()) fail(std::string("\"") + key + "\" must be true or false, found " + describe(*v));
    return v->boolean;
  }

  static std::string describe(const json::Value& v) {
    switch (v.type) {
      case json::Type::Number: {
        std::ostringstream s;
        s << v.number;
        return s.str();
      }
      case json::Type::String: return json::quote(v.string);
      case json::Type::Bool: return v.boolean ? "true" : "false";
      default: return json::type_name(v.type);
    }
  }

 private:
  const json::Value& root_;
  const std::string& source_;
};

RopeScaling parse_rope_scaling(const ConfigReader& r, const json::Value& v, const std::string& key) {
  RopeScaling out;
  if (!v.is_object()) r.fail("\"" + key + "\" must be an object or null, found " + ConfigReader::describe(v));
  const json::Value* type = v.find("rope_type");
  if (type == nullptr || type->is_null()) type = v.find("type");
  if (type == nullptr || type->is_null()) {
    // transformers v5 rope_parameters may carry only rope_theta.
    return out;
  }
  if (!type->is_string()) r.fail("\"" + key + ".rope_type\" must be a string");
  if (type->string == "default") return out;
  if (type->string != "llama3") {
    r.fail("rope scaling \"" + type->string +
           "\" is not supported; Tunesmith supports the default RoPE and Llama 3's \"llama3\" scaling. "
           "Choose a model without this rope_scaling, or one of the supported families");
  }
  out.type = RopeScaling::Type::Llama3;
  auto number = [&](const char* name) -> double {
    const json::Value* f = v.find(name);
    if (f == nullptr || f->is_null()) r.fail("\"" + key + "\" (llama3) needs \"" + name + "\"");
    return r.positive_number_value(*f, key + "." + name);
  };
  out.factor = static_cast<float>(number("factor"));
  out.low_freq_factor = static_cast<float>(number("low_freq_factor"));
  out.high_freq_factor = static_cast<float>(number("high_freq_factor"));
  const json::Value* orig = v.find("original_max_position_embeddings");
  if (orig == nullptr || orig->is_null()) {
    r.fail("\"" + key + "\" (llama3) needs \"original_max_position_embeddings\"");
  }
  out.original_max_position = r.positive_int_value(*orig, key + ".original_max_position_embeddings");
  if (!(out.high_freq_factor > out.low_freq_factor)) {
    r.fail("\"" + key + "\" (llama3) needs high_freq_factor > low_freq_factor");
  }
  return out;
}

}  // namespace

ModelConfig parse_model_config(const std::string& json_text, const std::string& source) {
  json::ParseOptions options;
  options.max_bytes = 16u << 20;
  const json::Value root = json::parse(json_text, source, options);
  const ConfigReader r(root, source);
  if (!root.is_object()) r.fail("the top level must be a JSON object");

  ModelConfig c;
  const json::Value* type = r.get("model_type");
  if (type == nullptr) {
    r.fail("\"model_type\" is missing; Tunesmith needs a Hugging Face config.json with model_type "
           "\"llama\", \"mistral\" or \"qwen2\"");
  }
  if (!type->is_string()) r.fail("\"model_type\" must be a string");
  if (type->string == "llama") {
    c.arch = Arch::Llama;
  } else if (type->string == "mistral") {
    c.arch = Arch::Mistral;
  } else if (type->string == "qwen2") {
    c.arch = Arch::Qwen2;
  } else {
    r.fail("model_type " + json::quote(type->string) +
           " is not supported; Tunesmith fine-tunes \"llama\" (Llama 2/3.x), \"mistral\" (Mistral) and "
           "\"qwen2\" (Qwen2/2.5) models. Pick a model of one of these families");
  }

  c.hidden = r.positive_int("hidden_size", 0, true);
  c.intermediate = r.positive_int("intermediate_size", 0, true);
  c.layers = r.positive_int("num_hidden_layers", 0, true);
  c.heads = r.positive_int("num_attention_heads", 0, true);
  c.vocab = r.positive_int("vocab_size", 0, true);
  c.kv_heads = r.positive_int("num_key_value_heads", c.heads, false);
  if (r.get("head_dim") != nullptr) {
    c.head_dim = r.positive_int("head_dim", 0, true);
  } else {
    if (c.hidden % c.heads != 0) {
      r.fail("hidden_size " + std::to_string(c.hidden) + " is not divisible by num_attention_heads " +
             std::to_string(c.heads) + " and no head_dim is given");
    }
    c.head_dim = c.hidden / c.heads;
  }
  if (c.heads % c.kv_heads != 0) {
    r.fail("num_attention_heads " + std::to_string(c.heads) + " is not a multiple of num_key_value_heads " +
           std::to_string(c.kv_heads));
  }
  if (c.head_dim % 2 != 0) r.fail("head_dim " + std::to_string(c.head_dim) + " must be even for RoPE");
  if (static_cast<int64_t>(c.heads) * c.head_dim > kMaxDimension) r.fail("heads x head_dim is implausibly large");

  if (const json::Value* act = r.get("hidden_act")) {
    if (!act->is_string() || act->string != "silu") {
      r.fail("hidden_act " + ConfigReader::describe(*act) +
             " is not supported; Tunesmith implements the SwiGLU MLP with \"silu\"");
    }
  }
  if (const json::Value* prf = r.get("partial_rotary_factor")) {
    if (!prf->is_number() || prf->number != 1.0) r.fail("partial_rotary_factor other than 1.0 is not supported");
  }

  c.rms_eps = static_cast<float>(r.positive_number("rms_norm_eps", 1e-6));
  c.rope_theta = r.positive_number("rope_theta", 10000.0);
  if (const json::Value* params = r.get("rope_parameters")) {
    // transformers v5 folds rope_theta and the scaling keys into rope_parameters.
    c.rope_scaling = parse_rope_scaling(r, *params, "rope_parameters");
    if (const json::Value* theta = params->find("rope_theta"); theta != nullptr && !theta->is_null()) {
      c.rope_theta = r.positive_number_value(*theta, "rope_parameters.rope_theta");
    }
  }
  if (const json::Value* scaling = r.get("rope_scaling")) {
    c.rope_scaling = parse_rope_scaling(r, *scaling, "rope_scaling");
  }

  const int default_max_position = c.arch == Arch::Llama ? 2048 : c.arch == Arch::Mistral ? 131072 : 32768;
  c.max_position = r.positive_int("max_position_embeddings", default_max_position, false);
  c.tie_embeddings = r.boolean("tie_word_embeddings", false);

  switch (c.arch) {
    case Arch::Llama:
      c.qkv_bias = r.boolean("attention_bias", false);
      if (c.qkv_bias) {
        r.fail("\"attention_bias\": true (biases on q, k, v and o) is not supported for llama models");
      }
      if (r.boolean("mlp_bias", false)) r.fail("\"mlp_bias\": true is not supported");
      break;
    case Arch::Mistral:
      // MistralConfig defaults sliding_window to 4096 when the key is absent; null means none.
      if (root.find("sliding_window") == nullptr) {
        c.sliding_window = 4096;
      } else {
        c.sliding_window = r.positive_int("sliding_window", 0, false);
      }
      break;
    case Arch::Qwen2:
      c.qkv_bias = true;
      if (r.boolean("use_sliding_window", false)) {
        c.sliding_window = r.positive_int("sliding_window", 4096, false);
        c.max_window_layers = r.positive_int("max_window_layers", 28, false);
      }
      break;
  }

  if (const json::Value* bos = r.get("bos_token_id")) c.bos_id = r.token_id(*bos, "bos_token_id");
  if (const json::Value* eos = r.get("eos_token_id")) {
    if (eos->is_array()) {
      for (const json::Value& id : eos->array) c.eos_ids.push_back(r.token_id(id, "eos_token_id"));
    } else {
      c.eos_ids.push_back(r.token_id(*eos, "eos_token_id"));
    }
    if (!c.eos_ids.empty()) c.eos_id = c.eos_ids.front();
  }
  return c;
}

ModelConfig load_model_config(const std::string& model_dir) {
  const std::string path = model_dir + "/config.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    TS_FAIL(path + " could not be opened; a model folder needs the config.json that comes with the model "
                   "on Hugging Face");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) TS_FAIL(path + " could not be read");
  return parse_model_config(text.str(), path);
}

}  // namespace tunesmith
