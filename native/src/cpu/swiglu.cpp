// SwiGLU: h = silu(g)·u, silu(z) = z·σ(z), silu'(z) = σ(z)·(1 + z·(1 − σ(z))).
// n = N*F elements, elementwise.
#include <cmath>

#include "parallel.h"

namespace tunesmith {

void swiglu_forward(const OpContext& ctx, float* h, const float* gate, const float* up, int64_t n) {
  parallel_rows(ctx, n, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float g = gate[i];
      h[i] = g / (1.f + std::exp(-g)) * up[i];
    }
  });
}

void swiglu_backward(const OpContext& ctx, float* dgate, float* dup, const float* dh, const float* gate,
                     const float* up, int64_t n) {
  parallel_rows(ctx, n, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float g = gate[i];
      const float sig = 1.f / (1.f + std::exp(-g));
      const float d = dh[i];
      dup[i] = d * g * sig;
      dgate[i] = d * up[i] * sig * (1.f + g * (1.f - sig));
    }
  });
}

}  // namespace tunesmith
