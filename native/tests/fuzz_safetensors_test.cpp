// A bounded, deterministic mutation fuzzer for the safetensors reader and the JSON/config parsers
// (no libFuzzer with g++). Valid seeds are mutated by bit flips, byte stores, truncation, extension,
// edits of the 8-byte length and JSON-aware edits (numbers, dtypes, brackets, duplicated entries).
// Every input must either parse into views that lie inside the buffer and agree with their shapes,
// or throw an EngineError that names the source; anything else (another exception, a crash, an
// out-of-bounds read under ASan) fails. TUNESMITH_FUZZ_ITERATIONS overrides the default count.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine_error.h"
#include "formats/json.h"
#include "model_config.h"
#include "safetensors.h"
#include "test_framework.h"

using namespace tunesmith;

namespace {

std::vector<std::string> seed_images(const std::string& dir) {
  std::vector<std::string> seeds;
  auto add_written = [&](const std::vector<TensorToWrite>& tensors, const std::map<std::string, std::string>& meta) {
    const std::string path = dir + "/seed.safetensors";
    write_safetensors(path, tensors, meta);
    std::ifstream in(path, std::ios::binary);
    seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  const std::vector<float> f = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f, 7.0f};
  const std::vector<uint16_t> h = {0x3c00, 0x7c00, 0x0001, 0x8000};
  const std::vector<uint8_t> u = {1, 2, 3};
  add_written({{"model.embed_tokens.weight", DType::F32, {2, 3}, f.data()},
               {"model.norm.weight", DType::BF16, {4}, h.data()},
               {"lm_head.weight", DType::F16, {2, 2}, h.data()}},
              {{"format", "pt"}});
  add_written({{"a", DType::U8, {3}, u.data()}, {"empty", DType::F32, {0, 5}, nullptr}, {"s", DType::F32, {}, f.data()}},
              {});
  add_written({{"x", DType::I64, {0}, nullptr}}, {{"k", "v"}, {"k2", "\xc3\xa9"}});
  return seeds;
}

const char* const kDtypes[] = {"F32", "F16", "BF16", "U8", "I64", "F64", "BOOL", "F8_E4M3", "Q4", "", "f32"};
const char* const kNumbers[] = {"0", "1", "-1", "7", "8", "4294967296", "18446744073709551615",
                                "18446744073709551616", "9223372036854775807", "1e3", "0.5", "99999999999999999999999"};
const char* const kTokens[] = {"{", "}", "[", "]", ",", ":", "\"", "null", "true", "\\u0000", "\\ud800", "\xff"};

std::string mutate(const std::string& seed, std::mt19937_64& rng) {
  std::string s = seed;
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % (n == 0 ? 1 : n)); };
  const int edits = 1 + static_cast<int>(pick(3));
  for (int e = 0; e < edits && !s.empty(); ++e) {
    uint64_t header_len = 0;
    for (int i = 7; i >= 0 && s.size() >= 8; --i) header_len = (header_len << 8) | static_cast<uint8_t>(s[i]);
    const size_t header_end =
        s.size() < 8 ? s.size() : static_cast<size_t>(std::min<uint64_t>(header_len, s.size() - 8) + 8);
    switch (pick(10)) {
      case 0: {  // bit flip, mostly in the header
        const size_t at = pick(4) != 0 ? pick(header_end) : pick(s.size());
        s[at] = static_cast<char>(s[at] ^ (1 << pick(8)));
        break;
      }
      case 1: s[pick(s.size())] = static_cast<char>(pick(256)); break;
      case 2: s.resize(pick(s.size() + 1)); break;  // truncate
      case 3: s += std::string(1 + pick(16), static_cast<char>(pick(256))); break;  // extend
      case 4: {  // edit the length field
        uint64_t len = header_len;
        switch (pick(5)) {
          case 0: len += 1; break;
          case 1: len -= 1; break;
          case 2: len += 8 * (1 + pick(4)); break;
          case 3: len = rng(); break;
          default: len = s.size() >= 8 ? s.size() - 8 : 0; break;
        }
        if (s.size() < 8) s.resize(8);
        for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((len >> (8 * i)) & 0xff);
        break;
      }
      case 5: {  // replace a number in the header
        size_t at = std::min(s.size(), 8 + pick(header_end > 8 ? header_end - 8 : 1));
        while (at < header_end && !(s[at] >= '0' && s[at] <= '9')) ++at;
        size_t end = at;
        while (end < header_end && s[end] >= '0' && s[end] <= '9') ++end;
        if (at < header_end) s.replace(at, end - at, kNumbers[pick(std::size(kNumbers))]);
        break;
      }
      case 6: {  // replace a dtype
        const size_t at = s.find("\"dtype\":\"", 8 + pick(header_end));
        const size_t from = at == std::string::npos ? s.find("\"dtype\":\"") : at;
        if (from != std::string::npos) {
          const size_t v = from + 9, end = s.find('"', v);
          if (end != std::string::npos) s.replace(v, end - v, kDtypes[pick(std::size(kDtypes))]);
        }
        break;
      }
      case 7: s.insert(std::min(s.size(), 8 + pick(header_end > 8 ? header_end - 8 : 1)), kTokens[pick(std::size(kTokens))]); break;
      case 8: {  // delete a span of the header
        const size_t at = 8 + pick(header_end > 8 ? header_end - 8 : 1);
        if (at < s.size()) s.erase(at, 1 + pick(8));
        break;
      }
      default: {  // duplicate or move a tensor entry's offsets
        const size_t at = s.find("data_offsets", 8 + pick(header_end));
        if (at != std::string::npos) {
          const size_t open = s.find('[', at), close = s.find(']', at);
          if (open != std::string::npos && close != std::string::npos && close > open) {
            const std::string pair = "[" + std::string(kNumbers[pick(5)]) + "," + kNumbers[pick(std::size(kNumbers))] + "]";
            s.replace(open, close - open + 1, pair);
          }
        }
        break;
      }
    }
  }
  return s;
}

