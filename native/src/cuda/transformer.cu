// The decoder's training path on the GPU (see cuda_model.h), twin of src/model/transformer.cpp:
//   a = rms(x); x += o(attn(rope(q(a)), rope(k(a)), v(a)));  m = rms(x); x += down(silu(gate(m)) · up(m))
// Every projection goes through lora_matmul. Dtypes: the residual stream x and its gradient are fp32;
// norm outputs, q/k/v, attention output, gate/up/h and every gradient that feeds a GEMM are bf16; o_proj
// and down_proj add straight into the fp32 residual; q/k/v and gate/up backward add into the fp32 norm
// gradient. The loss runs over the trained positions in chunks of 256 rows through lm_head, so [N,V]
// logits never exist, and only its sum and count come back to the host, once per step.
// N=tokens C=hidden F=ffn V=vocab H=heads KV=kv heads D=head_dim R=rank L=layers P=LoRA floats
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "arena.h"
#include "cuda_check.h"
#include "cuda_gemm.h"
#include "cuda_model.h"
#include "cuda_ops.h"
#include "device_math.h"
#include "model/model_internal.h"  // mix_seed, proj_role
#include "safetensors.h"
#include "tensor_names.h"

namespace tunesmith {
namespace cuda {

constexpr int kLossChunk = 256;  // lm_head rows per chunk: [256, V] fp32 logits at a time

// The frozen weights of one layer on the device.
struct DeviceLayer {
  DeviceWeight w[kProjCount];
  const float* attn_norm = nullptr;                    // [C]
  const float* ffn_norm = nullptr;                     // [C]
  const float* bias[3] = {nullptr, nullptr, nullptr};  // q [H*D], k [KV*D], v [KV*D] (Qwen2)
};

// Saved activations of one layer for backward (the CPU's LayerActs, with the GPU's dtypes).
struct DeviceLayerActs {
  float* x_in = nullptr;   // f32 [N,C] residual stream entering the layer
  bf16* ln1 = nullptr;     // bf16 [N,C]
  float* rstd1 = nullptr;  // f32 [N]
  bf16* q = nullptr;       // bf16 [N,H*D] after RoPE
  bf16* k = nullptr;       // bf16 [N,KV*D] after RoPE
  bf16* v = nullptr;       // bf16 [N,KV*D]
  bf16* att = nullptr;     // bf16 [N,H*D]
  float* lse = nullptr;    // f32 [N,H]
  float* x_mid = nullptr;  // f32 [N,C]
  bf16* ln2 = nullptr;     // bf16 [N,C]
  float* rstd2 = nullptr;  // f32 [N]
  bf16* gate = nullptr;    // bf16 [N,F]
  bf16* up = nullptr;      // bf16 [N,F]
  bf16* h = nullptr;       // bf16 [N,F]
  float* u[kProjCount] = {};  // f32 [N,R] LoRA intermediates
};

namespace {

// Host copy → device, as bf16 bits.
void upload_bf16(bf16* dst, const float* src, int64_t n) {
  std::vector<uint16_t> bits(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) bits[i] = dm::bf16_bits_from_float(src[i]);
  CUDA_CHECK(cudaMemcpy(dst, bits.data(), size_t(n) * 2, cudaMemcpyHostToDevice));
}

template <typename T>
void upload(T* dst, const T* src, int64_t n, const CudaContext& ctx) {
  if (n > 0) CUDA_CHECK(cudaMemcpyAsync(dst, src, size_t(n) * sizeof(T), cudaMemcpyHostToDevice, ctx.stream));
}

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

}  // namespace

struct CudaModel::Impl {
  Model& host;
  ModelConfig cfg;
  ModelOptions opt;
  int C = 0, F = 0, V = 0, H = 0, KV = 0, D = 0, L = 0, R = 0;
  CudaContext ctx;

  // ---- frozen base
  DeviceArena base_arena{"the frozen base model", "load it with NF4, pick a smaller model, or close other programs "
                                                  "that use the GPU"};
  bf16* embed = nullptr;        // bf16 [V,C]
  float* final_norm = nullptr;  // f32 [C]
  bf16* lm_head = nullptr;      // bf16 [V,C] (= embed when tied)
  std::vector<DeviceLayer> layers;
  float* rope_cos = nullptr;  // f32 [max_seq_len, D/2]
  float* rope_sin = nullptr;

