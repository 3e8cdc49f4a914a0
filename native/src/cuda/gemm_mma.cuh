// The tensor-core GEMM kernel template (sm_80+): bf16 × bf16 → fp32 with mma.sync.m16n8k16, operands
// staged in shared memory by a STAGES-deep cp.async ring and read into fragments with ldmatrix.
// Instantiated per (tile, A operand, B operand) by gemm_mma_*.cu; launched only through gemm.cu.
// The decision to know: an NF4 B operand is copied raw (codes + absmax) through the same ring and
// dequantized in shared memory ONE tile ahead of the MMAs that read it (into two bf16 buffers), so a tile
// is dequantized once per block — not once per warp — and there is still one __syncthreads per k-tile.
// fp32 operands (LoRA factors) are loaded with plain loads and rounded to bf16 when stored to shared.
// M,N,K = GEMM dims; BM×BN = block tile, BK = k-tile; WTM×WTN = warp tile; MT×NT = mma tiles per warp.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <cstring>

#include "gemm_math.h"
#include "reduce.cuh"  // launch(), TS_DYNAMIC_SHARED: the same kernel source runs in the host emulator

namespace tunesmith {
namespace cuda {
namespace mma {

using bf16 = __nv_bfloat16;

// Where an operand tile comes from, and which of its dimensions is contiguous in global memory.
enum class Src { kBf16, kF32, kNf4 };
template <Src S, bool KMajor>
struct Operand {
  static constexpr Src src = S;
  static constexpr bool k_major = KMajor;  // A[m][k] / B[n][k] contiguous along k
};

template <int BM_, int BN_, int BK_, int WARPS_M_, int WARPS_N_, int STAGES_, int MIN_BLOCKS_>
struct Tile {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, WARPS_M = WARPS_M_, WARPS_N = WARPS_N_;
  static constexpr int STAGES = STAGES_, MIN_BLOCKS = MIN_BLOCKS_;
  static constexpr int kThreads = WARPS_M * WARPS_N * 32;
  static constexpr int WTM = BM / WARPS_M, WTN = BN / WARPS_N;
  static constexpr int MT = WTM / 16, NT = WTN / 8;
  static_assert(WTM % 16 == 0 && WTN % 16 == 0, "a warp tile is made of 16×16 ldmatrix.x4 blocks");
  static_assert(BK % 32 == 0, "k-tiles are whole NF4 16-byte chunks");
  static_assert(STAGES >= 3, "NF4 dequantizes one tile ahead, which needs three stages");
};

// The kernel's arguments (validated by gemm.cu). Indices into operands are int64.
struct Params {
  int M, N, K;
  const void* a;
  int64_t lda;
  const void* b;
  const uint8_t* codes;
  const float* absmax;
  int64_t ldb;
  void* c;
  int64_t ldc;
  bool c_bf16, accumulate, c_pairs;  // c_pairs: two adjacent outputs may be stored as one 8/4-byte word
  float alpha;
  const float* bias;
  float keep_p;
  uint64_t keep_seed;
  int64_t keep_ld;
  int tiles_m, tiles_n;
  // Split-K (skinny GEMMs): block (x, y) sums k-tiles [y·k_tiles_per_split, +k_tiles_per_split) and stores its
  // raw sums to partial[y][M][N]; gemm.cu's reduce kernel adds the splits in order and applies the epilogue.
  int splits = 1, k_tiles_per_split = 0;  // 0: one block does every k-tile, and the epilogue
  float* partial = nullptr;
};

// Shared-memory layout of one instantiation, in bytes. Rows are padded by 8 bf16 (16 bytes): ldmatrix
// reads 8 rows of 16 bytes at a stride of an odd number of 16-byte units, which hits 32 distinct banks.
template <class T, class OpA, class OpB>
struct Smem {
  static constexpr int A_ROWS = OpA::k_major ? T::BM : T::BK, A_COLS = OpA::k_major ? T::BK : T::BM;
  static constexpr int B_ROWS = OpB::k_major ? T::BN : T::BK, B_COLS = OpB::k_major ? T::BK : T::BN;
  static constexpr int A_LD = A_COLS + 8, B_LD = B_COLS + 8;
  static constexpr int A_ELEMS = A_ROWS * A_LD, B_ELEMS = B_ROWS * B_LD;
  static constexpr bool kNf4 = OpB::src == Src::kNf4;
  static constexpr int B_SLOTS = kNf4 ? 2 : T::STAGES;
  static constexpr int RAW_BYTES = kNf4 ? B_ROWS * B_COLS / 2 : 0;        // NF4 codes of one k-tile
  static constexpr int RAW_ABS = kNf4 ? B_ROWS * gemm_math::nf4_absmax_per_row(B_COLS) : 0;
  static_assert(!kNf4 || B_COLS == 32 || B_COLS % 64 == 0, "an NF4 tile row is half a block or whole blocks");
  static constexpr int A_OFFSET = 0;
  static constexpr int B_OFFSET = A_OFFSET + T::STAGES * A_ELEMS * 2;
  static constexpr int RAW_OFFSET = B_OFFSET + B_SLOTS * B_ELEMS * 2;
  static constexpr int ABS_OFFSET = RAW_OFFSET + T::STAGES * RAW_BYTES;
  static constexpr int LUT_OFFSET = ABS_OFFSET + T::STAGES * RAW_ABS * 4;  // NF4 code values [16]
  static constexpr int BYTES = LUT_OFFSET + (kNf4 ? 16 * 4 : 0);
  static_assert(B_OFFSET % 16 == 0 && RAW_OFFSET % 16 == 0 && ABS_OFFSET % 16 == 0, "16-byte aligned regions");
};

constexpr int kGroupM = 8;  // tile rows per rasterization group

// ---- PTX ----------------------------------------------------------------------------------------------
// Under the host emulator (native/tests/emu/, TS_CUDA_EMULATION) each instruction has a C++ twin that does
// what the PTX ISA says: cp.async copies at once (so commit/wait are no-ops), ldmatrix and mma exchange
// their operands across the warp through a per-thread table and warp barriers. The kernels above them
// are the same source, so their index math runs on the CPU (native/tests/gpu/ cases via
// tunesmith_gemm_emu_tests); what the emulator cannot check is timing, and the hardware's own layouts
// (those are pinned by cuda_gemm_math_test against the PTX ISA's tables).

#if defined(TS_CUDA_EMULATION)
struct u32x2 {
  uint32_t x, y;
};
struct u32x4 {
  uint32_t x, y, z, w;
};
inline u32x4 make_u32x4(uint32_t x, uint32_t y, uint32_t z, uint32_t w) { return u32x4{x, y, z, w}; }

inline void cp_async_16(void* dst, const void* src, int src_bytes) {
  std::memcpy(dst, src, size_t(src_bytes));
  std::memset(static_cast<unsigned char*>(dst) + src_bytes, 0, size_t(16 - src_bytes));
}
inline void cp_async_4(void* dst, const void* src, int src_bytes) {
  std::memcpy(dst, src, size_t(src_bytes));
  std::memset(static_cast<unsigned char*>(dst) + src_bytes, 0, size_t(4 - src_bytes));
}
inline void cp_async_commit() {}
template <int N>
inline void cp_async_wait() {}

namespace emu_warp {
inline const void* (&row_address())[1024] {
  static const void* table[1024];
  return table;
}
inline uint32_t (&fragments())[1024][6] {
  static uint32_t table[1024][6];  // a0..a3, b0, b1 of every thread of the block
  return table;
}
inline uint32_t half_of(const void* row, int element) {
  uint16_t h;
  std::memcpy(&h, static_cast<const unsigned char*>(row) + 2 * element, 2);
  return h;
}
inline float bf16_value(uint32_t reg, int half) {
  return tunesmith::dm::float_from_bf16_bits(static_cast<uint16_t>(half ? reg >> 16 : reg & 0xffffu));
}
// ldmatrix.x4: lane T gets, in register j, elements (T/4, 2(T%4)..+1) of matrix j — with .trans, elements
// (2(T%4), T/4) and (2(T%4)+1, T/4) — where lanes 8j..8j+7 gave matrix j's row addresses.
inline void ldmatrix(uint32_t (&r)[4], const void* p, bool trans) {
  const unsigned lane = threadIdx.x & 31u, base = threadIdx.x & ~31u;
  row_address()[threadIdx.x] = p;
  emu::warp_barrier();
  const int g = int(lane / 4), t = int(lane % 4);
  for (int j = 0; j < 4; ++j) {
    if (!trans) {
      const void* row = row_address()[base + 8 * j + g];
      r[j] = half_of(row, 2 * t) | half_of(row, 2 * t + 1) << 16;
    } else {
      r[j] = half_of(row_address()[base + 8 * j + 2 * t], g) | half_of(row_address()[base + 8 * j + 2 * t + 1], g) << 16;
    }
  }
  emu::warp_barrier();
}
}  // namespace emu_warp

inline void ldsm_x4(uint32_t (&r)[4], const void* p) { emu_warp::ldmatrix(r, p, false); }
inline void ldsm_x4_trans(uint32_t (&r)[4], const void* p) { emu_warp::ldmatrix(r, p, true); }
// m16n8k16, row.col: A(row, k) is in lane 4(row%8) + (k%8)/2, register (row≥8) + 2(k≥8), half k%2;
// B(k, n) in lane 4n + (k%8)/2, register (k≥8), half k%2. Each lane sums its four outputs over k in order.
inline void mma_16816(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  using namespace emu_warp;
  const unsigned lane = threadIdx.x & 31u, base = threadIdx.x & ~31u;
  for (int i = 0; i < 4; ++i) fragments()[threadIdx.x][i] = a[i];
  fragments()[threadIdx.x][4] = b[0];
  fragments()[threadIdx.x][5] = b[1];
  emu::warp_barrier();
  for (int i = 0; i < 4; ++i) {
    const gemm_math::RowCol c = gemm_math::mma_c_element(int(lane), i);
    float sum = d[i];
    for (int k = 0; k < 16; ++k) {
      const uint32_t* fa = fragments()[base + 4 * (c.row % 8) + (k % 8) / 2];
      const uint32_t* fb = fragments()[base + 4 * c.col + (k % 8) / 2];
      sum += bf16_value(fa[(c.row >= 8) + 2 * (k >= 8)], k % 2) * bf16_value(fb[4 + (k >= 8)], k % 2);
    }
    d[i] = sum;
  }
  emu::warp_barrier();
}
#else
using u32x2 = uint2;
using u32x4 = uint4;
__device__ __forceinline__ u32x4 make_u32x4(uint32_t x, uint32_t y, uint32_t z, uint32_t w) {
  return make_uint4(x, y, z, w);
}

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
// 16 bytes global -> shared, of which the first src_bytes are read and the rest zero-filled.
__device__ __forceinline__ void cp_async_16(void* dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_4(void* dst, const void* src, int src_bytes) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_u32(dst)), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(p)));
}
__device__ __forceinline__ void ldsm_x4_trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(p)));
}
// d[16×8] += a[16×16] · b[16×8], bf16 inputs, fp32 accumulators.
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#endif

