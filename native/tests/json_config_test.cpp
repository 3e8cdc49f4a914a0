// The strict JSON parser (formats/json.h) and config.json -> ModelConfig for llama, mistral, qwen2.
#include <string>

#include "formats/json.h"
#include "model_config.h"
#include "test_framework.h"

using namespace tunesmith;

namespace {
json::Value parse(const std::string& text) { return json::parse(text, "test.json"); }
}  // namespace

TEST(json_parses_values_and_keeps_integers_exact) {
  const json::Value v = parse(
      R"( {"a": [1, -2, 3.5, 1e3, true, false, null], "s": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00",
           "big": 18446744073709551615, "neg": -9223372036854775808, "huge": 18446744073709551616} )");
  CHECK(v.is_object());
  const json::Value* a = v.find("a");
  CHECK(a != nullptr && a->array.size() == 7);
  CHECK(a->array[0].is_integer && a->array[0].uint_value == 1);
  CHECK(a->array[1].fits_i64 && a->array[1].int_value == -2 && !a->array[1].fits_u64);
  CHECK(!a->array[2].is_integer && a->array[2].number == 3.5);
  CHECK(!a->array[3].is_integer && a->array[3].number == 1000.0);
  CHECK(a->array[4].is_bool() && a->array[4].boolean);
  CHECK(a->array[6].is_null());
  CHECK_EQ(v.find("s")->string, std::string("x\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80"));
  CHECK(v.find("big")->fits_u64 && v.find("big")->uint_value == 18446744073709551615ull);
  CHECK(v.find("neg")->fits_i64 && v.find("neg")->int_value == INT64_MIN);
  CHECK(!v.find("huge")->fits_u64 && !v.find("huge")->fits_i64);
  CHECK(v.find("missing") == nullptr);
  CHECK(parse("[]").array.empty());
  CHECK(parse("{}").object.empty());
  CHECK_EQ(parse("\"\"").string, std::string());
}

TEST(json_rejects_malformed_text_with_the_byte_offset) {
  CHECK_THROWS_WITH(parse("{\"a\": 1,}"), "invalid JSON at byte 8 (line 1, column 9)");
  CHECK_THROWS_WITH(parse("{\"a\": 1}\n x"), "at byte 10 (line 2, column 2): unexpected text after the JSON value");
  CHECK_THROWS_WITH(parse("[1 2]"), "expected ',' or ']'");
  CHECK_THROWS_WITH(parse("{\"a\" 1}"), "expected ':'");
  CHECK_THROWS_WITH(parse("{\"a\": 1, \"a\": 2}"), "duplicate key \"a\"");
  CHECK_THROWS_WITH(parse("01"), "leading zeros");
  CHECK_THROWS_WITH(parse("1."), "digits after '.'");
  CHECK_THROWS_WITH(parse("-"), "digits");
  CHECK_THROWS_WITH(parse("1e"), "exponent");
  CHECK_THROWS_WITH(parse("tru"), "expected a value");
  CHECK_THROWS_WITH(parse("\"abc"), "unterminated string");
  CHECK_THROWS_WITH(parse("\"a\tb\""), "control character");
  CHECK_THROWS_WITH(parse("\"\\x\""), "unknown escape");
  CHECK_THROWS_WITH(parse("\"\\u12\""), "four hex digits");
  CHECK_THROWS_WITH(parse("\"\\ud800\""), "low one");
  CHECK_THROWS_WITH(parse("\"\\udc00\""), "lone low surrogate");
  CHECK_THROWS_WITH(parse("\"\xc3\""), "UTF-8");           // truncated sequence
  CHECK_THROWS_WITH(parse("\"\xc0\xaf\""), "UTF-8");       // overlong '/'
  CHECK_THROWS_WITH(parse("\"\xed\xa0\x80\""), "UTF-8");   // encoded surrogate
  CHECK_THROWS_WITH(parse("\"\xf4\x90\x80\x80\""), "UTF-8");  // past U+10FFFF
  CHECK_THROWS_WITH(parse("\"\xff\""), "UTF-8");
  CHECK_THROWS_WITH(parse(""), "unexpected end of input");
  CHECK_THROWS_WITH(parse("   "), "unexpected end of input");
  CHECK_THROWS_WITH(parse(std::string("[1,\0]", 5)), "unexpected character 0x00");
  CHECK_THROWS_WITH(parse("NaN"), "expected a value");
  CHECK_THROWS_WITH(parse("[1,]"), "expected a value");
  CHECK_THROWS_WITH(parse("{\"a\":1"), "unexpected end of input inside an object");
}

