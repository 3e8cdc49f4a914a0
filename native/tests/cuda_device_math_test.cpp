// The CUDA kernels' host-testable math (src/cuda/device_math.h) on the host: bf16 rounding, the online
// softmax the flash-attention kernels stream with, the causal/window tile ranges that decide which tiles a
// kernel visits, and NF4 decoding against the CPU backend's table. Also the device arena's out-of-memory
// message (src/cuda/arena.h), which a person reads when a model does not fit.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cuda/arena.h"
#include "cuda/device_math.h"
#include "nf4.h"
#include "test_framework.h"

using namespace tunesmith;

namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// The reference rounding, spelled out the slow way: the two bf16 neighbours, pick the nearer, ties to even.
uint16_t bf16_reference(float f) {
  const uint32_t u = bits_of(f);
  const uint16_t down = uint16_t(u >> 16);
  const uint32_t rest = u & 0xffffu;
  if (rest < 0x8000u) return down;
  if (rest > 0x8000u) return uint16_t(down + 1);
  return (down & 1) ? uint16_t(down + 1) : down;
}

}  // namespace

TEST(cuda_bf16_rounds_to_nearest_even) {
  CHECK_EQ(dm::bf16_bits_from_float(1.0f), uint16_t(0x3f80));
  CHECK_EQ(dm::bf16_bits_from_float(-2.0f), uint16_t(0xc000));
  // 1 + 2^-8 lies exactly between 1 and 1 + 2^-7: ties go to the even neighbour, 1.
  CHECK_EQ(dm::round_to_bf16(1.0f + std::ldexp(1.0f, -8)), 1.0f);
  // 1 + 3·2^-8 lies between 1 + 2^-7 (odd) and 1 + 2^-6 (even): up.
  CHECK_EQ(dm::round_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -6));
  CHECK_EQ(dm::round_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 1.0f + std::ldexp(1.0f, -7));
  CHECK(std::isinf(dm::round_to_bf16(3.4e38f)));  // past the largest bf16 (≈3.39e38)
  CHECK(std::isinf(dm::round_to_bf16(INFINITY)) && dm::round_to_bf16(-INFINITY) < 0);
  CHECK(std::isnan(dm::round_to_bf16(NAN)));
  CHECK(std::isnan(dm::round_to_bf16(dm::float_from_bits(0x7f800001u))));  // a NaN whose payload would round to inf
  CHECK_EQ(dm::bf16_bits_from_float(-0.0f), uint16_t(0x8000));
  CHECK_EQ(dm::round_to_bf16(1e-40f), dm::float_from_bf16_bits(uint16_t(bits_of(1e-40f) >> 16)));  // subnormals kept
  std::mt19937 rng(5);
  std::uniform_int_distribution<uint32_t> any;
  for (int i = 0; i < 200000; ++i) {
    const float f = dm::float_from_bits(any(rng));
    if (std::isnan(f)) continue;
    const uint16_t got = dm::bf16_bits_from_float(f), want = bf16_reference(f);
    if (got != want) CHECK_EQ(got, want);
    const float back = dm::float_from_bf16_bits(got);
    if (std::isfinite(back) && std::fabs(f) >= 1.2e-38f)  // (subnormals have absolute, not relative, spacing)
      CHECK(std::fabs(back - f) <= std::fabs(f) * std::ldexp(1.0, -8));
  }
}

TEST(cuda_online_softmax_equals_the_two_pass_softmax) {
  std::mt19937 rng(11);
  std::normal_distribution<float> score(0.f, 4.f);
  for (int trial = 0; trial < 50; ++trial) {
    const int n = 1 + trial * 7, tile = 1 + trial % 9;
    std::vector<float> s(n), v(n);
    for (int i = 0; i < n; ++i) {
      s[i] = (i % 5 == 3) ? -INFINITY : score(rng);  // some masked keys
      v[i] = score(rng);
    }
    // Two passes in double.
    double mx = -INFINITY;
    for (float x : s) mx = std::max(mx, double(x));
    double sum = 0, weighted = 0;
    for (int i = 0; i < n; ++i)
      if (s[i] != -INFINITY) sum += std::exp(s[i] - mx), weighted += std::exp(s[i] - mx) * v[i];
    // Streamed in tiles, the way the kernels do it: per tile its max and its sum, then update.
    dm::SoftmaxState st = dm::softmax_empty();
    float acc = 0.f;
    for (int t0 = 0; t0 < n; t0 += tile) {
      const int t1 = std::min(n, t0 + tile);
      float tmax = -INFINITY;
      for (int i = t0; i < t1; ++i) tmax = std::max(tmax, s[i]);
      const float m_new = dm::softmax_next_max(st, tmax);
      float tsum = 0.f, tacc = 0.f;
      for (int i = t0; i < t1; ++i) {
        const float p = dm::softmax_weight(s[i], m_new);
        tsum += p, tacc += p * v[i];
      }
      const float keep = dm::softmax_rescale(st.m, m_new);
      acc = acc * keep + tacc;
      st.l = st.l * keep + tsum;
      st.m = m_new;
      CHECK(std::isfinite(st.l) && std::isfinite(acc));
    }
    if (sum == 0) {  // every key masked
      CHECK(st.m == -INFINITY && st.l == 0.f && dm::softmax_lse(st) == -INFINITY);
      continue;
    }
    CHECK_NEAR(dm::softmax_lse(st), mx + std::log(sum), 1e-5 * (1 + std::fabs(mx)));
    CHECK_NEAR(acc / st.l, weighted / sum, 1e-5 * (1 + std::fabs(weighted / sum)));

    // The whole-tile update (softmax_update) and the split-K merge reach the same state.
    dm::SoftmaxState whole = dm::softmax_empty(), left = dm::softmax_empty(), right = dm::softmax_empty();
    for (int t0 = 0; t0 < n; t0 += tile) {
      const int t1 = std::min(n, t0 + tile);
      float tmax = -INFINITY;
      for (int i = t0; i < t1; ++i) tmax = std::max(tmax, s[i]);
      float tsum = 0.f;
      for (int i = t0; i < t1; ++i) tsum += dm::softmax_weight(s[i], tmax);
      dm::softmax_update(whole, tmax, tsum);
      dm::softmax_update(t0 < n / 2 ? left : right, tmax, tsum);
    }
    float wa = 0, wb = 0;
    const dm::SoftmaxState merged = dm::softmax_merge(left, right, &wa, &wb);
    CHECK_NEAR(dm::softmax_lse(whole), mx + std::log(sum), 1e-5 * (1 + std::fabs(mx)));
    CHECK_NEAR(dm::softmax_lse(merged), mx + std::log(sum), 1e-5 * (1 + std::fabs(mx)));
    CHECK(std::isfinite(wa) && std::isfinite(wb));
  }
  // Merging with an empty state changes nothing and makes no NaN.
  float wa = -1, wb = -1;
  const dm::SoftmaxState a{2.f, 3.f};
  const dm::SoftmaxState m = dm::softmax_merge(a, dm::softmax_empty(), &wa, &wb);
  CHECK(m.m == 2.f && m.l == 3.f && wa == 1.f && wb == 0.f);
  const dm::SoftmaxState e = dm::softmax_merge(dm::softmax_empty(), dm::softmax_empty(), &wa, &wb);
  CHECK(e.m == -INFINITY && e.l == 0.f && wa == 0.f && wb == 0.f);
}

