// Causal grouped-query attention with an optional sliding window, CUDA twin of src/cpu/attention.cpp, in
// the flash-attention style: no T×T matrix exists. Forward: a block owns 64 query rows of one head of one
// sequence, streams K/V through shared memory in tiles of 64 keys with an online softmax, and saves each
// row's log-sum-exp. Backward (FlashAttention-2's math, P recomputed from the saved lse): dK/dV and dQ
// come from two kernels that each OWN their outputs — one block per key tile (all query heads of its KV
// group), one per query tile — so there are no atomics and the result is the same on every run.
// The decision to know: this is the straightforward shared-memory kernel with fp32 FMAs (bf16 storage,
// fp32 scores, probabilities and accumulators): correctness first; a tensor-core variant must beat it in
// native/dev/ and pass the same parity cases before it replaces it.
// Threads: 128 per block as a 16×8 grid (ty = tid/8 owns rows, tx = tid%8 owns columns tx + 8j);
// the 8 lanes sharing a ty are consecutive lanes of one warp, so row reductions are 3 shuffles.
// Shared rows are padded to MAXD+4 bf16 (an odd number of 4-byte words plus 2): the row-strided reads of
// the 8 tx lanes fall in distinct banks. Head dims up to 128 (MAXD 32, 64, 128; D ≤ MAXD, D even).
// N=tokens H=query heads KV=key/value heads D=head_dim T=sequence length S=sequences
#include <cmath>
#include <mutex>

#include "cuda_check.h"
#include "device_math.h"
#include "reduce.cuh"

namespace tunesmith {
namespace cuda {

constexpr int kThreads = 128;
constexpr int kFwdRows = 64;   // query rows per forward block
constexpr int kFwdKeys = 64;   // keys per forward tile
constexpr int kDqRows = 64;    // query rows per dQ block
constexpr int kDqKeys = 32;    // keys per dQ tile
constexpr int kDkvKeys = 32;   // keys per dK/dV block
constexpr int kDkvRows = 64;   // query rows per dK/dV tile

template <int MAXD>
struct Tile {
  static constexpr int kRow = MAXD + 4;   // bf16 per shared row
  static constexpr int kRow2 = kRow / 2;  // bf16x2 per shared row
  static constexpr int kPairs = MAXD / 16;  // output pairs per thread: columns 2(tx + 8i), +1
};

// rows [0, rows) of a [rows, MAXD] shared tile ← bf16 rows of global memory: tile row r is token
// base + r (row stride ld elements, columns col0 .. col0+D); rows with r ≥ valid and columns ≥ D are 0.
template <int MAXD>
static __device__ __forceinline__ void load_tile(__nv_bfloat162* tile, const bf16* src, int64_t base, int valid,
                                                 int rows, int64_t ld, int64_t col0, int D) {
  constexpr int kRow2 = Tile<MAXD>::kRow2;
  const int pairs = MAXD / 2, d2 = D / 2;
  const __nv_bfloat162 zero = __floats2bfloat162_rn(0.f, 0.f);
  for (int e = threadIdx.x; e < rows * pairs; e += blockDim.x) {
    const int r = e / pairs, p = e % pairs;
    __nv_bfloat162 value = zero;
    if (r < valid && p < d2)
      value = *reinterpret_cast<const __nv_bfloat162*>(src + (base + r) * ld + col0 + 2 * p);
    tile[r * kRow2 + p] = value;
  }
}

// ---- forward ---------------------------------------------------------------------------------------------

// out[N,H*D] bf16, lse[N,H] f32; q[N,H*D], k/v[N,KV*D] bf16. Grid (q tiles, S, H).
template <int MAXD>
static __global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v, const int* seq_start,
                             const int* seq_len, int H, int KV, int D, int window, float scale) {
  using TL = Tile<MAXD>;
  const int T = seq_len[blockIdx.y], start = seq_start[blockIdx.y], h = blockIdx.z;
  const int q0 = blockIdx.x * kFwdRows;
  if (q0 >= T) return;  // the whole block: no barrier is skipped by some threads only
  const int g = h / (H / KV);
  const int64_t qs = int64_t(H) * D, kvs = int64_t(KV) * D;  // token strides
  const int q1 = min(T, q0 + kFwdRows);

  TS_DYNAMIC_SHARED(smem);
  __nv_bfloat162* Qs = reinterpret_cast<__nv_bfloat162*>(smem);  // [64][kRow2]
  __nv_bfloat162* Ks = Qs + kFwdRows * TL::kRow2;                // [64][kRow2]
  __nv_bfloat162* Vs = Ks + kFwdKeys * TL::kRow2;                // [64][kRow2]
  float* Ps = reinterpret_cast<float*>(Vs + kFwdKeys * TL::kRow2);  // [64][65]

  const int ty = threadIdx.x >> 3, tx = threadIdx.x & 7;
  load_tile<MAXD>(Qs, q, start + q0, q1 - q0, kFwdRows, qs, int64_t(h) * D, D);

  float m[4], l[4], acc[4][2 * TL::kPairs];
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    m[r] = -INFINITY, l[r] = 0.f;
#pragma unroll
    for (int c = 0; c < 2 * TL::kPairs; ++c) acc[r][c] = 0.f;
  }