__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x = lo = the low 16 bits
  uint32_t bits;
  memcpy(&bits, &v, 4);
  return bits;
}

// ---- tile loads (index math in gemm_math.h: dense_chunk, nf4_code_chunk, nf4_absmax_slot) -------------

template <int ROWS, int COLS, int THREADS>
__device__ __forceinline__ void load_tile_bf16(bf16* s, const bf16* g, int64_t ld, int n_rows, int n_cols, int row0,
                                               int col0, int tid) {
  constexpr int CHUNKS = ROWS * COLS / 8;
#pragma unroll
  for (int i = 0; i < (CHUNKS + THREADS - 1) / THREADS; ++i) {
    const int c = tid + i * THREADS;
    if (CHUNKS % THREADS == 0 || c < CHUNKS) {
      const gemm_math::Chunk k = gemm_math::dense_chunk(c, COLS, ld, n_rows, n_cols, row0, col0, 2);
      cp_async_16(s + k.smem, g + k.global, k.src_bytes);
    }
  }
}

template <int ROWS, int COLS, int THREADS>
__device__ __forceinline__ void load_tile_f32(bf16* s, const float* g, int64_t ld, int n_rows, int n_cols, int row0,
                                              int col0, int tid) {
  constexpr int CHUNKS = ROWS * COLS / 8;
#pragma unroll
  for (int i = 0; i < (CHUNKS + THREADS - 1) / THREADS; ++i) {
    const int c = tid + i * THREADS;
    if (CHUNKS % THREADS == 0 || c < CHUNKS) {
      const gemm_math::Chunk k = gemm_math::dense_chunk(c, COLS, ld, n_rows, n_cols, row0, col0, 4);
      const int valid = k.src_bytes / 4;
      float v[8];
#pragma unroll
      for (int q = 0; q < 8; ++q) v[q] = q < valid ? g[k.global + q] : 0.f;
      *reinterpret_cast<u32x4*>(s + k.smem) =
          make_u32x4(pack_bf16x2(v[0], v[1]), pack_bf16x2(v[2], v[3]), pack_bf16x2(v[4], v[5]), pack_bf16x2(v[6], v[7]));
    }
  }
}