TEST(json_finds_duplicate_keys_in_large_objects_quickly) {
  // 100,000 keys (a huge safetensors header): a quadratic duplicate check would take many seconds.
  std::string text = "{";
  for (int i = 0; i < 100000; ++i) text += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":" + std::to_string(i);
  const json::Value v = parse(text + "}");
  CHECK_EQ(v.object.size(), size_t{100000});
  CHECK_EQ(v.object.back().second.uint_value, uint64_t{99999});
  CHECK_THROWS_WITH(parse(text + ",\"k12345\":0}"), "duplicate key \"k12345\"");
  CHECK_THROWS_WITH(parse("{\"a\":1,\"b\":2,\"a\":3}"), "at byte 13");
}

TEST(json_enforces_depth_and_size_limits) {
  std::string deep(64, '[');
  deep += std::string(64, ']');
  CHECK(parse(deep).is_array());
  std::string deeper(65, '[');
  deeper += std::string(65, ']');
  CHECK_THROWS_WITH(parse(deeper), "nesting deeper than 64 levels");
  // A hostile depth cannot overflow the stack: the limit stops it at once.
  CHECK_THROWS_WITH(parse(std::string(1000000, '[')), "nesting deeper");
  json::ParseOptions small;
  small.max_bytes = 10;
  CHECK_THROWS_WITH(json::parse(std::string("[1,2,3,4,5,6]"), "x.json", small), "more than the limit of 10");
  json::ParseOptions few;
  few.max_values = 5;
  CHECK(json::parse(std::string("[1,[2],3]"), "x.json", few).is_array());
  CHECK_THROWS_WITH(json::parse(std::string("[1,[2],3,4]"), "x.json", few), "more than 5 values");
  json::ParseOptions short_arrays;
  short_arrays.max_array_items = 3;
  CHECK(json::parse(std::string("[1,2,3]"), "x.json", short_arrays).is_array());
  CHECK_THROWS_WITH(json::parse(std::string("[[1,2,3,4]]"), "x.json", short_arrays), "more than 3 items");
  CHECK_EQ(json::quote("a\"b\\c\n\x01"), std::string("\"a\\\"b\\\\c\\n\\u0001\""));
}

namespace {

const char* kLlama3 = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048,
  "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
  "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 128256, "hidden_act": "silu",
  "max_position_embeddings": 131072, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "tie_word_embeddings": true, "attention_bias": false, "mlp_bias": false,
  "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "torch_dtype": "bfloat16"})";

const char* kMistral = R"({
  "model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
  "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000, "rms_norm_eps": 1e-05,
  "rope_theta": 10000.0, "sliding_window": 4096, "max_position_embeddings": 32768,
  "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2})";

const char* kQwen2 = R"({
  "model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
  "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936, "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0, "sliding_window": 32768, "use_sliding_window": false, "max_window_layers": 21,
  "max_position_embeddings": 32768, "tie_word_embeddings": true, "bos_token_id": 151643,
  "eos_token_id": 151645, "hidden_act": "silu", "rope_scaling": null})";