  int lo, hi;
  dm::keys_for_queries(q0, q1, window, &lo, &hi);
  for (int k0 = lo; k0 < hi; k0 += kFwdKeys) {
    const int nk = min(kFwdKeys, hi - k0);
    __syncthreads();  // the previous tile's readers are done with Ks, Vs, Ps
    load_tile<MAXD>(Ks, k, start + k0, nk, kFwdKeys, kvs, int64_t(g) * D, D);
    load_tile<MAXD>(Vs, v, start + k0, nk, kFwdKeys, kvs, int64_t(g) * D, D);
    __syncthreads();

    float s[4][8];
#pragma unroll
    for (int r = 0; r < 4; ++r)
#pragma unroll
      for (int j = 0; j < 8; ++j) s[r][j] = 0.f;
    for (int d2 = 0; d2 < D / 2; ++d2) {
      float2 qv[4], kv[8];
#pragma unroll
      for (int r = 0; r < 4; ++r) qv[r] = __bfloat1622float2(Qs[(ty * 4 + r) * TL::kRow2 + d2]);
#pragma unroll
      for (int j = 0; j < 8; ++j) kv[j] = __bfloat1622float2(Ks[(tx + 8 * j) * TL::kRow2 + d2]);
#pragma unroll
      for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int j = 0; j < 8; ++j) s[r][j] += qv[r].x * kv[j].x + qv[r].y * kv[j].y;
    }

#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int t = q0 + ty * 4 + r;
      float tile_max = -INFINITY;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const int key = k0 + tx + 8 * j;
        s[r][j] = (t < T && tx + 8 * j < nk && dm::key_visible(t, key, window)) ? s[r][j] * scale : -INFINITY;
        tile_max = fmaxf(tile_max, s[r][j]);
      }
      tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullMask, tile_max, 1));
      tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullMask, tile_max, 2));
      tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullMask, tile_max, 4));
      const float m_new = fmaxf(m[r], tile_max);
      const float keep = dm::softmax_rescale(m[r], m_new);
      float row_sum = 0.f;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const float p = dm::softmax_weight(s[r][j], m_new);
        row_sum += p;
        Ps[(ty * 4 + r) * (kFwdKeys + 1) + tx + 8 * j] = p;
      }
      row_sum += __shfl_xor_sync(kFullMask, row_sum, 1);
      row_sum += __shfl_xor_sync(kFullMask, row_sum, 2);
      row_sum += __shfl_xor_sync(kFullMask, row_sum, 4);
      l[r] = l[r] * keep + row_sum;
      m[r] = m_new;
#pragma unroll
      for (int c = 0; c < 2 * TL::kPairs; ++c) acc[r][c] *= keep;
    }
    __syncthreads();  // Ps complete

    for (int j = 0; j < nk; ++j) {
      float p[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) p[r] = Ps[(ty * 4 + r) * (kFwdKeys + 1) + j];
#pragma unroll
      for (int i = 0; i < TL::kPairs; ++i) {
        const float2 vv = __bfloat1622float2(Vs[j * TL::kRow2 + tx + 8 * i]);
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          acc[r][2 * i] += p[r] * vv.x;
          acc[r][2 * i + 1] += p[r] * vv.y;
        }
      }
    }
  }

#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int t = q0 + ty * 4 + r;
    if (t >= T) continue;
    const int64_t token = start + t;
    const float inv = l[r] > 0.f ? 1.f / l[r] : 0.f;