// NF4 rows of the weight: codes [ROWS][COLS/2] bytes and absmax [ROWS][nf4_absmax_per_row(COLS)].
template <int ROWS, int COLS, int THREADS>
__device__ __forceinline__ void load_tile_nf4_raw(uint8_t* s_codes, float* s_abs, const uint8_t* codes,
                                                  const float* absmax, int64_t ld, int n_rows, int n_cols, int row0,
                                                  int col0, int tid) {
  constexpr int CHUNKS = ROWS * COLS / 32;
#pragma unroll
  for (int i = 0; i < (CHUNKS + THREADS - 1) / THREADS; ++i) {
    const int c = tid + i * THREADS;
    if (CHUNKS % THREADS == 0 || c < CHUNKS) {
      const gemm_math::Chunk k = gemm_math::nf4_code_chunk(c, COLS, ld, n_rows, n_cols, row0, col0);
      cp_async_16(s_codes + k.smem, codes + k.global, k.src_bytes);
    }
  }
  constexpr int ABS = ROWS * gemm_math::nf4_absmax_per_row(COLS);
#pragma unroll
  for (int i = 0; i < (ABS + THREADS - 1) / THREADS; ++i) {
    const int a = tid + i * THREADS;
    if (ABS % THREADS == 0 || a < ABS) {
      const gemm_math::Chunk k = gemm_math::nf4_absmax_slot(a, COLS, ld, n_rows, n_cols, row0, col0);
      cp_async_4(s_abs + k.smem, absmax + k.global, k.src_bytes);
    }
  }
}