std::string with(const std::string& base, const std::string& key, const std::string& value) {
  // Appends or overrides a top-level key (a later duplicate would be rejected, so replace by rewrite).
  const std::string quoted = "\"" + key + "\"";
  const size_t at = base.find(quoted);
  if (at == std::string::npos) return base.substr(0, base.rfind('}')) + ", " + quoted + ": " + value + "}";
  size_t end = at + quoted.size();
  end = base.find(':', end) + 1;
  int depth = 0;
  size_t i = end;
  for (; i < base.size(); ++i) {
    const char c = base[i];
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') {
      if (depth == 0) break;
      --depth;
    }
    if (c == ',' && depth == 0) break;
  }
  return base.substr(0, end) + " " + value + base.substr(i);
}

ModelConfig cfg(const std::string& text) { return parse_model_config(text, "model/config.json"); }

}  // namespace

TEST(config_parses_llama3_with_rope_scaling_and_eos_list) {
  const ModelConfig c = cfg(kLlama3);
  CHECK(c.arch == Arch::Llama);
  CHECK_EQ(c.hidden, 2048);
  CHECK_EQ(c.intermediate, 8192);
  CHECK_EQ(c.layers, 16);
  CHECK_EQ(c.heads, 32);
  CHECK_EQ(c.kv_heads, 8);
  CHECK_EQ(c.head_dim, 64);
  CHECK_EQ(c.vocab, 128256);
  CHECK_EQ(c.rms_eps, 1e-5f);
  CHECK_EQ(c.rope_theta, 500000.0);
  CHECK(c.rope_scaling.type == RopeScaling::Type::Llama3);
  CHECK_EQ(c.rope_scaling.factor, 32.0f);
  CHECK_EQ(c.rope_scaling.low_freq_factor, 1.0f);
  CHECK_EQ(c.rope_scaling.high_freq_factor, 4.0f);
  CHECK_EQ(c.rope_scaling.original_max_position, 8192);
  CHECK_EQ(c.max_position, 131072);
  CHECK(c.tie_embeddings);
  CHECK(!c.qkv_bias);
  CHECK_EQ(c.sliding_window, 0);
  CHECK_EQ(c.bos_id, 128000);
  CHECK_EQ(c.eos_id, 128001);
  CHECK_EQ(c.eos_ids, (std::vector<int>{128001, 128008, 128009}));
  CHECK_EQ(std::string(arch_name(c.arch)), std::string("llama"));
}

TEST(config_parses_mistral_and_its_sliding_window) {
  ModelConfig c = cfg(kMistral);
  CHECK(c.arch == Arch::Mistral);
  CHECK_EQ(c.head_dim, 128);  // hidden / heads
  CHECK_EQ(c.sliding_window, 4096);
  CHECK(!c.tie_embeddings);
  CHECK_EQ(c.eos_ids, (std::vector<int>{2}));
  CHECK(c.rope_scaling.type == RopeScaling::Type::None);
  CHECK_EQ(cfg(with(kMistral, "sliding_window", "null")).sliding_window, 0);  // v0.2+: no window
  // MistralConfig's default when the key is absent.
  std::string no_window = kMistral;
  no_window.replace(no_window.find("\"sliding_window\": 4096,"), 23, "");
  CHECK_EQ(cfg(no_window).sliding_window, 4096);
}

TEST(config_parses_qwen2_with_biases_and_optional_window) {
  ModelConfig c = cfg(kQwen2);
  CHECK(c.arch == Arch::Qwen2);
  CHECK(c.qkv_bias);
  CHECK_EQ(c.head_dim, 64);
  CHECK_EQ(c.kv_heads, 2);
  CHECK_EQ(c.sliding_window, 0);  // use_sliding_window false
  CHECK_EQ(c.rope_theta, 1000000.0);
  CHECK(c.tie_embeddings);
  c = cfg(with(kQwen2, "use_sliding_window", "true"));
  CHECK_EQ(c.sliding_window, 32768);
  CHECK_EQ(c.max_window_layers, 21);
  // transformers v5 rope_parameters
  c = cfg(with(kQwen2, "rope_parameters", R"({"rope_type": "default", "rope_theta": 5000.0})"));
  CHECK_EQ(c.rope_theta, 5000.0);
}

