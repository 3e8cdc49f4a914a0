// Cross-entropy over a chunk of trained positions (the model feeds lm_head output chunk by chunk, so the
// full [N,V] logits never exist). Forward saves log-sum-exp; backward overwrites the logits with
// dlogits = grad_scale·(softmax − onehot). n=positions in the chunk V=vocab
#include <cmath>

#include "parallel.h"

namespace tunesmith {

double cross_entropy_forward(const OpContext& ctx, float* losses, float* lse, const float* logits, const int* targets,
                             int n, int V) {
  parallel_rows(ctx, n, 4, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* l = logits + i * V;  // [V]
      float mx = l[0];
      for (int v = 1; v < V; ++v) mx = std::max(mx, l[v]);
      double sum = 0;  // fp32 exponentials (as torch), summed in double
      for (int v = 0; v < V; ++v) sum += std::exp(l[v] - mx);
      lse[i] = mx + static_cast<float>(std::log(sum));
      losses[i] = lse[i] - l[targets[i]];
    }
  });
  double total = 0;
  for (int i = 0; i < n; ++i) total += losses[i];
  return total;
}

void cross_entropy_backward(const OpContext& ctx, float* logits, const float* lse, const int* targets, int n, int V,
                            float grad_scale) {
  parallel_rows(ctx, n, 4, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float* l = logits + i * V;
      const float m = lse[i];
      for (int v = 0; v < V; ++v) l[v] = grad_scale * std::exp(l[v] - m);
      l[targets[i]] -= grad_scale;
    }
  });
}

double cross_entropy_forward_backward(const OpContext& ctx, float* losses, float* logits, const int* targets, int n,
                                      int V, float grad_scale) {
  parallel_rows(ctx, n, 4, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float* l = logits + i * V;  // [V]
      float mx = l[0];
      for (int v = 1; v < V; ++v) mx = std::max(mx, l[v]);
      const float target_logit = l[targets[i]];
      double sum = 0;
      for (int v = 0; v < V; ++v) sum += (l[v] = std::exp(l[v] - mx));  // numerators kept in place
      losses[i] = mx + static_cast<float>(std::log(sum)) - target_logit;
      const float scale = static_cast<float>(grad_scale / sum);
      for (int v = 0; v < V; ++v) l[v] *= scale;
      l[targets[i]] -= grad_scale;
    }
  });
  double total = 0;
  for (int i = 0; i < n; ++i) total += losses[i];
  return total;
}

}  // namespace tunesmith