// Raw NF4 tile -> bf16 tile [ROWS][COLS+8]: value = bf16(code value · absmax), the product in fp32, exactly
// as nf4_dequantize_bf16 and the CPU's dequantize_nf4 (then rounded once). 16 elements per step.
template <int ROWS, int COLS, int THREADS>
__device__ __forceinline__ void dequantize_tile(bf16* s, const uint8_t* s_codes, const float* s_abs,
                                                const float* lut, int tid) {
  constexpr int GROUPS = ROWS * COLS / 16;
#pragma unroll
  for (int i = 0; i < (GROUPS + THREADS - 1) / THREADS; ++i) {
    const int q = tid + i * THREADS;
    if (GROUPS % THREADS == 0 || q < GROUPS) {
      const gemm_math::Nf4Group grp = gemm_math::nf4_dequant_group(q, COLS);
      const u32x2 w = *reinterpret_cast<const u32x2*>(s_codes + grp.code_byte);
      const float scale = s_abs[grp.absmax_slot];
      uint32_t out[8];
#pragma unroll
      for (int j = 0; j < 8; ++j)
        out[j] = pack_bf16x2(lut[gemm_math::nf4_code_in_words(w.x, w.y, 2 * j)] * scale,
                             lut[gemm_math::nf4_code_in_words(w.x, w.y, 2 * j + 1)] * scale);
      u32x4* dst = reinterpret_cast<u32x4*>(s + grp.out_elem);
      dst[0] = make_u32x4(out[0], out[1], out[2], out[3]);
      dst[1] = make_u32x4(out[4], out[5], out[6], out[7]);
    }
  }
}

