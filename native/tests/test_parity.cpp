// Parity with PyTorch: the same tiny model (hidden 64, 2 layers), the same LoRA weights (B nonzero)
// and batch go through the engine and through test/reference/parity.py (a hand-written HF-semantics
// model in float64); loss (relative 1e-4), logits and every LoRA A/B gradient (relative 1e-3 of the
// tensor's largest value) must agree. Configs: llama (MHA, llama3 RoPE scaling), mistral (GQA, sliding window 3 < T),
// qwen2 (q/k/v biases, tied embeddings), each with f32 and NF4 bases (Python dequantizes the same
// codes). Skips, loudly, without Debian's python3-torch.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "model.h"
#include "nf4.h"
#include "op_check.h"
#include "safetensors.h"
#include "tensor_names.h"
#include "test_framework.h"
#include "tiny_model.h"

using namespace tunesmith;

namespace {

const char* kPython = "/usr/bin/python3";

struct Case {
  std::string arch;
  bool nf4;
  std::string dir;
  double loss = 0;
  std::vector<float> logits, grads;
  std::unique_ptr<Model> model;
};

std::vector<double> read_f64(const SafetensorsFile& f, const std::string& name) {
  const TensorView* t = f.find(name);
  if (!t) throw std::runtime_error("reference.safetensors lacks " + name);
  if (t->dtype != DType::F64) throw std::runtime_error(name + " is not F64");
  std::vector<double> out(size_t(t->numel()));
  std::memcpy(out.data(), t->data, t->nbytes);
  return out;
}

// max |a - b| / max |b|
double rel_inf(const float* a, const std::vector<double>& b) {
  double err = 0, ref = 1e-30;
  for (size_t i = 0; i < b.size(); ++i) {
    err = std::max(err, std::fabs(double(a[i]) - b[i]));
    ref = std::max(ref, std::fabs(b[i]));
  }
  return err / ref;
}

void prepare(Case& c) {
  c.dir = tstest::temp_dir();
  const ModelConfig cfg = tinymodel::write(c.dir, c.arch, 3, 96, 64);
  ModelOptions o;
  o.model_dir = c.dir;
  o.nf4 = c.nf4;
  o.lora.rank = 4;
  o.lora.alpha = 8.f;
  o.max_seq_len = 16;
  o.seed = 5;
  o.threads = 2;
  c.model = std::make_unique<Model>(o);
  Model& m = *c.model;
  auto r = opcheck::randn(size_t(m.lora_param_count()), 17, 0.2f);
  for (const auto& s : m.lora_slots())
    for (int i = 0; i < s.rows_b * s.cols_b; ++i) m.lora_params()[s.b_offset + i] = r[s.b_offset + i];
  m.save_adapter(c.dir + "/adapter", "tiny-" + c.arch);

  if (c.nf4) {  // the codes the engine uses, for Python to dequantize
    SafetensorsFile base(c.dir + "/model.safetensors");
    std::vector<std::vector<uint8_t>> codes;
    std::vector<std::vector<float>> absmax;
    std::vector<std::string> names;
    const TensorRole roles[kProjCount] = {TensorRole::AttnQ,   TensorRole::AttnK, TensorRole::AttnV,
                                          TensorRole::AttnOut, TensorRole::FfnGate, TensorRole::FfnUp,
                                          TensorRole::FfnDown};
    for (int l = 0; l < cfg.layers; ++l)
      for (int p = 0; p < kProjCount; ++p) {
        const TensorView* t = base.find(hf_tensor_name(roles[p], l));
        std::vector<float> w(size_t(t->numel()));
        to_f32(*t, w.data());
        codes.emplace_back(size_t(nf4_packed_bytes(t->numel())));
        absmax.emplace_back(size_t(nf4_blocks(t->numel())));
        quantize_nf4(w.data(), t->numel(), codes.back().data(), absmax.back().data());
        names.push_back(t->name);
        // The engine must hold exactly these codes: its dequantized weight equals theirs.
        std::vector<float> deq(w.size());
        dequantize_nf4(codes.back().data(), absmax.back().data(), t->numel(), deq.data());
        CHECK_MSG(m.frozen_weight(l, Proj(p)) == deq, "the engine's NF4 weight differs from quantize_nf4's");
      }
    std::vector<TensorToWrite> out;
    for (size_t i = 0; i < names.size(); ++i) {
      out.push_back({names[i] + ".nf4_codes", DType::U8, {int64_t(codes[i].size())}, codes[i].data()});
      out.push_back({names[i] + ".nf4_absmax", DType::F32, {int64_t(absmax[i].size())}, absmax[i].data()});
    }
    write_safetensors(c.dir + "/nf4.safetensors", out);
  }

  // Three packed sequences, lengths 7, 10, 5; trained spans inside each (the end of each is trained).
  std::vector<int32_t> tokens(22), lens = {7, 10, 5};
  std::vector<uint8_t> trained = {0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1};
  std::mt19937 rng(9);
  for (auto& t : tokens) t = int32_t(rng() % 96);
  std::vector<int32_t> lens32 = lens;
  write_safetensors(c.dir + "/batch.safetensors",
                    {{"tokens", DType::I32, {22}, tokens.data()},
                     {"trained", DType::U8, {22}, trained.data()},
                     {"lens", DType::I32, {3}, lens32.data()}});
  const Batch b{tokens.data(), trained.data(), lens.data(), 22, 3};
  c.logits = m.logits(b);
  StepOptions so;
  so.lora_dropout = false;
  const LossResult res = m.step(b, so);
  c.loss = res.loss;
  c.grads.assign(m.lora_grads(), m.lora_grads() + m.lora_param_count());
  for (auto& g : c.grads) g /= float(res.trained_tokens);
}

}  // namespace

