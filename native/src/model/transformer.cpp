// The decoder's training path: LoRA init, activation layout, one layer forward and backward side by
// side, the chunked lm_head + cross-entropy, gradient checkpointing, and the optimizer step.
// Layer (formats.md §10.2):  a = rms(x); x += o(attn(rope(q(a)), rope(k(a)), v(a)));
//                            m = rms(x); x += down(silu(gate(m)) · up(m))
// Every projection goes through lora_matmul. Targets: token i is a target when trained[i] = 1 and it
// is not the first of its sequence; it is predicted from position i-1.
// N=tokens C=hidden F=ffn V=vocab H=heads KV=kv heads D=head_dim R=rank L=layers
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "model_internal.h"

namespace tunesmith {

namespace {
constexpr const char* kProjNames[kProjCount] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                "gate_proj", "up_proj", "down_proj"};
}

const char* proj_name(Proj p) { return kProjNames[p]; }
bool proj_from_name(const std::string& name, Proj* out) {
  for (int p = 0; p < kProjCount; ++p)
    if (name == kProjNames[p]) {
      *out = static_cast<Proj>(p);
      return true;
    }
  return false;
}

float LoraSpec::scale() const {
  return rslora ? alpha / std::sqrt(static_cast<float>(rank)) : alpha / static_cast<float>(rank);
}

// ---- construction -----------------------------------------------------------------------------------

Model::Impl::Impl(const ModelOptions& options) : opt(options), pool(options.threads), ctx{&pool} {
  cfg = load_model_config(opt.model_dir);
  C = cfg.hidden, F = cfg.intermediate, V = cfg.vocab, H = cfg.heads, KV = cfg.kv_heads, D = cfg.head_dim,
  L = cfg.layers;
  TS_CHECK(opt.max_seq_len >= 2, "maxSeqLen must be at least 2 (it is " + std::to_string(opt.max_seq_len) + ")");
  TS_CHECK(opt.lora.rank >= 1, "LoRA rank must be at least 1");
  TS_CHECK(opt.lora.dropout >= 0.f && opt.lora.dropout < 1.f, "LoRA dropout must be in [0, 1)");
  TS_CHECK(D % 2 == 0, "head_dim must be even for RoPE");
  load_base();
  init_lora();
}

// PEFT init: A ← kaiming_uniform_(a=√5) = U(−1/√in, 1/√in); B ← 0. Seeded, slot after slot.
void Model::Impl::init_lora() {
  slots.clear();
  slot_of.assign(static_cast<size_t>(L) * kProjCount, -1);
  const int R = opt.lora.rank;
  int64_t offset = 0;
  for (int l = 0; l < L; ++l)
    for (int p = 0; p < kProjCount; ++p) {
      if (!opt.lora.targets[p]) continue;
      const FrozenWeight& w = layers[l].w[p];
      LoraSlot s{l, static_cast<Proj>(p), offset, offset + int64_t(R) * w.in, R, w.in, w.out, R};
      offset = s.b_offset + int64_t(w.out) * R;
      slot_of[l * kProjCount + p] = static_cast<int>(slots.size());
      slots.push_back(s);
    }
  n_params = offset;
  train_arena.build([&](Arena& a) {
    params = a.take<float>(n_params);
    grads = a.take<float>(n_params);
    m = a.take<float>(n_params);
    v = a.take<float>(n_params);
  });
  std::mt19937_64 rng(opt.seed);
  for (const LoraSlot& s : slots) {
    const float bound = 1.f / std::sqrt(static_cast<float>(s.cols_a));
    std::uniform_real_distribution<float> dist(-bound, bound);
    for (int64_t i = 0; i < int64_t(s.rows_a) * s.cols_a; ++i) params[s.a_offset + i] = dist(rng);
  }
}