// Loads operand OP's k-tile `kt` into its stage `slot`. `rows0` = the block's first row of A (m0) or
// column of B (n0); `extent` = M or N. K-major: global [extent][K]; MN-major: global [K][extent].
template <class T, class OP, int ROWS_MN>
__device__ __forceinline__ void load_operand(bf16* s, uint8_t* s_codes, float* s_abs, const void* data,
                                             const uint8_t* codes, const float* absmax, int64_t ld, int extent,
                                             int K, int rows0, int kt, int tid) {
  constexpr int R = OP::k_major ? ROWS_MN : T::BK, C = OP::k_major ? T::BK : ROWS_MN;
  const int n_rows = OP::k_major ? extent : K, n_cols = OP::k_major ? K : extent;
  const int row0 = OP::k_major ? rows0 : kt * T::BK, col0 = OP::k_major ? kt * T::BK : rows0;
  if constexpr (OP::src == Src::kBf16) {
    load_tile_bf16<R, C, T::kThreads>(s, static_cast<const bf16*>(data), ld, n_rows, n_cols, row0, col0, tid);
  } else if constexpr (OP::src == Src::kF32) {
    load_tile_f32<R, C, T::kThreads>(s, static_cast<const float*>(data), ld, n_rows, n_cols, row0, col0, tid);
  } else {
    load_tile_nf4_raw<R, C, T::kThreads>(s_codes, s_abs, codes, absmax, ld, n_rows, n_cols, row0, col0, tid);
  }
}

// ---- MMAs over one k-tile -------------------------------------------------------------------------------

template <class T, class OpA, class OpB>
__device__ __forceinline__ void mma_k_tile(const bf16* sA, const bf16* sB, float (&acc)[T::MT][T::NT][4], int wm0,
                                           int wn0, int lane) {
  using L = Smem<T, OpA, OpB>;
  const gemm_math::RowCol la = OpA::k_major ? gemm_math::ldsm_a_kmajor(lane) : gemm_math::ldsm_a_mmajor(lane);
  const gemm_math::RowCol lb = OpB::k_major ? gemm_math::ldsm_b_kmajor(lane) : gemm_math::ldsm_b_nmajor(lane);
#pragma unroll
  for (int kk = 0; kk < T::BK; kk += 16) {
    uint32_t a[T::MT][4];
    uint32_t b[T::NT][2];
#pragma unroll
    for (int mt = 0; mt < T::MT; ++mt) {
      const int m = wm0 + mt * 16;
      if constexpr (OpA::k_major) {
        ldsm_x4(a[mt], sA + (m + la.row) * L::A_LD + kk + la.col);
      } else {
        ldsm_x4_trans(a[mt], sA + (kk + la.row) * L::A_LD + m + la.col);
      }
    }
#pragma unroll
    for (int np = 0; np < T::NT / 2; ++np) {
      const int n = wn0 + np * 16;
      uint32_t r[4];
      if constexpr (OpB::k_major) {
        ldsm_x4(r, sB + (n + lb.row) * L::B_LD + kk + lb.col);
      } else {
        ldsm_x4_trans(r, sB + (kk + lb.row) * L::B_LD + n + lb.col);
      }
      b[2 * np][0] = r[0];
      b[2 * np][1] = r[1];
      b[2 * np + 1][0] = r[2];
      b[2 * np + 1][1] = r[3];
    }
#pragma unroll
    for (int mt = 0; mt < T::MT; ++mt)
#pragma unroll
      for (int nt = 0; nt < T::NT; ++nt) mma_16816(acc[mt][nt], a[mt], b[nt]);
  }
}

// ---- epilogue ---------------------------------------------------------------------------------------------

