// GPU parity of cuda::lora_matmul_forward/backward against the CPU's (ops.h) on the same inputs: x, dy and a
// bf16 W rounded to bf16 on the host, NF4 W from the same codes, LoRA A/B and the accumulated dA/dB in fp32.
// Both output dtypes of each side (y bf16 | y f32 +=, dx bf16 = | dx f32 +=), with and without dropout
// (the mask regenerated from the same hash), with and without an adapter, and an I that is not a multiple
// of 64. Thresholds (NMSE): the GPU rounds A, B, u and the dropped-out x to bf16 where the CPU keeps fp32,
// ≈1.3e-6 each, and rounds bf16 outputs once or twice; with one token a LoRA output is the product of a
// few such values (no averaging), so every output gets 5e-5 — an indexing error gives NMSE ≈ 1.
// N=tokens I=in O=out R=rank
#include "cuda_gemm.h"
#include "gpu_check.h"
#include "nf4.h"

using namespace tunesmith;
using namespace gpucheck;

namespace {

struct LoraCase {
  int N, I, O, R;
  bool nf4, adapter;
  float p;
  std::string tag() const {
    return shape({{"N", N}, {"I", I}, {"O", O}, {"R", R}}) + (nf4 ? " nf4" : " bf16") +
           (adapter ? "" : " no adapter") + (p > 0 ? " dropout" : "");
  }
};

void check_lora(const LoraCase& cs, uint32_t seed) {
  const auto ctx = gpu();
  const int N = cs.N, I = cs.I, O = cs.O, R = cs.R;
  const std::string tag = "lora_matmul " + cs.tag();

  // ---- host inputs, as both sides see them
  const auto w = round_bf16(opcheck::randn(size_t(O) * I, seed, 0.05f));
  std::vector<uint8_t> codes(nf4_packed_bytes(int64_t(w.size())));
  std::vector<float> absmax(nf4_blocks(int64_t(w.size())));
  quantize_nf4(w.data(), int64_t(w.size()), codes.data(), absmax.data());
  FrozenWeight Wc;
  Wc.out = O, Wc.in = I;
  if (cs.nf4) Wc.nf4.codes = codes.data(), Wc.nf4.absmax = absmax.data();
  else Wc.f32 = w.data();
  const auto x = round_bf16(opcheck::randn(size_t(N) * I, seed + 1));
  const auto dy = round_bf16(opcheck::randn(size_t(N) * O, seed + 2));
  const auto A = opcheck::randn(size_t(R) * I, seed + 3, 0.5f), B = opcheck::randn(size_t(O) * R, seed + 4, 0.5f);
  const auto bias = opcheck::randn(O, seed + 5);
  const auto y0 = opcheck::randn(size_t(N) * O, seed + 6), dx0 = opcheck::randn(size_t(N) * I, seed + 7);
  const auto dA0 = opcheck::randn(A.size(), seed + 8), dB0 = opcheck::randn(B.size(), seed + 9);
  const float scale = 2.f;
  const LoraDropout drop{cs.p, 4242};

  // ---- CPU reference
  LoraFactors lc{cs.adapter ? A.data() : nullptr, B.data(), R, scale};
  std::vector<float> scratch(size_t(lora_matmul_scratch_floats(N, I, O, R)));
  std::vector<float> y_cpu(size_t(N) * O), u_cpu(size_t(N) * R);
  lora_matmul_forward(opcheck::ctx(), y_cpu.data(), u_cpu.data(), x.data(), Wc, bias.data(), lc, drop, N,
                      scratch.data());
  std::vector<float> dx_cpu(size_t(N) * I), dA_cpu = dA0, dB_cpu = dB0;
  lora_matmul_backward(opcheck::ctx(), dx_cpu.data(), false, dA_cpu.data(), dB_cpu.data(), dy.data(), x.data(),
                       u_cpu.data(), Wc, lc, drop, N, scratch.data());

  // ---- GPU
  DeviceBuffer<bf16> dw(w.size()), dxin(x.size()), ddy(dy.size()), dy_bf16(y0.size()), ddx_bf16(dx0.size());
  DeviceBuffer<uint8_t> dcodes(codes.size());
  DeviceBuffer<float> dabs(absmax.size()), dAf(A.size()), dBf(B.size()), dbias(bias.size()), du(size_t(N) * R);
  DeviceBuffer<float> dy_f32(y0.size()), ddx_f32(dx0.size()), ddA(A.size()), ddB(B.size());
  DeviceBuffer<unsigned char> dscratch(size_t(cuda::lora_matmul_scratch_bytes(N, I, O, R, drop)));
  upload_bf16(dw, w), upload_bf16(dxin, x), upload_bf16(ddy, dy);
  dcodes.upload(codes), dabs.upload(absmax), dAf.upload(A), dBf.upload(B), dbias.upload(bias);
  cuda::DeviceWeight Wg;
  Wg.out = O, Wg.in = I;
  if (cs.nf4) Wg.nf4.codes = dcodes.get(), Wg.nf4.absmax = dabs.get();
  else Wg.bf16_data = dw.get();
  const LoraFactors lg{cs.adapter ? dAf.get() : nullptr, dBf.get(), R, scale};

  // forward, y bf16 (=) and y f32 (+=)
  dy_bf16.fill_bytes(0xFF);  // NaN: every element must be written
  cuda::lora_matmul_forward(ctx, dy_bf16.get(), du.get(), dxin.get(), Wg, dbias.get(), lg, drop, N, dscratch.get());
  require_nmse(download_bf16(dy_bf16), y_cpu, 5e-5, tag + " y (bf16)");
  if (cs.adapter) require_nmse(du.download(), u_cpu, 5e-5, tag + " u");
  dy_f32.upload(y0);
  cuda::lora_matmul_forward(ctx, dy_f32.get(), true, du.get(), dxin.get(), Wg, dbias.get(), lg, drop, N,
                            dscratch.get());
  std::vector<float> y_acc = y0;
  for (size_t i = 0; i < y_acc.size(); ++i) y_acc[i] += y_cpu[i];
  require_nmse(dy_f32.download(), y_acc, 5e-5, tag + " y (f32 +=)");

  // backward from the GPU's own u; dx bf16 (=), then dx f32 (+=) with fresh dA/dB each time
  for (bool f32_dx : {false, true}) {
    const std::string side = f32_dx ? " (dx f32 +=)" : " (dx bf16 =)";
    ddA.upload(dA0), ddB.upload(dB0);
    if (f32_dx) {
      ddx_f32.upload(dx0);
      cuda::lora_matmul_backward(ctx, ddx_f32.get(), true, ddA.get(), ddB.get(), ddy.get(), dxin.get(), du.get(), Wg,
                                 lg, drop, N, dscratch.get());
      std::vector<float> dx_acc = dx0;
      for (size_t i = 0; i < dx_acc.size(); ++i) dx_acc[i] += dx_cpu[i];
      require_nmse(ddx_f32.download(), dx_acc, 5e-5, tag + " dx" + side);
    } else {
      ddx_bf16.fill_bytes(0xFF);
      cuda::lora_matmul_backward(ctx, ddx_bf16.get(), false, ddA.get(), ddB.get(), ddy.get(), dxin.get(), du.get(),
                                 Wg, lg, drop, N, dscratch.get());
      require_nmse(download_bf16(ddx_bf16), dx_cpu, 5e-5, tag + " dx" + side);
    }
    require_nmse(ddA.download(), dA_cpu, 5e-5, tag + " dA +=" + side);
    require_nmse(ddB.download(), dB_cpu, 5e-5, tag + " dB +=" + side);
  }
}

}  // namespace

TEST(gpu_lora_matmul_matches_cpu) {
  uint32_t seed = 1000;
  for (bool nf4 : {false, true})
    for (auto [N, I, O] : {std::tuple{1, 64, 64}, {7, 192, 136}, {129, 128, 320}})
      for (int R : {8, 16})
        for (float p : {0.f, 0.1f}) check_lora(LoraCase{N, I, O, R, nf4, true, p}, seed += 10);
}

TEST(gpu_lora_matmul_without_adapter_is_the_projection) {
  check_lora(LoraCase{33, 128, 96, 16, true, false, 0.f}, 2000);
  check_lora(LoraCase{33, 128, 96, 16, false, false, 0.f}, 2010);
}

TEST(gpu_lora_matmul_handles_in_features_not_a_multiple_of_64) {
  check_lora(LoraCase{9, 100, 72, 8, true, true, 0.1f}, 3000);  // NF4 blocks straddle rows: simple kernel
  check_lora(LoraCase{9, 100, 72, 8, false, true, 0.f}, 3010);  // bf16 rows of 200 bytes: not 16-aligned
}
