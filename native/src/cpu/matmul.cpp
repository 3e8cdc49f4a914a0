// The CPU GEMM and the frozen-weight matmul built on it.
// C[M,N] = alpha·A[M,K]·B[K,N]: B is packed (and, for NF4, dequantized) into 16-wide column panels of
// KC rows, one K×N tile per task, then a 6×16 register-blocked kernel streams A's rows over each panel.
// The decision to know: a task owns a block of C (rows × columns) and runs the K loop in the same fixed
// KC steps whatever the thread count, so every output element is summed in the same order — results do
// not depend on threads. The kernel is compiled twice (AVX2+FMA and portable) and picked once at load
// time with __builtin_cpu_supports, so the addon runs on any x86-64 (no -march=native).
// M=rows of A/C  N=columns of B/C  K=inner
#include <algorithm>
#include <cstring>
#include <vector>

#include "ops.h"
#include "parallel.h"

namespace tunesmith {
namespace {

constexpr int MR = 6;     // kernel rows
constexpr int NR = 16;    // kernel columns = panel width
constexpr int KC = 256;   // inner block
constexpr int NC = 128;   // columns per task tile (multiple of NR)

// Packs B[k0:k0+kc, j0:j0+nc] into panels: dst[(p*kc + kk)*NR + jj] = B[k0+kk][j0+p*NR+jj], zero-padded.
void pack_b(const GemmB& B, int k0, int kc, int j0, int nc, float* dst, float* row_buf) {
  const int panels = (nc + NR - 1) / NR;
  const int tail = nc - (panels - 1) * NR;  // columns in the last panel; the rest of it is zero
  if (tail < NR) {
    float* last = dst + static_cast<int64_t>(panels - 1) * kc * NR;
    for (int kk = 0; kk < kc; ++kk) std::memset(last + kk * NR + tail, 0, sizeof(float) * (NR - tail));
  }
  if (B.layout == GemmB::kRowMajor) {
    for (int kk = 0; kk < kc; ++kk) {
      const int64_t row = static_cast<int64_t>(k0 + kk) * B.ld + j0;
      const float* src = B.f32 ? B.f32 + row : row_buf;
      if (!B.f32) dequantize_nf4_range(B.nf4->codes, B.nf4->absmax, row, nc, row_buf);
      for (int p = 0; p < panels; ++p) {
        float* d = dst + (static_cast<int64_t>(p) * kc + kk) * NR;
        const float* sp = src + p * NR;
        if (p + 1 < panels || tail == NR) {
          for (int q = 0; q < NR; ++q) d[q] = sp[q];  // inlined: a libc memcpy call per 64 bytes costs more
        } else {
          for (int q = 0; q < tail; ++q) d[q] = sp[q];
        }
      }
    }
  } else {
    for (int j = 0; j < nc; ++j) {
      const int64_t row = static_cast<int64_t>(j0 + j) * B.ld + k0;
      const float* src = B.f32 ? B.f32 + row : row_buf;
      if (!B.f32) dequantize_nf4_range(B.nf4->codes, B.nf4->absmax, row, kc, row_buf);
      float* panel = dst + (j / NR) * kc * NR + (j % NR);
      for (int kk = 0; kk < kc; ++kk) panel[kk * NR] = src[kk];
    }
  }
}

#if defined(__GNUC__) || defined(__clang__)
typedef float v8f __attribute__((vector_size(32), aligned(4)));  // 8 lanes: one AVX register
#else
// Without GCC vector extensions (MSVC): the same arithmetic on plain arrays, for the auto-vectorizer.
struct v8f {
  float x[8];
};
inline v8f operator*(float s, const v8f& b) {
  v8f r;
  for (int i = 0; i < 8; ++i) r.x[i] = s * b.x[i];
  return r;
}
inline v8f operator*(const v8f& b, float s) { return s * b; }
inline v8f& operator+=(v8f& a, const v8f& b) {
  for (int i = 0; i < 8; ++i) a.x[i] += b.x[i];
  return a;
}
#endif

// C[i0:i0+mc, panels] (= or +=) alpha · A[i0:.., k0:k0+kc] · packed panels. always_inline so that each
// wrapper below compiles it for its own instruction set.
TS_ALWAYS_INLINE void block_kernel_body(int mc, int nc, int kc, float alpha, const float* A,
                                                              int64_t lda, const float* packed, bool add, float* C,
                                                              int64_t ldc) {
  const int panels = (nc + NR - 1) / NR;
  for (int i0 = 0; i0 < mc; i0 += MR) {
    const int mr = std::min(MR, mc - i0);
    const float* a[MR];
    for (int i = 0; i < MR; ++i) a[i] = A + static_cast<int64_t>(i0 + std::min(i, mr - 1)) * lda;
    for (int p = 0; p < panels; ++p) {
      const float* b = packed + static_cast<int64_t>(p) * kc * NR;
      v8f c[MR][2];
      for (int i = 0; i < MR; ++i) std::memset(&c[i][0], 0, sizeof(c[i]));
      for (int k = 0; k < kc; ++k) {
        v8f b0, b1;
        std::memcpy(&b0, b + k * NR, 32);
        std::memcpy(&b1, b + k * NR + 8, 32);
        for (int i = 0; i < MR; ++i) {
          const float s = a[i][k];
          c[i][0] += s * b0;
          c[i][1] += s * b1;
        }
      }
      const int nr = std::min(NR, nc - p * NR);
      for (int i = 0; i < mr; ++i) {
        float tmp[NR];
        v8f r0 = c[i][0] * alpha, r1 = c[i][1] * alpha;
        std::memcpy(tmp, &r0, 32);
        std::memcpy(tmp + 8, &r1, 32);
        float* out = C + static_cast<int64_t>(i0 + i) * ldc + p * NR;
        if (add) {
          for (int j = 0; j < nr; ++j) out[j] += tmp[j];
        } else {
          for (int j = 0; j < nr; ++j) out[j] = tmp[j];
        }
      }
    }
  }
}

using BlockKernel = void (*)(int, int, int, float, const float*, int64_t, const float*, bool, float*, int64_t);

void block_kernel_generic(int mc, int nc, int kc, float alpha, const float* A, int64_t lda, const float* packed,
                          bool add, float* C, int64_t ldc) {
  block_kernel_body(mc, nc, kc, alpha, A, lda, packed, add, C, ldc);
}

#ifdef TS_HAVE_AVX2
#define TS_HAVE_AVX2_KERNEL 1
TS_TARGET_AVX2 void block_kernel_avx2(int mc, int nc, int kc, float alpha, const float* A,
                                                           int64_t lda, const float* packed, bool add, float* C,
                                                           int64_t ldc) {
  block_kernel_body(mc, nc, kc, alpha, A, lda, packed, add, C, ldc);
}
#endif

// Chosen once: AVX2+FMA when the CPU has both, else the portable build (baseline x86-64 or other).
BlockKernel pick_kernel() {
#ifdef TS_HAVE_AVX2_KERNEL
  if (cpu_has_avx2_fma()) return block_kernel_avx2;
#endif
  return block_kernel_generic;
}

const BlockKernel block_kernel = pick_kernel();

}  // namespace

void gemm(const OpContext& ctx, int M, int N, int K, float alpha, const float* A, int64_t lda, const GemmB& B,
          bool accumulate, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int i = 0; i < M; ++i) std::memset(C + static_cast<int64_t>(i) * ldc, 0, sizeof(float) * N);
    return;
  }
  const int col_tiles = (N + NC - 1) / NC;
  const int threads = ctx.pool ? ctx.pool->size() : 1;
  // Enough tasks to keep every thread busy; rows are split in multiples of the kernel height. Each row
  // tile packs B again, so one thread never splits rows.
  int row_tiles = threads == 1 ? 1 : std::max(1, (3 * threads + col_tiles - 1) / col_tiles);
  int row_step = (M + row_tiles - 1) / row_tiles;
  row_step = std::max(MR * 4, (row_step + MR - 1) / MR * MR);
  row_tiles = (M + row_step - 1) / row_step;

  auto task = [&](int t) {
    thread_local std::vector<float> packed, row_buf;
    packed.resize(static_cast<size_t>(KC) * NC);
    row_buf.resize(std::max(KC, NC));
    const int ct = t % col_tiles, rt = t / col_tiles;
    const int j0 = ct * NC, nc = std::min(NC, N - j0);
    const int i0 = rt * row_step, mc = std::min(row_step, M - i0);
    for (int k0 = 0; k0 < K; k0 += KC) {
      const int kc = std::min(KC, K - k0);
      pack_b(B, k0, kc, j0, nc, packed.data(), row_buf.data());
      block_kernel(mc, nc, kc, alpha, A + static_cast<int64_t>(i0) * lda + k0, lda, packed.data(),
                   accumulate || k0 > 0, C + static_cast<int64_t>(i0) * ldc + j0, ldc);
    }
  };
  if (ctx.pool) {
    ctx.pool->parallel_for(row_tiles * col_tiles, task);
  } else {
    for (int t = 0; t < row_tiles * col_tiles; ++t) task(t);
  }
}

