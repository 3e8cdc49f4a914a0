// NF4 and double quantization: properties here, bit-for-bit agreement with the independent Python
// reference (test/reference/nf4_reference.py) in nf4_matches_python_reference.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "nf4.h"
#include "safetensors.h"
#include "test_framework.h"

using namespace tunesmith;

namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

uint8_t code_at(const std::vector<uint8_t>& packed, int64_t i) {
  const uint8_t byte = packed[static_cast<size_t>(i / 2)];
  return (i & 1) ? (byte & 0x0f) : (byte >> 4);
}

}  // namespace

TEST(nf4_tree_thresholds_send_ties_to_the_lower_code) {
  for (int k = 0; k < 15; ++k) {
    const float t = kNf4Midpoints[k];
    CHECK_EQ(nf4_code_of(t), static_cast<uint8_t>(k));
    CHECK_EQ(nf4_code_of(std::nextafter(t, 2.0f)), static_cast<uint8_t>(k + 1));
    CHECK_EQ(nf4_code_of(std::nextafter(t, -2.0f)), static_cast<uint8_t>(k));
    // Each threshold lies between the two code values it separates.
    CHECK(kNf4Code[k] < t && t < kNf4Code[k + 1]);
  }
  CHECK_EQ(nf4_code_of(-1.0f), 0);
  CHECK_EQ(nf4_code_of(0.0f), 7);
  CHECK_EQ(nf4_code_of(-0.0f), 7);
  CHECK_EQ(nf4_code_of(1.0f), 15);
  CHECK_EQ(nf4_code_of(std::nanf("")), 0);
  for (int c = 0; c < 16; ++c) CHECK_EQ(nf4_code_of(kNf4Code[c]), static_cast<uint8_t>(c));
}

TEST(nf4_quantize_packs_high_nibble_first_and_scales_by_block) {
  std::vector<float> w(130);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.0f;
  w[0] = -1.0f;  // block 0: absmax 1, element 0 -> code 0 (high nibble)
  w[1] = 1.0f;   // element 1 -> code 15 (low nibble)
  w[64] = 4.0f;  // block 1: absmax 4
  w[65] = 1.0f;  // 0.25 -> code 10 (0.2461)
  w[128] = -2.0f;  // block 2 (partial, 2 elements)
  std::vector<uint8_t> packed(nf4_packed_bytes(130));
  std::vector<float> absmax(nf4_blocks(130));
  quantize_nf4(w.data(), 130, packed.data(), absmax.data());
  CHECK_EQ(packed.size(), size_t{65});
  CHECK_EQ(absmax.size(), size_t{3});
  CHECK_EQ(packed[0], 0x0f);
  CHECK_EQ(packed[2], 0x77);  // zeros in a nonzero block -> code 7
  CHECK_EQ(absmax[0], 1.0f);
  CHECK_EQ(absmax[1], 4.0f);
  CHECK_EQ(packed[32], static_cast<uint8_t>((15 << 4) | 10));
  CHECK_EQ(absmax[2], 2.0f);
  CHECK_EQ(packed[64], static_cast<uint8_t>((0 << 4) | 7));
}

TEST(nf4_zero_blocks_and_odd_tails_match_bnb) {
  // An all-zero block: absmax 0, 0 * (1/0) = NaN -> code 0 everywhere (bnb's kernel does the same).
  std::vector<float> zeros(64 + 3, 0.0f);
  zeros[64] = 0.5f;  // second block nonzero, three elements: its padding element is code 7
  std::vector<uint8_t> packed(nf4_packed_bytes(67));
  std::vector<float> absmax(nf4_blocks(67));
  quantize_nf4(zeros.data(), 67, packed.data(), absmax.data());
  for (int i = 0; i < 32; ++i) CHECK_EQ(packed[i], 0x00);
  CHECK_EQ(absmax[0], 0.0f);
  CHECK_EQ(packed[32], 0xf7);
  CHECK_EQ(packed[33], 0x77);  // element 66 (0 -> 7) and the padding (7)
  std::vector<float> out(67);
  dequantize_nf4(packed.data(), absmax.data(), 67, out.data());
  for (int i = 0; i < 64; ++i) CHECK(out[i] == 0.0f);  // -0.0f
  CHECK_EQ(out[64], 0.5f);
  // A lone odd element in a zero block: the padding is NaN-coded too.
  float one_zero = 0.0f;
  uint8_t byte = 0xaa;
  float amax = -1;
  quantize_nf4(&one_zero, 1, &byte, &amax);
  CHECK_EQ(byte, 0x00);
  CHECK_EQ(amax, 0.0f);
}

