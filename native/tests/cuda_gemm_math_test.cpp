// The tensor-core GEMM's index math (src/cuda/gemm_math.h), checked on the host without a GPU: the kernel
// calls these same functions, so each test replays what the kernel does with them — copying tiles chunk
// by chunk, dequantizing NF4 groups, handing ldmatrix its row addresses — and compares the result with an
// independent reference (the CPU's NF4 dequantization, the PTX ISA's fragment layouts).
// M,N,K = GEMM dims; lane = thread in a warp; g = lane / 4, t = lane % 4.
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cuda/gemm_math.h"
#include "nf4.h"
#include "ops.h"
#include "test_framework.h"

using namespace tunesmith;
using namespace tunesmith::gemm_math;

namespace {

// ldmatrix.x4 as the PTX ISA defines it: lanes 8j..8j+7 give the addresses of rows 0..7 of matrix j; lane
// T receives in register j elements (T/4, 2(T%4)) and (T/4, 2(T%4)+1) of matrix j — or, with .trans, of
// its transpose: (2(T%4), T/4) and (2(T%4)+1, T/4). `tile` holds 16-bit values, row stride ld.
// Returns, per lane and register, the two values (low half first).
using Regs = std::vector<std::vector<std::pair<int, int>>>;
Regs ldmatrix_x4(const std::vector<int>& tile, int ld, const std::vector<RowCol>& lane_rows, bool trans) {
  Regs out(32, std::vector<std::pair<int, int>>(4));
  for (int j = 0; j < 4; ++j) {
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane / 4, t = lane % 4;
      auto at = [&](int r, int c) {
        const RowCol base = lane_rows[8 * j + r];
        return tile[base.row * ld + base.col + c];
      };
      out[lane][j] = trans ? std::make_pair(at(2 * t, g), at(2 * t + 1, g)) : std::make_pair(at(g, 2 * t), at(g, 2 * t + 1));
    }
  }
  return out;
}

// Logical elements get unique ids: A[m][k] = 1000 + m·16 + k, B[k][n] = 5000 + k·16 + n.
int a_id(int m, int k) { return 1000 + m * 16 + k; }
int b_id(int k, int n) { return 5000 + k * 16 + n; }

// A 16×16 block stored at (row 3, column 8) of a padded tile, to catch offsets that only work at 0.
constexpr int kLd = 16 + 8 + 8, kRow0 = 3, kCol0 = 8;

std::vector<RowCol> lane_addresses(RowCol (*f)(int)) {
  std::vector<RowCol> rows(32);
  for (int lane = 0; lane < 32; ++lane) {
    const RowCol rc = f(lane);
    rows[lane] = RowCol{kRow0 + rc.row, kCol0 + rc.col};
  }
  return rows;
}

}  // namespace

TEST(gemm_nf4_words_are_high_nibble_first) {
  const uint8_t bytes[8] = {0xA5, 0x0F, 0xF0, 0x12, 0x34, 0x56, 0x78, 0x9B};
  uint32_t w0, w1;
  std::memcpy(&w0, bytes, 4);  // little-endian, as the GPU's 8-byte load
  std::memcpy(&w1, bytes + 4, 4);
  CHECK_EQ(nf4_code_in_words(w0, w1, 0), 0xA);  // element 0 = high nibble of byte 0
  CHECK_EQ(nf4_code_in_words(w0, w1, 1), 0x5);
  CHECK_EQ(nf4_code_in_words(w0, w1, 15), 0xB);
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    uint8_t b[8];
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    std::memcpy(&w0, b, 4);
    std::memcpy(&w1, b + 4, 4);
    for (int j = 0; j < 16; ++j) CHECK_EQ(nf4_code_in_words(w0, w1, j), static_cast<int>(dm::nf4_code_at(b, j)));
  }
}