  // ---- trainable state
  DeviceArena train_arena{"the LoRA adapter and its optimizer state", "lower the LoRA rank"};
  float *params = nullptr, *grads = nullptr, *m = nullptr, *v = nullptr;  // f32 [P] each
  int64_t n_params = 0;
  double* norm_scratch = nullptr;  // [grad_sum_squares_scratch_doubles()]
  double* sum_squares = nullptr;   // [1]
  double* loss_total = nullptr;    // [1] Σ trained-token losses of the step
  int64_t* loss_count = nullptr;   // [1] their number
  std::vector<Model::LoraSlot> slots;
  std::vector<int> slot_of;  // [L*7] index into slots, -1 = not adapted
  int64_t step_count = 0;
  uint64_t rng_counter = 0;
  int64_t pending_tokens = 0;
  double pending_loss = 0;

  // ---- activations
  DeviceArena act_arena{"activations"};
  int act_capacity = 0;
  std::vector<DeviceLayerActs> acts;  // [L]; with checkpointing all but x_in alias one set
  float *x_final = nullptr, *rstdf = nullptr;  // f32 [N,C], [N]
  bf16* lnf = nullptr;                         // bf16 [N,C]
  float *d_res = nullptr, *d_ln = nullptr;     // f32 [N,C]
  bf16* d_res_bf16 = nullptr;                  // bf16 [N,C]: d_res as the o/down backward GEMMs read it
  bf16 *d_q = nullptr, *d_k = nullptr, *d_v = nullptr, *d_att = nullptr;  // bf16 [N,H*D] [N,KV*D]x2 [N,H*D]
  bf16 *d_gate = nullptr, *d_up = nullptr, *d_h = nullptr;                // bf16 [N,F]
  float* att_scratch = nullptr;                                           // f32 [N*H]
  void* lora_scratch = nullptr;
  int *tokens = nullptr, *pos = nullptr, *seq_start = nullptr, *seq_len = nullptr;  // int [N]
  int *rows = nullptr, *targets = nullptr;                                          // int [N]
  bf16* chunk_in = nullptr;        // bf16 [256,C]
  float* chunk_logits = nullptr;   // f32 [256,V]
  bf16* chunk_dlogits = nullptr;   // bf16 [256,V]
  float* chunk_losses = nullptr;   // f32 [256]
  float* chunk_lse = nullptr;      // f32 [256]
  float* chunk_dx = nullptr;       // f32 [256,C]

