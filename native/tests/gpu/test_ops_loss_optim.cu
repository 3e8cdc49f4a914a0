// GPU parity: chunked cross-entropy (forward, fused forward+backward, ignored rows, vocabularies up to
// Qwen2's 151,936), the on-device loss sum, AdamW (bit-identical to the CPU), the grad norm (matches the
// CPU's double sum and repeats bit for bit), scale, and sampling (greedy exactly; temperature/top-p
// against the CPU sampler given the same uniform draw).
// Thresholds: losses fp32 1e-10 NMSE; dlogits bf16 3e-5; grad norm relative 1e-12.
// n=rows V=vocab
#include <algorithm>
#include <numeric>

#include "gpu_check.h"

using namespace tunesmith;
using namespace gpucheck;

TEST(gpu_cross_entropy_matches_cpu) {
  const auto ctx = gpu();
  for (const auto& size : {std::pair{1, 7}, {7, 129}, {33, 32000}, {5, 151936}, {256, 1000}}) {
    const int n = size.first, V = size.second;
    const std::string tag = "cross_entropy " + shape({{"n", n}, {"V", V}});
    const auto logits = opcheck::randn(size_t(n) * V, 20 + n, 4.f);
    std::vector<int> targets(n);
    std::mt19937 rng(V);
    for (int i = 0; i < n; ++i) targets[i] = i % 5 == 4 ? -100 : int(rng() % V);  // every fifth row ignored
    DeviceBuffer<float> dlogits_in(logits.size()), dlosses(n), dlse(n);
    DeviceBuffer<int> dtargets(n);
    DeviceBuffer<bf16> dgrad(logits.size());
    dlogits_in.upload(logits), dtargets.upload(targets);
    dgrad.fill_bytes(0xff), dlosses.fill_bytes(0xff);

    // CPU reference over the trained rows only (the CPU ops know no ignored rows).
    std::vector<int> trained;
    for (int i = 0; i < n; ++i)
      if (targets[i] >= 0) trained.push_back(i);
    const int nt = int(trained.size());
    std::vector<float> rows(size_t(nt) * V), losses(nt), lse(nt);
    std::vector<int> rtargets(nt);
    for (int j = 0; j < nt; ++j) {
      std::copy_n(logits.begin() + size_t(trained[j]) * V, V, rows.begin() + size_t(j) * V);
      rtargets[j] = targets[trained[j]];
    }
    const double cpu_total = nt ? cross_entropy_forward(opcheck::ctx(), losses.data(), lse.data(), rows.data(),
                                                        rtargets.data(), nt, V)
                                : 0.0;
    auto expand = [&](const std::vector<float>& per_trained) {
      std::vector<float> full(n, 0.f);
      for (int j = 0; j < nt; ++j) full[trained[j]] = per_trained[j];
      return full;
    };

    cuda::cross_entropy_forward(ctx, dlosses.get(), dlse.get(), dlogits_in.get(), dtargets.get(), n, V);
    require_nmse(dlosses.download(), expand(losses), 1e-10, tag + " forward losses");
    const auto glse = dlse.download();
    std::vector<float> glse_trained(nt);
    for (int j = 0; j < nt; ++j) glse_trained[j] = glse[trained[j]];
    require_nmse(glse_trained, lse, 1e-10, tag + " lse");

    const float grad_scale = 0.37f;
    cuda::cross_entropy_forward_backward(ctx, dlosses.get(), dgrad.get(), dlogits_in.get(), dtargets.get(), n, V,
                                         grad_scale);
    auto fused = rows;
    std::vector<float> fused_losses(nt);
    if (nt)
      cross_entropy_forward_backward(opcheck::ctx(), fused_losses.data(), fused.data(), rtargets.data(), nt, V,
                                     grad_scale);
    require_nmse(dlosses.download(), expand(fused_losses), 1e-10, tag + " fused losses");
    std::vector<float> want(logits.size(), 0.f);  // ignored rows: zero gradient
    for (int j = 0; j < nt; ++j) std::copy_n(fused.begin() + size_t(j) * V, V, want.begin() + size_t(trained[j]) * V);
    require_nmse(download_bf16(dgrad), want, 3e-5, tag + " dlogits (bf16)");

    // The loss stays on the device and is summed there in a fixed order.
    DeviceBuffer<double> dtotal(1);
    DeviceBuffer<int64_t> dcount(1);
    dtotal.fill_bytes(0), dcount.fill_bytes(0);
    cuda::loss_sum_accumulate(ctx, dtotal.get(), dcount.get(), dlosses.get(), dtargets.get(), n);
    cuda::loss_sum_accumulate(ctx, dtotal.get(), dcount.get(), dlosses.get(), dtargets.get(), n);  // accumulates
    const int64_t count = dcount.download()[0];
    const double total = dtotal.download()[0];
    CHECK_EQ(count, int64_t(2 * nt));
    CHECK_NEAR(total, 2 * cpu_total, 1e-5 * std::max(1.0, std::fabs(cpu_total)));
  }
}