// Outputs (row, col) and (row, col + 1) of C; col is even. Applies alpha, the keep mask, bias, accumulate.
__device__ __forceinline__ void store_pair(const Params& p, int row, int col, float v0, float v1) {
  float v[2] = {v0, v1};
  const bool two = col + 1 < p.N;
#pragma unroll
  for (int q = 0; q < 2; ++q) {
    v[q] *= p.alpha;
    if (p.keep_p > 0.f) {
      const uint64_t e = static_cast<uint64_t>(static_cast<int64_t>(row) * p.keep_ld + col + q);
      if (gemm_math::hash_uniform_hd(p.keep_seed, e) < p.keep_p) v[q] = 0.f;
    }
    if (p.bias && (q == 0 || two)) v[q] += p.bias[col + q];
  }
  const int64_t at = static_cast<int64_t>(row) * p.ldc + col;
  if (p.c_bf16) {
    bf16* c = static_cast<bf16*>(p.c) + at;
    if (two && p.c_pairs) {
      if (p.accumulate) {
        const float2 old = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(c));
        v[0] += old.x;
        v[1] += old.y;
      }
      *reinterpret_cast<__nv_bfloat162*>(c) = __floats2bfloat162_rn(v[0], v[1]);
    } else {
      for (int q = 0; q < (two ? 2 : 1); ++q)
        c[q] = __float2bfloat16_rn(p.accumulate ? v[q] + __bfloat162float(c[q]) : v[q]);
    }
  } else {
    float* c = static_cast<float*>(p.c) + at;
    if (two && p.c_pairs) {
      if (p.accumulate) {
        const float2 old = *reinterpret_cast<const float2*>(c);
        v[0] += old.x;
        v[1] += old.y;
      }
      *reinterpret_cast<float2*>(c) = make_float2(v[0], v[1]);
    } else {
      for (int q = 0; q < (two ? 2 : 1); ++q) c[q] = p.accumulate ? v[q] + c[q] : v[q];
    }
  }
}

