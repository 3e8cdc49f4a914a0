// safetensors: writer/reader round trips, every hostile-file case the reader must refuse with a clear
// message, sharded model folders, the tensor check against config.json, and exact f16/bf16 conversion.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "model_config.h"
#include "safetensors.h"
#include "tensor_names.h"
#include "test_framework.h"

using namespace tunesmith;

namespace {

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A raw safetensors image: u64 LE length + header text + data, with no checks (for hostile files).
std::string image(const std::string& header, const std::string& data, uint64_t claimed_len = UINT64_MAX) {
  const uint64_t len = claimed_len == UINT64_MAX ? header.size() : claimed_len;
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string parse_error(const std::string& bytes) {
  try {
    parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "bad.safetensors");
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

#define CHECK_REFUSED(bytes, needle)                                                                    \
  do {                                                                                                  \
    const std::string tstest_msg = parse_error(bytes);                                                  \
    CHECK_MSG(tstest_msg.find(needle) != std::string::npos, "expected \"" + std::string(needle) + "\" in: " + tstest_msg); \
    CHECK_MSG(tstest_msg.find("bad.safetensors") == 0, "the message must name the file: " + tstest_msg);  \
  } while (0)

}  // namespace

TEST(safetensors_writer_and_reader_round_trip) {
  const std::string dir = tstest::temp_dir();
  const std::string path = dir + "/adapter_model.safetensors";
  const std::vector<float> a = {1.0f, -2.5f, 3.25f, 0.0f, -0.0f, 1e-40f};
  const std::vector<uint16_t> b = {f32_to_bf16(1.5f), f32_to_bf16(-3.0f)};
  const std::vector<uint8_t> c = {1, 2, 3};
  const std::vector<int64_t> d = {-7};
  const float scalar = 42.0f;
  std::vector<TensorToWrite> tensors = {
      {"b.bf16", DType::BF16, {2}, b.data()},  {"a.f32", DType::F32, {2, 3}, a.data()},
      {"c.u8", DType::U8, {3}, c.data()},      {"d.i64", DType::I64, {1}, d.data()},
      {"e.scalar", DType::F32, {}, &scalar},   {"f.empty", DType::F32, {0, 4}, nullptr},
  };
  write_safetensors(path, tensors, {{"format", "pt"}, {"note", "quote \" and \\ survive"}});
  const std::string raw = read_bytes(path);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<uint8_t>(raw[i]);
  CHECK_EQ(header_len % 8, uint64_t{0});
  const std::string header = raw.substr(8, header_len);
  CHECK_EQ(header.find("{\"__metadata__\":"), size_t{0});
  CHECK(header.back() == ' ' || header.back() == '}');
  // Reference writer order: dtype size descending, then name.
  CHECK(header.find("\"d.i64\"") < header.find("\"a.f32\""));
  CHECK(header.find("\"a.f32\"") < header.find("\"e.scalar\""));
  CHECK(header.find("\"e.scalar\"") < header.find("\"f.empty\""));
  CHECK(header.find("\"f.empty\"") < header.find("\"b.bf16\""));
  CHECK(header.find("\"b.bf16\"") < header.find("\"c.u8\""));

  const SafetensorsFile file(path);
  CHECK_EQ(file.tensors().size(), size_t{6});
  CHECK_EQ(file.metadata().at("format"), std::string("pt"));
  CHECK_EQ(file.metadata().at("note"), std::string("quote \" and \\ survive"));
  const TensorView* ta = file.find("a.f32");
  CHECK(ta != nullptr);
  CHECK(ta->dtype == DType::F32);
  CHECK_EQ(ta->shape, (std::vector<int64_t>{2, 3}));
  CHECK_EQ(ta->nbytes, uint64_t{24});
  std::vector<float> back(6);
  to_f32(*ta, back.data());
  CHECK_EQ(std::memcmp(back.data(), a.data(), 24), 0);
  std::vector<float> bf(2);
  to_f32(*file.find("b.bf16"), bf.data());
  CHECK_EQ(bf[0], 1.5f);
  CHECK_EQ(bf[1], -3.0f);
  CHECK_EQ(file.find("e.scalar")->numel(), int64_t{1});
  CHECK_EQ(file.find("f.empty")->numel(), int64_t{0});
  CHECK_EQ(file.find("f.empty")->nbytes, uint64_t{0});
  CHECK_EQ(std::memcmp(file.find("d.i64")->data, d.data(), 8), 0);
  CHECK(file.find("zzz") == nullptr);

  // Overwriting replaces the file in one step and leaves no temporary file behind.
  write_safetensors(path, {{"only", DType::U8, {1}, c.data()}});
  CHECK_EQ(SafetensorsFile(path).tensors().size(), size_t{1});
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    CHECK_MSG(entry.path().filename().string().find(".tmp") == std::string::npos, entry.path().string());
  }
  CHECK_THROWS_WITH(write_safetensors(dir + "/no/such/dir/x.safetensors", tensors), "could not be written");
  CHECK_THROWS_WITH(write_safetensors(dir + "/dup.safetensors", {{"x", DType::U8, {1}, c.data()}, {"x", DType::U8, {1}, c.data()}}),
                    "two tensors are named \"x\"");
  CHECK_THROWS_WITH(write_safetensors(dir + "/meta.safetensors", {{"__metadata__", DType::U8, {1}, c.data()}}),
                    "cannot write a tensor named");
}

TEST(safetensors_refuses_hostile_files_with_clear_errors) {
  const std::string ok_header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data8(8, '\x01');
  CHECK_EQ(parse_error(image(ok_header, data8)), std::string("(no error)"));

  CHECK_REFUSED(std::string(), "is 0 bytes, too short");
  CHECK_REFUSED(std::string("\x10\0\0", 3), "is 3 bytes, too short");
  // header larger than the file; absurd header length
  CHECK_REFUSED(image(ok_header, data8, ok_header.size() + 100), "the header claims");
  CHECK_REFUSED(image(ok_header, data8, 200000000), "more than the 100,000,000");
  CHECK_REFUSED(image(ok_header, data8, UINT64_MAX - 1), "more than the 100,000,000");
  // truncated data: the header promises 8 bytes, the file has 5
  CHECK_REFUSED(image(ok_header, data8.substr(0, 5)), "past the end of the data (5 bytes)");
  // a truncated header
  CHECK_REFUSED(image(ok_header, data8).substr(0, 8 + ok_header.size() - 3), "the header claims");
  // trailing bytes after the last tensor
  CHECK_REFUSED(image(ok_header, data8 + "xx"), "the tensors cover 8 bytes of data but the file holds 10");
  // offsets past the end, begin after end, not integers
  CHECK_REFUSED(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", data8), "past the end");
  CHECK_REFUSED(image(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", data8), "begin after end");
  CHECK_REFUSED(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}})", data8), "not non-negative integers");
  CHECK_REFUSED(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-1,7]}})", data8), "not non-negative integers");
  CHECK_REFUSED(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", data8), "data_offsets");
  CHECK_REFUSED(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}})", data8),
                "past the end");
  // overlapping tensors, a gap between tensors
  CHECK_REFUSED(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data8),
                "overlap");
  CHECK_REFUSED(image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                      R"("b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})", data8),
                "belong to no tensor");
  // wrong or unknown dtype; shape that disagrees with the byte span
  CHECK_REFUSED(image(R"({"a":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,8]}})", data8),
                "has dtype \"Q4_K\", which Tunesmith cannot read");
  CHECK_REFUSED(image(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})", data8),
                "has shape [2] of F16 (4 bytes) but data_offsets span 8 bytes");
  CHECK_REFUSED(image(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", data8),
                "too many");
  CHECK_REFUSED(image(R"({"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]}})", data8), "shape entry");
  CHECK_REFUSED(image(R"({"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})", data8), "no \"shape\" array");
  CHECK_REFUSED(image(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", data8), "no \"dtype\" string");
  CHECK_REFUSED(image(R"({"a":[1,2]})", data8), "not an object");
  // broken JSON, duplicate keys, bad metadata, non-object header
  CHECK_REFUSED(image(R"({"a":{"dtype":"F32",)", data8), "invalid JSON");
  CHECK_REFUSED(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data8),
                "duplicate key \"a\"");
  CHECK_REFUSED(image(R"({"__metadata__":{"format":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data8),
                "must be a string");
  CHECK_REFUSED(image(R"([1,2,3])", data8), "must be a JSON object");
  CHECK_REFUSED(image(std::string(200, '['), data8), "nesting deeper");
  // A shape of a million zeros would cost ~150 MB of parse tree: refused at the 17th entry.
  std::string long_shape = R"({"a":{"dtype":"F32","shape":[)";
  for (int i = 0; i < 1000000; ++i) long_shape += "0,";
  CHECK_REFUSED(image(long_shape + "0],\"data_offsets\":[0,0]}}", ""), "an array with more than 16 items");

  // Through the file API: an empty file, a directory, a missing file.
  const std::string dir = tstest::temp_dir();
  write_bytes(dir + "/empty.safetensors", "");
  CHECK_THROWS_WITH(SafetensorsFile(dir + "/empty.safetensors"), "empty.safetensors is 0 bytes, too short");
  CHECK_THROWS_WITH(SafetensorsFile(dir), "is not a regular file");
  CHECK_THROWS_WITH(SafetensorsFile(dir + "/missing.safetensors"), "missing.safetensors could not be opened");
  write_bytes(dir + "/trunc.safetensors", image(ok_header, data8.substr(0, 4)));
  CHECK_THROWS_WITH(SafetensorsFile(dir + "/trunc.safetensors"), "download it again");
}

