// AdamW as torch.optim.AdamW: decoupled weight decay p ← p·(1 − lr·wd), then the bias-corrected Adam
// update. One flat loop: gradients and moments mirror the parameter layout. Plus the global grad norm.
#include <cmath>
#include <vector>

#include "parallel.h"

namespace tunesmith {

void adamw_step(const OpContext& ctx, float* params, const float* grads, float* m, float* v, int64_t n,
                const AdamWParams& hp, int64_t step) {
  const double bc1 = 1.0 - std::pow(static_cast<double>(hp.beta1), static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(static_cast<double>(hp.beta2), static_cast<double>(step));
  const float step_size = static_cast<float>(hp.lr / bc1);
  const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  const float decay = 1.f - hp.lr * hp.weight_decay;
  parallel_rows(ctx, n, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float g = grads[i];
      params[i] *= decay;
      m[i] = hp.beta1 * m[i] + (1.f - hp.beta1) * g;
      v[i] = hp.beta2 * v[i] + (1.f - hp.beta2) * g * g;
      const float denom = std::sqrt(v[i]) / bc2_sqrt + hp.eps;
      params[i] -= step_size * m[i] / denom;
    }
  });
}

double grad_sum_squares(const OpContext& ctx, const float* grads, int64_t n) {
  const int64_t chunk = 1 << 14;
  std::vector<double> partial(static_cast<size_t>((n + chunk - 1) / chunk), 0.0);
  parallel_rows(ctx, n, chunk, [&](int64_t begin, int64_t end) {
    double s = 0;
    for (int64_t i = begin; i < end; ++i) s += static_cast<double>(grads[i]) * grads[i];
    partial[static_cast<size_t>(begin / chunk)] = s;
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

void scale_inplace(const OpContext& ctx, float* x, int64_t n, float s) {
  parallel_rows(ctx, n, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) x[i] *= s;
  });
}

}  // namespace tunesmith
