// rmsnorm, rope, swiglu and embedding: forward against their formulas, backward by finite differences.
// N=tokens C=channels D=head_dim
#include <cmath>

#include "op_check.h"
#include "test_framework.h"

using namespace tunesmith;
using namespace opcheck;

TEST(ops_rmsnorm_forward_and_gradients) {
  const int N = 5, C = 19;
  auto x = randn(size_t(N) * C, 31), w = randn(C, 32);
  std::vector<float> y(x.size()), rstd(N);
  rmsnorm_forward(ctx(), y.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5f);
  std::vector<float> want(x.size());
  for (int n = 0; n < N; ++n) {
    double ss = 0;
    for (int c = 0; c < C; ++c) ss += double(x[n * C + c]) * x[n * C + c];
    const double r = 1.0 / std::sqrt(ss / C + 1e-5);
    for (int c = 0; c < C; ++c) want[n * C + c] = float(w[c] * x[n * C + c] * r);
  }
  require_close(y, want, 1e-5, "rmsnorm forward");

  auto dy = randn(x.size(), 33);
  auto loss = [&] {
    rmsnorm_forward(ctx(), y.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5f);
    return weighted_sum(y, dy);
  };
  loss();
  std::vector<float> dx(x.size()), dw(C);
  rmsnorm_backward(ctx(), dx.data(), dw.data(), dy.data(), x.data(), w.data(), rstd.data(), N, C);
  require_grad(x, dx, loss, "rmsnorm dx");
  require_grad(w, dw, loss, "rmsnorm dw");
}

TEST(ops_rope_rotates_halves_and_backward_inverts) {
  const int N = 6, heads = 3, D = 8, T = 16;
  std::vector<float> cosT(T * D / 2), sinT(T * D / 2);
  RopeScaling none;
  rope_table(cosT.data(), sinT.data(), T, D, 10000.f, none);
  const int pos[N] = {0, 1, 2, 0, 7, 15};
  auto x = randn(size_t(N) * heads * D, 41);
  auto y = x;
  rope_forward(ctx(), y.data(), pos, cosT.data(), sinT.data(), N, heads, D);
  // HF: x·cos + rotate_half(x)·sin with cat(freqs, freqs)
  std::vector<float> want(x.size());
  for (int n = 0; n < N; ++n)
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < D; ++i) {
        const int f = i % (D / 2);
        const double angle = pos[n] * std::pow(10000.0, -2.0 * f / D);
        const float* v = &x[(size_t(n) * heads + h) * D];
        const double rot = i < D / 2 ? -v[i + D / 2] : v[i - D / 2];
        want[(size_t(n) * heads + h) * D + i] = float(v[i] * std::cos(angle) + rot * std::sin(angle));
      }
  require_close(y, want, 1e-4, "rope forward");
  // The rotation is linear, so its gradient is its transpose: the FD check on Σ rope(x) ⊙ r.
  auto r = randn(x.size(), 42);
  auto loss = [&] {
    y = x;
    rope_forward(ctx(), y.data(), pos, cosT.data(), sinT.data(), N, heads, D);
    return weighted_sum(y, r);
  };
  auto dx = r;
  rope_backward(ctx(), dx.data(), pos, cosT.data(), sinT.data(), N, heads, D);
  require_grad(x, dx, loss, "rope dx");
}

TEST(ops_rope_llama3_scaling_matches_hf_formula) {
  const int D = 16, T = 3;
  RopeScaling s;
  s.type = RopeScaling::Type::Llama3;
  s.factor = 8.f, s.low_freq_factor = 1.f, s.high_freq_factor = 4.f, s.original_max_position = 64;
  std::vector<float> cosT(T * D / 2), sinT(T * D / 2);
  rope_table(cosT.data(), sinT.data(), T, D, 500000.f, s);
  for (int i = 0; i < D / 2; ++i) {
    double inv = std::pow(500000.0, -2.0 * i / D);
    const double wl = 2 * M_PI / inv, low_wl = 64.0, high_wl = 16.0;
    if (wl > low_wl) {
      inv /= 8.0;
    } else if (wl >= high_wl) {
      const double sm = (64.0 / wl - 1.0) / 3.0;
      inv = (1 - sm) * inv / 8.0 + sm * inv;
    }
    const double got = std::atan2(sinT[2 * D / 2 + i], cosT[2 * D / 2 + i]);  // position 2
    require(std::fabs(got - 2 * inv) < 1e-5, "llama3 frequency " + std::to_string(i));
  }
}

TEST(ops_swiglu_gradients) {
  const int n = 37;
  auto g = randn(n, 51, 2.f), u = randn(n, 52);
  std::vector<float> h(n);
  auto r = randn(n, 53);
  auto loss = [&] {
    swiglu_forward(ctx(), h.data(), g.data(), u.data(), n);
    return weighted_sum(h, r);
  };
  loss();
  for (int i = 0; i < n; ++i) require(std::fabs(h[i] - g[i] / (1 + std::exp(-g[i])) * u[i]) < 1e-5, "swiglu forward");
  std::vector<float> dg(n), du(n);
  swiglu_backward(ctx(), dg.data(), du.data(), r.data(), g.data(), u.data(), n);
  require_grad(g, dg, loss, "swiglu dgate");
  require_grad(u, du, loss, "swiglu dup");
}

TEST(ops_embedding_lookup_and_neftune_bounds) {
  const int V = 11, C = 10, N = 6;
  auto table = randn(size_t(V) * C, 61);
  const int tokens[N] = {3, 0, 10, 3, 5, 1};
  std::vector<float> out(size_t(N) * C);
  embedding_forward(ctx(), out.data(), tokens, table.data(), N, C, Neftune{});
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) require(out[n * C + c] == table[tokens[n] * C + c], "embedding lookup");
  const Neftune noise{5.f, 4, 1234};
  embedding_forward(ctx(), out.data(), tokens, table.data(), N, C, noise);
  const float mag = 5.f / std::sqrt(4.f * C);
  double mean_abs = 0;
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) {
      const float d = out[n * C + c] - table[tokens[n] * C + c];
      require(std::fabs(d) <= mag * 1.0001f, "neftune noise within ±alpha/sqrt(L·C)");
      mean_abs += std::fabs(d);
    }
  mean_abs /= N * C;
  require(mean_abs > 0.3 * mag && mean_abs < 0.7 * mag, "neftune noise is uniform-ish (mean |noise| ≈ mag/2)");
}