namespace {

// A tiny model of `config`, every tensor filled with a recognisable value, optionally in shards.
struct TinyTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<uint16_t> data;  // BF16
};

std::vector<TinyTensor> tiny_tensors(const ModelConfig& config) {
  std::vector<TinyTensor> out;
  for (const TensorNameEntry& e : tensor_name_table()) {
    if (!role_present(e.role, config)) continue;
    for (int layer = 0; layer < (e.per_layer ? config.layers : 1); ++layer) {
      TinyTensor t;
      t.name = hf_tensor_name(e.role, e.per_layer ? layer : -1);
      t.shape = expected_shape(e.role, config);
      int64_t n = 1;
      for (const int64_t d : t.shape) n *= d;
      t.data.assign(static_cast<size_t>(n), f32_to_bf16(0.25f * static_cast<float>(out.size() + 1)));
      out.push_back(std::move(t));
    }
  }
  return out;
}

void write_tiny(const std::string& path, const std::vector<TinyTensor>& tensors) {
  std::vector<TensorToWrite> w;
  for (const TinyTensor& t : tensors) w.push_back({t.name, DType::BF16, t.shape, t.data.data()});
  write_safetensors(path, w, {{"format", "pt"}});
}

const char* kTinyLlama = R"({"model_type": "llama", "hidden_size": 8, "intermediate_size": 12,
  "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 16})";