#pragma unroll
    for (int i = 0; i < TL::kPairs; ++i) {
      const int p = tx + 8 * i;
      if (2 * p >= D) continue;
      *reinterpret_cast<__nv_bfloat162*>(out + token * qs + int64_t(h) * D + 2 * p) =
          __floats2bfloat162_rn(acc[r][2 * i] * inv, acc[r][2 * i + 1] * inv);
    }
    if (tx == 0) lse[token * H + h] = dm::softmax_lse(dm::SoftmaxState{m[r], l[r]});
  }
}

// ---- backward --------------------------------------------------------------------------------------------

// delta[N,H] = Σ_d dout·out per (token, head): the rowsum(dO ⊙ O) of FlashAttention-2. One warp per row.
static __global__ void attention_backward_delta_kernel(float* delta, const bf16* dout, const bf16* out, int64_t rows,
                                                       int D) {
  const int64_t row = blockIdx.x * int64_t(blockDim.x / 32) + (threadIdx.x >> 5);
  if (row >= rows) return;  // whole warps: the shuffles below see only live lanes of live warps
  const int lane = threadIdx.x & 31;
  const __nv_bfloat162* o = reinterpret_cast<const __nv_bfloat162*>(out + row * D);
  const __nv_bfloat162* d = reinterpret_cast<const __nv_bfloat162*>(dout + row * D);
  float s = 0.f;
  for (int p = lane; p < D / 2; p += 32) {
    const float2 a = __bfloat1622float2(o[p]), b = __bfloat1622float2(d[p]);
    s += a.x * b.x + a.y * b.y;
  }
  s = warp_sum(s);
  if (lane == 0) delta[row] = s;
}

// dq[N,H*D] bf16 for 64 query rows of one head. Grid (q tiles, S, H).
template <int MAXD>
static __global__ void __launch_bounds__(kThreads)
    attention_backward_dq_kernel(bf16* dq, const bf16* dout, const float* lse, const float* delta, const bf16* q,
                                 const bf16* k, const bf16* v, const int* seq_start, const int* seq_len, int H,
                                 int KV, int D, int window, float scale) {
  using TL = Tile<MAXD>;
  const int T = seq_len[blockIdx.y], start = seq_start[blockIdx.y], h = blockIdx.z;
  const int q0 = blockIdx.x * kDqRows;
  if (q0 >= T) return;
  const int g = h / (H / KV);
  const int64_t qs = int64_t(H) * D, kvs = int64_t(KV) * D;
  const int q1 = min(T, q0 + kDqRows);

  TS_DYNAMIC_SHARED(smem);
  __nv_bfloat162* Qs = reinterpret_cast<__nv_bfloat162*>(smem);  // [64][kRow2]
  __nv_bfloat162* dOs = Qs + kDqRows * TL::kRow2;                // [64][kRow2]
  __nv_bfloat162* Ks = dOs + kDqRows * TL::kRow2;                // [32][kRow2]
  __nv_bfloat162* Vs = Ks + kDqKeys * TL::kRow2;                 // [32][kRow2]
  float* dSs = reinterpret_cast<float*>(Vs + kDqKeys * TL::kRow2);  // [64][33]
  float* lse_s = dSs + kDqRows * (kDqKeys + 1);                  // [64]
  float* delta_s = lse_s + kDqRows;                              // [64]

  const int ty = threadIdx.x >> 3, tx = threadIdx.x & 7;
  load_tile<MAXD>(Qs, q, start + q0, q1 - q0, kDqRows, qs, int64_t(h) * D, D);
  load_tile<MAXD>(dOs, dout, start + q0, q1 - q0, kDqRows, qs, int64_t(h) * D, D);
  for (int r = threadIdx.x; r < kDqRows; r += blockDim.x) {
    const bool valid = q0 + r < T;
    lse_s[r] = valid ? lse[(int64_t(start) + q0 + r) * H + h] : 0.f;
    delta_s[r] = valid ? delta[(int64_t(start) + q0 + r) * H + h] : 0.f;
  }

  float acc[4][2 * TL::kPairs];
#pragma unroll
  for (int r = 0; r < 4; ++r)
#pragma unroll
    for (int c = 0; c < 2 * TL::kPairs; ++c) acc[r][c] = 0.f;

  int lo, hi;
  dm::keys_for_queries(q0, q1, window, &lo, &hi);
  for (int k0 = lo; k0 < hi; k0 += kDqKeys) {
    const int nk = min(kDqKeys, hi - k0);
    __syncthreads();  // readers of the previous Ks, Vs, dSs are done (and Qs/dOs/lse_s/delta_s are loaded)
    load_tile<MAXD>(Ks, k, start + k0, nk, kDqKeys, kvs, int64_t(g) * D, D);
    load_tile<MAXD>(Vs, v, start + k0, nk, kDqKeys, kvs, int64_t(g) * D, D);
    __syncthreads();

    float s[4][4], dp[4][4];
#pragma unroll
    for (int r = 0; r < 4; ++r)
#pragma unroll
      for (int j = 0; j < 4; ++j) s[r][j] = 0.f, dp[r][j] = 0.f;
    for (int d2 = 0; d2 < D / 2; ++d2) {
      float2 qv[4], ov[4], kv[4], vv[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        qv[r] = __bfloat1622float2(Qs[(ty * 4 + r) * TL::kRow2 + d2]);
        ov[r] = __bfloat1622float2(dOs[(ty * 4 + r) * TL::kRow2 + d2]);
      }
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        kv[j] = __bfloat1622float2(Ks[(tx + 8 * j) * TL::kRow2 + d2]);
        vv[j] = __bfloat1622float2(Vs[(tx + 8 * j) * TL::kRow2 + d2]);
      }
#pragma unroll
      for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          s[r][j] += qv[r].x * kv[j].x + qv[r].y * kv[j].y;
          dp[r][j] += ov[r].x * vv[j].x + ov[r].y * vv[j].y;
        }
    }
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int row = ty * 4 + r, t = q0 + row;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int key = k0 + tx + 8 * j;
        const bool visible = t < T && tx + 8 * j < nk && dm::key_visible(t, key, window);
        const float p = visible ? expf(s[r][j] * scale - lse_s[row]) : 0.f;
        dSs[row * (kDqKeys + 1) + tx + 8 * j] = p * (dp[r][j] - delta_s[row]) * scale;
      }
    }
    __syncthreads();  // dSs complete

    for (int j = 0; j < nk; ++j) {
      float ds[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) ds[r] = dSs[(ty * 4 + r) * (kDqKeys + 1) + j];
#pragma unroll
      for (int i = 0; i < TL::kPairs; ++i) {
        const float2 kk = __bfloat1622float2(Ks[j * TL::kRow2 + tx + 8 * i]);
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          acc[r][2 * i] += ds[r] * kk.x;
          acc[r][2 * i + 1] += ds[r] * kk.y;
        }
      }
    }
  }

