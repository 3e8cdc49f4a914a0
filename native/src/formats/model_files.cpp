// A model folder's weights (model.safetensors or index + shards) and the check that they are exactly
// what the config says. The one decision to know: an unexpected tensor is an error (it means a
// different architecture or a pre-quantized checkpoint the engine would silently misread), except
// rotary inv_freq buffers of old checkpoints and lm_head.weight in a tied model, which are warnings.
#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "engine_error.h"
#include "json.h"
#include "model_config.h"
#include "safetensors.h"
#include "tensor_names.h"

#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <sys/stat.h>
#endif

namespace tunesmith {

namespace {

bool is_regular_file(const std::string& path) {
#ifdef _WIN32
  const DWORD attrs = GetFileAttributesA(path.c_str());
  return attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY) == 0;
#else
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
#endif
}

std::string read_small_file(const std::string& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) TS_FAIL(path + " could not be opened");
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > limit) TS_FAIL(path + " is larger than " + std::to_string(limit) + " bytes; it is not a valid index");
  }
  return text;
}

// A shard name from the index must be a plain file name inside the model folder.
void check_shard_name(const std::string& index_path, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\\') != std::string::npos || name.find('\0') != std::string::npos) {
    TS_FAIL(index_path + ": shard file name " + json::quote(name) +
            " is not a plain file name in the model folder; the index is damaged, download it again");
  }
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

struct ModelFiles::Impl {
  std::string dir;
  std::vector<SafetensorsFile> files;
  std::map<std::string, const TensorView*> by_name;
  std::vector<std::string> warnings;

  void open_single(const std::string& path) {
    files.emplace_back(path);
    for (const TensorView& t : files.back().tensors()) by_name[t.name] = &t;
  }

  void open_sharded(const std::string& index_path) {
    json::ParseOptions options;
    options.max_bytes = 256u << 20;
    const json::Value index = json::parse(read_small_file(index_path, options.max_bytes), index_path, options);
    const json::Value* weight_map = index.find("weight_map");
    if (!index.is_object() || weight_map == nullptr || !weight_map->is_object()) {
      TS_FAIL(index_path + ": there is no \"weight_map\" object; the index is damaged, download it again");
    }
    if (weight_map->object.empty()) TS_FAIL(index_path + ": \"weight_map\" lists no tensors");
    std::map<std::string, std::set<std::string>> by_shard;  // shard file -> tensor names it must hold
    for (const auto& [tensor, shard] : weight_map->object) {
      if (!shard.is_string()) TS_FAIL(index_path + ": the shard of " + json::quote(tensor) + " is not a file name");
      check_shard_name(index_path, shard.string);
      by_shard[shard.string].insert(tensor);
    }
    for (const auto& entry : by_shard) {  // every shard present before any is read
      const std::string path = dir + "/" + entry.first;
      if (!is_regular_file(path)) {
        TS_FAIL(index_path + " lists shard " + entry.first + " but " + path +
                " does not exist; the download is incomplete: download the missing file");
      }
    }
    files.reserve(by_shard.size());
    for (const auto& [shard, expected] : by_shard) {
      const std::string path = dir + "/" + shard;
      files.emplace_back(path);
      const SafetensorsFile& file = files.back();
      for (const TensorView& t : file.tensors()) {
        if (expected.count(t.name) == 0) {
          const json::Value* elsewhere = weight_map->find(t.name);
          TS_FAIL(path + " holds tensor " + json::quote(t.name) + " but " + index_path +
                  (elsewhere != nullptr ? " places it in " + elsewhere->string : std::string(" does not list it")) +
                  "; the index and the shards disagree, download them again");
        }
        by_name[t.name] = &t;
      }
      for (const std::string& name : expected) {
        if (file.find(name) == nullptr) {
          TS_FAIL(index_path + " places tensor " + json::quote(name) + " in " + shard +
                  " but that file does not hold it; the index and the shards disagree, download them again");
        }
      }
    }
    if (const json::Value* meta = index.find("metadata"); meta != nullptr && meta->is_object()) {
      if (const json::Value* total = meta->find("total_size"); total != nullptr && total->is_number()) {
        uint64_t sum = 0;
        for (const auto& [name, view] : by_name) sum += view->nbytes;
        if (!total->fits_u64 || total->uint_value != sum) {
          warnings.push_back(index_path + ": metadata.total_size says " + std::to_string(total->number) +
                             " bytes but the shards hold " + std::to_string(sum));
        }
      }
    }
  }
};