TEST(config_defaults_when_optional_keys_are_absent) {
  const ModelConfig c = cfg(R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
      "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100})");
  CHECK_EQ(c.kv_heads, 4);
  CHECK_EQ(c.head_dim, 16);
  CHECK_EQ(c.rms_eps, 1e-6f);
  CHECK_EQ(c.rope_theta, 10000.0);
  CHECK_EQ(c.max_position, 2048);
  CHECK(!c.tie_embeddings);
  CHECK_EQ(c.bos_id, -1);
  CHECK_EQ(c.eos_id, -1);
  CHECK(c.eos_ids.empty());
  CHECK_EQ(cfg(with(kLlama3, "num_key_value_heads", "null")).kv_heads, 32);
}

TEST(config_rejects_what_the_engine_cannot_run) {
  CHECK_THROWS_WITH(cfg(with(kLlama3, "model_type", "\"gemma2\"")),
                    "model/config.json: model_type \"gemma2\" is not supported; Tunesmith fine-tunes \"llama\"");
  CHECK_THROWS_WITH(cfg(R"({"hidden_size": 8})"), "\"model_type\" is missing");
  CHECK_THROWS_WITH(cfg(with(kLlama3, "hidden_size", "0")), "\"hidden_size\" must be a positive integer");
  CHECK_THROWS_WITH(cfg(with(kLlama3, "hidden_size", "\"2048\"")), "\"hidden_size\" must be a positive integer");
  CHECK_THROWS_WITH(cfg(with(kLlama3, "hidden_size", "20.5")), "\"hidden_size\" must be a positive integer");
  CHECK_THROWS_WITH(cfg(with(kLlama3, "num_hidden_layers", "-3")), "positive integer");
  CHECK_THROWS_WITH(cfg(with(kLlama3, "vocab_size", "99999999999")), "positive integer");
  CHECK_THROWS_WITH(cfg(with(kMistral, "num_key_value_heads", "6")), "not a multiple of num_key_value_heads 6");
  CHECK_THROWS_WITH(cfg(with(kMistral, "num_attention_heads", "30")), "not divisible by num_attention_heads 30");
  CHECK_THROWS_WITH(cfg(with(kLlama3, "head_dim", "63")), "must be even");
  CHECK_THROWS_WITH(cfg(with(kLlama3, "hidden_act", "\"gelu\"")), "hidden_act \"gelu\" is not supported");
  CHECK_THROWS_WITH(cfg(with(kLlama3, "attention_bias", "true")), "attention_bias");
  CHECK_THROWS_WITH(cfg(with(kLlama3, "mlp_bias", "true")), "mlp_bias");
  CHECK_THROWS_WITH(cfg(with(kLlama3, "rope_scaling", R"({"type": "yarn", "factor": 4.0})")),
                    "rope scaling \"yarn\" is not supported");
  CHECK_THROWS_WITH(cfg(with(kLlama3, "rope_scaling", R"({"rope_type": "llama3", "factor": 8.0})")),
                    "needs \"low_freq_factor\"");
  CHECK_THROWS_WITH(cfg(with(kLlama3, "rms_norm_eps", "-1")), "\"rms_norm_eps\" must be a positive number");
  CHECK_THROWS_WITH(cfg(with(kLlama3, "tie_word_embeddings", "1")), "must be true or false");
  CHECK_THROWS_WITH(cfg(with(kLlama3, "eos_token_id", "[1, \"x\"]")), "eos_token_id");
  CHECK_THROWS_WITH(cfg("[1]"), "the top level must be a JSON object");
  CHECK_THROWS_WITH(cfg("{\"model_type\": \"llama\",}"), "model/config.json: invalid JSON at byte 23");
  CHECK_THROWS_WITH(load_model_config("/nonexistent-tunesmith-dir"), "config.json could not be opened");
}