#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int t = q0 + ty * 4 + r;
    if (t >= T) continue;
#pragma unroll
    for (int i = 0; i < TL::kPairs; ++i) {
      const int p = tx + 8 * i;
      if (2 * p >= D) continue;
      *reinterpret_cast<__nv_bfloat162*>(dq + (int64_t(start) + t) * qs + int64_t(h) * D + 2 * p) =
          __floats2bfloat162_rn(acc[r][2 * i], acc[r][2 * i + 1]);
    }
  }
}

// dk, dv[N,KV*D] bf16 for 32 keys of one KV head, summed over the query heads of its group and every
// query tile that sees them. Grid (key tiles, S, KV).
template <int MAXD>
static __global__ void __launch_bounds__(kThreads)
    attention_backward_dkdv_kernel(bf16* dk, bf16* dv, const bf16* dout, const float* lse, const float* delta,
                                   const bf16* q, const bf16* k, const bf16* v, const int* seq_start,
                                   const int* seq_len, int H, int KV, int D, int window, float scale) {
  using TL = Tile<MAXD>;
  const int T = seq_len[blockIdx.y], start = seq_start[blockIdx.y], g = blockIdx.z;
  const int k0 = blockIdx.x * kDkvKeys;
  if (k0 >= T) return;
  const int rep = H / KV;
  const int64_t qs = int64_t(H) * D, kvs = int64_t(KV) * D;
  const int k1 = min(T, k0 + kDkvKeys);

  TS_DYNAMIC_SHARED(smem);
  __nv_bfloat162* Ks = reinterpret_cast<__nv_bfloat162*>(smem);  // [32][kRow2]
  __nv_bfloat162* Vs = Ks + kDkvKeys * TL::kRow2;                // [32][kRow2]
  __nv_bfloat162* Qs = Vs + kDkvKeys * TL::kRow2;                // [64][kRow2]
  __nv_bfloat162* dOs = Qs + kDkvRows * TL::kRow2;               // [64][kRow2]
  float* PTs = reinterpret_cast<float*>(dOs + kDkvRows * TL::kRow2);  // [32][65]  Pᵀ
  float* dSTs = PTs + kDkvKeys * (kDkvRows + 1);                 // [32][65]  dSᵀ
  float* lse_s = dSTs + kDkvKeys * (kDkvRows + 1);               // [64]
  float* delta_s = lse_s + kDkvRows;                             // [64]

  const int ty = threadIdx.x >> 3, tx = threadIdx.x & 7;  // keys ty*2 + r, queries tx + 8i
  load_tile<MAXD>(Ks, k, start + k0, k1 - k0, kDkvKeys, kvs, int64_t(g) * D, D);
  load_tile<MAXD>(Vs, v, start + k0, k1 - k0, kDkvKeys, kvs, int64_t(g) * D, D);

  float dk_acc[2][2 * TL::kPairs], dv_acc[2][2 * TL::kPairs];
#pragma unroll
  for (int r = 0; r < 2; ++r)
#pragma unroll
    for (int c = 0; c < 2 * TL::kPairs; ++c) dk_acc[r][c] = 0.f, dv_acc[r][c] = 0.f;

  int lo, hi;
  dm::queries_for_keys(k0, k1, T, window, &lo, &hi);
  for (int h = g * rep; h < (g + 1) * rep; ++h) {
    for (int t0 = lo; t0 < hi; t0 += kDkvRows) {
      const int nq = min(kDkvRows, hi - t0);
      __syncthreads();  // readers of the previous Qs, dOs, PTs, dSTs are done (Ks/Vs loaded)
      load_tile<MAXD>(Qs, q, start + t0, nq, kDkvRows, qs, int64_t(h) * D, D);
      load_tile<MAXD>(dOs, dout, start + t0, nq, kDkvRows, qs, int64_t(h) * D, D);
      for (int r = threadIdx.x; r < kDkvRows; r += blockDim.x) {
        const bool valid = r < nq;
        lse_s[r] = valid ? lse[(int64_t(start) + t0 + r) * H + h] : 0.f;
        delta_s[r] = valid ? delta[(int64_t(start) + t0 + r) * H + h] : 0.f;
      }
      __syncthreads();

      float st[2][8], dpt[2][8];
#pragma unroll
      for (int r = 0; r < 2; ++r)
#pragma unroll
        for (int i = 0; i < 8; ++i) st[r][i] = 0.f, dpt[r][i] = 0.f;
      for (int d2 = 0; d2 < D / 2; ++d2) {
        float2 kv[2], vv[2], qv[8], ov[8];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          kv[r] = __bfloat1622float2(Ks[(ty * 2 + r) * TL::kRow2 + d2]);
          vv[r] = __bfloat1622float2(Vs[(ty * 2 + r) * TL::kRow2 + d2]);
        }
#pragma unroll
        for (int i = 0; i < 8; ++i) {
          qv[i] = __bfloat1622float2(Qs[(tx + 8 * i) * TL::kRow2 + d2]);
          ov[i] = __bfloat1622float2(dOs[(tx + 8 * i) * TL::kRow2 + d2]);
        }
#pragma unroll
        for (int r = 0; r < 2; ++r)
#pragma unroll
          for (int i = 0; i < 8; ++i) {
            st[r][i] += kv[r].x * qv[i].x + kv[r].y * qv[i].y;
            dpt[r][i] += vv[r].x * ov[i].x + vv[r].y * ov[i].y;
          }
      }
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int key = ty * 2 + r, j = k0 + key;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
          const int row = tx + 8 * i, t = t0 + row;
          const bool visible = row < nq && key < k1 - k0 && dm::key_visible(t, j, window);
          const float p = visible ? expf(st[r][i] * scale - lse_s[row]) : 0.f;
          PTs[key * (kDkvRows + 1) + row] = p;
          dSTs[key * (kDkvRows + 1) + row] = p * (dpt[r][i] - delta_s[row]) * scale;
        }
      }
      __syncthreads();  // PTs, dSTs complete

      for (int i = 0; i < nq; ++i) {
        float p[2], ds[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          p[r] = PTs[(ty * 2 + r) * (kDkvRows + 1) + i];
          ds[r] = dSTs[(ty * 2 + r) * (kDkvRows + 1) + i];
        }
#pragma unroll
        for (int c = 0; c < TL::kPairs; ++c) {
          const float2 o = __bfloat1622float2(dOs[i * TL::kRow2 + tx + 8 * c]);
          const float2 qq = __bfloat1622float2(Qs[i * TL::kRow2 + tx + 8 * c]);
#pragma unroll
          for (int r = 0; r < 2; ++r) {
            dv_acc[r][2 * c] += p[r] * o.x;
            dv_acc[r][2 * c + 1] += p[r] * o.y;
            dk_acc[r][2 * c] += ds[r] * qq.x;
            dk_acc[r][2 * c + 1] += ds[r] * qq.y;
          }
        }
      }
    }
  }

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int j = k0 + ty * 2 + r;
    if (j >= T) continue;
    const int64_t at = (int64_t(start) + j) * kvs + int64_t(g) * D;