TEST(gpu_adamw_is_bit_identical_to_cpu) {
  const auto ctx = gpu();
  const int64_t n = 100003;
  auto p = opcheck::randn(n, 30), g = opcheck::randn(n, 31, 0.01f);
  std::vector<float> m(n, 0.f), v(n, 0.f);
  DeviceBuffer<float> dp(n), dg(n), dm(n), dv(n);
  dp.upload(p), dg.upload(g), dm.upload(m), dv.upload(v);
  AdamWParams hp;
  hp.lr = 2e-4f, hp.beta1 = 0.9f, hp.beta2 = 0.999f, hp.eps = 1e-8f, hp.weight_decay = 0.01f;
  for (int64_t step = 1; step <= 5; ++step) {
    g = opcheck::randn(n, 40 + uint32_t(step), 0.01f);
    dg.upload(g);
    cuda::adamw_step(ctx, dp.get(), dg.get(), dm.get(), dv.get(), n, hp, step);
    adamw_step(opcheck::ctx(), p.data(), g.data(), m.data(), v.data(), n, hp, step);
  }
  require_equal_bits(dp.download(), p, "adamw params after 5 steps");
  require_equal_bits(dm.download(), m, "adamw first moment");
  require_equal_bits(dv.download(), v, "adamw second moment");
}

