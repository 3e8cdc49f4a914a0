// The frozen base: read every tensor of a Hugging Face folder (safetensors, f32/f16/bf16) into one
// arena as f32, except the seven projections when quant is NF4, which are quantized on the way in
// (bitsandbytes blocks of 64, absmax kept in fp32: no double quantization on the CPU, where the
// absmax costs 1/16 of the codes). Embeddings, norms, biases and lm_head stay f32.
// N=tokens C=hidden V=vocab L=layers
#include <cmath>
#include <string>
#include <vector>

#include "model_internal.h"
#include "nf4.h"
#include "safetensors.h"
#include "tensor_names.h"

namespace tunesmith {

namespace {

constexpr TensorRole kProjRole[kProjCount] = {TensorRole::AttnQ, TensorRole::AttnK,  TensorRole::AttnV,
                                              TensorRole::AttnOut, TensorRole::FfnGate, TensorRole::FfnUp,
                                              TensorRole::FfnDown};

}  // namespace

TensorRole proj_role(Proj p) { return kProjRole[p]; }

void Model::Impl::load_base() {
  ModelFiles files(opt.model_dir);
  check_model_tensors(cfg, files);

  // Layout: the same function sizes the arena and then assigns its pointers.
  struct Pending {
    const TensorView* view;
    float* f32;
    uint8_t* codes;
    float* absmax;
  };
  std::vector<Pending> pending;
  float *embed_w = nullptr, *final_w = nullptr, *lm_w = nullptr;
  layers.assign(L, FrozenLayer{});
  auto layout = [&](Arena& a) {
    pending.clear();
    auto f32 = [&](TensorRole role, int layer) {
      const TensorView& view = files.get(hf_tensor_name(role, layer));
      float* p = a.take<float>(static_cast<size_t>(view.numel()));
      pending.push_back({&view, p, nullptr, nullptr});
      return p;
    };
    embed_w = f32(TensorRole::TokenEmbd, -1);
    final_w = f32(TensorRole::OutputNorm, -1);
    lm_w = cfg.tie_embeddings ? embed_w : f32(TensorRole::Output, -1);
    for (int l = 0; l < L; ++l) {
      FrozenLayer& fl = layers[l];
      fl.attn_norm = f32(TensorRole::AttnNorm, l);
      fl.ffn_norm = f32(TensorRole::FfnNorm, l);
      if (cfg.qkv_bias) {
        fl.bias[0] = f32(TensorRole::AttnQBias, l);
        fl.bias[1] = f32(TensorRole::AttnKBias, l);
        fl.bias[2] = f32(TensorRole::AttnVBias, l);
      }
      for (int p = 0; p < kProjCount; ++p) {
        const auto shape = expected_shape(kProjRole[p], cfg);
        FrozenWeight& w = fl.w[p];
        w.out = static_cast<int>(shape[0]);
        w.in = static_cast<int>(shape[1]);
        if (opt.nf4) {
          const TensorView& view = files.get(hf_tensor_name(kProjRole[p], l));
          const int64_t n = view.numel();
          uint8_t* codes = a.take<uint8_t>(static_cast<size_t>(nf4_packed_bytes(n)));
          float* absmax = a.take<float>(static_cast<size_t>(nf4_blocks(n)));
          w.f32 = nullptr;
          w.nf4.codes = codes;
          w.nf4.absmax = absmax;
          pending.push_back({&view, nullptr, codes, absmax});
        } else {
          w.f32 = f32(kProjRole[p], l);
        }
      }
    }
    rope_cos = a.take<float>(static_cast<size_t>(opt.max_seq_len) * (D / 2));
    rope_sin = a.take<float>(static_cast<size_t>(opt.max_seq_len) * (D / 2));
  };
  base_arena.build(layout);

  std::vector<float> staging;
  for (const Pending& t : pending) {
    if (t.f32) {
      to_f32(*t.view, t.f32);
      continue;
    }
    staging.resize(static_cast<size_t>(t.view->numel()));
    to_f32(*t.view, staging.data());
    for (float x : staging)
      if (!std::isfinite(x))
        TS_FAIL("the weight " + t.view->name + " in " + opt.model_dir +
                " holds a NaN or infinite value; the model files are damaged — download the model again");
    quantize_nf4(staging.data(), t.view->numel(), t.codes, t.absmax);
  }
  embed = embed_w;
  final_norm = final_w;
  lm_head.out = V;
  lm_head.in = C;
  lm_head.f32 = lm_w;
  rope_table(rope_cos, rope_sin, opt.max_seq_len, D, static_cast<float>(cfg.rope_theta), cfg.rope_scaling);
}

std::vector<float> Model::frozen_weight(int layer, Proj proj) const {
  const FrozenWeight& w = impl_->layers.at(layer).w[proj];
  std::vector<float> out(static_cast<size_t>(w.out) * w.in);
  if (w.quantized()) {
    dequantize_nf4(w.nf4.codes, w.nf4.absmax, static_cast<int64_t>(out.size()), out.data());
  } else {
    std::copy(w.f32, w.f32 + out.size(), out.begin());
  }
  return out;
}

}  // namespace tunesmith
