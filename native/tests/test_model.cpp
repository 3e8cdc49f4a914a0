// The whole model on tiny random checkpoints: LoRA gradients against finite differences of the mean
// loss, gradient checkpointing and thread counts changing nothing, exact resume from a state file,
// adapter round trip, and clear errors for bad batches.
#include <cmath>
#include <algorithm>
#include <cstring>
#include <filesystem>

#include "model.h"
#include "op_check.h"
#include "test_framework.h"
#include "tiny_model.h"

using namespace tunesmith;

namespace {

struct TinyBatch {
  std::vector<int32_t> tokens = {1, 5, 9, 3, 7, 2, 1, 4, 4, 8, 11, 6, 30, 2, 1, 39, 12};
  std::vector<uint8_t> trained = {0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1};
  std::vector<int32_t> lens = {6, 8, 3};
  Batch view() const {
    return Batch{tokens.data(), trained.data(), lens.data(), int(tokens.size()), int(lens.size())};
  }
};

ModelOptions options_for(const std::string& dir, bool nf4 = false) {
  ModelOptions o;
  o.model_dir = dir;
  o.nf4 = nf4;
  o.lora.rank = 2;
  o.lora.alpha = 4.f;
  o.max_seq_len = 32;
  o.seed = 11;
  o.threads = 2;
  return o;
}

// Gives B nonzero values so every LoRA gradient is nonzero.
void randomize_b(Model& m) {
  auto r = opcheck::randn(size_t(m.lora_param_count()), 5, 0.3f);
  for (const auto& s : m.lora_slots())
    for (int i = 0; i < s.rows_b * s.cols_b; ++i) m.lora_params()[s.b_offset + i] = r[s.b_offset + i];
}

std::vector<float> run_losses(Model& m, int steps) {
  TinyBatch b;
  std::vector<float> losses;
  AdamWParams hp;
  hp.lr = 1e-2f;
  hp.weight_decay = 0.01f;
  for (int i = 0; i < steps; ++i) {
    StepOptions so;
    so.neftune_alpha = 5.f;
    losses.push_back(float(m.step(b.view(), so).loss));
    m.optimizer_step(hp, 1.0f);
  }
  return losses;
}

void check_model_gradients(const std::string& arch, bool nf4) {
  const std::string dir = tstest::temp_dir();
  tinymodel::write(dir, arch);
  Model m(options_for(dir, nf4));
  randomize_b(m);
  TinyBatch b;
  StepOptions no_noise;
  no_noise.lora_dropout = false;
  const LossResult first = m.step(b.view(), no_noise);
  CHECK_EQ(first.trained_tokens, int64_t(9));  // 3 + 4 + 2 targets
  std::vector<float> grads(m.lora_grads(), m.lora_grads() + m.lora_param_count());
  for (auto& g : grads) g /= float(first.trained_tokens);
  // FD on a sample of parameters (every 7th) through eval_loss (the mean over trained tokens).
  std::vector<float> theta(m.lora_params(), m.lora_params() + m.lora_param_count());
  double scale = 1e-6;
  for (float g : grads) scale = std::max(scale, double(std::fabs(g)));
  for (size_t i = 0; i < theta.size(); i += 7) {
    const float keep = m.lora_params()[i];
    const float eps = 1e-2f;
    m.lora_params()[i] = keep + eps;
    const double up = m.eval_loss(b.view()).loss;
    m.lora_params()[i] = keep - eps;
    const double down = m.eval_loss(b.view()).loss;
    m.lora_params()[i] = keep;
    const double fd = (up - down) / (2 * eps);
    CHECK_MSG(std::fabs(fd - grads[i]) <= 2e-2 * scale,
              arch + " param " + std::to_string(i) + ": analytic " + std::to_string(grads[i]) + " vs fd " +
                  std::to_string(fd));
  }
}

}  // namespace

TEST(model_llama_lora_gradients_match_finite_differences) { check_model_gradients("llama", false); }
TEST(model_mistral_gqa_window_gradients_match_finite_differences) { check_model_gradients("mistral", false); }
TEST(model_qwen2_bias_tied_nf4_gradients_match_finite_differences) { check_model_gradients("qwen2", true); }

TEST(model_checkpointing_and_threads_change_nothing) {
  const std::string dir = tstest::temp_dir();
  tinymodel::write(dir, "mistral");
  auto o = options_for(dir);
  o.lora.dropout = 0.1f;
  Model plain(o);
  o.gradient_checkpointing = true;
  o.threads = 3;
  Model ckpt(o);
  const auto a = run_losses(plain, 3), b = run_losses(ckpt, 3);
  CHECK_EQ(a, b);
  CHECK(a[2] < a[0]);
}

TEST(model_resume_from_state_continues_exactly) {
  const std::string dir = tstest::temp_dir();
  tinymodel::write(dir, "llama");
  auto o = options_for(dir);
  o.lora.dropout = 0.1f;
  Model straight(o);
  const auto all = run_losses(straight, 5);
  Model first(o);
  auto head = run_losses(first, 3);
  first.save_state(dir + "/state.bin");
  Model resumed(o);
  resumed.load_state(dir + "/state.bin");
  auto tail = run_losses(resumed, 2);
  head.insert(head.end(), tail.begin(), tail.end());
  CHECK_EQ(head, all);
}