TEST(cuda_attention_tile_ranges_cover_exactly_the_visible_pairs) {
  for (int window : {0, 1, 3, 40, 64, 100}) {
    for (int T : {1, 7, 64, 129, 200}) {
      for (int B : {16, 64}) {
        for (int q0 = 0; q0 < T; q0 += B) {
          const int q1 = std::min(T, q0 + B);
          int lo = 0, hi = 0;
          dm::keys_for_queries(q0, q1, window, &lo, &hi);
          for (int t = q0; t < q1; ++t)
            for (int j = 0; j < T; ++j)
              if (dm::key_visible(t, j, window)) CHECK(j >= lo && j < hi);
          // Tight: the first and the last key of the range are seen by some query of the block.
          bool first_seen = false, last_seen = false;
          for (int t = q0; t < q1; ++t)
            first_seen |= dm::key_visible(t, lo, window), last_seen |= dm::key_visible(t, hi - 1, window);
          CHECK(first_seen && last_seen);
          for (int k0 = lo; k0 < hi; k0 += B) {
            const int k1 = std::min(hi, k0 + B);
            bool all = true;
            for (int t = q0; t < q1; ++t)
              for (int j = k0; j < k1; ++j) all = all && dm::key_visible(t, j, window);
            CHECK_EQ(dm::tile_fully_visible(q0, q1, k0, k1, window), all);
          }
        }
        for (int k0 = 0; k0 < T; k0 += B) {
          const int k1 = std::min(T, k0 + B);
          int lo = 0, hi = 0;
          dm::queries_for_keys(k0, k1, T, window, &lo, &hi);
          for (int t = 0; t < T; ++t)
            for (int j = k0; j < k1; ++j)
              if (dm::key_visible(t, j, window)) CHECK(t >= lo && t < hi);
          CHECK(lo < hi);
          bool first_sees = false, last_sees = false;
          for (int j = k0; j < k1; ++j)
            first_sees |= dm::key_visible(lo, j, window), last_sees |= dm::key_visible(hi - 1, j, window);
          CHECK(first_sees && last_sees);
        }
      }
    }
  }
  CHECK_EQ(dm::first_visible_key(10, 3), 8);
  CHECK_EQ(dm::first_visible_key(1, 3), 0);
  CHECK_EQ(dm::first_visible_key(10, 0), 0);
  CHECK_EQ(dm::ceil_div(129, 64), 3);
}

TEST(cuda_nf4_decoding_matches_the_cpu_table) {
  for (unsigned c = 0; c < 16; ++c) CHECK_EQ(bits_of(dm::nf4_code_value(c)), bits_of(kNf4Code[c]));
  std::mt19937 rng(3);
  std::normal_distribution<float> w(0.f, 0.02f);
  for (int64_t n : {1, 63, 64, 65, 129, 1000}) {
    std::vector<float> x(n), want(n);
    for (auto& v : x) v = w(rng);
    std::vector<uint8_t> packed(nf4_packed_bytes(n));
    std::vector<float> absmax(nf4_blocks(n));
    quantize_nf4(x.data(), n, packed.data(), absmax.data());
    dequantize_nf4(packed.data(), absmax.data(), n, want.data());
    for (int64_t i = 0; i < n; ++i)
      CHECK_EQ(bits_of(dm::nf4_dequant_at(packed.data(), absmax.data(), i)), bits_of(want[i]));
  }
}

TEST(cuda_out_of_memory_message_names_the_numbers_and_what_to_do) {
  const std::string m = cuda::out_of_memory_message("activations", int64_t(12.34 * 1e9), int64_t(7.9 * 1e9), "");
  CHECK(m.find("needs ≈12.3 GB, 7.9 GB free") != std::string::npos);
  CHECK(m.find("activations") != std::string::npos);
  CHECK(m.find("lower max length or enable gradient checkpointing") != std::string::npos);
  const std::string w = cuda::out_of_memory_message("the frozen base model", int64_t(80e9), int64_t(5e8), "use NF4");
  CHECK(w.find("needs ≈80.0 GB, 0.5 GB free") != std::string::npos && w.find("use NF4") != std::string::npos);
}
