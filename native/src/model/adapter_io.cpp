// The adapter and optimizer-state files.
// PEFT folder (formats.md §4): adapter_config.json (sorted keys, indent 2, lora_alpha an integer when
// integral) + adapter_model.safetensors with "base_model.model.<module>.lora_{A,B}.weight", A [R, I],
// B [O, R], F32, metadata {"format": "pt"}.
// State file: "TSSTATE1" | u32 version | u32 rank | u64 param count | i64 step | u64 rng counter |
// i64 pending tokens | f64 pending loss | f32 alpha | u32 target bits | u32 rslora | u32 0 | params,
// grads, m, v (f32 × count each). Every length is checked before reading.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "../formats/json.h"
#include "model_internal.h"
#include "safetensors.h"

namespace tunesmith {

namespace fs = std::filesystem;

namespace {

std::string peft_name(int layer, Proj p, char which) {
  return "base_model.model." + hf_module(proj_role(p), layer) + ".lora_" + which + ".weight";
}

std::string number_json(double x) {
  if (std::floor(x) == x && std::fabs(x) < 1e15) return std::to_string(static_cast<long long>(x));
  std::ostringstream os;
  os.precision(9);
  os << x;
  return os.str();
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) TS_FAIL("could not write " + tmp + ": check that the folder exists and is writable");
    out.write(bytes.data(), std::streamsize(bytes.size()));
    if (!out) TS_FAIL("could not write " + tmp + " (disk full?)");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) TS_FAIL("could not move " + tmp + " to " + path + ": " + ec.message());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) TS_FAIL("could not open " + path + ": check that it exists and is readable");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

void Model::save_adapter(const std::string& dir, const std::string& base_model_name) const {
  const Impl& m = *impl_;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) TS_FAIL("could not create the adapter folder " + dir + ": " + ec.message());

  std::string targets;
  for (int p = 0; p < kProjCount; ++p)
    if (m.opt.lora.targets[p]) targets += std::string(targets.empty() ? "" : ",\n") + "    \"" + proj_name(Proj(p)) + "\"";
  const auto& lora = m.opt.lora;
  std::string cfg = "{\n";
  cfg += "  \"alpha_pattern\": {},\n";
  cfg += "  \"base_model_name_or_path\": " + json::quote(base_model_name) + ",\n";
  cfg += "  \"bias\": \"none\",\n";
  cfg += "  \"fan_in_fan_out\": false,\n";
  cfg += "  \"inference_mode\": true,\n";
  cfg += "  \"init_lora_weights\": true,\n";
  cfg += "  \"layers_pattern\": null,\n";
  cfg += "  \"layers_to_transform\": null,\n";
  cfg += "  \"lora_alpha\": " + number_json(lora.alpha) + ",\n";
  cfg += "  \"lora_dropout\": " + number_json(lora.dropout) + ",\n";
  cfg += "  \"modules_to_save\": null,\n";
  cfg += "  \"peft_type\": \"LORA\",\n";
  cfg += "  \"r\": " + std::to_string(lora.rank) + ",\n";
  cfg += "  \"rank_pattern\": {},\n";
  cfg += "  \"revision\": null,\n";
  cfg += "  \"target_modules\": [\n" + targets + "\n  ],\n";
  cfg += "  \"task_type\": \"CAUSAL_LM\",\n";
  cfg += "  \"use_dora\": false,\n";
  cfg += "  \"use_rslora\": " + std::string(lora.rslora ? "true" : "false") + "\n";
  cfg += "}\n";

  std::vector<TensorToWrite> tensors;
  for (const LoraSlot& s : m.slots) {
    tensors.push_back({peft_name(s.layer, s.proj, 'A'), DType::F32, {s.rows_a, s.cols_a}, m.params + s.a_offset});
    tensors.push_back({peft_name(s.layer, s.proj, 'B'), DType::F32, {s.rows_b, s.cols_b}, m.params + s.b_offset});
  }
  write_safetensors((fs::path(dir) / "adapter_model.safetensors").string(), tensors, {{"format", "pt"}});
  write_file_atomic((fs::path(dir) / "adapter_config.json").string(), cfg);
}

