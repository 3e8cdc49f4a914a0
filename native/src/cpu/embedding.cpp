// Token embedding lookup, plus NEFTune noise in training (formats.md §8): U(−mag, mag) per element,
// mag = alpha/sqrt(L·C), L = the batch's padded sequence length. The table is frozen: no backward, and
// the noise is additive, so gradients flow through unchanged.
// N=tokens C=channels
#include <cmath>
#include <cstring>

#include "parallel.h"

namespace tunesmith {

void embedding_forward(const OpContext& ctx, float* out, const int* tokens, const float* table, int N, int C,
                       const Neftune& noise) {
  const float mag = noise.alpha > 0.f ? noise.alpha / std::sqrt(static_cast<float>(noise.L) * C) : 0.f;
  parallel_rows(ctx, N, 64, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      float* o = out + n * C;
      std::memcpy(o, table + static_cast<int64_t>(tokens[n]) * C, sizeof(float) * C);
      if (mag > 0.f) {
        for (int c = 0; c < C; ++c)
          o[c] += mag * (2.f * hash_uniform(noise.seed, static_cast<uint64_t>(n * C + c)) - 1.f);
      }
    }
  });
}

}  // namespace tunesmith