LoraFactors Model::Impl::lora_of(int layer, Proj p) const {
  const int s = slot_of[layer * kProjCount + p];
  if (s < 0) return LoraFactors{};
  return LoraFactors{params + slots[s].a_offset, params + slots[s].b_offset, opt.lora.rank, opt.lora.scale()};
}
float* Model::Impl::grad_a(int layer, Proj p) { return grads + slots[slot_of[layer * kProjCount + p]].a_offset; }
float* Model::Impl::grad_b(int layer, Proj p) { return grads + slots[slot_of[layer * kProjCount + p]].b_offset; }

int Model::Impl::window_of(int layer) const {
  if (cfg.sliding_window <= 0) return 0;
  if (cfg.arch == Arch::Qwen2 && layer < cfg.max_window_layers) return 0;
  return cfg.sliding_window;
}

uint64_t Model::Impl::next_seed() { return mix_seed(opt.seed, ++rng_counter); }

int64_t Model::Impl::bytes_held() const {
  return int64_t(base_arena.capacity() + train_arena.capacity() + act_arena.capacity());
}

// ---- activations ------------------------------------------------------------------------------------

void Model::Impl::ensure_activations(int N) {
  if (N <= act_capacity) return;
  const int64_t n = N, QD = int64_t(H) * D, KD = int64_t(KV) * D, R = opt.lora.rank;
  int64_t scratch = 0;
  for (int p = 0; p < kProjCount; ++p)
    scratch = std::max(scratch, lora_matmul_scratch_floats(N, layers[0].w[p].in, layers[0].w[p].out, int(R)));
  acts.assign(L, LayerActs{});
  act_arena.build([&](Arena& a) {
    auto f = [&](int64_t count) { return a.take<float>(static_cast<size_t>(count)); };
    auto fill = [&](LayerActs& s) {
      s.ln1 = f(n * C), s.rstd1 = f(n), s.q = f(n * QD), s.k = f(n * KD), s.v = f(n * KD), s.att = f(n * QD);
      s.lse = f(n * H), s.x_mid = f(n * C), s.ln2 = f(n * C), s.rstd2 = f(n), s.gate = f(n * F), s.up = f(n * F);
      s.h = f(n * F);
      for (int p = 0; p < kProjCount; ++p) s.u[p] = f(n * R);
    };
    for (int l = 0; l < L; ++l) {
      acts[l].x_in = f(n * C);
      if (!opt.gradient_checkpointing || l == 0) fill(acts[l]);
    }
    if (opt.gradient_checkpointing) {  // every layer's saved state but x_in lives in one shared set
      for (int l = 1; l < L; ++l) {
        float* x_in = acts[l].x_in;
        acts[l] = acts[0];
        acts[l].x_in = x_in;
      }
    }
    x_final = f(n * C), lnf = f(n * C), rstdf = f(n);
    d_res = f(n * C), d_ln = f(n * C), tmp_c = f(n * C);
    d_q = f(n * QD), d_k = f(n * KD), d_v = f(n * KD), d_att = f(n * QD);
    d_gate = f(n * F), d_up = f(n * F), d_h = f(n * F);
    lora_scratch = f(scratch);
    pos = a.take<int>(static_cast<size_t>(n));
    chunk_in = f(int64_t(kLossChunk) * C), chunk_logits = f(int64_t(kLossChunk) * V);
    chunk_losses = f(kLossChunk), chunk_lse = f(kLossChunk);
    chunk_targets = a.take<int>(kLossChunk), chunk_rows = a.take<int>(kLossChunk);
  });
  act_capacity = N;
  peak_bytes = std::max(peak_bytes, bytes_held());
}

// ---- validation ---------------------------------------------------------------------------------------

