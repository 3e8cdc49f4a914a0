// RMSNorm as in HF Llama: y = w ⊙ x·r, r = 1/sqrt(mean(x²) + eps), normalization in fp32.
// Backward (formats.md §10.3): x̂ = x·r, g = dy ⊙ w:  dx = r·(g − x̂·mean(g ⊙ x̂)),  dw = Σ_n dy ⊙ x̂.
// N=tokens C=channels
#include <cmath>
#include <vector>

#include "parallel.h"

namespace tunesmith {

void rmsnorm_forward(const OpContext& ctx, float* y, float* rstd, const float* x, const float* w, int N, int C,
                     float eps) {
  parallel_rows(ctx, N, 16, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const float* xn = x + n * C;  // [C]
      float* yn = y + n * C;        // [C]
      double ss = 0;
      for (int c = 0; c < C; ++c) ss += static_cast<double>(xn[c]) * xn[c];
      const float r = static_cast<float>(1.0 / std::sqrt(ss / C + eps));
      rstd[n] = r;
      for (int c = 0; c < C; ++c) yn[c] = w[c] * (xn[c] * r);
    }
  });
}

void rmsnorm_backward(const OpContext& ctx, float* dx, float* dw, const float* dy, const float* x, const float* w,
                      const float* rstd, int N, int C) {
  parallel_rows(ctx, N, 16, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const float* xn = x + n * C;
      const float* dyn = dy + n * C;
      float* dxn = dx + n * C;
      const float r = rstd[n];
      double dot = 0;  // Σ g ⊙ x̂
      for (int c = 0; c < C; ++c) dot += static_cast<double>(dyn[c]) * w[c] * xn[c] * r;
      const float mean = static_cast<float>(dot / C);
      for (int c = 0; c < C; ++c) dxn[c] += r * (dyn[c] * w[c] - xn[c] * r * mean);
    }
  });
  if (dw) {  // a reduction over tokens: one thread per channel block, tokens in order
    parallel_rows(ctx, C, 64, [&](int64_t begin, int64_t end) {
      for (int n = 0; n < N; ++n)
        for (int64_t c = begin; c < end; ++c)
          dw[c] += dy[static_cast<int64_t>(n) * C + c] * x[static_cast<int64_t>(n) * C + c] * rstd[n];
    });
  }
}

}  // namespace tunesmith