TEST(model_adapter_round_trip_and_peft_names) {
  const std::string dir = tstest::temp_dir();
  tinymodel::write(dir, "qwen2");
  Model a(options_for(dir));
  randomize_b(a);
  a.save_adapter(dir + "/adapter", "tiny-qwen2");
  SafetensorsFile f(dir + "/adapter/adapter_model.safetensors");
  const TensorView* t = f.find("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight");
  CHECK(t != nullptr);
  CHECK_EQ(t->shape, (std::vector<int64_t>{16, 2}));
  CHECK(f.find("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight") != nullptr);
  Model b(options_for(dir));
  b.load_adapter(dir + "/adapter");
  CHECK(std::memcmp(a.lora_params(), b.lora_params(), sizeof(float) * size_t(a.lora_param_count())) == 0);
  TinyBatch batch;
  CHECK_EQ(a.eval_loss(batch.view()).loss, b.eval_loss(batch.view()).loss);
  auto o = options_for(dir);
  o.lora.rank = 4;
  Model c(o);
  CHECK_THROWS_WITH(c.load_adapter(dir + "/adapter"), "rank");
}

TEST(model_rejects_bad_batches_with_clear_messages) {
  const std::string dir = tstest::temp_dir();
  tinymodel::write(dir, "llama");
  Model m(options_for(dir));
  TinyBatch b;
  b.tokens[3] = 40;
  CHECK_THROWS_WITH(m.step(b.view(), StepOptions{}), "outside the vocabulary");
  TinyBatch c;
  c.lens[0] = 5;
  CHECK_THROWS_WITH(m.step(c.view(), StepOptions{}), "must match");
  TinyBatch d;
  d.lens = {40, -23};
  CHECK_THROWS_WITH(m.step(d.view(), StepOptions{}), "maxSeqLen");
  CHECK_THROWS_WITH(m.optimizer_step(AdamWParams{}, 1.f), "no trained tokens");
}

TEST(model_gradient_accumulation_equals_one_big_batch) {
  // step(a); step(b); update  ==  step(a+b packed); update: the mean is over the optimizer step's tokens.
  const std::string dir = tstest::temp_dir();
  tinymodel::write(dir, "llama");
  TinyBatch whole;
  const Batch all = whole.view();
  const Batch first{whole.tokens.data(), whole.trained.data(), whole.lens.data(), 6, 1};
  const Batch rest{whole.tokens.data() + 6, whole.trained.data() + 6, whole.lens.data() + 1, 11, 2};
  StepOptions so;
  so.lora_dropout = false;
  Model a(options_for(dir)), b(options_for(dir));
  randomize_b(a);
  randomize_b(b);
  a.step(first, so);
  a.step(rest, so);
  b.step(all, so);
  const auto ra = a.optimizer_step(AdamWParams{}, 0.f), rb = b.optimizer_step(AdamWParams{}, 0.f);
  CHECK_EQ(ra.trained_tokens, int64_t(9));
  CHECK_NEAR(ra.loss, rb.loss, 1e-6 * rb.loss);
  CHECK_NEAR(ra.grad_norm, rb.grad_norm, 1e-5 * rb.grad_norm);
  for (int64_t i = 0; i < a.lora_param_count(); ++i)
    CHECK_NEAR(a.lora_params()[i], b.lora_params()[i], 1e-6);
}

TEST(model_generation_prefill_and_decode_agree) {
  // The batched prompt pass and the one-token decode path must compute the same model: greedy tokens
  // after P+[t0] continue exactly those after P, and t0 is the argmax of the training path's logits.
  const std::string dir = tstest::temp_dir();
  tinymodel::write(dir, "mistral");  // sliding window 3: the cache path must apply it too
  Model m(options_for(dir));
  randomize_b(m);
  const std::vector<int> prompt = {1, 7, 3, 9, 12, 5, 30, 8};
  GenerateOptions go;
  go.max_new_tokens = 6;
  std::vector<int> streamed;
  const auto first = m.generate(prompt, go, [&](int t) {
    streamed.push_back(t);
    return true;
  });
  CHECK_EQ(first.size(), size_t(6));
  CHECK_EQ(streamed, first);
  std::vector<int> longer = prompt;
  longer.push_back(first[0]);
  go.max_new_tokens = 5;
  const auto second = m.generate(longer, go, nullptr);
  CHECK_EQ(second, std::vector<int>(first.begin() + 1, first.end()));

  std::vector<int32_t> toks(prompt.begin(), prompt.end()), lens = {int32_t(prompt.size())};
  std::vector<uint8_t> trained(prompt.size(), 0);
  const auto logits = m.logits(Batch{toks.data(), trained.data(), lens.data(), int(toks.size()), 1});
  const float* last = logits.data() + (prompt.size() - 1) * 40;
  CHECK_EQ(int(std::max_element(last, last + 40) - last), first[0]);
  go.stop_tokens = {first[2]};
  CHECK_EQ(m.generate(prompt, go, nullptr).size(), size_t(3));  // stops after emitting the stop token
}

TEST(model_state_file_checks_shape_and_damage) {
  const std::string dir = tstest::temp_dir();
  tinymodel::write(dir, "llama");
  Model m(options_for(dir));
  m.save_state(dir + "/state.bin");
  auto o = options_for(dir);
  o.lora.targets[kGate] = false;
  Model other(o);
  CHECK_THROWS_WITH(other.load_state(dir + "/state.bin"), "another adapter shape");
  std::filesystem::resize_file(dir + "/state.bin", 100);
  CHECK_THROWS_WITH(m.load_state(dir + "/state.bin"), "truncated");
  std::filesystem::resize_file(dir + "/state.bin", 10);
  CHECK_THROWS_WITH(m.load_state(dir + "/state.bin"), "too short");
  CHECK_THROWS_WITH(m.load_state(dir + "/none.bin"), "none.bin");
}