void Model::Impl::validate(const Batch& b) const {
  TS_CHECK(b.n_tokens > 0, "the batch has no tokens");
  TS_CHECK(b.n_seqs > 0, "seqLens is empty: give the length of each sequence in the batch");
  int64_t sum = 0;
  for (int s = 0; s < b.n_seqs; ++s) {
    const int len = b.seq_lens[s];
    if (len <= 0 || len > opt.max_seq_len)
      TS_FAIL("seqLens[" + std::to_string(s) + "] is " + std::to_string(len) + "; each sequence needs 1.." +
              std::to_string(opt.max_seq_len) + " tokens (maxSeqLen) — truncate it or load with a larger maxSeqLen");
    sum += len;
  }
  if (sum != b.n_tokens)
    TS_FAIL("seqLens add up to " + std::to_string(sum) + " but tokens has " + std::to_string(b.n_tokens) +
            " entries; they must match");
  for (int i = 0; i < b.n_tokens; ++i)
    if (b.tokens[i] < 0 || b.tokens[i] >= V)
      TS_FAIL("tokens[" + std::to_string(i) + "] is " + std::to_string(b.tokens[i]) + ", outside the vocabulary (0.." +
              std::to_string(V - 1) + "); was the data tokenized with this model's tokenizer?");
}

// ---- one layer ------------------------------------------------------------------------------------