ModelFiles::ModelFiles(const std::string& model_dir) : impl_(std::make_unique<Impl>()) {
  impl_->dir = model_dir;
  const std::string single = model_dir + "/model.safetensors";
  const std::string index = model_dir + "/model.safetensors.index.json";
  if (is_regular_file(single)) {
    if (is_regular_file(index)) impl_->warnings.push_back(index + " is ignored: model.safetensors is present");
    impl_->open_single(single);
  } else if (is_regular_file(index)) {
    impl_->open_sharded(index);
  } else {
    const bool has_bin = is_regular_file(model_dir + "/pytorch_model.bin") ||
                         is_regular_file(model_dir + "/pytorch_model.bin.index.json");
    TS_FAIL(model_dir + " has no model.safetensors and no model.safetensors.index.json" +
            (has_bin ? std::string("; it has PyTorch .bin weights, which Tunesmith does not read: download the "
                                   "model's safetensors files instead")
                     : std::string("; point Tunesmith at a Hugging Face model folder with safetensors weights")));
  }
}

ModelFiles::~ModelFiles() = default;
ModelFiles::ModelFiles(ModelFiles&&) noexcept = default;
ModelFiles& ModelFiles::operator=(ModelFiles&&) noexcept = default;

const std::string& ModelFiles::dir() const { return impl_->dir; }
size_t ModelFiles::shard_count() const { return impl_->files.size(); }
const std::vector<std::string>& ModelFiles::warnings() const { return impl_->warnings; }

std::vector<std::string> ModelFiles::names() const {
  std::vector<std::string> out;
  out.reserve(impl_->by_name.size());
  for (const auto& entry : impl_->by_name) out.push_back(entry.first);
  return out;
}

const TensorView* ModelFiles::find(const std::string& name) const {
  const auto it = impl_->by_name.find(name);
  return it == impl_->by_name.end() ? nullptr : it->second;
}

const TensorView& ModelFiles::get(const std::string& name) const {
  const TensorView* t = find(name);
  if (t == nullptr) TS_FAIL(impl_->dir + ": the model has no tensor " + json::quote(name));
  return *t;
}

std::vector<std::string> check_model_tensors(const ModelConfig& config, const ModelFiles& files) {
  std::vector<std::string> problems, warnings;
  std::set<std::string> expected;
  auto check = [&](TensorRole role, int layer) {
    const std::string name = hf_tensor_name(role, layer);
    expected.insert(name);
    const TensorView* t = files.find(name);
    if (t == nullptr) {
      problems.push_back("missing " + name);
      return;
    }
    const std::vector<int64_t> want = expected_shape(role, config);
    if (t->shape != want) {
      problems.push_back(name + " has shape " + shape_text(t->shape) + ", config.json implies " + shape_text(want));
    }
    if (t->dtype != DType::F32 && t->dtype != DType::F16 && t->dtype != DType::BF16) {
      problems.push_back(name + " is " + dtype_name(t->dtype) +
                         " (pre-quantized checkpoints are not supported; use the F32/F16/BF16 original)");
    }
  };
  for (const TensorNameEntry& entry : tensor_name_table()) {
    if (!role_present(entry.role, config)) continue;
    if (entry.per_layer) {
      for (int layer = 0; layer < config.layers; ++layer) check(entry.role, layer);
    } else {
      check(entry.role, -1);
    }
  }
  std::vector<std::string> unexpected;
  for (const std::string& name : files.names()) {
    if (expected.count(name) != 0) continue;
    if (ends_with(name, "rotary_emb.inv_freq")) {
      warnings.push_back("ignored " + name + " (a RoPE buffer old checkpoints carry; it is recomputed)");
    } else if (name == hf_tensor_name(TensorRole::Output) && config.tie_embeddings) {
      warnings.push_back("ignored " + name + ": config.json ties the output to the embeddings");
    } else {
      unexpected.push_back(name);
    }
  }
  if (!unexpected.empty()) {
    std::string list;
    for (size_t i = 0; i < unexpected.size() && i < 8; ++i) list += (i ? ", " : "") + unexpected[i];
    if (unexpected.size() > 8) list += ", and " + std::to_string(unexpected.size() - 8) + " more";
    problems.push_back(std::to_string(unexpected.size()) + " unexpected tensor(s) for a " + arch_name(config.arch) +
                       " model: " + list);
  }
  if (!problems.empty()) {
    std::string message = files.dir() + ": the weights do not match config.json (" + arch_name(config.arch) + ", " +
                          std::to_string(config.layers) + " layers): ";
    const size_t shown = std::min<size_t>(problems.size(), 12);
    for (size_t i = 0; i < shown; ++i) message += (i ? "; " : "") + problems[i];
    if (problems.size() > shown) message += "; and " + std::to_string(problems.size() - shown) + " more problems";
    message += ". Check that config.json belongs to these weights, or download the model again";
    TS_FAIL(message);
  }
  for (const std::string& w : files.warnings()) warnings.push_back(w);
  return warnings;
}

}  // namespace tunesmith