const char* kTinyQwen = R"({"model_type": "qwen2", "hidden_size": 8, "intermediate_size": 12,
  "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2, "vocab_size": 16,
  "tie_word_embeddings": true})";

}  // namespace

TEST(model_files_reads_a_single_file_and_checks_it_against_config) {
  const std::string dir = tstest::temp_dir();
  const ModelConfig config = parse_model_config(kTinyLlama, "config.json");
  std::vector<TinyTensor> tensors = tiny_tensors(config);
  CHECK_EQ(tensors.size(), size_t{2 + 2 * 9 + 1});  // embed, norm, lm_head + 9 per layer
  write_tiny(dir + "/model.safetensors", tensors);
  {
    const ModelFiles files(dir);
    CHECK_EQ(files.shard_count(), size_t{1});
    CHECK(check_model_tensors(config, files).empty());
    const TensorView& k = files.get("model.layers.1.self_attn.k_proj.weight");
    CHECK_EQ(k.shape, (std::vector<int64_t>{4, 8}));  // kv_heads * head_dim, hidden
    std::vector<float> row(8);
    to_f32(k, row.data(), 8, 8);  // the second row
    CHECK(row[0] > 0.0f);
    CHECK_THROWS_WITH(files.get("model.layers.9.mlp.up_proj.weight"), "the model has no tensor");
  }
  // Missing, mis-shaped, wrongly typed and unexpected tensors: one error that lists them.
  std::vector<TinyTensor> broken = tensors;
  broken.erase(broken.begin() + 3);  // a layer-0 tensor
  broken[5].shape = {3, 8};
  broken[5].data.resize(24);
  broken.push_back({"model.layers.0.mlp.extra_proj.weight", {2}, {0, 0}});
  broken.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", {2}, {0, 0}});
  write_tiny(dir + "/model.safetensors", broken);
  {
    const ModelFiles files(dir);
    CHECK_THROWS_WITH(check_model_tensors(config, files), "missing model.layers.0.");
    CHECK_THROWS_WITH(check_model_tensors(config, files), "config.json implies");
    CHECK_THROWS_WITH(check_model_tensors(config, files), "1 unexpected tensor(s) for a llama model: model.layers.0.mlp.extra_proj.weight");
    CHECK_THROWS_WITH(check_model_tensors(config, files), "Check that config.json belongs to these weights");
  }
  // A config that disagrees with the weights' shapes.
  {
    write_tiny(dir + "/model.safetensors", tensors);
    const ModelFiles files(dir);
    std::string other = kTinyLlama;
    other.replace(other.find("\"intermediate_size\": 12"), 23, "\"intermediate_size\": 16");
    CHECK_THROWS_WITH(check_model_tensors(parse_model_config(other, "config.json"), files),
                      "model.layers.0.mlp.gate_proj.weight has shape [12, 8], config.json implies [16, 8]");
  }
  // Integer weights are refused.
  {
    std::vector<TensorToWrite> w;
    std::vector<int32_t> ints(16 * 8);
    for (const TinyTensor& t : tensors) {
      if (t.name == "model.embed_tokens.weight") w.push_back({t.name, DType::I32, t.shape, ints.data()});
      else w.push_back({t.name, DType::BF16, t.shape, t.data.data()});
    }
    write_safetensors(dir + "/model.safetensors", w);
    const ModelFiles files(dir);
    CHECK_THROWS_WITH(check_model_tensors(config, files), "model.embed_tokens.weight is I32");
  }
}