namespace {

struct LayerContext {
  Model::Impl& m;
  int N;
  const SeqSpans& seqs;
  uint64_t seed;     // dropout seeds derive from it
  float dropout;     // 0 outside training
  bool use_adapter;
};

LoraDropout dropout_for(const LayerContext& lc, int layer, Proj p) {
  return LoraDropout{lc.dropout, mix_seed(lc.seed, uint64_t(layer) * kProjCount + p)};
}

LoraFactors adapter(const LayerContext& lc, int layer, Proj p) {
  return lc.use_adapter ? lc.m.lora_of(layer, p) : LoraFactors{};
}

// acts[l] → x_out[N,C]
void layer_forward(const LayerContext& lc, int l, float* x_out) {
  Model::Impl& m = lc.m;
  const OpContext& ctx = m.ctx;
  const FrozenLayer& fl = m.layers[l];
  LayerActs& a = m.acts[l];
  const int N = lc.N;
  rmsnorm_forward(ctx, a.ln1, a.rstd1, a.x_in, fl.attn_norm, N, m.C, m.cfg.rms_eps);
  float* qkv[3] = {a.q, a.k, a.v};
  for (int p = kQ; p <= kV; ++p)
    lora_matmul_forward(ctx, qkv[p], a.u[p], a.ln1, fl.w[p], fl.bias[p], adapter(lc, l, Proj(p)),
                        dropout_for(lc, l, Proj(p)), N, m.lora_scratch);
  rope_forward(ctx, a.q, m.pos, m.rope_cos, m.rope_sin, N, m.H, m.D);
  rope_forward(ctx, a.k, m.pos, m.rope_cos, m.rope_sin, N, m.KV, m.D);
  attention_forward(ctx, a.att, a.lse, a.q, a.k, a.v, lc.seqs, m.H, m.KV, m.D, m.window_of(l));
  lora_matmul_forward(ctx, m.tmp_c, a.u[kO], a.att, fl.w[kO], nullptr, adapter(lc, l, kO), dropout_for(lc, l, kO), N,
                      m.lora_scratch);
  const int64_t nc = int64_t(N) * m.C;
  for (int64_t i = 0; i < nc; ++i) a.x_mid[i] = a.x_in[i] + m.tmp_c[i];
  rmsnorm_forward(ctx, a.ln2, a.rstd2, a.x_mid, fl.ffn_norm, N, m.C, m.cfg.rms_eps);
  lora_matmul_forward(ctx, a.gate, a.u[kGate], a.ln2, fl.w[kGate], nullptr, adapter(lc, l, kGate),
                      dropout_for(lc, l, kGate), N, m.lora_scratch);
  lora_matmul_forward(ctx, a.up, a.u[kUp], a.ln2, fl.w[kUp], nullptr, adapter(lc, l, kUp), dropout_for(lc, l, kUp), N,
                      m.lora_scratch);
  swiglu_forward(ctx, a.h, a.gate, a.up, int64_t(N) * m.F);
  lora_matmul_forward(ctx, m.tmp_c, a.u[kDown], a.h, fl.w[kDown], nullptr, adapter(lc, l, kDown),
                      dropout_for(lc, l, kDown), N, m.lora_scratch);
  for (int64_t i = 0; i < nc; ++i) x_out[i] = a.x_mid[i] + m.tmp_c[i];
}

// d_res holds dL/dx_out on entry and dL/dx_in on return; LoRA gradients accumulate.
void layer_backward(const LayerContext& lc, int l) {
  Model::Impl& m = lc.m;
  const OpContext& ctx = m.ctx;
  const FrozenLayer& fl = m.layers[l];
  LayerActs& a = m.acts[l];
  const int N = lc.N;
  auto lora_back = [&](Proj p, float* dx, bool acc, const float* dy, const float* x) {
    const LoraFactors f = m.lora_of(l, p);
    lora_matmul_backward(ctx, dx, acc, f.A ? m.grad_a(l, p) : nullptr, f.A ? m.grad_b(l, p) : nullptr, dy, x, a.u[p],
                         fl.w[p], f, dropout_for(lc, l, p), N, m.lora_scratch);
  };
  // MLP: x_out = x_mid + down(h)
  lora_back(kDown, m.d_h, false, m.d_res, a.h);
  swiglu_backward(ctx, m.d_gate, m.d_up, m.d_h, a.gate, a.up, int64_t(N) * m.F);
  lora_back(kGate, m.d_ln, false, m.d_gate, a.ln2);
  lora_back(kUp, m.d_ln, true, m.d_up, a.ln2);
  rmsnorm_backward(ctx, m.d_res, nullptr, m.d_ln, a.x_mid, fl.ffn_norm, a.rstd2, N, m.C);  // d_res = dL/dx_mid
  // Attention: x_mid = x_in + o(att)
  lora_back(kO, m.d_att, false, m.d_res, a.att);
  attention_backward(ctx, m.d_q, m.d_k, m.d_v, m.d_att, a.att, a.lse, a.q, a.k, a.v, lc.seqs, m.H, m.KV, m.D,
                     m.window_of(l));
  rope_backward(ctx, m.d_q, m.pos, m.rope_cos, m.rope_sin, N, m.H, m.D);
  rope_backward(ctx, m.d_k, m.pos, m.rope_cos, m.rope_sin, N, m.KV, m.D);
  lora_back(kQ, m.d_ln, false, m.d_q, a.ln1);
  lora_back(kK, m.d_ln, true, m.d_k, a.ln1);
  lora_back(kV, m.d_ln, true, m.d_v, a.ln1);
  rmsnorm_backward(ctx, m.d_res, nullptr, m.d_ln, a.x_in, fl.attn_norm, a.rstd1, N, m.C);  // d_res = dL/dx_in
}

}  // namespace

// ---- the whole model ----------------------------------------------------------------------------------