  explicit Impl(Model& m);
  void load_base();
  void init_lora();
  void ensure_activations(int N);
  void validate(const Batch& b) const;
  LoraFactors lora_of(int layer, Proj p) const;
  float* grad_a(int layer, Proj p) const { return grads + slots[slot_of[layer * kProjCount + p]].a_offset; }
  float* grad_b(int layer, Proj p) const { return grads + slots[slot_of[layer * kProjCount + p]].b_offset; }
  int window_of(int layer) const;
  LossResult run(const Batch& b, bool backward, const StepOptions& so);
  int64_t bytes_held() const { return int64_t(base_arena.capacity() + train_arena.capacity() + act_arena.capacity()); }
};

CudaModel::Impl::Impl(Model& m) : host(m), cfg(m.config()), opt(m.options()) {
  C = cfg.hidden, F = cfg.intermediate, V = cfg.vocab, H = cfg.heads, KV = cfg.kv_heads, D = cfg.head_dim;
  L = cfg.layers, R = opt.lora.rank;
  TS_CHECK(D % 2 == 0 && D <= 128, "the GPU backend supports head_dim up to 128 (this model has " +
                                       std::to_string(D) + "); use backend 'cpu'");
  ctx.sync_each_op = env_flag("TUNESMITH_CUDA_SYNC");
  load_base();
  init_lora();
}

// ---- the frozen base: straight from the model folder, one tensor at a time through a host staging buffer
void CudaModel::Impl::load_base() {
  ModelFiles files(opt.model_dir);
  check_model_tensors(cfg, files);
  enum class Kind { kF32, kBF16, kNF4 };
  struct Pending {
    const TensorView* view;
    Kind kind;
    void* data;
    uint8_t* codes;
    float* absmax;
  };
  std::vector<Pending> pending;
  bf16 *embed_w = nullptr, *lm_w = nullptr;
  float* final_w = nullptr;
  layers.assign(L, DeviceLayer{});
  auto layout = [&](DeviceArena& a) {
    pending.clear();
    auto f32 = [&](TensorRole role, int layer) {
      const TensorView& view = files.get(hf_tensor_name(role, layer));
      float* p = a.take<float>(size_t(view.numel()));
      pending.push_back({&view, Kind::kF32, p, nullptr, nullptr});
      return p;
    };
    auto b16 = [&](TensorRole role, int layer) {
      const TensorView& view = files.get(hf_tensor_name(role, layer));
      bf16* p = a.take<bf16>(size_t(view.numel()));
      pending.push_back({&view, Kind::kBF16, p, nullptr, nullptr});
      return p;
    };
    embed_w = b16(TensorRole::TokenEmbd, -1);
    final_w = f32(TensorRole::OutputNorm, -1);
    lm_w = cfg.tie_embeddings ? embed_w : b16(TensorRole::Output, -1);
    for (int l = 0; l < L; ++l) {
      DeviceLayer& dl = layers[l];
      dl.attn_norm = f32(TensorRole::AttnNorm, l);
      dl.ffn_norm = f32(TensorRole::FfnNorm, l);
      if (cfg.qkv_bias) {
        dl.bias[0] = f32(TensorRole::AttnQBias, l);
        dl.bias[1] = f32(TensorRole::AttnKBias, l);
        dl.bias[2] = f32(TensorRole::AttnVBias, l);
      }
      for (int p = 0; p < kProjCount; ++p) {
        const auto shape = expected_shape(proj_role(Proj(p)), cfg);
        DeviceWeight& w = dl.w[p];
        w.out = int(shape[0]);
        w.in = int(shape[1]);
        if (opt.nf4) {
          const TensorView& view = files.get(hf_tensor_name(proj_role(Proj(p)), l));
          const int64_t n = view.numel();
          uint8_t* codes = a.take<uint8_t>(size_t(nf4_packed_bytes(n)));
          float* absmax = a.take<float>(size_t(nf4_blocks(n)));
          w.bf16_data = nullptr;
          w.nf4.codes = codes;
          w.nf4.absmax = absmax;
          pending.push_back({&view, Kind::kNF4, nullptr, codes, absmax});
        } else {
          w.bf16_data = b16(proj_role(Proj(p)), l);
        }
      }
    }
    rope_cos = a.take<float>(size_t(opt.max_seq_len) * (D / 2));
    rope_sin = a.take<float>(size_t(opt.max_seq_len) * (D / 2));
  };
  base_arena.build(layout);

  std::vector<float> staging;
  std::vector<uint8_t> codes;
  std::vector<float> absmax;
  for (const Pending& t : pending) {
    const int64_t n = t.view->numel();
    staging.resize(size_t(n));
    to_f32(*t.view, staging.data());
    switch (t.kind) {
      case Kind::kF32:
        CUDA_CHECK(cudaMemcpy(t.data, staging.data(), size_t(n) * 4, cudaMemcpyHostToDevice));
        break;
      case Kind::kBF16:
        upload_bf16(static_cast<bf16*>(t.data), staging.data(), n);
        break;
      case Kind::kNF4:
        for (float x : staging)
          if (!std::isfinite(x))
            TS_FAIL("the weight " + t.view->name + " in " + opt.model_dir +
                    " holds a NaN or infinite value; the model files are damaged — download the model again");
        codes.resize(size_t(nf4_packed_bytes(n)));
        absmax.resize(size_t(nf4_blocks(n)));
        quantize_nf4(staging.data(), n, codes.data(), absmax.data());  // exactly as the CPU backend
        CUDA_CHECK(cudaMemcpy(t.codes, codes.data(), codes.size(), cudaMemcpyHostToDevice));
        CUDA_CHECK(cudaMemcpy(t.absmax, absmax.data(), absmax.size() * 4, cudaMemcpyHostToDevice));
        break;
    }
  }
  embed = embed_w, final_norm = final_w, lm_head = lm_w;
  std::vector<float> cos_table(size_t(opt.max_seq_len) * (D / 2)), sin_table(cos_table.size());
  rope_table(cos_table.data(), sin_table.data(), opt.max_seq_len, D, float(cfg.rope_theta), cfg.rope_scaling);
  CUDA_CHECK(cudaMemcpy(rope_cos, cos_table.data(), cos_table.size() * 4, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(rope_sin, sin_table.data(), sin_table.size() * 4, cudaMemcpyHostToDevice));
}

// ---- the trainable state: the host's slots and current parameters; gradients and moments start at 0
void CudaModel::Impl::init_lora() {
  slots = host.lora_slots();
  n_params = host.lora_param_count();
  slot_of.assign(size_t(L) * kProjCount, -1);
  for (size_t s = 0; s < slots.size(); ++s) slot_of[slots[s].layer * kProjCount + slots[s].proj] = int(s);
  train_arena.build([&](DeviceArena& a) {
    params = a.take<float>(size_t(n_params));
    grads = a.take<float>(size_t(n_params));
    m = a.take<float>(size_t(n_params));
    v = a.take<float>(size_t(n_params));
    norm_scratch = a.take<double>(size_t(grad_sum_squares_scratch_doubles()));
    sum_squares = a.take<double>(1);
    loss_total = a.take<double>(1);
    loss_count = a.take<int64_t>(1);
  });
  CUDA_CHECK(cudaMemcpy(params, host.lora_params(), size_t(n_params) * 4, cudaMemcpyHostToDevice));
}

LoraFactors CudaModel::Impl::lora_of(int layer, Proj p) const {
  const int s = slot_of[layer * kProjCount + p];
  if (s < 0) return LoraFactors{};
  return LoraFactors{params + slots[s].a_offset, params + slots[s].b_offset, opt.lora.rank, opt.lora.scale()};
}

int CudaModel::Impl::window_of(int layer) const {
  if (cfg.sliding_window <= 0) return 0;
  if (cfg.arch == Arch::Qwen2 && layer < cfg.max_window_layers) return 0;
  return cfg.sliding_window;
}

// ---- activations: sized for the largest micro-batch seen, like the CPU's
void CudaModel::Impl::ensure_activations(int N) {
  if (N <= act_capacity) return;
  const int64_t n = N, QD = int64_t(H) * D, KD = int64_t(KV) * D;
  int64_t scratch = 0;
  const LoraDropout sizing{opt.lora.dropout, 0};
  for (int p = 0; p < kProjCount; ++p)
    scratch = std::max(scratch, lora_matmul_scratch_bytes(N, layers[0].w[p].in, layers[0].w[p].out, R, sizing));
  acts.assign(L, DeviceLayerActs{});
  act_arena.release();  // the old set first: the new one may need the room
  act_capacity = 0;
  act_arena.build([&](DeviceArena& a) {
    auto f = [&](int64_t count) { return a.take<float>(size_t(count)); };
    auto b = [&](int64_t count) { return a.take<bf16>(size_t(count)); };
    auto fill = [&](DeviceLayerActs& s) {
      s.ln1 = b(n * C), s.rstd1 = f(n), s.q = b(n * QD), s.k = b(n * KD), s.v = b(n * KD), s.att = b(n * QD);
      s.lse = f(n * H), s.x_mid = f(n * C), s.ln2 = b(n * C), s.rstd2 = f(n), s.gate = b(n * F), s.up = b(n * F);
      s.h = b(n * F);
      for (int p = 0; p < kProjCount; ++p) s.u[p] = f(n * R);
    };
    for (int l = 0; l < L; ++l) {
      acts[l].x_in = f(n * C);
      if (!opt.gradient_checkpointing || l == 0) fill(acts[l]);
    }
    if (opt.gradient_checkpointing) {
      for (int l = 1; l < L; ++l) {
        float* x_in = acts[l].x_in;
        acts[l] = acts[0];
        acts[l].x_in = x_in;
      }
    }
    x_final = f(n * C), lnf = b(n * C), rstdf = f(n);
    d_res = f(n * C), d_ln = f(n * C), d_res_bf16 = b(n * C);
    d_q = b(n * QD), d_k = b(n * KD), d_v = b(n * KD), d_att = b(n * QD);
    d_gate = b(n * F), d_up = b(n * F), d_h = b(n * F);
    att_scratch = f(attention_backward_scratch_floats(N, H));
    lora_scratch = a.take<unsigned char>(size_t(scratch));
    tokens = a.take<int>(size_t(n)), pos = a.take<int>(size_t(n));
    seq_start = a.take<int>(size_t(n)), seq_len = a.take<int>(size_t(n));
    rows = a.take<int>(size_t(n)), targets = a.take<int>(size_t(n));
    chunk_in = b(int64_t(kLossChunk) * C), chunk_logits = f(int64_t(kLossChunk) * V);
    chunk_dlogits = b(int64_t(kLossChunk) * V), chunk_losses = f(kLossChunk), chunk_lse = f(kLossChunk);
    chunk_dx = f(int64_t(kLossChunk) * C);
  });
  act_capacity = N;
}

void CudaModel::Impl::validate(const Batch& b) const {
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

// ---- one layer, forward and backward side by side ----------------------------------------------------

namespace {

struct LayerContext {
  CudaModel::Impl& m;
  int N;
  const DeviceSeqSpans& seqs;
  uint64_t seed;  // dropout seeds derive from it, as on the CPU
  float dropout;  // 0 outside training
};

LoraDropout dropout_for(const LayerContext& lc, int layer, Proj p) {
  return LoraDropout{lc.dropout, mix_seed(lc.seed, uint64_t(layer) * kProjCount + p)};
}

void copy_f32(const CudaContext& ctx, float* dst, const float* src, int64_t n) {
  CUDA_CHECK(cudaMemcpyAsync(dst, src, size_t(n) * 4, cudaMemcpyDeviceToDevice, ctx.stream));
}

// acts[l] → x_out f32 [N,C]
void layer_forward(const LayerContext& lc, int l, float* x_out) {
  CudaModel::Impl& m = lc.m;
  const CudaContext& ctx = m.ctx;
  const DeviceLayer& dl = m.layers[l];
  DeviceLayerActs& a = m.acts[l];
  const int N = lc.N;
  const int64_t nc = int64_t(N) * m.C;
  rmsnorm_forward(ctx, a.ln1, a.rstd1, a.x_in, dl.attn_norm, N, m.C, m.cfg.rms_eps);
  bf16* qkv[3] = {a.q, a.k, a.v};
  for (int p = kQ; p <= kV; ++p)
    lora_matmul_forward(ctx, qkv[p], a.u[p], a.ln1, dl.w[p], dl.bias[p], m.lora_of(l, Proj(p)),
                        dropout_for(lc, l, Proj(p)), N, m.lora_scratch);
  rope_forward(ctx, a.q, m.pos, m.rope_cos, m.rope_sin, N, m.H, m.D);
  rope_forward(ctx, a.k, m.pos, m.rope_cos, m.rope_sin, N, m.KV, m.D);
  attention_forward(ctx, a.att, a.lse, a.q, a.k, a.v, lc.seqs, N, m.H, m.KV, m.D, m.window_of(l));
  copy_f32(ctx, a.x_mid, a.x_in, nc);  // x_mid = x_in + o(att)
  lora_matmul_forward(ctx, a.x_mid, true, a.u[kO], a.att, dl.w[kO], nullptr, m.lora_of(l, kO), dropout_for(lc, l, kO),
                      N, m.lora_scratch);
  rmsnorm_forward(ctx, a.ln2, a.rstd2, a.x_mid, dl.ffn_norm, N, m.C, m.cfg.rms_eps);
  lora_matmul_forward(ctx, a.gate, a.u[kGate], a.ln2, dl.w[kGate], nullptr, m.lora_of(l, kGate),
                      dropout_for(lc, l, kGate), N, m.lora_scratch);
  lora_matmul_forward(ctx, a.up, a.u[kUp], a.ln2, dl.w[kUp], nullptr, m.lora_of(l, kUp), dropout_for(lc, l, kUp), N,
                      m.lora_scratch);
  swiglu_forward(ctx, a.h, a.gate, a.up, int64_t(N) * m.F);
  copy_f32(ctx, x_out, a.x_mid, nc);  // x_out = x_mid + down(h)
  lora_matmul_forward(ctx, x_out, true, a.u[kDown], a.h, dl.w[kDown], nullptr, m.lora_of(l, kDown),
                      dropout_for(lc, l, kDown), N, m.lora_scratch);
}

// d_res holds dL/dx_out on entry and dL/dx_in on return; LoRA gradients accumulate.
void layer_backward(const LayerContext& lc, int l) {
  CudaModel::Impl& m = lc.m;
  const CudaContext& ctx = m.ctx;
  const DeviceLayer& dl = m.layers[l];
  DeviceLayerActs& a = m.acts[l];
  const int N = lc.N;
  const int64_t nc = int64_t(N) * m.C;
  auto grads_of = [&](Proj p, float** dA, float** dB) {
    const bool adapted = m.lora_of(l, p).A != nullptr;
    *dA = adapted ? m.grad_a(l, p) : nullptr;
    *dB = adapted ? m.grad_b(l, p) : nullptr;
  };
  auto back_bf16 = [&](Proj p, bf16* dx, const bf16* dy, const bf16* x) {
    float *dA, *dB;
    grads_of(p, &dA, &dB);
    lora_matmul_backward(ctx, dx, false, dA, dB, dy, x, a.u[p], dl.w[p], m.lora_of(l, p), dropout_for(lc, l, p), N,
                         m.lora_scratch);
  };
  auto back_f32 = [&](Proj p, float* dx, bool accumulate, const bf16* dy, const bf16* x) {
    float *dA, *dB;
    grads_of(p, &dA, &dB);
    lora_matmul_backward(ctx, dx, accumulate, dA, dB, dy, x, a.u[p], dl.w[p], m.lora_of(l, p), dropout_for(lc, l, p),
                         N, m.lora_scratch);
  };
  // MLP: x_out = x_mid + down(h)
  convert_f32_to_bf16(ctx, m.d_res_bf16, m.d_res, nc);
  back_bf16(kDown, m.d_h, m.d_res_bf16, a.h);
  swiglu_backward(ctx, m.d_gate, m.d_up, m.d_h, a.gate, a.up, int64_t(N) * m.F);
  back_f32(kGate, m.d_ln, false, m.d_gate, a.ln2);
  back_f32(kUp, m.d_ln, true, m.d_up, a.ln2);
  rmsnorm_backward(ctx, m.d_res, nullptr, m.d_ln, a.x_mid, dl.ffn_norm, a.rstd2, N, m.C);  // d_res = dL/dx_mid
  // Attention: x_mid = x_in + o(att)
  convert_f32_to_bf16(ctx, m.d_res_bf16, m.d_res, nc);
  back_bf16(kO, m.d_att, m.d_res_bf16, a.att);
  attention_backward(ctx, m.d_q, m.d_k, m.d_v, m.d_att, a.att, a.lse, a.q, a.k, a.v, lc.seqs, N, m.H, m.KV, m.D,
                     m.window_of(l), m.att_scratch);
  rope_backward(ctx, m.d_q, m.pos, m.rope_cos, m.rope_sin, N, m.H, m.D);
  rope_backward(ctx, m.d_k, m.pos, m.rope_cos, m.rope_sin, N, m.KV, m.D);
  back_f32(kQ, m.d_ln, false, m.d_q, a.ln1);
  back_f32(kK, m.d_ln, true, m.d_k, a.ln1);
  back_f32(kV, m.d_ln, true, m.d_v, a.ln1);
  rmsnorm_backward(ctx, m.d_res, nullptr, m.d_ln, a.x_in, dl.attn_norm, a.rstd1, N, m.C);  // d_res = dL/dx_in
}

}  // namespace

// ---- the whole model ------------------------------------------------------------------------------------

LossResult CudaModel::Impl::run(const Batch& b, bool backward, const StepOptions& so) {
  validate(b);
  const int N = b.n_tokens;
  ensure_activations(N);
  std::vector<int> starts(b.n_seqs), positions(N);
  int max_len = 0;
  for (int s = 0, at = 0; s < b.n_seqs; ++s) {
    starts[s] = at;
    for (int t = 0; t < b.seq_lens[s]; ++t) positions[at + t] = t;
    at += b.seq_lens[s];
    max_len = std::max(max_len, b.seq_lens[s]);
  }
  upload(tokens, b.tokens, N, ctx);
  upload(pos, positions.data(), N, ctx);
  upload(seq_start, starts.data(), b.n_seqs, ctx);
  upload(seq_len, b.seq_lens, b.n_seqs, ctx);
  const DeviceSeqSpans seqs{seq_start, seq_len, b.n_seqs, max_len};
  const uint64_t seed = backward ? mix_seed(opt.seed, ++rng_counter) : 0;  // the CPU's next_seed()
  const LayerContext lc{*this, N, seqs, seed, backward && so.lora_dropout ? opt.lora.dropout : 0.f};

  Neftune noise;
  if (backward && so.neftune_alpha > 0.f) noise = Neftune{so.neftune_alpha, max_len, mix_seed(seed, 0xE3B)};
  embedding_forward(ctx, acts[0].x_in, tokens, embed, N, C, noise);
  for (int l = 0; l < L; ++l) layer_forward(lc, l, l + 1 < L ? acts[l + 1].x_in : x_final);
  rmsnorm_forward(ctx, lnf, rstdf, x_final, final_norm, N, C, cfg.rms_eps);

  // Positions whose next token is a target, and those targets.
  std::vector<int> row_list, target_list;
  for (int s = 0; s < b.n_seqs; ++s)
    for (int t = 0; t + 1 < b.seq_lens[s]; ++t)
      if (b.trained[starts[s] + t + 1]) {
        row_list.push_back(starts[s] + t);
        target_list.push_back(b.tokens[starts[s] + t + 1]);
      }
  const int n_rows = int(row_list.size());
  upload(rows, row_list.data(), n_rows, ctx);
  upload(targets, target_list.data(), n_rows, ctx);
  CUDA_CHECK(cudaMemsetAsync(loss_total, 0, sizeof(double), ctx.stream));
  CUDA_CHECK(cudaMemsetAsync(loss_count, 0, sizeof(int64_t), ctx.stream));
  if (backward) CUDA_CHECK(cudaMemsetAsync(d_ln, 0, sizeof(float) * size_t(N) * C, ctx.stream));

  GemmA lnf_rows;  // chunk_in [n,C] bf16
  lnf_rows.layout = GemmA::kRowMajor, lnf_rows.dtype = DType::kBF16, lnf_rows.data = chunk_in, lnf_rows.ld = C;
  GemmB head_t;  // B[k][j] = lm_head[j][k]: logits = rows · lm_headᵀ
  head_t.layout = GemmB::kTransposed, head_t.dtype = DType::kBF16, head_t.data = lm_head, head_t.ld = C;
  GemmOut logits_out;
  logits_out.dtype = DType::kF32, logits_out.data = chunk_logits, logits_out.ld = V;
  GemmA dlogits_rows;  // chunk_dlogits [n,V] bf16
  dlogits_rows.layout = GemmA::kRowMajor, dlogits_rows.dtype = DType::kBF16, dlogits_rows.data = chunk_dlogits;
  dlogits_rows.ld = V;
  GemmB head;  // B[k][j] = lm_head[k][j]: d(rows) = dlogits · lm_head
  head.layout = GemmB::kRowMajor, head.dtype = DType::kBF16, head.data = lm_head, head.ld = C;
  GemmOut dx_out;
  dx_out.dtype = DType::kF32, dx_out.data = chunk_dx, dx_out.ld = C;
  for (int c0 = 0; c0 < n_rows; c0 += kLossChunk) {
    const int n = std::min(kLossChunk, n_rows - c0);
    gather_rows_bf16(ctx, chunk_in, lnf, rows + c0, n, C);
    gemm(ctx, n, V, C, lnf_rows, head_t, logits_out);  // logits f32 [n,V]
    if (backward) {
      cross_entropy_forward_backward(ctx, chunk_losses, chunk_dlogits, chunk_logits, targets + c0, n, V, 1.f);
    } else {
      cross_entropy_forward(ctx, chunk_losses, chunk_lse, chunk_logits, targets + c0, n, V);
    }
    loss_sum_accumulate(ctx, loss_total, loss_count, chunk_losses, targets + c0, n);
    if (!backward) continue;
    gemm(ctx, n, C, V, dlogits_rows, head, dx_out);  // d(lnf rows) f32 [n,C]
    scatter_add_rows_f32(ctx, d_ln, chunk_dx, rows + c0, n, C);
  }

  if (backward) {
    CUDA_CHECK(cudaMemsetAsync(d_res, 0, sizeof(float) * size_t(N) * C, ctx.stream));
    rmsnorm_backward(ctx, d_res, nullptr, d_ln, x_final, final_norm, rstdf, N, C);
    for (int l = L - 1; l >= 0; --l) {
      if (opt.gradient_checkpointing) layer_forward(lc, l, l + 1 < L ? acts[l + 1].x_in : x_final);  // recompute
      layer_backward(lc, l);
    }
  }
  double loss_sum = 0;
  int64_t count = 0;
  CUDA_CHECK(cudaMemcpyAsync(&loss_sum, loss_total, sizeof loss_sum, cudaMemcpyDeviceToHost, ctx.stream));
  CUDA_CHECK(cudaMemcpyAsync(&count, loss_count, sizeof count, cudaMemcpyDeviceToHost, ctx.stream));
  CUDA_SYNC(ctx);  // the step's one synchronization: a fault in any kernel surfaces here, named
  if (backward) {
    pending_tokens += count;
    pending_loss += loss_sum;
  }
  LossResult r;
  r.trained_tokens = count;
  r.loss = count ? loss_sum / double(count) : 0.0;
  return r;
}

// ---- CudaModel ----------------------------------------------------------------------------------------------

CudaModel::CudaModel(Model& host) : impl_(std::make_unique<Impl>(host)) {}
CudaModel::~CudaModel() = default;

LossResult CudaModel::step(const Batch& batch, const StepOptions& options) { return impl_->run(batch, true, options); }
LossResult CudaModel::eval_loss(const Batch& batch) { return impl_->run(batch, false, StepOptions{}); }

OptimizerResult CudaModel::optimizer_step(const AdamWParams& hp, float max_grad_norm) {
  Impl& m = *impl_;
  TS_CHECK(m.pending_tokens > 0,
           "optimizerStep was called with no trained tokens since the last update: call step() with a batch whose "
           "trained mask marks at least one target token first");
  const CudaContext& ctx = m.ctx;
  scale_inplace(ctx, m.grads, m.n_params, 1.f / float(m.pending_tokens));  // Σ-loss → mean-loss gradients
  grad_sum_squares(ctx, m.sum_squares, m.grads, m.n_params, m.norm_scratch);
  double sum_squares = 0;
  CUDA_CHECK(cudaMemcpyAsync(&sum_squares, m.sum_squares, sizeof sum_squares, cudaMemcpyDeviceToHost, ctx.stream));
  CUDA_SYNC(ctx);
  const double norm = std::sqrt(sum_squares);
  if (max_grad_norm > 0.f) {
    const double coef = double(max_grad_norm) / (norm + 1e-6);  // torch clip_grad_norm_
    if (coef < 1.0) scale_inplace(ctx, m.grads, m.n_params, float(coef));
  }
  ++m.step_count;
  adamw_step(ctx, m.params, m.grads, m.m, m.v, m.n_params, hp, m.step_count);
  CUDA_CHECK(cudaMemsetAsync(m.grads, 0, sizeof(float) * size_t(m.n_params), ctx.stream));
  CUDA_SYNC(ctx);
  OptimizerResult r;
  r.grad_norm = norm;
  r.loss = m.pending_loss / double(m.pending_tokens);
  r.trained_tokens = m.pending_tokens;
  m.pending_tokens = 0;
  m.pending_loss = 0;
  return r;
}

std::vector<float> CudaModel::lora_params() const {
  std::vector<float> out(size_t(impl_->n_params));
  CUDA_CHECK(cudaMemcpy(out.data(), impl_->params, out.size() * 4, cudaMemcpyDeviceToHost));
  return out;
}

std::vector<float> CudaModel::lora_grads() const {
  std::vector<float> out(size_t(impl_->n_params));
  CUDA_CHECK(cudaMemcpy(out.data(), impl_->grads, out.size() * 4, cudaMemcpyDeviceToHost));
  return out;
}

void CudaModel::copy_params_to_host() {
  CUDA_CHECK(cudaMemcpy(impl_->host.lora_params(), impl_->params, size_t(impl_->n_params) * 4, cudaMemcpyDeviceToHost));
}

void CudaModel::copy_params_from_host() {
  CUDA_CHECK(cudaMemcpy(impl_->params, impl_->host.lora_params(), size_t(impl_->n_params) * 4, cudaMemcpyHostToDevice));
}

void CudaModel::copy_state_to_host() {
  Impl& m = *impl_;
  Model::Impl& h = m.host.internals();
  const size_t bytes = size_t(m.n_params) * 4;
  CUDA_CHECK(cudaMemcpy(h.params, m.params, bytes, cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaMemcpy(h.grads, m.grads, bytes, cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaMemcpy(h.m, m.m, bytes, cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaMemcpy(h.v, m.v, bytes, cudaMemcpyDeviceToHost));
  h.step_count = m.step_count;
  h.rng_counter = m.rng_counter;
  h.pending_tokens = m.pending_tokens;
  h.pending_loss = m.pending_loss;
}

void CudaModel::copy_state_from_host() {
  Impl& m = *impl_;
  const Model::Impl& h = m.host.internals();
  const size_t bytes = size_t(m.n_params) * 4;
  CUDA_CHECK(cudaMemcpy(m.params, h.params, bytes, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(m.grads, h.grads, bytes, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(m.m, h.m, bytes, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(m.v, h.v, bytes, cudaMemcpyHostToDevice));
  m.step_count = h.step_count;
  m.rng_counter = h.rng_counter;
  m.pending_tokens = h.pending_tokens;
  m.pending_loss = h.pending_loss;
  m.opt.lora = h.opt.lora;  // a loaded state carries the alpha (and rsLoRA) its moments were built with
}

MemoryInfo CudaModel::memory() const {
  MemoryInfo info;
  info.host_bytes = impl_->bytes_held();  // device bytes, for this backend
  info.peak_bytes = std::max(device_memory_stats().peak_bytes, info.host_bytes);
  return info;
}

int64_t CudaModel::optimizer_steps() const { return impl_->step_count; }

}  // namespace cuda
}  // namespace tunesmith