TEST(gemm_ldmatrix_addresses_give_the_mma_fragments) {
  // mma.m16n8k16 (PTX ISA, bf16): a0..a3 = A(g, 2t..) A(g+8, 2t..) A(g, 2t+8..) A(g+8, 2t+8..);
  // b0, b1 = B(2t.., g) B(2t+8.., g) for n-tile 0, and the same with n + 8 for n-tile 1 (x4 = two n-tiles).
  std::vector<int> a_kmajor(kLd * kLd, -1), a_mmajor(kLd * kLd, -1), b_kmajor(kLd * kLd, -1), b_nmajor(kLd * kLd, -1);
  for (int i = 0; i < 16; ++i)
    for (int k = 0; k < 16; ++k) {
      a_kmajor[(kRow0 + i) * kLd + kCol0 + k] = a_id(i, k);  // [m][k]
      a_mmajor[(kRow0 + k) * kLd + kCol0 + i] = a_id(i, k);  // [k][m]
      b_kmajor[(kRow0 + i) * kLd + kCol0 + k] = b_id(k, i);  // [n][k], i = n
      b_nmajor[(kRow0 + k) * kLd + kCol0 + i] = b_id(k, i);  // [k][n]
    }
  const Regs ak = ldmatrix_x4(a_kmajor, kLd, lane_addresses(ldsm_a_kmajor), false);
  const Regs am = ldmatrix_x4(a_mmajor, kLd, lane_addresses(ldsm_a_mmajor), true);
  const Regs bk = ldmatrix_x4(b_kmajor, kLd, lane_addresses(ldsm_b_kmajor), false);
  const Regs bn = ldmatrix_x4(b_nmajor, kLd, lane_addresses(ldsm_b_nmajor), true);
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    const std::pair<int, int> want_a[4] = {{a_id(g, 2 * t), a_id(g, 2 * t + 1)},
                                           {a_id(g + 8, 2 * t), a_id(g + 8, 2 * t + 1)},
                                           {a_id(g, 2 * t + 8), a_id(g, 2 * t + 9)},
                                           {a_id(g + 8, 2 * t + 8), a_id(g + 8, 2 * t + 9)}};
    const std::pair<int, int> want_b[4] = {{b_id(2 * t, g), b_id(2 * t + 1, g)},
                                           {b_id(2 * t + 8, g), b_id(2 * t + 9, g)},
                                           {b_id(2 * t, g + 8), b_id(2 * t + 1, g + 8)},
                                           {b_id(2 * t + 8, g + 8), b_id(2 * t + 9, g + 8)}};
    for (int r = 0; r < 4; ++r) {
      const std::string where = "lane " + std::to_string(lane) + " register " + std::to_string(r);
      CHECK_MSG(ak[lane][r] == want_a[r], "A K-major, " + where);
      CHECK_MSG(am[lane][r] == want_a[r], "A M-major (.trans), " + where);
      CHECK_MSG(bk[lane][r] == want_b[r], "B K-major, " + where);
      CHECK_MSG(bn[lane][r] == want_b[r], "B N-major (.trans), " + where);
    }
  }
}

TEST(gemm_accumulator_fragment_covers_the_tile_once) {
  std::set<std::pair<int, int>> seen;
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i) {
      const RowCol rc = mma_c_element(lane, i);
      CHECK(rc.row >= 0 && rc.row < 16 && rc.col >= 0 && rc.col < 8);
      CHECK(seen.insert({rc.row, rc.col}).second);
      if (i % 2 == 1) CHECK_EQ(rc.col, mma_c_element(lane, i - 1).col + 1);  // pairs are adjacent columns
    }
  CHECK_EQ(seen.size(), size_t{128});
  // The PTX ISA's c0 of lane 5: row 5/4 = 1, column 2·(5%4) = 2; c3 of lane 30: row 7+8, column 2·2+1.
  CHECK_EQ(mma_c_element(5, 0).row, 1);
  CHECK_EQ(mma_c_element(5, 0).col, 2);
  CHECK_EQ(mma_c_element(30, 3).row, 15);
  CHECK_EQ(mma_c_element(30, 3).col, 5);
}

TEST(gemm_grouped_raster_visits_every_tile_once) {
  const int shapes[][2] = {{1, 1}, {16, 32}, {16, 8}, {17, 5}, {3, 112}, {9, 9}, {112, 16}};
  for (const auto& shape : shapes) {
    const int tm = shape[0], tn = shape[1];
    std::vector<int> hits(static_cast<size_t>(tm) * tn, 0);
    for (int pid = 0; pid < tm * tn; ++pid) {
      const TileCoord c = grouped_tile(pid, tm, tn, 8);
      CHECK_MSG(c.m >= 0 && c.m < tm && c.n >= 0 && c.n < tn, std::to_string(tm) + "x" + std::to_string(tn));
      ++hits[static_cast<size_t>(c.m) * tn + c.n];
    }
    for (int h : hits) CHECK_EQ(h, 1);
  }
  // Consecutive blocks walk down a group of 8 tile rows before moving to the next column.
  CHECK_EQ(grouped_tile(7, 16, 32, 8).m, 7);
  CHECK_EQ(grouped_tile(8, 16, 32, 8).m, 0);
  CHECK_EQ(grouped_tile(8, 16, 32, 8).n, 1);
}

TEST(gemm_dense_tile_copy_zero_fills_the_edges) {
  // A 37×45 matrix (ld 48) copied as 64×32 tiles [rows][cols + 8], chunk by chunk as cp.async does.
  const int n_rows = 37, n_cols = 45, ld = 48, ROWS = 64, COLS = 32;
  std::vector<float> g(static_cast<size_t>(n_rows) * ld);
  for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>(i + 1);
  const int origins[][2] = {{0, 0}, {0, 32}, {32, 0}, {32, 32}};
  for (const auto& o : origins) {
    std::vector<float> s(static_cast<size_t>(ROWS) * (COLS + 8), -1.f);
    for (int c = 0; c < ROWS * COLS / 8; ++c) {
      const Chunk k = dense_chunk(c, COLS, ld, n_rows, n_cols, o[0], o[1], 4);
      CHECK(k.src_bytes % 4 == 0 && k.src_bytes <= 32);
      for (int q = 0; q < 8; ++q) s[k.smem + q] = q < k.src_bytes / 4 ? g[k.global + q] : 0.f;
    }
    for (int r = 0; r < ROWS; ++r)
      for (int c = 0; c < COLS + 8; ++c) {
        const int gr = o[0] + r, gc = o[1] + c;
        const float want = c >= COLS ? -1.f : (gr < n_rows && gc < n_cols ? g[gr * ld + gc] : 0.f);
        CHECK_MSG(s[r * (COLS + 8) + c] == want, "tile (" + std::to_string(o[0]) + "," + std::to_string(o[1]) +
                                                     ") element (" + std::to_string(r) + "," + std::to_string(c) + ")");
      }
  }
}