LossResult Model::Impl::run(const Batch& b, bool backward, const StepOptions& so, std::vector<float>* logits_out) {
  validate(b);
  const int N = b.n_tokens;
  ensure_activations(N);
  std::vector<int> starts(b.n_seqs);
  int max_len = 0;
  for (int s = 0, at = 0; s < b.n_seqs; ++s) {
    starts[s] = at;
    for (int t = 0; t < b.seq_lens[s]; ++t) pos[at + t] = t;
    at += b.seq_lens[s];
    max_len = std::max(max_len, b.seq_lens[s]);
  }
  const SeqSpans seqs{starts.data(), b.seq_lens, b.n_seqs};
  const uint64_t seed = backward ? next_seed() : 0;
  const bool training = backward;
  const LayerContext lc{*this, N, seqs, seed, training && so.lora_dropout ? opt.lora.dropout : 0.f, true};

  Neftune noise;
  if (training && so.neftune_alpha > 0.f) noise = Neftune{so.neftune_alpha, max_len, mix_seed(seed, 0xE3B)};
  embedding_forward(ctx, acts[0].x_in, b.tokens, embed, N, C, noise);
  for (int l = 0; l < L; ++l) layer_forward(lc, l, l + 1 < L ? acts[l + 1].x_in : x_final);
  rmsnorm_forward(ctx, lnf, rstdf, x_final, final_norm, N, C, cfg.rms_eps);

  // Positions whose next token is a target.
  // (With logits_out every position is computed, the last of each sequence without a target.)
  std::vector<int> rows;
  std::vector<char> is_target;
  for (int s = 0; s < b.n_seqs; ++s)
    for (int t = 0; t < b.seq_lens[s]; ++t) {
      const bool target = t + 1 < b.seq_lens[s] && b.trained[starts[s] + t + 1];
      if (target || logits_out) rows.push_back(starts[s] + t), is_target.push_back(target);
    }
  if (logits_out) logits_out->assign(size_t(N) * V, 0.f);

  if (backward) std::memset(d_ln, 0, sizeof(float) * size_t(N) * C);
  double loss_sum = 0;
  int64_t count = 0;
  for (size_t c0 = 0; c0 < rows.size(); c0 += kLossChunk) {
    const int n = int(std::min<size_t>(kLossChunk, rows.size() - c0));
    for (int i = 0; i < n; ++i) {
      chunk_rows[i] = rows[c0 + i];
      chunk_targets[i] = is_target[c0 + i] ? b.tokens[chunk_rows[i] + 1] : 0;
      std::memcpy(chunk_in + int64_t(i) * C, lnf + int64_t(chunk_rows[i]) * C, sizeof(float) * C);
    }
    matmul_forward(ctx, chunk_logits, chunk_in, lm_head, nullptr, n);  // [n,V]
    if (logits_out) {
      for (int i = 0; i < n; ++i)
        std::memcpy(logits_out->data() + int64_t(chunk_rows[i]) * V, chunk_logits + int64_t(i) * V, sizeof(float) * V);
    }
    if (backward) {  // (backward never asks for logits, so every row here is a target)
      cross_entropy_forward_backward(ctx, chunk_losses, chunk_logits, chunk_targets, n, V, 1.f);  // d(Σ loss)
    } else {
      cross_entropy_forward(ctx, chunk_losses, chunk_lse, chunk_logits, chunk_targets, n, V);
    }
    for (int i = 0; i < n; ++i)
      if (is_target[c0 + i]) loss_sum += chunk_losses[i], ++count;
    if (!backward) continue;
    matmul_backward(ctx, chunk_in, false, chunk_logits, lm_head, n);               // chunk_in := dlnf rows
    for (int i = 0; i < n; ++i) {
      float* dst = d_ln + int64_t(chunk_rows[i]) * C;
      const float* src = chunk_in + int64_t(i) * C;
      for (int c = 0; c < C; ++c) dst[c] += src[c];
    }
  }

  if (backward) {
    std::memset(d_res, 0, sizeof(float) * size_t(N) * C);
    rmsnorm_backward(ctx, d_res, nullptr, d_ln, x_final, final_norm, rstdf, N, C);
    for (int l = L - 1; l >= 0; --l) {
      if (opt.gradient_checkpointing) layer_forward(lc, l, l + 1 < L ? acts[l + 1].x_in : x_final);  // recompute
      layer_backward(lc, l);
    }
    pending_tokens += count;
    pending_loss += loss_sum;
  }
  LossResult r;
  r.trained_tokens = count;
  r.loss = count ? loss_sum / double(count) : 0.0;
  return r;
}

