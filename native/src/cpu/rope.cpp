// RoPE in the Hugging Face rotate-half convention: for i < D/2 the pair (x[i], x[i+D/2]) turns by
// θ_i = pos · inv_freq[i], inv_freq[i] = theta^(-2i/D), with llama3 frequency scaling when configured.
// Backward is the same rotation by −θ. Tables are computed once per session in fp32 from double math.
// N=tokens D=head_dim T=positions
#include <cmath>

#include "parallel.h"

namespace tunesmith {

constexpr double kPi = 3.14159265358979323846;  // (M_PI is not standard C++)

void rope_table(float* cos_table, float* sin_table, int T, int D, float theta, const RopeScaling& s) {
  const int half = D / 2;
  for (int i = 0; i < half; ++i) {
    // HF computes inv_freq in fp32: 1 / theta ** (arange(0, D, 2).float() / D)
    float inv = 1.0f / std::pow(theta, static_cast<float>(2 * i) / static_cast<float>(D));
    if (s.type == RopeScaling::Type::Llama3) {
      const float orig = static_cast<float>(s.original_max_position);
      const float low_wl = orig / s.low_freq_factor;
      const float high_wl = orig / s.high_freq_factor;
      const float wl = 2.0f * static_cast<float>(kPi) / inv;
      if (wl > low_wl) {
        inv = inv / s.factor;
      } else if (wl >= high_wl) {
        const float smooth = (orig / wl - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        inv = (1.f - smooth) * inv / s.factor + smooth * inv;
      }
    }
    for (int t = 0; t < T; ++t) {
      const float angle = static_cast<float>(t) * inv;  // fp32 like HF's freqs = pos.float() @ inv_freq
      cos_table[static_cast<int64_t>(t) * half + i] = std::cos(angle);
      sin_table[static_cast<int64_t>(t) * half + i] = std::sin(angle);
    }
  }
}

static void rotate(const OpContext& ctx, float* x, const int* pos, const float* cos_table, const float* sin_table,
                   int N, int heads, int D, float sign) {
  const int half = D / 2;
  parallel_rows(ctx, N, 32, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const float* c = cos_table + static_cast<int64_t>(pos[n]) * half;  // [D/2]
      const float* s = sin_table + static_cast<int64_t>(pos[n]) * half;  // [D/2]
      for (int h = 0; h < heads; ++h) {
        float* v = x + (n * heads + h) * D;  // [D]
        for (int i = 0; i < half; ++i) {
          const float a = v[i], b = v[i + half], sn = sign * s[i];
          v[i] = a * c[i] - b * sn;
          v[i + half] = b * c[i] + a * sn;
        }
      }
    }
  });
}

void rope_forward(const OpContext& ctx, float* x, const int* pos, const float* cos_table, const float* sin_table,
                  int N, int heads, int D) {
  rotate(ctx, x, pos, cos_table, sin_table, N, heads, D, 1.f);
}

void rope_backward(const OpContext& ctx, float* dx, const int* pos, const float* cos_table, const float* sin_table,
                   int N, int heads, int D) {
  rotate(ctx, dx, pos, cos_table, sin_table, N, heads, D, -1.f);
}

}  // namespace tunesmith
