// One S15 training step in C++ for profiling (dev experiment, not built by CMake):
//   build with the engine sources, then: perf record -g ./bench_step <dir> [threads]
// Writes a stories15M-shaped llama into <dir> (first run) and times step + optimizer_step.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "model.h"
#include "safetensors.h"
#include "tensor_names.h"

using namespace tunesmith;

int main(int argc, char** argv) {
  const std::string dir = argv[1];
  const int threads = argc > 2 ? atoi(argv[2]) : 2;
  if (!std::filesystem::exists(dir + "/model.safetensors")) {
    std::filesystem::create_directories(dir);
    const std::string cfg_text =
        "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"vocab_size\":32000,\"hidden_size\":288,"
        "\"intermediate_size\":768,\"num_hidden_layers\":6,\"num_attention_heads\":6,\"num_key_value_heads\":6,"
        "\"hidden_act\":\"silu\",\"max_position_embeddings\":256,\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,"
        "\"tie_word_embeddings\":false}";
    std::ofstream(dir + "/config.json") << cfg_text;
    const ModelConfig cfg = parse_model_config(cfg_text, "config.json");
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.f, 0.05f);
    std::vector<std::vector<float>> store;
    std::vector<TensorToWrite> ts;
    for (const auto& e : tensor_name_table()) {
      if (!role_present(e.role, cfg)) continue;
      for (int l = 0; l < (e.per_layer ? cfg.layers : 1); ++l) {
        auto shape = expected_shape(e.role, cfg);
        int64_t n = 1;
        for (auto x : shape) n *= x;
        std::vector<float> v(n);
        for (auto& x : v) x = shape.size() == 1 ? 1.f : d(rng);
        store.push_back(std::move(v));
        ts.push_back({hf_tensor_name(e.role, l), DType::F32, shape, store.back().data()});
      }
    }
    write_safetensors(dir + "/model.safetensors", ts);
  }
  ModelOptions o;
  o.model_dir = dir;
  o.nf4 = true;
  o.lora.rank = 16;
  o.max_seq_len = 256;
  o.threads = threads;
  Model m(o);
  std::vector<int32_t> tokens(1024), lens(4, 256);
  std::vector<uint8_t> trained(1024, 1);
  std::mt19937 rng(2);
  for (auto& t : tokens) t = int32_t(rng() % 32000);
  const Batch b{tokens.data(), trained.data(), lens.data(), 1024, 4};
  for (int i = 0; i < 4; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    const double loss = m.step(b, StepOptions{}).loss;
    m.optimizer_step(AdamWParams{}, 1.f);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("step %d: loss %.4f, %.3f s, %.0f tok/s\n", i, loss, s, 1020 / s);
  }
}