TEST(parity_with_pytorch_llama_mistral_qwen2_f32_and_nf4) {
  if (std::system((std::string(kPython) + " -c 'import torch' >/dev/null 2>&1").c_str()) != 0) {
    SKIP("!!! PyTorch parity NOT CHECKED: /usr/bin/python3 cannot import torch — install Debian's python3-torch "
         "(apt-get install python3-torch libopenblas0-pthread) !!!");
  }
  std::vector<Case> cases;
  for (const char* arch : {"llama", "mistral", "qwen2"})
    for (bool nf4 : {false, true}) {
      cases.emplace_back();
      cases.back().arch = arch;
      cases.back().nf4 = nf4;
    }
  std::string cmd = std::string(kPython) + " " + TUNESMITH_SOURCE_DIR + "/test/reference/parity.py";
  for (Case& c : cases) {
    prepare(c);
    cmd += " " + c.dir;
  }
  cmd += " > " + cases[0].dir + "/parity.log 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::FILE* f = std::fopen((cases[0].dir + "/parity.log").c_str(), "r");
    std::string log(4096, '\0');
    if (f) log.resize(std::fread(&log[0], 1, log.size(), f)), std::fclose(f);
    tstest::fail(__FILE__, __LINE__, "parity.py failed:\n" + log);
  }
  for (Case& c : cases) {
    const std::string tag = c.arch + (c.nf4 ? " nf4" : " f32");
    SafetensorsFile ref(c.dir + "/reference.safetensors");
    const double ref_loss = read_f64(ref, "loss")[0];
    const double loss_err = std::fabs(c.loss - ref_loss) / std::fabs(ref_loss);
    const double logit_err = rel_inf(c.logits.data(), read_f64(ref, "logits"));
    double grad_err = 0;
    for (const auto& s : c.model->lora_slots()) {
      const std::string module = "base_model.model.model.layers." + std::to_string(s.layer) +
                                 (s.proj <= kO ? ".self_attn." : ".mlp.") + proj_name(s.proj);
      grad_err = std::max(grad_err, rel_inf(c.grads.data() + s.a_offset, read_f64(ref, module + ".lora_A.weight")));
      grad_err = std::max(grad_err, rel_inf(c.grads.data() + s.b_offset, read_f64(ref, module + ".lora_B.weight")));
    }
    std::printf("  parity %-12s loss %.6f (rel err %.2e)  logits rel err %.2e  LoRA grads max rel err %.2e\n",
                tag.c_str(), c.loss, loss_err, logit_err, grad_err);
    CHECK_MSG(loss_err <= 1e-4, tag + " loss");
    CHECK_MSG(logit_err <= 1e-4, tag + " logits");
    CHECK_MSG(grad_err <= 1e-3, tag + " LoRA gradients");
  }
}