#pragma unroll
    for (int c = 0; c < TL::kPairs; ++c) {
      const int p = tx + 8 * c;
      if (2 * p >= D) continue;
      *reinterpret_cast<__nv_bfloat162*>(dk + at + 2 * p) =
          __floats2bfloat162_rn(dk_acc[r][2 * c], dk_acc[r][2 * c + 1]);
      *reinterpret_cast<__nv_bfloat162*>(dv + at + 2 * p) =
          __floats2bfloat162_rn(dv_acc[r][2 * c], dv_acc[r][2 * c + 1]);
    }
  }
}

// ---- launchers ---------------------------------------------------------------------------------------------

template <int MAXD>
static size_t forward_smem() {
  return size_t(kFwdRows + 2 * kFwdKeys) * Tile<MAXD>::kRow * sizeof(bf16) + size_t(kFwdRows) * (kFwdKeys + 1) * 4;
}
template <int MAXD>
static size_t dq_smem() {
  return size_t(2 * kDqRows + 2 * kDqKeys) * Tile<MAXD>::kRow * sizeof(bf16) +
         (size_t(kDqRows) * (kDqKeys + 1) + 2 * kDqRows) * 4;
}
template <int MAXD>
static size_t dkdv_smem() {
  return size_t(2 * kDkvKeys + 2 * kDkvRows) * Tile<MAXD>::kRow * sizeof(bf16) +
         (2 * size_t(kDkvKeys) * (kDkvRows + 1) + 2 * kDkvRows) * 4;
}