void Model::load_adapter(const std::string& dir) {
  Impl& m = *impl_;
  const std::string cfg_path = (fs::path(dir) / "adapter_config.json").string();
  const json::Value cfg = json::parse(read_file(cfg_path), cfg_path);
  auto field = [&](const char* key) -> const json::Value& {
    const json::Value* v = cfg.find(key);
    if (!v) TS_FAIL(cfg_path + " has no \"" + key + "\"; is this a PEFT LoRA adapter folder?");
    return *v;
  };
  const json::Value& r = field("r");
  if (!r.is_integer || r.int_value != m.opt.lora.rank)
    TS_FAIL(cfg_path + " has r = " + (r.is_number() ? number_json(r.number) : "?") +
            " but this session was loaded with LoRA rank " + std::to_string(m.opt.lora.rank) +
            "; load the model with the adapter's rank");
  std::set<std::string> want, have;
  for (int p = 0; p < kProjCount; ++p)
    if (m.opt.lora.targets[p]) want.insert(proj_name(Proj(p)));
  const json::Value& targets = field("target_modules");
  if (!targets.is_array()) TS_FAIL(cfg_path + ": target_modules must be a list of module names");
  for (const auto& t : targets.array) have.insert(t.string);
  if (want != have)
    TS_FAIL(cfg_path + " targets other modules than this session; load the model with the adapter's target_modules");
  const json::Value& alpha = field("lora_alpha");
  if (!alpha.is_number() || !(alpha.number > 0)) TS_FAIL(cfg_path + ": lora_alpha must be a positive number");
  const json::Value* rs = cfg.find("use_rslora");

  const std::string st_path = (fs::path(dir) / "adapter_model.safetensors").string();
  SafetensorsFile file(st_path);
  std::vector<float> staged(size_t(m.n_params));
  std::set<std::string> used;
  for (const LoraSlot& s : m.slots) {
    for (char which : {'A', 'B'}) {
      const std::string name = peft_name(s.layer, s.proj, which);
      const TensorView* t = file.find(name);
      if (!t) TS_FAIL(st_path + " has no tensor " + name + "; the adapter does not match this model");
      const int64_t rows = which == 'A' ? s.rows_a : s.rows_b, cols = which == 'A' ? s.cols_a : s.cols_b;
      if (t->shape != std::vector<int64_t>{rows, cols})
        TS_FAIL(st_path + ": " + name + " has the wrong shape (expected [" + std::to_string(rows) + ", " +
                std::to_string(cols) + "]); was the adapter trained on another base model?");
      to_f32(*t, staged.data() + (which == 'A' ? s.a_offset : s.b_offset));
      used.insert(name);
    }
  }
  for (const TensorView& t : file.tensors())
    if (!used.count(t.name))
      TS_FAIL(st_path + " holds " + t.name + ", which this session has no place for (other layers or modules?)");
  for (float x : staged)
    if (!std::isfinite(x)) TS_FAIL(st_path + " holds NaN or infinite values; the adapter is damaged");
  std::memcpy(m.params, staged.data(), sizeof(float) * staged.size());
  m.opt.lora.alpha = float(alpha.number);
  m.opt.lora.rslora = rs && rs->is_bool() && rs->boolean;
}

// ---- optimizer state ------------------------------------------------------------------------------

namespace {
constexpr char kStateMagic[8] = {'T', 'S', 'S', 'T', 'A', 'T', 'E', '1'};
constexpr uint32_t kStateVersion = 2;
struct StateHeader {
  char magic[8];
  uint32_t version;
  uint32_t rank;
  uint64_t count;
  int64_t step;
  uint64_t rng_counter;
  int64_t pending_tokens;
  double pending_loss;
  float alpha;
  uint32_t targets;  // bit p = projection p adapted
  uint32_t rslora;
  uint32_t reserved;
};

static_assert(sizeof(StateHeader) == 72, "the state header is written as raw bytes: no padding");

uint32_t target_bits(const LoraSpec& lora) {
  uint32_t bits = 0;
  for (int p = 0; p < kProjCount; ++p)
    if (lora.targets[p]) bits |= 1u << p;
  return bits;
}
}  // namespace

void Model::save_state(const std::string& path) const {
  const Impl& m = *impl_;
  StateHeader h{};
  std::memcpy(h.magic, kStateMagic, 8);
  h.version = kStateVersion;
  h.rank = uint32_t(m.opt.lora.rank);
  h.count = uint64_t(m.n_params);
  h.step = m.step_count;
  h.rng_counter = m.rng_counter;
  h.pending_tokens = m.pending_tokens;
  h.pending_loss = m.pending_loss;
  h.alpha = m.opt.lora.alpha;
  h.targets = target_bits(m.opt.lora);
  h.rslora = m.opt.lora.rslora ? 1 : 0;
  std::string bytes(sizeof h + 4 * sizeof(float) * size_t(m.n_params), '\0');
  std::memcpy(&bytes[0], &h, sizeof h);
  size_t at = sizeof h;
  for (const float* a : {m.params, m.grads, m.m, m.v}) {
    std::memcpy(&bytes[at], a, sizeof(float) * size_t(m.n_params));
    at += sizeof(float) * size_t(m.n_params);
  }
  write_file_atomic(path, bytes);
}

void Model::load_state(const std::string& path) {
  Impl& m = *impl_;
  const std::string bytes = read_file(path);
  StateHeader h{};
  if (bytes.size() < sizeof h) TS_FAIL(path + " is too short to be a Tunesmith optimizer state file");
  std::memcpy(&h, bytes.data(), sizeof h);
  if (std::memcmp(h.magic, kStateMagic, 8) != 0 || h.version != kStateVersion)
    TS_FAIL(path + " is not a Tunesmith optimizer state file (or was written by another version)");
  if (h.count != uint64_t(m.n_params) || h.rank != uint32_t(m.opt.lora.rank) ||
      h.targets != target_bits(m.opt.lora))
    TS_FAIL(path + " holds the state of another adapter shape (" + std::to_string(h.count) +
            " parameters, rank " + std::to_string(h.rank) + "); load the model with the same LoRA settings");
  if (bytes.size() != sizeof h + 4 * sizeof(float) * h.count)
    TS_FAIL(path + " is truncated or has extra bytes; the checkpoint is damaged");
  size_t at = sizeof h;
  for (float* a : {m.params, m.grads, m.m, m.v}) {
    std::memcpy(a, bytes.data() + at, sizeof(float) * size_t(h.count));
    at += sizeof(float) * size_t(h.count);
  }
  m.step_count = h.step;
  m.rng_counter = h.rng_counter;
  m.pending_tokens = h.pending_tokens;
  m.pending_loss = h.pending_loss;
  m.opt.lora.alpha = h.alpha;  // the scale the moments were built with
  m.opt.lora.rslora = h.rslora != 0;
}

}  // namespace tunesmith
