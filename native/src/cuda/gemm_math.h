// Index math of the tensor-core GEMM, free of CUDA headers so the CPU test runner checks it with g++
// (native/tests/cuda_gemm_math_test.cpp): NF4 nibble order in a 16-element group, the lanes' ldmatrix
// row addresses and the mma.sync m16n8k16 fragment maps, the tile rasterization, the bounds of 16-byte
// copies and the dropout hash (bf16 rounding and NF4 code values are device_math.h's).
// The decision to know: shared-memory tiles are stored with their contiguous dimension innermost
// ("K-major" [rows][k] or "MN-major" [k][rows]); a K-major tile feeds mma through plain ldmatrix, an
// MN-major tile through ldmatrix.trans, so one compute loop serves every layout.
// M,N,K = GEMM dims; g = lane / 4 (fragment row group), t = lane % 4 (thread in group).
#pragma once

#include <cstdint>

#include "device_math.h"  // TS_HD, bf16 rounding, NF4 code values

namespace tunesmith {
namespace gemm_math {

TS_HD int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
TS_HD int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// ---- NF4 (bitsandbytes layout, formats.md §7) --------------------------------------------------------
// (dm::nf4_code_at reads element e of a packed weight one at a time; a tile reads 16 at once:)
// Element j (0..15) of 8 packed bytes read as two little-endian 32-bit words w0 (bytes 0-3), w1 (4-7).
TS_HD int nf4_code_in_words(uint32_t w0, uint32_t w1, int j) {
  const int byte = j >> 1;
  const uint32_t word = byte < 4 ? w0 : w1;
  const int shift = 8 * (byte & 3) + ((j & 1) ? 0 : 4);
  return static_cast<int>((word >> shift) & 0x0fu);
}
// Index of the absmax of element (row, col) of a weight with `ld` columns (blocks of 64 flat elements).
TS_HD int64_t nf4_absmax_index(int64_t row, int64_t col, int64_t ld) { return (row * ld + col) / 64; }

// ---- tile copies: global [rows][cols] (cols contiguous, leading dimension ld) -> shared ------------------
// A k-tile of an operand is copied in 16-byte chunks, a row's chunks first, so consecutive threads copy
// consecutive bytes. Rows at or past n_rows and columns at or past n_cols become zeros (cp.async reads
// src_bytes and zero-fills the rest), so edge tiles need no other care. Shared rows of bf16 are padded
// by 8 elements (see gemm_mma.cuh); raw NF4 rows are not padded.
struct Chunk {
  int smem;        // element offset (bf16/f32 tiles) or byte offset (NF4 codes) in the shared tile
  int64_t global;  // element offset (bf16/f32) or byte offset (NF4 codes) in the global matrix
  int row, col;    // in the tile
  int src_bytes;   // bytes to read; 0 = all zeros (global then points at the matrix start)
};

// bf16 or fp32 tile with `cols` columns: chunk c = 8 elements (16 bytes of bf16 in shared).
TS_HD Chunk dense_chunk(int c, int cols, int64_t ld, int n_rows, int n_cols, int row0, int col0, int elem_bytes) {
  const int per_row = cols / 8, r = c / per_row, cc = (c % per_row) * 8;
  const int gr = row0 + r, gc = col0 + cc;
  const int valid = gr < n_rows ? clamp_int(n_cols - gc, 0, 8) : 0;
  return Chunk{r * (cols + 8) + cc, valid > 0 ? int64_t(gr) * ld + gc : 0, r, cc, valid * elem_bytes};
}

// NF4 codes of a weight tile with `cols` columns: chunk c = 16 bytes = 32 elements, all in range or all
// out (the tensor-core path requires n_cols % 32 == 0 and ld % 64 == 0, so chunks never straddle).
TS_HD Chunk nf4_code_chunk(int c, int cols, int64_t ld, int n_rows, int n_cols, int row0, int col0) {
  const int per_row = cols / 32, r = c / per_row, cc = (c % per_row) * 32;
  const int gr = row0 + r, gc = col0 + cc;
  const bool valid = gr < n_rows && gc < n_cols;
  return Chunk{r * (cols / 2) + cc / 2, valid ? (int64_t(gr) * ld + gc) / 2 : 0, r, cc, valid ? 16 : 0};
}

// absmax values per row of an NF4 tile: a 32-wide row is half of one block, wider rows whole blocks.
TS_HD constexpr int nf4_absmax_per_row(int cols) { return cols >= 64 ? cols / 64 : 1; }

// absmax slot a of the tile: its shared index is a itself; global = the block of its first element.
TS_HD Chunk nf4_absmax_slot(int a, int cols, int64_t ld, int n_rows, int n_cols, int row0, int col0) {
  const int per_row = nf4_absmax_per_row(cols), r = a / per_row, cc = (a % per_row) * 64;
  const int gr = row0 + r, gc = col0 + cc;
  const bool valid = gr < n_rows && gc < n_cols;
  return Chunk{a, valid ? nf4_absmax_index(gr, gc, ld) : 0, r, cc, valid ? 4 : 0};
}

// Dequantization step q of an NF4 tile (16 elements): where its 8 code bytes and its absmax are in the
// raw tile, and where its 16 bf16 go in the padded bf16 tile.
struct Nf4Group {
  int code_byte, absmax_slot, out_elem;
};
TS_HD Nf4Group nf4_dequant_group(int q, int cols) {
  const int per_row = cols / 16, r = q / per_row, c = (q % per_row) * 16;
  return Nf4Group{r * (cols / 2) + c / 2, r * nf4_absmax_per_row(cols) + c / 64, r * (cols + 8) + c};
}

// ---- rasterization --------------------------------------------------------------------------------
// Block `pid` of a grid of tiles_m × tiles_n output tiles, visited in groups of `group_m` tile rows so
// that blocks running together share rows of A and columns of B in L2 (Triton's grouped ordering).
struct TileCoord {
  int m, n;
};
TS_HD TileCoord grouped_tile(int pid, int tiles_m, int tiles_n, int group_m) {
  const int per_group = group_m * tiles_n;
  const int group = pid / per_group;
  const int first_m = group * group_m;
  const int rows_in_group = (tiles_m - first_m) < group_m ? (tiles_m - first_m) : group_m;
  const int in_group = pid - group * per_group;
  return TileCoord{first_m + in_group % rows_in_group, in_group / rows_in_group};
}

// ---- ldmatrix row addresses and mma fragments -------------------------------------------------------
// ldmatrix.x4: lanes 8j..8j+7 give the row addresses of 8×8 matrix j; the result register j of every
// lane holds matrix j. Each function returns the (storage row, storage column) of the first of the 8
// contiguous bf16 that `lane` points at, for a 16×16 block at the origin of a tile stored as named.
struct RowCol {
  int row, col;
};
// A[m][k] stored [m][k]: registers = a0..a3 of m16n8k16 (rows 0-7|8-15 × k 0-7, then × k 8-15).
TS_HD RowCol ldsm_a_kmajor(int lane) { return RowCol{lane % 16, (lane / 16) * 8}; }
// A[m][k] stored [k][m] (ldmatrix.trans): the same four registers.
TS_HD RowCol ldsm_a_mmajor(int lane) { return RowCol{(lane / 16) * 8 + lane % 8, ((lane / 8) % 2) * 8}; }
// B[k][n] stored [n][k]: registers = {b0, b1} of n 0-7, then {b0, b1} of n 8-15.
TS_HD RowCol ldsm_b_kmajor(int lane) { return RowCol{(lane / 16) * 8 + lane % 8, ((lane / 8) % 2) * 8}; }
// B[k][n] stored [k][n] (ldmatrix.trans): the same four registers.
TS_HD RowCol ldsm_b_nmajor(int lane) { return RowCol{((lane / 8) % 2) * 8 + lane % 8, (lane / 16) * 8}; }

// Accumulator element i (0..3) of `lane` in the 16×8 C fragment of mma.m16n8k16.
TS_HD RowCol mma_c_element(int lane, int i) { return RowCol{lane / 4 + (i >= 2 ? 8 : 0), 2 * (lane % 4) + (i & 1)}; }

// ---- numbers --------------------------------------------------------------------------------------
// hash_uniform of ops.h (the LoRA dropout mask), callable on the device: the same value everywhere.
TS_HD float hash_uniform_hd(uint64_t seed, uint64_t index) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
}

}  // namespace gemm_math
}  // namespace tunesmith
