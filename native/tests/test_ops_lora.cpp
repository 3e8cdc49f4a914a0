// lora_matmul: forward against the formula, and dx, dA, dB by finite differences, with and without
// dropout, for f32 and NF4 bases. N=tokens I=in O=out R=rank
#include "nf4.h"
#include "op_check.h"
#include "test_framework.h"

using namespace tunesmith;
using namespace opcheck;

namespace {

void check_lora(bool quantized, float p) {
  const int N = 7, I = 13, O = 9, R = 3;
  const std::string tag = std::string(quantized ? "nf4" : "f32") + (p > 0 ? " dropout" : "");
  auto w = randn(size_t(O) * I, 11, 0.3f);
  std::vector<uint8_t> codes(nf4_packed_bytes(w.size()));
  std::vector<float> absmax(nf4_blocks(w.size()));
  quantize_nf4(w.data(), int64_t(w.size()), codes.data(), absmax.data());
  FrozenWeight W;
  W.out = O, W.in = I;
  if (quantized) {
    W.nf4.codes = codes.data(), W.nf4.absmax = absmax.data();
  } else {
    W.f32 = w.data();
  }
  auto bias = randn(O, 12);
  auto x = randn(size_t(N) * I, 13);
  auto A = randn(size_t(R) * I, 14, 0.5f);
  auto B = randn(size_t(O) * R, 15, 0.5f);  // nonzero, or dA would be trivially 0
  LoraFactors lora{A.data(), B.data(), R, 0.8f};
  LoraDropout drop{p, 99};
  std::vector<float> scratch(lora_matmul_scratch_floats(N, I, O, R));
  std::vector<float> y(size_t(N) * O), u(size_t(N) * R);
  auto r = randn(size_t(N) * O, 16);
  auto loss = [&] {
    lora_matmul_forward(ctx(), y.data(), u.data(), x.data(), W, bias.data(), lora, drop, N, scratch.data());
    return weighted_sum(y, r);
  };
  loss();
  auto u_saved = u;
  std::vector<float> dx(size_t(N) * I), dA(A.size()), dB(B.size());
  lora_matmul_backward(ctx(), dx.data(), false, dA.data(), dB.data(), r.data(), x.data(), u_saved.data(), W, lora,
                       drop, N, scratch.data());
  require_grad(x, dx, loss, "lora dx " + tag);
  require_grad(A, dA, loss, "lora dA " + tag);
  require_grad(B, dB, loss, "lora dB " + tag);
}

}  // namespace

TEST(ops_lora_matmul_gradients_f32) { check_lora(false, 0.f); }
TEST(ops_lora_matmul_gradients_nf4) { check_lora(true, 0.f); }
TEST(ops_lora_matmul_gradients_with_dropout) { check_lora(false, 0.3f); }

TEST(ops_lora_matmul_forward_is_base_plus_scaled_low_rank) {
  const int N = 4, I = 5, O = 6, R = 2;
  auto w = randn(size_t(O) * I, 21), x = randn(size_t(N) * I, 22);
  auto A = randn(size_t(R) * I, 23), B = randn(size_t(O) * R, 24);
  FrozenWeight W;
  W.out = O, W.in = I, W.f32 = w.data();
  std::vector<float> scratch(lora_matmul_scratch_floats(N, I, O, R)), y(size_t(N) * O), u(size_t(N) * R);
  lora_matmul_forward(ctx(), y.data(), u.data(), x.data(), W, nullptr, LoraFactors{A.data(), B.data(), R, 0.5f},
                      LoraDropout{}, N, scratch.data());
  std::vector<float> want(y.size());
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < O; ++o) {
      double base = 0, low = 0;
      for (int i = 0; i < I; ++i) base += double(x[n * I + i]) * w[o * I + i];
      for (int r = 0; r < R; ++r) {
        double ax = 0;
        for (int i = 0; i < I; ++i) ax += double(A[r * I + i]) * x[n * I + i];
        low += B[o * R + r] * ax;
      }
      want[n * O + o] = float(base + 0.5 * low);
    }
  require_close(y, want, 1e-5, "lora forward");
}
