// Generation with a KV cache: the prompt goes through the layers in one batched pass that fills the
// cache, then each new token goes through alone, appending its rotated K and V, and lm_head turns the
// last hidden state into logits; greedy, or temperature + top-p sampling. The cache is one arena for the call: L × 2 × maxSeqLen × KV·D floats.
// C=hidden F=ffn V=vocab H=heads KV=kv heads D=head_dim R=rank L=layers T=maxSeqLen
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "model_internal.h"

namespace tunesmith {

std::vector<int> Model::generate(const std::vector<int>& prompt, const GenerateOptions& go,
                                 const std::function<bool(int)>& on_token) {
  Impl& m = *impl_;
  TS_CHECK(!prompt.empty(), "the prompt is empty: give at least one token");
  for (size_t i = 0; i < prompt.size(); ++i)
    if (prompt[i] < 0 || prompt[i] >= m.V)
      TS_FAIL("prompt[" + std::to_string(i) + "] is " + std::to_string(prompt[i]) + ", outside the vocabulary (0.." +
              std::to_string(m.V - 1) + ")");
  if (int(prompt.size()) >= m.opt.max_seq_len)
    TS_FAIL("the prompt has " + std::to_string(prompt.size()) + " tokens, which leaves no room under maxSeqLen " +
            std::to_string(m.opt.max_seq_len) + "; shorten it or load with a larger maxSeqLen");
  TS_CHECK(go.top_p > 0.f && go.top_p <= 1.f, "topP must be in (0, 1]");

  const int T = m.opt.max_seq_len, C = m.C, F = m.F, QD = m.H * m.D, KD = m.KV * m.D, R = m.opt.lora.rank;
  const OpContext& ctx = m.ctx;
  Arena arena;
  float *k_cache = nullptr, *v_cache = nullptr, *x = nullptr, *ln = nullptr, *q = nullptr, *k = nullptr, *v = nullptr,
        *att = nullptr, *tmp = nullptr, *gate = nullptr, *up = nullptr, *h = nullptr, *u = nullptr, *logits = nullptr,
        *scratch = nullptr, *rstd = nullptr;
  int64_t scratch_n = 0;
  for (int p = 0; p < kProjCount; ++p)
    scratch_n = std::max(scratch_n, lora_matmul_scratch_floats(1, m.layers[0].w[p].in, m.layers[0].w[p].out, R));
  arena.build([&](Arena& a) {
    k_cache = a.take<float>(size_t(m.L) * T * KD), v_cache = a.take<float>(size_t(m.L) * T * KD);
    x = a.take<float>(C), ln = a.take<float>(C), q = a.take<float>(QD), k = a.take<float>(KD), v = a.take<float>(KD);
    att = a.take<float>(QD), tmp = a.take<float>(C), gate = a.take<float>(F), up = a.take<float>(F);
    h = a.take<float>(F), u = a.take<float>(R), logits = a.take<float>(m.V), scratch = a.take<float>(scratch_n);
    rstd = a.take<float>(1);
  });
  m.peak_bytes = std::max(m.peak_bytes, m.bytes_held() + int64_t(arena.capacity()));

  const LoraDropout no_dropout{};
  auto proj = [&](int l, Proj p, float* y, const float* in, const float* bias) {
    const LoraFactors f = go.use_adapter ? m.lora_of(l, p) : LoraFactors{};
    lora_matmul_forward(ctx, y, u, in, m.layers[l].w[p], bias, f, no_dropout, 1, scratch);
  };
  // One token at position t through the model; leaves logits[V].
  auto forward_token = [&](int token, int t) {
    embedding_forward(ctx, x, &token, m.embed, 1, C, Neftune{});
    for (int l = 0; l < m.L; ++l) {
      const FrozenLayer& fl = m.layers[l];
      float* kc = k_cache + (size_t(l) * T) * KD;
      float* vc = v_cache + (size_t(l) * T) * KD;
      rmsnorm_forward(ctx, ln, rstd, x, fl.attn_norm, 1, C, m.cfg.rms_eps);
      proj(l, kQ, q, ln, fl.bias[0]);
      proj(l, kK, kc + size_t(t) * KD, ln, fl.bias[1]);
      proj(l, kV, vc + size_t(t) * KD, ln, fl.bias[2]);
      rope_forward(ctx, q, &t, m.rope_cos, m.rope_sin, 1, m.H, m.D);
      rope_forward(ctx, kc + size_t(t) * KD, &t, m.rope_cos, m.rope_sin, 1, m.KV, m.D);
      attention_decode(ctx, att, q, kc, vc, t, m.H, m.KV, m.D, m.window_of(l));
      proj(l, kO, tmp, att, nullptr);
      for (int c = 0; c < C; ++c) x[c] += tmp[c];
      rmsnorm_forward(ctx, ln, rstd, x, fl.ffn_norm, 1, C, m.cfg.rms_eps);
      proj(l, kGate, gate, ln, nullptr);
      proj(l, kUp, up, ln, nullptr);
      swiglu_forward(ctx, h, gate, up, F);
      proj(l, kDown, tmp, h, nullptr);
      for (int c = 0; c < C; ++c) x[c] += tmp[c];
    }
    rmsnorm_forward(ctx, ln, rstd, x, m.final_norm, 1, C, m.cfg.rms_eps);
    matmul_forward(ctx, logits, ln, m.lm_head, nullptr, 1);
  };

  std::mt19937_64 rng(mix_seed(~m.opt.seed, ++m.sample_counter));
  std::vector<int> order(m.V);
  auto sample = [&]() -> int {
    if (go.temperature <= 0.f) return int(std::max_element(logits, logits + m.V) - logits);
    const float mx = *std::max_element(logits, logits + m.V);
    double sum = 0;
    for (int i = 0; i < m.V; ++i) sum += (logits[i] = std::exp((logits[i] - mx) / go.temperature));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    double kept = 0;
    size_t n_keep = 0;
    while (n_keep < order.size() && (n_keep == 0 || kept < go.top_p * sum)) kept += logits[order[n_keep++]];
    double r = std::uniform_real_distribution<double>(0.0, kept)(rng);
    for (size_t i = 0; i < n_keep; ++i) {
      r -= logits[order[i]];
      if (r <= 0) return order[i];
    }
    return order[n_keep - 1];
  };

  // The prompt in one pass, then its last position's logits.
  m.prefill(prompt.data(), int(prompt.size()), go.use_adapter, k_cache, v_cache, T);
  matmul_forward(ctx, logits, m.lnf + int64_t(prompt.size() - 1) * C, m.lm_head, nullptr, 1);
  std::vector<int> out;
  int t = int(prompt.size());
  for (int n = 0; n < go.max_new_tokens; ++n) {
    const int token = sample();
    out.push_back(token);
    if (on_token && !on_token(token)) break;  // the caller stopped it (a cancelled chat reply)
    if (std::find(go.stop_tokens.begin(), go.stop_tokens.end(), token) != go.stop_tokens.end()) break;
    if (t >= T) break;  // the cache is full: maxSeqLen reached
    forward_token(token, t++);
  }
  return out;
}

}  // namespace tunesmith