static GemmB weight_view(const FrozenWeight& W, GemmB::Layout layout) {
  GemmB b;
  b.layout = layout;
  b.f32 = W.f32;
  b.nf4 = W.quantized() ? &W.nf4 : nullptr;
  b.ld = W.in;
  return b;
}

void matmul_forward(const OpContext& ctx, float* y, const float* x, const FrozenWeight& W, const float* bias, int N) {
  // y[N,O] = x[N,I] · Wᵀ : B[k=i][j=o] = W[o*I + i]
  gemm(ctx, N, W.out, W.in, 1.f, x, W.in, weight_view(W, GemmB::kTransposed), false, y, W.out);
  if (bias) {
    for (int n = 0; n < N; ++n)
      for (int o = 0; o < W.out; ++o) y[static_cast<int64_t>(n) * W.out + o] += bias[o];
  }
}

void matmul_backward(const OpContext& ctx, float* dx, bool accumulate, const float* dy, const FrozenWeight& W, int N) {
  // dx[N,I] = dy[N,O] · W[O,I] : B[k=o][j=i] = W[o*I + i]
  gemm(ctx, N, W.in, W.out, 1.f, dy, W.out, weight_view(W, GemmB::kRowMajor), accumulate, dx, W.in);
}

}  // namespace tunesmith