// ---- the kernel ---------------------------------------------------------------------------------------------
// One block computes one BM×BN tile of C. Pipeline, for k-tile kt (S = STAGES):
//   wait until tile kt (NF4: kt+1) has landed; __syncthreads;
//   issue the copies of tile kt+S-1 into the slot tile kt-1 used (everyone finished it: the barrier);
//   NF4 only: dequantize raw tile kt+1 into bf16 buffer (kt+1)%2 (last read by tile kt-1's MMAs);
//   MMAs of tile kt.
// Empty commit groups keep the wait counts uniform at the tail.
template <class T, class OpA, class OpB>
__global__ void __launch_bounds__(T::kThreads, T::MIN_BLOCKS) gemm_mma_kernel(const Params p) {
  using L = Smem<T, OpA, OpB>;
  constexpr int S = T::STAGES;
  TS_DYNAMIC_SHARED(smem);
  bf16* sA = reinterpret_cast<bf16*>(smem + L::A_OFFSET);
  bf16* sB = reinterpret_cast<bf16*>(smem + L::B_OFFSET);
  uint8_t* sRaw = smem + L::RAW_OFFSET;
  float* sAbs = reinterpret_cast<float*>(smem + L::ABS_OFFSET);
  float* lut = reinterpret_cast<float*>(smem + L::LUT_OFFSET);

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm0 = (warp % T::WARPS_M) * T::WTM, wn0 = (warp / T::WARPS_M) * T::WTN;
  if constexpr (L::kNf4) {
    if (tid < 16) lut[tid] = dm::nf4_code_value(static_cast<unsigned>(tid));
  }
  const gemm_math::TileCoord tile = gemm_math::grouped_tile(blockIdx.x, p.tiles_m, p.tiles_n, kGroupM);
  const int m0 = tile.m * T::BM, n0 = tile.n * T::BN;
  // This block's k-tiles: kt0 .. kt0 + KT - 1 (all of them unless split-K). Below, kt counts from 0 locally.
  const int all_k_tiles = static_cast<int>(gemm_math::ceil_div(p.K, T::BK));
  const int kt0 = p.k_tiles_per_split > 0 ? static_cast<int>(blockIdx.y) * p.k_tiles_per_split : 0;
  const int KT = p.k_tiles_per_split > 0 ? min(all_k_tiles - kt0, p.k_tiles_per_split) : all_k_tiles;

  auto load_stage = [&](int kt, int slot) {
    load_operand<T, OpA, T::BM>(sA + slot * L::A_ELEMS, nullptr, nullptr, p.a, nullptr, nullptr, p.lda, p.M, p.K, m0,
                                kt0 + kt, tid);
    if constexpr (L::kNf4) {
      load_operand<T, OpB, T::BN>(nullptr, sRaw + slot * L::RAW_BYTES, sAbs + slot * L::RAW_ABS, nullptr, p.codes,
                                  p.absmax, p.ldb, p.N, p.K, n0, kt0 + kt, tid);
    } else {
      load_operand<T, OpB, T::BN>(sB + slot * L::B_ELEMS, nullptr, nullptr, p.b, nullptr, nullptr, p.ldb, p.N, p.K,
                                  n0, kt0 + kt, tid);
    }
  };
  auto dequantize_stage = [&](int kt) {
    dequantize_tile<L::B_ROWS, L::B_COLS, T::kThreads>(sB + (kt % 2) * L::B_ELEMS, sRaw + (kt % S) * L::RAW_BYTES,
                                                       sAbs + (kt % S) * L::RAW_ABS, lut, tid);
  };

  float acc[T::MT][T::NT][4];
#pragma unroll
  for (int mt = 0; mt < T::MT; ++mt)
#pragma unroll
    for (int nt = 0; nt < T::NT; ++nt)
#pragma unroll
      for (int i = 0; i < 4; ++i) acc[mt][nt][i] = 0.f;

#pragma unroll
  for (int s = 0; s < S - 1; ++s) {
    if (s < KT) load_stage(s, s);
    cp_async_commit();
  }
  if constexpr (L::kNf4) {
    cp_async_wait<S - 2>();  // tile 0
    __syncthreads();         // ... of every thread, and the LUT
    if (KT > 0) dequantize_stage(0);
  }

  for (int kt = 0; kt < KT; ++kt) {
    if constexpr (L::kNf4) {
      cp_async_wait<S - 3>();  // tiles kt and kt+1
    } else {
      cp_async_wait<S - 2>();  // tile kt
    }
    __syncthreads();
    const int next = kt + S - 1;
    if (next < KT) load_stage(next, next % S);
    cp_async_commit();
    if constexpr (L::kNf4) {
      if (kt + 1 < KT) dequantize_stage(kt + 1);
    }
    mma_k_tile<T, OpA, OpB>(sA + (kt % S) * L::A_ELEMS, sB + (kt % L::B_SLOTS) * L::B_ELEMS, acc, wm0, wn0, lane);
  }
  cp_async_wait<0>();

  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int mt = 0; mt < T::MT; ++mt) {
#pragma unroll
    for (int nt = 0; nt < T::NT; ++nt) {
      const int col = n0 + wn0 + nt * 8 + 2 * t;
      if (col >= p.N) continue;
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int row = m0 + wm0 + mt * 16 + g + half * 8;
        if (row >= p.M) continue;
        if (p.partial) {
          float* out = p.partial + (static_cast<int64_t>(blockIdx.y) * p.M + row) * p.N + col;
          out[0] = acc[mt][nt][2 * half];
          if (col + 1 < p.N) out[1] = acc[mt][nt][2 * half + 1];
        } else {
          store_pair(p, row, col, acc[mt][nt][2 * half], acc[mt][nt][2 * half + 1]);
        }
      }
    }
  }
}

// ---- the launcher, run() (explicitly instantiated by gemm_mma_*.cu; gemm.cu calls it after validating) ---
// Raises the block's shared-memory limit once per device (an opt-in above 48 KiB).
template <class T, class OpA, class OpB>
cudaError_t run(const Params& p, cudaStream_t stream) {
  using L = Smem<T, OpA, OpB>;
  auto kernel = gemm_mma_kernel<T, OpA, OpB>;
#if !defined(TS_CUDA_EMULATION)
  if (L::BYTES > 48 * 1024) {
    static std::atomic<uint64_t> configured{0};  // bit d: done on device d (d < 64)
    int device = 0;
    cudaError_t e = cudaGetDevice(&device);
    if (e != cudaSuccess) return e;
    const uint64_t bit = device < 64 ? (uint64_t{1} << device) : 0;
    if (bit == 0 || (configured.load(std::memory_order_relaxed) & bit) == 0) {
      e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, L::BYTES);
      if (e != cudaSuccess) return e;
      configured.fetch_or(bit, std::memory_order_relaxed);
    }
  }