TEST(nf4_roundtrip_error_is_within_half_a_code_gap) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  const int64_t n = 64 * 37 + 11;
  std::vector<float> w(n), out(n);
  for (auto& v : w) v = normal(rng);
  std::vector<uint8_t> packed(nf4_packed_bytes(n));
  std::vector<float> absmax(nf4_blocks(n));
  quantize_nf4(w.data(), n, packed.data(), absmax.data());
  dequantize_nf4(packed.data(), absmax.data(), n, out.data());
  float max_gap = 0;
  for (int k = 0; k < 15; ++k) max_gap = std::fmax(max_gap, kNf4Code[k + 1] - kNf4Code[k]);
  for (int64_t i = 0; i < n; ++i) {
    const float a = absmax[i / 64];
    CHECK(std::fabs(out[i] - w[i]) <= a * max_gap / 2 * 1.0001f);
    CHECK_EQ(out[i], kNf4Code[code_at(packed, i)] * a);
  }
}

TEST(nf4_dequantize_range_matches_the_full_tensor_for_any_begin) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uni(-3.0f, 3.0f);
  const int64_t n = 64 * 5 + 33;
  std::vector<float> w(n), full(n);
  for (auto& v : w) v = uni(rng);
  std::vector<uint8_t> packed(nf4_packed_bytes(n));
  std::vector<float> absmax(nf4_blocks(n));
  quantize_nf4(w.data(), n, packed.data(), absmax.data());
  dequantize_nf4(packed.data(), absmax.data(), n, full.data());
  for (const int64_t begin : {0, 1, 2, 63, 64, 65, 127, 200, 351, 352}) {
    for (const int64_t count : {0, 1, 2, 3, 64, 65}) {
      if (begin + count > n) continue;
      std::vector<float> part(static_cast<size_t>(count) + 1, 123.0f);
      dequantize_nf4_range(packed.data(), absmax.data(), begin, count, part.data());
      for (int64_t i = 0; i < count; ++i) CHECK_EQ(bits_of(part[i]), bits_of(full[begin + i]));
      CHECK_EQ(part[count], 123.0f);  // writes exactly `count` values
    }
  }
}

TEST(nf4_double_quantization_restores_absmax_closely) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uni(0.001f, 0.2f);
  const int64_t nb = 1000;
  std::vector<float> absmax(nb), restored(nb);
  for (auto& v : absmax) v = uni(rng);
  std::vector<uint8_t> q(nb);
  std::vector<float> absmax2(dq_blocks(nb));
  float offset = 0;
  double_quantize_absmax(absmax.data(), nb, q.data(), absmax2.data(), &offset);
  double mean = 0;
  for (float v : absmax) mean += v;
  CHECK_NEAR(offset, mean / nb, 1e-6);
  dequantize_absmax(q.data(), absmax2.data(), offset, nb, restored.data());
  for (int64_t i = 0; i < nb; ++i) {
    // The dynamic code's steps near +-1 are 1/64 wide; relative to the block's range that is < 1%.
    CHECK(std::fabs(restored[i] - absmax[i]) <= absmax2[i / 256] * 0.0075f);
  }
  // The code book: 256 ascending values from -0.99296874 to 1 with 0 in it.
  for (int i = 1; i < 256; ++i) CHECK(kDynamicCode[i - 1] < kDynamicCode[i]);
  CHECK_EQ(kDynamicCode[255], 1.0f);
  CHECK_NEAR(kDynamicCode[0], -0.99296874, 1e-7);
  // Every code value maps back to its own index.
  for (int i = 0; i < 256; ++i) CHECK_EQ(dynamic_code_index(kDynamicCode, kDynamicCode[i]), static_cast<uint8_t>(i));
}

namespace {

std::string python_command() {
  if (const char* p = std::getenv("TUNESMITH_PYTHON")) return p;
  return "/usr/bin/python3";
}

template <typename T>
std::vector<T> tensor_values(const SafetensorsFile& file, const std::string& name) {
  const TensorView* t = file.find(name);
  if (t == nullptr) throw std::runtime_error("the reference file has no tensor " + name);
  std::vector<T> out(static_cast<size_t>(t->nbytes / sizeof(T)));
  if (t->nbytes > 0) std::memcpy(out.data(), t->data, static_cast<size_t>(t->nbytes));
  return out;
}

}  // namespace

