// Attention against a naive full-matrix reference (causal, GQA, sliding window, two packed sequences
// of odd lengths), and dq/dk/dv by finite differences. N=tokens H=heads KV=kv heads D=head_dim
#include <cmath>

#include "op_check.h"
#include "test_framework.h"

using namespace tunesmith;
using namespace opcheck;

namespace {

std::vector<float> naive_attention(const std::vector<float>& q, const std::vector<float>& k,
                                   const std::vector<float>& v, const std::vector<int>& starts,
                                   const std::vector<int>& lens, int H, int KV, int D, int window) {
  std::vector<float> out(q.size());
  for (size_t s = 0; s < starts.size(); ++s)
    for (int h = 0; h < H; ++h) {
      const int g = h / (H / KV);
      for (int t = 0; t < lens[s]; ++t) {
        std::vector<double> p(lens[s], 0.0);
        double mx = -1e300, sum = 0;
        for (int j = 0; j <= t; ++j) {
          if (window > 0 && j <= t - window) continue;
          double d = 0;
          for (int e = 0; e < D; ++e)
            d += double(q[((starts[s] + t) * H + h) * D + e]) * k[((starts[s] + j) * KV + g) * D + e];
          p[j] = d / std::sqrt(double(D));
          mx = std::max(mx, p[j]);
        }
        for (int j = 0; j <= t; ++j) {
          if (window > 0 && j <= t - window) { p[j] = 0; continue; }
          p[j] = std::exp(p[j] - mx);
          sum += p[j];
        }
        for (int e = 0; e < D; ++e) {
          double o = 0;
          for (int j = 0; j <= t; ++j) o += p[j] / sum * v[((starts[s] + j) * KV + g) * D + e];
          out[((starts[s] + t) * H + h) * D + e] = float(o);
        }
      }
    }
  return out;
}

void check_attention(int H, int KV, int window) {
  const int D = 4;
  const std::vector<int> starts = {0, 5}, lens = {5, 4};
  const int N = 9;
  const std::string tag = "H" + std::to_string(H) + " KV" + std::to_string(KV) + " window" + std::to_string(window);
  auto q = randn(size_t(N) * H * D, 71), k = randn(size_t(N) * KV * D, 72), v = randn(size_t(N) * KV * D, 73);
  SeqSpans seqs{starts.data(), lens.data(), 2};
  std::vector<float> out(q.size()), lse(size_t(N) * H);
  attention_forward(ctx(), out.data(), lse.data(), q.data(), k.data(), v.data(), seqs, H, KV, D, window);
  require_close(out, naive_attention(q, k, v, starts, lens, H, KV, D, window), 1e-4, "attention forward " + tag);

  auto r = randn(out.size(), 74);
  auto loss = [&] {
    attention_forward(ctx(), out.data(), lse.data(), q.data(), k.data(), v.data(), seqs, H, KV, D, window);
    return weighted_sum(out, r);
  };
  loss();
  std::vector<float> dq(q.size()), dk(k.size()), dv(v.size());
  attention_backward(ctx(), dq.data(), dk.data(), dv.data(), r.data(), out.data(), lse.data(), q.data(), k.data(),
                     v.data(), seqs, H, KV, D, window);
  require_grad(q, dq, loss, "attention dq " + tag);
  require_grad(k, dk, loss, "attention dk " + tag);
  require_grad(v, dv, loss, "attention dv " + tag);
}

}  // namespace

TEST(ops_attention_multi_head) { check_attention(2, 2, 0); }
TEST(ops_attention_grouped_query) { check_attention(4, 2, 0); }
TEST(ops_attention_sliding_window) { check_attention(3, 1, 2); }