// Kernels above 48 KiB of dynamic shared memory must say so once per process.
template <typename Kernel>
static void allow_smem(Kernel kernel, size_t bytes, std::once_flag& once) {
  std::call_once(once, [&] {
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  });
}

template <int MAXD>
static void launch_attention_forward(bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                                     const DeviceSeqSpans& seqs, int H, int KV, int D, int window, float scale,
                                     cudaStream_t stream) {
  static std::once_flag once;
  const size_t smem = forward_smem<MAXD>();
  allow_smem(attention_forward_kernel<MAXD>, smem, once);
  const dim3 grid(dm::ceil_div(seqs.max_len, kFwdRows), seqs.count, H);
  launch(attention_forward_kernel<MAXD>, grid, kThreads, smem, stream, out, lse, q, k, v, seqs.start, seqs.len, H,
         KV, D, window, scale);
}

template <int MAXD>
static void launch_attention_backward(bf16* dq, bf16* dk, bf16* dv, const bf16* dout, const float* lse,
                                      const float* delta, const bf16* q, const bf16* k, const bf16* v,
                                      const DeviceSeqSpans& seqs, int H, int KV, int D, int window, float scale,
                                      cudaStream_t stream) {
  static std::once_flag once_dq, once_dkdv;
  const size_t smem_dq = dq_smem<MAXD>(), smem_dkdv = dkdv_smem<MAXD>();
  allow_smem(attention_backward_dq_kernel<MAXD>, smem_dq, once_dq);
  allow_smem(attention_backward_dkdv_kernel<MAXD>, smem_dkdv, once_dkdv);
  const dim3 grid_dq(dm::ceil_div(seqs.max_len, kDqRows), seqs.count, H);
  launch(attention_backward_dq_kernel<MAXD>, grid_dq, kThreads, smem_dq, stream, dq, dout, lse, delta, q, k, v,
         seqs.start, seqs.len, H, KV, D, window, scale);
  const dim3 grid_dkdv(dm::ceil_div(seqs.max_len, kDkvKeys), seqs.count, KV);
  launch(attention_backward_dkdv_kernel<MAXD>, grid_dkdv, kThreads, smem_dkdv, stream, dk, dv, dout, lse, delta, q, k,
         v, seqs.start, seqs.len, H, KV, D, window, scale);
}