TEST(model_files_checks_qwen2_biases_and_tied_embeddings) {
  const std::string dir = tstest::temp_dir();
  const ModelConfig config = parse_model_config(kTinyQwen, "config.json");
  std::vector<TinyTensor> tensors = tiny_tensors(config);
  bool has_bias = false, has_head = false;
  for (const TinyTensor& t : tensors) {
    has_bias |= t.name == "model.layers.0.self_attn.k_proj.bias";
    has_head |= t.name == "lm_head.weight";
  }
  CHECK(has_bias);
  CHECK(!has_head);
  tensors.push_back({"lm_head.weight", {16, 8}, std::vector<uint16_t>(128)});
  write_tiny(dir + "/model.safetensors", tensors);
  const ModelFiles files(dir);
  const std::vector<std::string> warnings = check_model_tensors(config, files);
  CHECK_EQ(warnings.size(), size_t{1});
  CHECK(warnings[0].find("ties the output to the embeddings") != std::string::npos);
  // Without the biases a qwen2 model is incomplete.
  std::vector<TinyTensor> no_bias;
  for (const TinyTensor& t : tensors) {
    if (t.name.find(".bias") == std::string::npos) no_bias.push_back(t);
  }
  write_tiny(dir + "/model.safetensors", no_bias);
  CHECK_THROWS_WITH(check_model_tensors(config, ModelFiles(dir)), "missing model.layers.0.self_attn.q_proj.bias");
}