TEST(nf4_matches_python_reference) {
#ifdef _WIN32
  SKIP("the Python reference runs on Linux and macOS CI");
#else
  const std::string python = python_command();
  if (std::system((python + " -c 'import numpy' >/dev/null 2>&1").c_str()) != 0) {
    SKIP(python + " has no numpy; install python3-numpy (Debian) to compare NF4 with the Python reference");
  }
  const std::string out = tstest::temp_dir() + "/nf4_ref.safetensors";
  const std::string script = std::string(TUNESMITH_SOURCE_DIR) + "/test/reference/nf4_reference.py";
  const std::string command = python + " '" + script + "' --out '" + out + "' > '" + out + ".log' 2>&1";
  const int status = std::system(command.c_str());
  std::string log;
  if (std::FILE* f = std::fopen((out + ".log").c_str(), "rb")) {
    char buf[4096];
    size_t got;
    while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) log.append(buf, got);
    std::fclose(f);
  }
  CHECK_MSG(status == 0, "the reference script failed: " + log);

  const SafetensorsFile ref(out);
  // Thresholds: the script rounds bnb's decimal literals exactly; the engine compiles them as floats.
  const std::vector<float> thresholds = tensor_values<float>(ref, "nf4_thresholds");
  CHECK_EQ(thresholds.size(), size_t{15});
  for (int k = 0; k < 15; ++k) CHECK_EQ(bits_of(thresholds[k]), bits_of(kNf4Midpoints[k]));

  int64_t values = 0, bytes = 0, scales = 0;
  for (int k = 0;; ++k) {
    const std::string prefix = "case" + std::to_string(k) + ".";
    if (ref.find(prefix + "input") == nullptr) break;
    const std::vector<float> input = tensor_values<float>(ref, prefix + "input");
    const std::vector<uint8_t> want_packed = tensor_values<uint8_t>(ref, prefix + "packed");
    const std::vector<float> want_absmax = tensor_values<float>(ref, prefix + "absmax");
    const std::vector<float> want_dequant = tensor_values<float>(ref, prefix + "dequant");
    const auto n = static_cast<int64_t>(input.size());
    std::vector<uint8_t> packed(nf4_packed_bytes(n));
    std::vector<float> absmax(nf4_blocks(n)), dequant(n);
    quantize_nf4(input.data(), n, packed.data(), absmax.data());
    dequantize_nf4(packed.data(), absmax.data(), n, dequant.data());
    CHECK_EQ(packed.size(), want_packed.size());
    CHECK_EQ(absmax.size(), want_absmax.size());
    for (size_t i = 0; i < packed.size(); ++i) {
      if (packed[i] != want_packed[i]) {
        tstest::fail(__FILE__, __LINE__,
                     prefix + "packed byte " + std::to_string(i) + ": engine " + std::to_string(packed[i]) +
                         ", reference " + std::to_string(want_packed[i]) + " (inputs " +
                         tstest::show(input[2 * i]) + ", " +
                         (2 * i + 1 < input.size() ? tstest::show(input[2 * i + 1]) : std::string("pad")) + ")");
      }
    }
    for (size_t i = 0; i < absmax.size(); ++i) CHECK_EQ(bits_of(absmax[i]), bits_of(want_absmax[i]));
    for (size_t i = 0; i < dequant.size(); ++i) CHECK_EQ(bits_of(dequant[i]), bits_of(want_dequant[i]));
    values += n;
    bytes += static_cast<int64_t>(packed.size());
    scales += static_cast<int64_t>(absmax.size());
  }
  CHECK(values > 100000);

  int64_t dq_values = 0;
  if (ref.find("dynamic_code") != nullptr) {
    const std::vector<float> code = tensor_values<float>(ref, "dynamic_code");
    CHECK_EQ(code.size(), size_t{256});
    for (int i = 0; i < 256; ++i) CHECK_EQ(bits_of(code[i]), bits_of(kDynamicCode[i]));
    for (int k = 0;; ++k) {
      const std::string prefix = "dq" + std::to_string(k) + ".";
      if (ref.find(prefix + "absmax") == nullptr) break;
      const std::vector<float> in = tensor_values<float>(ref, prefix + "absmax");
      const auto nb = static_cast<int64_t>(in.size());
      std::vector<uint8_t> q(nb);
      std::vector<float> absmax2(dq_blocks(nb)), restored(nb);
      float offset = 0;
      double_quantize_absmax(in.data(), nb, q.data(), absmax2.data(), &offset);
      dequantize_absmax(q.data(), absmax2.data(), offset, nb, restored.data());
      CHECK_EQ(bits_of(offset), bits_of(tensor_values<float>(ref, prefix + "offset").at(0)));
      CHECK_EQ(q, tensor_values<uint8_t>(ref, prefix + "qabsmax"));
      const std::vector<float> want2 = tensor_values<float>(ref, prefix + "absmax2");
      for (size_t i = 0; i < absmax2.size(); ++i) CHECK_EQ(bits_of(absmax2[i]), bits_of(want2[i]));
      const std::vector<float> want_restored = tensor_values<float>(ref, prefix + "dequant");
      for (size_t i = 0; i < restored.size(); ++i) CHECK_EQ(bits_of(restored[i]), bits_of(want_restored[i]));
      dq_values += nb;
    }
    CHECK(dq_values > 1000);
  }
  std::printf("  compared %lld NF4 values (%lld packed bytes, %lld absmax) and %lld double-quantized absmax "
              "bit for bit%s\n",
              static_cast<long long>(values), static_cast<long long>(bytes), static_cast<long long>(scales),
              static_cast<long long>(dq_values), dq_values == 0 ? " (no torch: dynamic code not compared)" : "");
#endif
}