// Either valid views inside the buffer, or an EngineError naming the source.
void check_one(const std::string& bytes, uint64_t* accepted, std::set<std::string>* error_kinds) {
  // An exact-size heap copy, so that ASan sees any read past the end.
  std::vector<uint8_t> buf(bytes.begin(), bytes.end());
  const uint8_t* base = buf.empty() ? nullptr : buf.data();
  try {
    const SafetensorsContents c = parse_safetensors(base, buf.size(), "fuzz.safetensors");
    ++*accepted;
    uint64_t checksum = 0;
    for (const TensorView& t : c.tensors) {
      const uint64_t elem = dtype_size(t.dtype);
      CHECK(elem > 0);
      CHECK_EQ(static_cast<uint64_t>(t.numel()) * elem, t.nbytes);
      if (t.nbytes > 0) {
        CHECK(t.data >= base && t.data + t.nbytes <= base + buf.size());
        for (uint64_t i = 0; i < t.nbytes; ++i) checksum += t.data[i];
      }
      if (t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16) {
        std::vector<float> out(static_cast<size_t>(t.numel()));
        to_f32(t, out.data());
      }
    }
    (void)checksum;
  } catch (const EngineError& e) {
    const std::string what = e.what();
    CHECK_MSG(what.rfind("fuzz.safetensors", 0) == 0, "an error that does not name the file: " + what);
    // The kind of error, without the numbers, to show how many distinct checks fired.
    std::string kind;
    for (const char ch : what.substr(0, 80)) kind += (ch >= '0' && ch <= '9') ? '#' : ch;
    error_kinds->insert(kind);
  }
}

uint64_t iterations_from_env(uint64_t fallback) {
  if (const char* v = std::getenv("TUNESMITH_FUZZ_ITERATIONS")) {
    const long long n = std::atoll(v);
    if (n > 0) return static_cast<uint64_t>(n);
  }
  return fallback;
}

}  // namespace

TEST(fuzz_safetensors_reader_never_crashes_and_fails_cleanly) {
  const std::string dir = tstest::temp_dir();
  const std::vector<std::string> seeds = seed_images(dir);
  std::mt19937_64 rng(0x7475'6e65'736d'6974ull);
  const uint64_t iterations = iterations_from_env(40000);
  uint64_t accepted = 0;
  std::set<std::string> kinds;
  for (const std::string& seed : seeds) check_one(seed, &accepted, &kinds);
  CHECK_EQ(accepted, seeds.size());  // the seeds themselves are valid
  accepted = 0;
  for (uint64_t i = 0; i < iterations; ++i) {
    const std::string& seed = seeds[i % seeds.size()];
    // Mostly one generation from a seed; sometimes a chain of generations.
    std::string input = mutate(seed, rng);
    if (i % 7 == 0) input = mutate(mutate(input, rng), rng);
    check_one(input, &accepted, &kinds);
  }
  // The mmap'd path too, on a sample written to disk.
  const std::string path = dir + "/fuzz.safetensors";
  for (int i = 0; i < 200; ++i) {
    const std::string input = mutate(seeds[static_cast<size_t>(i) % seeds.size()], rng);
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(input.data(), static_cast<std::streamsize>(input.size()));
    try {
      const SafetensorsFile file(path);
      for (const TensorView& t : file.tensors()) CHECK(t.nbytes == 0 || t.data != nullptr);
    } catch (const EngineError& e) {
      CHECK(std::string(e.what()).find(path) == 0);
    }
  }
  std::printf("  %llu mutated inputs: %llu accepted, %llu refused, %zu distinct messages (digits ignored)\n",
              static_cast<unsigned long long>(iterations), static_cast<unsigned long long>(accepted),
              static_cast<unsigned long long>(iterations - accepted), kinds.size());
  CHECK(kinds.size() >= 10);  // the mutations reach many different checks
}

TEST(fuzz_config_json_never_crashes_and_fails_cleanly) {
  const std::string seed = R"({"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 96,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100,
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192}, "eos_token_id": [1, 2], "s": "\u00e9\ud83d\ude00 \"q\""})";
  std::mt19937_64 rng(12345);
  const uint64_t iterations = iterations_from_env(40000) / 2;
  uint64_t accepted = 0;
  for (uint64_t i = 0; i < iterations; ++i) {
    std::string s = seed;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t at = static_cast<size_t>(rng() % s.size());
      switch (rng() % 5) {
        case 0: s[at] = static_cast<char>(s[at] ^ (1 << (rng() % 8))); break;
        case 1: s.erase(at, 1 + rng() % 6); break;
        case 2: s.insert(at, kTokens[rng() % std::size(kTokens)]); break;
        case 3: s.insert(at, kNumbers[rng() % std::size(kNumbers)]); break;
        default: s.resize(at); break;
      }
    }
    try {
      parse_model_config(s, "fuzz/config.json");
      ++accepted;
    } catch (const EngineError& e) {
      CHECK(std::string(e.what()).rfind("fuzz/config.json", 0) == 0);
    }
  }
  std::printf("  %llu mutated config.json texts: %llu accepted\n", static_cast<unsigned long long>(iterations),
              static_cast<unsigned long long>(accepted));
}