TEST(model_files_reads_shards_through_the_index_and_refuses_inconsistent_ones) {
  const std::string dir = tstest::temp_dir();
  const ModelConfig config = parse_model_config(kTinyLlama, "config.json");
  const std::vector<TinyTensor> tensors = tiny_tensors(config);
  const size_t half = tensors.size() / 2;
  const std::vector<TinyTensor> first(tensors.begin(), tensors.begin() + half);
  const std::vector<TinyTensor> second(tensors.begin() + half, tensors.end());
  const std::string s1 = "model-00001-of-00002.safetensors", s2 = "model-00002-of-00002.safetensors";
  write_tiny(dir + "/" + s1, first);
  write_tiny(dir + "/" + s2, second);
  auto index_for = [&](const std::string& moved_name, const std::string& moved_to, const std::string& extra) {
    std::string map;
    uint64_t total = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const std::string shard = tensors[i].name == moved_name ? moved_to : (i < half ? s1 : s2);
      map += (map.empty() ? "" : ",") + std::string("\"") + tensors[i].name + "\":\"" + shard + "\"";
      total += tensors[i].data.size() * 2;
    }
    return "{\"metadata\":{\"total_size\":" + std::to_string(total) + "},\"weight_map\":{" + map + extra + "}}";
  };
  const std::string index_path = dir + "/model.safetensors.index.json";
  write_bytes(index_path, index_for("", "", ""));
  {
    const ModelFiles files(dir);
    CHECK_EQ(files.shard_count(), size_t{2});
    CHECK(check_model_tensors(config, files).empty());
    CHECK(files.warnings().empty());
    CHECK(files.find(tensors.back().name) != nullptr);
  }
  // The index places a tensor in the wrong shard.
  write_bytes(index_path, index_for(tensors[0].name, s2, ""));
  CHECK_THROWS_WITH(ModelFiles(dir), "the index and the shards disagree");
  // The index lists a tensor no shard holds.
  write_bytes(index_path, index_for("", "", ",\"model.extra.weight\":\"" + s1 + "\""));
  CHECK_THROWS_WITH(ModelFiles(dir), "places tensor \"model.extra.weight\" in " + s1 + " but that file does not hold it");
  // A shard that is not there; a shard name that leaves the folder.
  write_bytes(index_path, index_for(tensors[0].name, "model-00003-of-00002.safetensors", ""));
  CHECK_THROWS_WITH(ModelFiles(dir), "does not exist; the download is incomplete");
  write_bytes(index_path, index_for(tensors[0].name, "../model.safetensors", ""));
  CHECK_THROWS_WITH(ModelFiles(dir), "is not a plain file name in the model folder");
  write_bytes(index_path, "{\"weight_map\": []}");
  CHECK_THROWS_WITH(ModelFiles(dir), "no \"weight_map\" object");
  write_bytes(index_path, "{\"weight_map\": {\"a\": 1}}");
  CHECK_THROWS_WITH(ModelFiles(dir), "is not a file name");
  // A damaged shard is reported by name.
  write_bytes(index_path, index_for("", "", ""));
  const std::string shard2 = read_bytes(dir + "/" + s2);
  write_bytes(dir + "/" + s2, shard2.substr(0, shard2.size() - 2));
  CHECK_THROWS_WITH(ModelFiles(dir), s2);
  // An empty folder, and one with only PyTorch .bin weights.
  const std::string empty = tstest::temp_dir();
  CHECK_THROWS_WITH(ModelFiles(empty), "has no model.safetensors and no model.safetensors.index.json");
  write_bytes(empty + "/pytorch_model.bin", "x");
  CHECK_THROWS_WITH(ModelFiles(empty), "PyTorch .bin weights");
}

namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// Independent definitions from the IEEE formats, computed in double.
double f16_value(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  const double mag = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
  return s ? -mag : mag;
}
double bf16_value(uint16_t h) {
  const int s = h >> 15, e = (h >> 7) & 0xff, m = h & 0x7f;
  const double mag = e == 0 ? std::ldexp(m, -133) : std::ldexp(128 + m, e - 134);
  return s ? -mag : mag;
}

}  // namespace