TEST(gemm_nf4_tile_load_and_dequantize_match_the_cpu) {
  // W[O, I] quantized by the CPU; tiles as the kernel sees them: forward (B K-major: rows = O, cols = I,
  // tile [BN][BK]) and backward (B N-major: rows = O as k, cols = I as n, tile [BK][BN]). Both end with a
  // bf16 tile [rows][cols + 8] that must equal bf16(dequantize_nf4(W)) inside and 0 outside.
  const int O = 100, I = 192;  // O not a multiple of any tile; I = 3 blocks per row
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0.f, 0.02f);
  std::vector<float> w(static_cast<size_t>(O) * I);
  for (auto& x : w) x = d(rng);
  std::vector<uint8_t> codes(nf4_packed_bytes(w.size()));
  std::vector<float> absmax(nf4_blocks(w.size()));
  quantize_nf4(w.data(), static_cast<int64_t>(w.size()), codes.data(), absmax.data());
  std::vector<float> ref(w.size());
  dequantize_nf4(codes.data(), absmax.data(), static_cast<int64_t>(w.size()), ref.data());

  struct Case {
    int rows, cols, row0, col0;
  };
  const Case cases[] = {
      {128, 32, 0, 0}, {128, 32, 0, 32}, {128, 32, 0, 160}, {64, 32, 64, 96},    // forward: [BN][BK]
      {32, 128, 0, 0}, {32, 128, 96, 128}, {32, 64, 64, 128}, {32, 64, 0, 64}};  // backward: [BK][BN]
  for (const Case& cs : cases) {
    const std::string name = std::to_string(cs.rows) + "x" + std::to_string(cs.cols) + " at (" +
                             std::to_string(cs.row0) + "," + std::to_string(cs.col0) + ")";
    std::vector<uint8_t> raw(static_cast<size_t>(cs.rows) * cs.cols / 2, 0xEE);
    std::vector<float> raw_abs(static_cast<size_t>(cs.rows) * nf4_absmax_per_row(cs.cols), -7.f);
    for (int c = 0; c < cs.rows * cs.cols / 32; ++c) {
      const Chunk k = nf4_code_chunk(c, cs.cols, I, O, I, cs.row0, cs.col0);
      CHECK(k.src_bytes == 0 || k.src_bytes == 16);
      for (int b = 0; b < 16; ++b) raw[k.smem + b] = b < k.src_bytes ? codes[k.global + b] : 0;
    }
    for (int a = 0; a < static_cast<int>(raw_abs.size()); ++a) {
      const Chunk k = nf4_absmax_slot(a, cs.cols, I, O, I, cs.row0, cs.col0);
      raw_abs[k.smem] = k.src_bytes ? absmax[k.global] : 0.f;
    }
    std::vector<uint16_t> tile(static_cast<size_t>(cs.rows) * (cs.cols + 8), 0xFFFF);
    for (int q = 0; q < cs.rows * cs.cols / 16; ++q) {
      const Nf4Group grp = nf4_dequant_group(q, cs.cols);
      uint32_t w0, w1;
      std::memcpy(&w0, &raw[grp.code_byte], 4);
      std::memcpy(&w1, &raw[grp.code_byte + 4], 4);
      for (int j = 0; j < 16; ++j)
        tile[grp.out_elem + j] =
            dm::bf16_bits_from_float(dm::nf4_code_value(nf4_code_in_words(w0, w1, j)) * raw_abs[grp.absmax_slot]);
    }
    for (int r = 0; r < cs.rows; ++r)
      for (int c = 0; c < cs.cols; ++c) {
        const int gr = cs.row0 + r, gc = cs.col0 + c;
        const float want = gr < O && gc < I ? ref[static_cast<size_t>(gr) * I + gc] : 0.f;
        const float got = dm::float_from_bf16_bits(tile[r * (cs.cols + 8) + c]);
        CHECK_MSG(got == dm::round_to_bf16(want),
                  name + " element (" + std::to_string(r) + "," + std::to_string(c) + "): " + std::to_string(got) +
                      " vs " + std::to_string(want));
      }
  }
}

TEST(gemm_dropout_hash_matches_the_cpu) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 10000; ++i) {
    const uint64_t seed = rng(), index = rng() >> (i % 40);
    CHECK_EQ(hash_uniform_hd(seed, index), hash_uniform(seed, index));
  }
}