TEST(gpu_grad_norm_matches_cpu_and_repeats_bit_for_bit) {
  const auto ctx = gpu();
#ifdef TS_CUDA_EMULATION  // (the emulator runs every CUDA thread as a fiber: keep it to a second)
  for (int64_t n : {int64_t(0), int64_t(1), int64_t(1000), int64_t(100003)}) {
#else
  for (int64_t n : {int64_t(0), int64_t(1), int64_t(1000), int64_t(1) << 22, (int64_t(1) << 24) + 7}) {
#endif
    const auto g = opcheck::randn(n, 50, 0.1f);
    DeviceBuffer<float> dg(n);
    DeviceBuffer<double> dout(1), scratch(cuda::grad_sum_squares_scratch_doubles());
    dg.upload(g);
    cuda::grad_sum_squares(ctx, dout.get(), dg.get(), n, scratch.get());
    const double first = dout.download()[0];
    const double want = grad_sum_squares(opcheck::ctx(), g.data(), n);
    CHECK_NEAR(first, want, 1e-12 * std::max(1.0, want));
    cuda::grad_sum_squares(ctx, dout.get(), dg.get(), n, scratch.get());
    const double second = dout.download()[0];
    CHECK(std::memcmp(&first, &second, sizeof first) == 0);
    cuda::scale_inplace(ctx, dg.get(), n, 0.5f);
    auto half = g;
    for (float& x : half) x *= 0.5f;
    require_equal_bits(dg.download(), half, "scale_inplace");
  }
}

namespace {

// generate.cpp's sampler with the draw given: r = uniform · (mass of the nucleus).
int cpu_sample(std::vector<float> logits, float temperature, float top_p, double uniform) {
  const int V = int(logits.size());
  if (temperature <= 0.f) return int(std::max_element(logits.begin(), logits.end()) - logits.begin());
  const float mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (int i = 0; i < V; ++i) sum += (logits[i] = std::exp((logits[i] - mx) / temperature));
  std::vector<int> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  double kept = 0;
  size_t n_keep = 0;
  while (n_keep < order.size() && (n_keep == 0 || kept < top_p * sum)) kept += logits[order[n_keep++]];
  double r = uniform * kept;
  for (size_t i = 0; i < n_keep; ++i) {
    r -= logits[order[i]];
    if (r <= 0) return order[i];
  }
  return order[n_keep - 1];
}

int gpu_sample(const std::vector<float>& logits, float temperature, float top_p, double uniform) {
  DeviceBuffer<float> d(logits.size());
  DeviceBuffer<int> token(1);
  d.upload(logits);
  cuda::sample_token(gpu(), token.get(), d.get(), int(logits.size()), temperature, top_p, uniform);
  return token.download()[0];
}

}  // namespace

// Under the host emulator every one of the kernel's 1024 threads is a fiber and a draw takes ~2 s: it
// checks the logic on a few draws, the GPU on all of them.
#ifdef TS_CUDA_EMULATION
constexpr int kVocabs[] = {7, 1000};
constexpr float kTemperatures[] = {1.f};
constexpr float kTopPs[] = {1.f, 0.3f};
constexpr double kDraws[] = {0.25, 0.77};
constexpr int kFlatDraws[] = {0, 4, 9};
#else
constexpr int kVocabs[] = {1, 7, 1000, 32000, 151936};
constexpr float kTemperatures[] = {0.7f, 1.f, 1.5f};
constexpr float kTopPs[] = {1.f, 0.9f, 0.3f};
constexpr double kDraws[] = {0.0, 0.013, 0.25, 0.5, 0.77, 0.999};
constexpr int kFlatDraws[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
#endif

TEST(gpu_sampling_matches_the_cpu_sampler) {
  for (int V : kVocabs) {
    const std::string tag = "sample_token V=" + std::to_string(V);
    auto logits = opcheck::randn(V, 60 + V, 3.f);
    if (V > 10) logits[V / 2] = logits[V / 3] = *std::max_element(logits.begin(), logits.end()) + 1.f;  // tied max
    CHECK_EQ(gpu_sample(logits, 0.f, 1.f, 0.0), cpu_sample(logits, 0.f, 1.f, 0.0));
    int agree = 0, total = 0;
    for (float temperature : kTemperatures)
      for (float top_p : kTopPs)
        for (double u : kDraws) {
          const int g = gpu_sample(logits, temperature, top_p, u), c = cpu_sample(logits, temperature, top_p, u);
          CHECK(g >= 0 && g < V);
          agree += g == c, ++total;
        }
    // Sums taken in another order may move a draw that lands within ~1e-12 of a boundary; nothing more.
    CHECK_MSG(agree >= total - 1, tag + ": " + std::to_string(agree) + " of " + std::to_string(total) + " agree");
  }
  // Equal logits: the nucleus holds all of them and the draw walks them in index order.
  const std::vector<float> flat(10, 0.5f);
  for (int i : kFlatDraws) CHECK_EQ(gpu_sample(flat, 1.f, 1.f, (i + 0.5) / 10), i);
  // top_p keeps the sample inside the nucleus: one token holds ~all the mass.
  std::vector<float> peaked(1000, 0.f);
  peaked[123] = 30.f;
  for (double u : {0.0, 0.9999}) CHECK_EQ(gpu_sample(peaked, 1.f, 0.5f, u), 123);
}