TEST(f16_and_bf16_convert_to_f32_exactly_for_every_value) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto v = static_cast<uint16_t>(h);
    const float f16 = f16_to_f32(v), bf16 = bf16_to_f32(v);
    const bool f16_special = ((v >> 10) & 0x1f) == 0x1f, bf16_special = ((v >> 7) & 0xff) == 0xff;
    if (f16_special) {
      CHECK_EQ(std::isnan(f16), (v & 0x3ff) != 0);
      CHECK_EQ(std::signbit(f16), (v & 0x8000) != 0);
      if ((v & 0x3ff) == 0) CHECK(std::isinf(f16));
      else CHECK_EQ(f32_to_f16(f16) | 0x0200, v | 0x0200);  // the NaN payload survives, quieted
    } else {
      CHECK_EQ(static_cast<double>(f16), f16_value(v));
      CHECK_EQ(std::signbit(f16), (v & 0x8000) != 0);  // -0 stays -0
      CHECK_EQ(f32_to_f16(f16), v);  // exact values convert back unchanged
    }
    if (bf16_special) {
      CHECK_EQ(std::isnan(bf16), (v & 0x7f) != 0);
      if ((v & 0x7f) == 0) CHECK(std::isinf(bf16));
    } else {
      CHECK_EQ(static_cast<double>(bf16), bf16_value(v));
      CHECK_EQ(f32_to_bf16(bf16), v);
    }
  }
  // Rounding to nearest, ties to even.
  CHECK_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  CHECK_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  CHECK_EQ(f32_to_bf16(1.0f + 5 * std::ldexp(1.0f, -9)), 0x3f81);
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
  CHECK_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  CHECK_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  CHECK_EQ(f32_to_f16(65504.0f), 0x7bff);
  CHECK_EQ(f32_to_f16(65519.99f), 0x7bff);
  CHECK_EQ(f32_to_f16(65520.0f), 0x7c00);
  CHECK_EQ(f32_to_f16(-1e10f), 0xfc00);
  CHECK_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);
  CHECK_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);        // tie -> even (0)
  CHECK_EQ(f32_to_f16(3 * std::ldexp(1.0f, -25)), 0x0002);    // tie -> even (2)
  CHECK_EQ(f32_to_f16(std::ldexp(1.0f, -26)), 0x0000);
  CHECK_EQ(f32_to_f16(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25)), 0x0400);  // rounds up to the smallest normal
  CHECK_EQ(f32_to_f16(-0.0f), 0x8000);
  CHECK_EQ(bits(f16_to_f32(0x8000)), 0x80000000u);
}

TEST(to_f32_reads_ranges_and_refuses_other_dtypes) {
  const std::string dir = tstest::temp_dir();
  const std::vector<uint16_t> halves = {0x3c00, 0xc000, 0x0001, 0x7c00, 0x7e00};
  const std::vector<int32_t> ints = {1, 2};
  write_safetensors(dir + "/x.safetensors",
                    {{"h", DType::F16, {5}, halves.data()}, {"i", DType::I32, {2}, ints.data()}});
  const SafetensorsFile file(dir + "/x.safetensors");
  std::vector<float> out(5);
  to_f32(*file.find("h"), out.data());
  CHECK_EQ(out[0], 1.0f);
  CHECK_EQ(out[1], -2.0f);
  CHECK_EQ(out[2], std::ldexp(1.0f, -24));
  CHECK(std::isinf(out[3]));
  CHECK(std::isnan(out[4]));
  float two[2] = {0, 0};
  to_f32(*file.find("h"), two, 1, 2);
  CHECK_EQ(two[0], -2.0f);
  CHECK_THROWS_WITH(to_f32(*file.find("h"), two, 4, 2), "outside its 5");
  CHECK_THROWS_WITH(to_f32(*file.find("i"), two), "has dtype I32; only F32, F16 and BF16");
}
