// cross_entropy by formula and finite differences; AdamW against torch.optim.AdamW's update written
// out by hand; the grad-norm sum is independent of the thread count. n=positions V=vocab
#include <cmath>

#include "op_check.h"
#include "test_framework.h"

using namespace tunesmith;
using namespace opcheck;

TEST(ops_cross_entropy_forward_and_gradient) {
  const int n = 4, V = 23;
  auto logits = randn(size_t(n) * V, 81, 3.f);
  const int targets[n] = {0, 22, 7, 7};
  std::vector<float> losses(n), lse(n);
  const double total = cross_entropy_forward(ctx(), losses.data(), lse.data(), logits.data(), targets, n, V);
  double want = 0;
  for (int i = 0; i < n; ++i) {
    double s = 0;
    for (int v = 0; v < V; ++v) s += std::exp(double(logits[i * V + v]));
    want += std::log(s) - logits[i * V + targets[i]];
  }
  require(std::fabs(total - want) < 1e-4 * std::fabs(want), "cross-entropy sum");
  auto loss = [&] { return cross_entropy_forward(ctx(), losses.data(), lse.data(), logits.data(), targets, n, V) * 0.5; };
  loss();
  auto d = logits;
  cross_entropy_backward(ctx(), d.data(), lse.data(), targets, n, V, 0.5f);
  require_grad(logits, d, loss, "cross-entropy dlogits", 2e-2, 1e-2f);
}

TEST(ops_cross_entropy_fused_equals_forward_then_backward) {
  const int n = 3, V = 17;
  auto logits = randn(size_t(n) * V, 83, 3.f);
  const int targets[n] = {4, 0, 16};
  std::vector<float> l1(n), l2(n), lse(n);
  auto separate = logits, fused = logits;
  const double a = cross_entropy_forward(ctx(), l1.data(), lse.data(), separate.data(), targets, n, V);
  cross_entropy_backward(ctx(), separate.data(), lse.data(), targets, n, V, 0.25f);
  const double b = cross_entropy_forward_backward(ctx(), l2.data(), fused.data(), targets, n, V, 0.25f);
  require(std::fabs(a - b) < 1e-5 * std::fabs(a), "fused loss");
  require_close(l2, l1, 1e-5, "fused losses");
  require_close(fused, separate, 1e-5, "fused gradient", 1e-2);
}

TEST(ops_adamw_matches_torch_formula) {
  const int n = 5;
  auto p = randn(n, 91), g = randn(n, 92);
  std::vector<float> m(n), v(n);
  AdamWParams hp;
  hp.lr = 0.1f, hp.beta1 = 0.9f, hp.beta2 = 0.99f, hp.eps = 1e-8f, hp.weight_decay = 0.1f;
  std::vector<double> P(p.begin(), p.end()), M(n, 0), Vv(n, 0);
  for (int step = 1; step <= 3; ++step) {
    adamw_step(ctx(), p.data(), g.data(), m.data(), v.data(), n, hp, step);
    for (int i = 0; i < n; ++i) {
      P[i] *= 1 - 0.1 * 0.1;
      M[i] = 0.9 * M[i] + 0.1 * g[i];
      Vv[i] = 0.99 * Vv[i] + 0.01 * double(g[i]) * g[i];
      const double bc1 = 1 - std::pow(0.9, step), bc2 = 1 - std::pow(0.99, step);
      P[i] -= 0.1 / bc1 * M[i] / (std::sqrt(Vv[i]) / std::sqrt(bc2) + 1e-8);
    }
  }
  require_close(p, std::vector<float>(P.begin(), P.end()), 1e-5, "adamw after 3 steps");
}

TEST(ops_grad_norm_is_thread_count_independent) {
  auto g = randn(100003, 93);
  ThreadPool one(1), three(3);
  const double a = grad_sum_squares(OpContext{&one}, g.data(), int64_t(g.size()));
  const double b = grad_sum_squares(OpContext{&three}, g.data(), int64_t(g.size()));
  require(a == b, "grad norm differs between 1 and 3 threads");
  double want = 0;
  for (float x : g) want += double(x) * x;
  require(std::fabs(a - want) < 1e-9 * want, "grad norm value");
}