#endif
  const int64_t blocks = static_cast<int64_t>(p.tiles_m) * p.tiles_n;
  cuda::launch(kernel, dim3(static_cast<unsigned>(blocks), static_cast<unsigned>(p.splits)), dim3(T::kThreads),
               L::BYTES, stream, p);
  return cudaGetLastError();
}

// The tile shapes gemm.cu chooses from.
using TileLarge = Tile<128, 128, 32, 2, 4, 4, 2>;  // 8 warps of 64×32
using TileSmall = Tile<64, 64, 32, 2, 2, 4, 4>;    // 4 warps of 32×32

// Operands: A or B, source type, K-major (A row-major, B transposed) or MN-major.
using ABf16K = Operand<Src::kBf16, true>;
using ABf16M = Operand<Src::kBf16, false>;
using AF32K = Operand<Src::kF32, true>;
using AF32M = Operand<Src::kF32, false>;
using BBf16K = Operand<Src::kBf16, true>;
using BBf16N = Operand<Src::kBf16, false>;
using BNf4K = Operand<Src::kNf4, true>;
using BNf4N = Operand<Src::kNf4, false>;
using BF32K = Operand<Src::kF32, true>;
using BF32N = Operand<Src::kF32, false>;

// Every instantiation, and the file that compiles it (split so a many-core build compiles them in
// parallel). The projections: x·Wᵀ and dy·W with W bf16 or NF4, both tiles. LoRA's GEMMs (lora_matmul.cu
// rounds A, B, u, du to bf16 first, so all but dyᵀ·u and duᵀ·x are bf16K·bf16K or bf16K·bf16N): the
// transposed-A pair bf16M·bf16N, and the fp32 forms for a rank whose bf16 rows are not 16-byte multiples:
// u = x·Aᵀ (bf16K·f32K), y += s·u·Bᵀ (f32K·f32K), dB += s·dyᵀ·u (bf16M·f32N), du = s·dy·B (bf16K·f32N),
// dA += duᵀ·x (f32M·bf16N), dx += du·A (f32K·f32N). Other combinations take gemm.cu's simple kernel.
#define TS_GEMM_MMA_BF16_INSTANCES(X) \
  X(TileLarge, ABf16K, BBf16K)        \
  X(TileSmall, ABf16K, BBf16K)        \
  X(TileLarge, ABf16K, BBf16N)        \
  X(TileSmall, ABf16K, BBf16N)
#define TS_GEMM_MMA_NF4_INSTANCES(X) \
  X(TileLarge, ABf16K, BNf4K)        \
  X(TileSmall, ABf16K, BNf4K)        \
  X(TileLarge, ABf16K, BNf4N)        \
  X(TileSmall, ABf16K, BNf4N)
#define TS_GEMM_MMA_LORA_INSTANCES(X) \
  X(TileSmall, ABf16M, BBf16N)        \
  X(TileSmall, ABf16K, BF32K)         \
  X(TileSmall, AF32K, BF32K)          \
  X(TileSmall, ABf16M, BF32N)         \
  X(TileSmall, ABf16K, BF32N)         \
  X(TileSmall, AF32M, BBf16N)         \
  X(TileSmall, AF32K, BF32N)

#define TS_GEMM_MMA_EXTERN(T, A, B) extern template cudaError_t run<T, A, B>(const Params&, cudaStream_t);
#define TS_GEMM_MMA_DEFINE(T, A, B) template cudaError_t run<T, A, B>(const Params&, cudaStream_t);
TS_GEMM_MMA_BF16_INSTANCES(TS_GEMM_MMA_EXTERN)
TS_GEMM_MMA_NF4_INSTANCES(TS_GEMM_MMA_EXTERN)
TS_GEMM_MMA_LORA_INSTANCES(TS_GEMM_MMA_EXTERN)

}  // namespace mma
}  // namespace cuda
}  // namespace tunesmith