namespace {

// Dense backward in double: P = softmax(mask(Q·Kᵀ/√D)), dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dO ⊙ O)),
// dQ = dS·K/√D, dK = dSᵀ·Q/√D, dV = Pᵀ·dO (GQA: summed over the heads sharing a KV head).
void naive_attention_backward(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                              const std::vector<float>& dout, const std::vector<int>& starts,
                              const std::vector<int>& lens, int H, int KV, int D, int window,
                              std::vector<double>& dq, std::vector<double>& dk, std::vector<double>& dv) {
  dq.assign(q.size(), 0), dk.assign(k.size(), 0), dv.assign(v.size(), 0);
  const double sc = 1 / std::sqrt(double(D));
  for (size_t s = 0; s < starts.size(); ++s)
    for (int h = 0; h < H; ++h) {
      const int g = h / (H / KV), T = lens[s], b = starts[s];
      auto Q = [&](int t, int e) { return double(q[((b + t) * H + h) * D + e]); };
      auto K = [&](int t, int e) { return double(k[((b + t) * KV + g) * D + e]); };
      auto Vv = [&](int t, int e) { return double(v[((b + t) * KV + g) * D + e]); };
      auto dO = [&](int t, int e) { return double(dout[((b + t) * H + h) * D + e]); };
      for (int t = 0; t < T; ++t) {
        std::vector<double> p(T, 0.0), dp(T, 0.0);
        double mx = -1e300, sum = 0;
        auto visible = [&](int j) { return j <= t && !(window > 0 && j <= t - window); };
        for (int j = 0; j < T; ++j)
          if (visible(j)) {
            double d = 0;
            for (int e = 0; e < D; ++e) d += Q(t, e) * K(j, e);
            p[j] = d * sc, mx = std::max(mx, p[j]);
          }
        for (int j = 0; j < T; ++j) p[j] = visible(j) ? std::exp(p[j] - mx) : 0, sum += p[j];
        double delta = 0;
        for (int j = 0; j < T; ++j) {
          p[j] /= sum;
          for (int e = 0; e < D; ++e) dp[j] += dO(t, e) * Vv(j, e);
          delta += p[j] * dp[j];
        }
        for (int j = 0; j < T; ++j) {
          const double ds = p[j] * (dp[j] - delta) * sc;
          for (int e = 0; e < D; ++e) {
            dq[((b + t) * H + h) * D + e] += ds * K(j, e);
            dk[((b + j) * KV + g) * D + e] += ds * Q(t, e);
            dv[((b + j) * KV + g) * D + e] += p[j] * dO(t, e);
          }
        }
      }
    }
}

void check_long_attention(int window) {
  // Longer than one 64-row query block, so block edges, the window's first key and GQA all meet.
  const int H = 4, KV = 2, D = 8;
  const std::vector<int> starts = {0, 150}, lens = {150, 70};
  const int N = 220;
  auto q = randn(size_t(N) * H * D, 75), k = randn(size_t(N) * KV * D, 76), v = randn(size_t(N) * KV * D, 77);
  auto dout = randn(q.size(), 78);
  SeqSpans seqs{starts.data(), lens.data(), 2};
  std::vector<float> out(q.size()), lse(size_t(N) * H), dq(q.size()), dk(k.size()), dv(v.size());
  attention_forward(ctx(), out.data(), lse.data(), q.data(), k.data(), v.data(), seqs, H, KV, D, window);
  require_close(out, naive_attention(q, k, v, starts, lens, H, KV, D, window), 1e-4, "long attention forward", 0.1);
  attention_backward(ctx(), dq.data(), dk.data(), dv.data(), dout.data(), out.data(), lse.data(), q.data(), k.data(),
                     v.data(), seqs, H, KV, D, window);
  std::vector<double> wq, wk, wv;
  naive_attention_backward(q, k, v, dout, starts, lens, H, KV, D, window, wq, wk, wv);
  const std::string tag = " window " + std::to_string(window);
  require_close(dq, std::vector<float>(wq.begin(), wq.end()), 1e-4, "long attention dq" + tag, 1.0);
  require_close(dk, std::vector<float>(wk.begin(), wk.end()), 1e-4, "long attention dk" + tag, 1.0);
  require_close(dv, std::vector<float>(wv.begin(), wv.end()), 1e-4, "long attention dv" + tag, 1.0);
}

}  // namespace

TEST(ops_attention_long_sequences_match_dense_reference) { check_long_attention(0); }
TEST(ops_attention_long_sequences_with_window_match_dense_reference) { check_long_attention(40); }