static void check_attention_args(const char* op, const DeviceSeqSpans& seqs, int N, int H, int KV, int D,
                                 std::initializer_list<const void*> pointers) {
  const std::string shape = std::string(op) + ": N=" + std::to_string(N) + " H=" + std::to_string(H) +
                            " KV=" + std::to_string(KV) + " D=" + std::to_string(D);
  TS_CHECK(N >= 0 && H > 0 && KV > 0 && H % KV == 0, shape + ": H must be a multiple of KV");
  TS_CHECK(D > 0 && D % 2 == 0 && D <= 128, shape + ": head_dim must be even and at most 128");
  TS_CHECK(seqs.count >= 0 && seqs.max_len >= 0 && seqs.max_len <= N, shape + ": bad sequence spans");
  TS_CHECK(seqs.count <= 65535 && H <= 65535, shape + ": too many sequences or heads for one launch");
  for (const void* p : pointers)
    TS_CHECK(reinterpret_cast<uintptr_t>(p) % 4 == 0, shape + ": tensors must be 4-byte aligned (bf16 pairs)");
}

static float attention_scale(int D) { return 1.f / std::sqrt(static_cast<float>(D)); }  // as the CPU

void attention_forward(const CudaContext& ctx, bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                       const DeviceSeqSpans& seqs, int N, int H, int KV, int D, int window) {
  check_attention_args("attention_forward", seqs, N, H, KV, D, {out, q, k, v});
  if (N == 0 || seqs.count == 0 || seqs.max_len == 0) return;
  const float scale = attention_scale(D);
  if (D <= 32) {
    launch_attention_forward<32>(out, lse, q, k, v, seqs, H, KV, D, window, scale, ctx.stream);
  } else if (D <= 64) {
    launch_attention_forward<64>(out, lse, q, k, v, seqs, H, KV, D, window, scale, ctx.stream);
  } else {
    launch_attention_forward<128>(out, lse, q, k, v, seqs, H, KV, D, window, scale, ctx.stream);
  }
  CUDA_CHECK_LAUNCH(ctx, "attention_forward");
}

int64_t attention_backward_scratch_floats(int N, int H) { return int64_t(N) * H; }

void attention_backward(const CudaContext& ctx, bf16* dq, bf16* dk, bf16* dv, const bf16* dout, const bf16* out,
                        const float* lse, const bf16* q, const bf16* k, const bf16* v, const DeviceSeqSpans& seqs,
                        int N, int H, int KV, int D, int window, float* scratch) {
  check_attention_args("attention_backward", seqs, N, H, KV, D, {dq, dk, dv, dout, out, q, k, v});
  if (N == 0 || seqs.count == 0 || seqs.max_len == 0) return;
  const float scale = attention_scale(D);
  float* delta = scratch;  // [N,H]
  const int64_t rows = int64_t(N) * H;
  launch(attention_backward_delta_kernel, grid_for(rows, 4, int64_t(1) << 30), kThreads, 0, ctx.stream, delta, dout,
         out, rows, D);
  CUDA_CHECK_LAUNCH(ctx, "attention_backward (dO·O)");
  if (D <= 32) {
    launch_attention_backward<32>(dq, dk, dv, dout, lse, delta, q, k, v, seqs, H, KV, D, window, scale, ctx.stream);
  } else if (D <= 64) {
    launch_attention_backward<64>(dq, dk, dv, dout, lse, delta, q, k, v, seqs, H, KV, D, window, scale, ctx.stream);
  } else {
    launch_attention_backward<128>(dq, dk, dv, dout, lse, delta, q, k, v, seqs, H, KV, D, window, scale, ctx.stream);
  }
  CUDA_CHECK_LAUNCH(ctx, "attention_backward");
}

}  // namespace cuda
}  // namespace tunesmith