// Generation's prompt pass: the whole prompt through the layers at once (one read of each weight, not one
// per token), copying each layer's rotated K and V into the cache; leaves the last position's normed
// hidden state in lnf row n-1.
void Model::Impl::prefill(const int* tokens, int n, bool use_adapter, float* k_cache, float* v_cache, int cache_rows) {
  ensure_activations(n);
  for (int t = 0; t < n; ++t) pos[t] = t;
  const int start = 0;
  const SeqSpans seqs{&start, &n, 1};
  const LayerContext lc{*this, n, seqs, 0, 0.f, use_adapter};
  embedding_forward(ctx, acts[0].x_in, tokens, embed, n, C, Neftune{});
  const size_t kd = size_t(KV) * D;
  for (int l = 0; l < L; ++l) {
    layer_forward(lc, l, l + 1 < L ? acts[l + 1].x_in : x_final);
    std::memcpy(k_cache + size_t(l) * cache_rows * kd, acts[l].k, sizeof(float) * kd * n);
    std::memcpy(v_cache + size_t(l) * cache_rows * kd, acts[l].v, sizeof(float) * kd * n);
  }
  rmsnorm_forward(ctx, lnf, rstdf, x_final, final_norm, n, C, cfg.rms_eps);
}

// ---- Model --------------------------------------------------------------------------------------------

Model::Model(const ModelOptions& options) : impl_(std::make_unique<Impl>(options)) {}
Model::~Model() = default;

const ModelConfig& Model::config() const { return impl_->cfg; }
const ModelOptions& Model::options() const { return impl_->opt; }

LossResult Model::step(const Batch& batch, const StepOptions& options) {
  return impl_->run(batch, true, options, nullptr);
}

LossResult Model::eval_loss(const Batch& batch) { return impl_->run(batch, false, StepOptions{}, nullptr); }

std::vector<float> Model::logits(const Batch& batch) {
  std::vector<float> out;
  impl_->run(batch, false, StepOptions{}, &out);
  return out;
}

OptimizerResult Model::optimizer_step(const AdamWParams& hp, float max_grad_norm) {
  Impl& m = *impl_;
  TS_CHECK(m.pending_tokens > 0,
           "optimizerStep was called with no trained tokens since the last update: call step() with a batch whose "
           "trained mask marks at least one target token first");
  // Σ-loss gradients → gradients of the mean over the optimizer step's trained tokens.
  scale_inplace(m.ctx, m.grads, m.n_params, 1.f / float(m.pending_tokens));
  const double norm = std::sqrt(grad_sum_squares(m.ctx, m.grads, m.n_params));
  if (max_grad_norm > 0.f) {
    const double coef = double(max_grad_norm) / (norm + 1e-6);  // torch clip_grad_norm_
    if (coef < 1.0) scale_inplace(m.ctx, m.grads, m.n_params, float(coef));
  }
  ++m.step_count;
  adamw_step(m.ctx, m.params, m.grads, m.m, m.v, m.n_params, hp, m.step_count);
  std::memset(m.grads, 0, sizeof(float) * size_t(m.n_params));
  OptimizerResult r;
  r.grad_norm = norm;
  r.loss = m.pending_loss / double(m.pending_tokens);
  r.trained_tokens = m.pending_tokens;
  m.pending_tokens = 0;
  m.pending_loss = 0;
  return r;
}

MemoryInfo Model::memory() const {
  MemoryInfo info;
  info.host_bytes = impl_->bytes_held();
  info.peak_bytes = std::max(impl_->peak_bytes, info.host_bytes);
  return info;
}
int64_t Model::optimizer_steps() const { return impl_->step_count; }
const std::vector<Model::LoraSlot>& Model::lora_slots() const { return impl_->slots; }
float* Model::lora_params() { return impl_->params; }
const float* Model::lora_grads() const { return impl_->grads; }
int64_t Model::lora_param_count() const { return impl_->n_params; }
int64_t Model::pending_trained_tokens() const { return impl_->pending_tokens; }

}  // namespace tunesmith
