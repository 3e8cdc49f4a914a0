// GPU parity: rmsnorm, rope, swiglu, embedding + NEFTune and the dtype moves, each against its CPU twin
// on the same (bf16-rounded) inputs, over odd shapes. Thresholds (gpu_check.h): bf16 outputs 3e-5 NMSE
// (their final rounding alone is ≤ 1.5e-5), fp32 outputs 1e-10; the NEFTune embedding must be bit-identical.
// N=tokens C=channels D=head_dim V=vocab
#include "gpu_check.h"

using namespace tunesmith;
using namespace gpucheck;

TEST(gpu_rmsnorm_matches_cpu) {
  const auto ctx = gpu();
  for (auto [N, C] : {std::pair{1, 7}, {7, 129}, {129, 64}, {33, 4096}, {3, 5000}}) {
    const std::string tag = "rmsnorm " + shape({{"N", N}, {"C", C}});
    const auto x = opcheck::randn(size_t(N) * C, 1, 2.f), w = opcheck::randn(C, 2, 0.5f);
    DeviceBuffer<float> dx_(x.size()), dw_(C), drstd(N), ddx(x.size()), ddy(x.size()), ddw(C);
    DeviceBuffer<bf16> dy_bf16(x.size());
    dx_.upload(x), dw_.upload(w);
    cuda::rmsnorm_forward(ctx, dy_bf16.get(), drstd.get(), dx_.get(), dw_.get(), N, C, 1e-5f);
    std::vector<float> y(x.size()), rstd(N);
    rmsnorm_forward(opcheck::ctx(), y.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5f);
    require_nmse(download_bf16(dy_bf16), y, 3e-5, tag + " y (bf16)");
    require_nmse(drstd.download(), rstd, 1e-10, tag + " rstd");

    // Backward accumulates into dx and dw: start both from non-zero values.
    const auto dy = opcheck::randn(x.size(), 3), dx0 = opcheck::randn(x.size(), 4), dw0 = opcheck::randn(C, 5);
    ddy.upload(dy), ddx.upload(dx0), ddw.upload(dw0);
    cuda::rmsnorm_backward(ctx, ddx.get(), ddw.get(), ddy.get(), dx_.get(), dw_.get(), drstd.get(), N, C);
    auto dx = dx0, dw = dw0;
    rmsnorm_backward(opcheck::ctx(), dx.data(), dw.data(), dy.data(), x.data(), w.data(), rstd.data(), N, C);
    require_nmse(ddx.download(), dx, 1e-10, tag + " dx (+=)");
    require_nmse(ddw.download(), dw, 1e-10, tag + " dw (+=)");
    cuda::rmsnorm_backward(ctx, ddx.get(), nullptr, ddy.get(), dx_.get(), dw_.get(), drstd.get(), N, C);  // frozen w
  }
}

TEST(gpu_rope_matches_cpu) {
  const auto ctx = gpu();
  const int T = 300;
  for (auto [N, heads, D] : {std::tuple{1, 1, 2}, {7, 3, 4}, {129, 4, 64}, {33, 8, 128}, {5, 2, 80}}) {
    const std::string tag = "rope " + shape({{"N", N}, {"heads", heads}, {"D", D}});
    std::vector<float> cosT(size_t(T) * D / 2), sinT(size_t(T) * D / 2);
    RopeScaling scaling;
    scaling.type = RopeScaling::Type::Llama3;
    scaling.factor = 8.f, scaling.low_freq_factor = 1.f, scaling.high_freq_factor = 4.f;
    scaling.original_max_position = 64;
    rope_table(cosT.data(), sinT.data(), T, D, 500000.f, scaling);
    std::vector<int> pos(N);
    std::mt19937 rng(N * 31 + D);
    for (int& p : pos) p = int(rng() % T);
    const auto x = round_bf16(opcheck::randn(size_t(N) * heads * D, 6));
    DeviceBuffer<float> dcos(cosT.size()), dsin(sinT.size());
    DeviceBuffer<int> dpos(N);
    DeviceBuffer<bf16> dx(x.size());
    dcos.upload(cosT), dsin.upload(sinT), dpos.upload(pos), upload_bf16(dx, x);
    cuda::rope_forward(ctx, dx.get(), dpos.get(), dcos.get(), dsin.get(), N, heads, D);
    auto want = x;
    rope_forward(opcheck::ctx(), want.data(), pos.data(), cosT.data(), sinT.data(), N, heads, D);
    require_nmse(download_bf16(dx), want, 3e-5, tag + " forward");
    upload_bf16(dx, x);
    cuda::rope_backward(ctx, dx.get(), dpos.get(), dcos.get(), dsin.get(), N, heads, D);
    want = x;
    rope_backward(opcheck::ctx(), want.data(), pos.data(), cosT.data(), sinT.data(), N, heads, D);
    require_nmse(download_bf16(dx), want, 3e-5, tag + " backward");
  }
}

TEST(gpu_swiglu_matches_cpu) {
  const auto ctx = gpu();
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(129), int64_t(4097), int64_t(1) << 20, (int64_t(1) << 20) + 1}) {
    const std::string tag = "swiglu n=" + std::to_string(n);
    const auto gate = round_bf16(opcheck::randn(n, 7, 3.f)), up = round_bf16(opcheck::randn(n, 8));
    const auto dh = round_bf16(opcheck::randn(n, 9));
    DeviceBuffer<bf16> dgate(n), dup(n), dhh(n), dh_(n), dgate_out(n), dup_out(n);
    upload_bf16(dgate, gate), upload_bf16(dup, up), upload_bf16(dh_, dh);
    cuda::swiglu_forward(ctx, dhh.get(), dgate.get(), dup.get(), n);
    std::vector<float> h(n), g_out(n), u_out(n);
    swiglu_forward(opcheck::ctx(), h.data(), gate.data(), up.data(), n);
    require_nmse(download_bf16(dhh), h, 3e-5, tag + " forward");
    cuda::swiglu_backward(ctx, dgate_out.get(), dup_out.get(), dh_.get(), dgate.get(), dup.get(), n);
    swiglu_backward(opcheck::ctx(), g_out.data(), u_out.data(), dh.data(), gate.data(), up.data(), n);
    require_nmse(download_bf16(dgate_out), g_out, 3e-5, tag + " dgate");
    require_nmse(download_bf16(dup_out), u_out, 3e-5, tag + " dup");
  }
  // The scalar path (an odd offset makes the bf16x2 path unusable) gives the same values.
  const int64_t n = 1001;
  const auto gate = round_bf16(opcheck::randn(n + 1, 10)), up = round_bf16(opcheck::randn(n + 1, 11));
  DeviceBuffer<bf16> dgate(n + 1), dup(n + 1), dh(n + 1);
  upload_bf16(dgate, gate), upload_bf16(dup, up);
  cuda::swiglu_forward(ctx, dh.get() + 1, dgate.get() + 1, dup.get() + 1, n - 1);
  std::vector<float> h(n - 1);
  swiglu_forward(opcheck::ctx(), h.data(), gate.data() + 1, up.data() + 1, n - 1);
  const auto got = download_bf16(dh);
  require_nmse(std::vector<float>(got.begin() + 1, got.begin() + n), h, 3e-5, "swiglu unaligned");
}

TEST(gpu_embedding_with_neftune_is_bit_identical_to_cpu) {
  const auto ctx = gpu();
  for (auto [N, C, V] : {std::tuple{1, 7, 11}, {129, 64, 50}, {33, 288, 1000}}) {
    const auto table = round_bf16(opcheck::randn(size_t(V) * C, 12, 0.05f));
    std::vector<int> tokens(N);
    std::mt19937 rng(N + C);
    for (int& t : tokens) t = int(rng() % V);
    DeviceBuffer<bf16> dtable(table.size());
    DeviceBuffer<int> dtokens(N);
    DeviceBuffer<float> dout(size_t(N) * C);
    upload_bf16(dtable, table), dtokens.upload(tokens);
    for (float alpha : {0.f, 5.f, 15.f}) {
      const Neftune noise{alpha, N + 3, 0x1234567890abcdefull + uint64_t(alpha)};
      cuda::embedding_forward(ctx, dout.get(), dtokens.get(), dtable.get(), N, C, noise);
      std::vector<float> want(size_t(N) * C);
      embedding_forward(opcheck::ctx(), want.data(), tokens.data(), table.data(), N, C, noise);
      require_equal_bits(dout.download(), want,
                         "embedding " + shape({{"N", N}, {"C", C}, {"V", V}}) + " alpha=" + std::to_string(alpha));
    }
  }
}

TEST(gpu_dtype_moves_and_row_gather_scatter) {
  const auto ctx = gpu();
  const int n = 129, C = 67, rows_total = 300;
  const auto x = opcheck::randn(size_t(rows_total) * C, 13, 100.f);
  DeviceBuffer<float> dx(x.size()), dback(x.size()), dsum(x.size());
  DeviceBuffer<bf16> dbf(x.size()), dgathered(size_t(n) * C);
  dx.upload(x);
  cuda::convert_f32_to_bf16(ctx, dbf.get(), dx.get(), int64_t(x.size()));
  require_equal_bits(download_bf16(dbf), round_bf16(x), "convert_f32_to_bf16 (round to nearest even)");
  cuda::convert_bf16_to_f32(ctx, dback.get(), dbf.get(), int64_t(x.size()));
  require_equal_bits(dback.download(), round_bf16(x), "convert_bf16_to_f32");
  cuda::add_f32(ctx, dsum.get(), dx.get(), dback.get(), int64_t(x.size()));
  std::vector<float> sum(x.size());
  const auto back = round_bf16(x);
  for (size_t i = 0; i < x.size(); ++i) sum[i] = x[i] + back[i];
  require_equal_bits(dsum.download(), sum, "add_f32");

  std::vector<int> rows(n);
  for (int i = 0; i < n; ++i) rows[i] = (i * 7 + 3) % rows_total;  // distinct (7 and 300 are coprime)
  DeviceBuffer<int> drows(n);
  drows.upload(rows);
  cuda::gather_rows_bf16(ctx, dgathered.get(), dbf.get(), drows.get(), n, C);
  const auto gathered = download_bf16(dgathered);
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < C; ++c) CHECK_EQ(gathered[size_t(i) * C + c], back[size_t(rows[i]) * C + c]);
  const auto src = opcheck::randn(size_t(n) * C, 14);
  DeviceBuffer<float> dsrc(src.size());
  dsrc.upload(src);
  cuda::scatter_add_rows_f32(ctx, dx.get(), dsrc.get(), drows.get(), n, C);
  auto want = x;
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < C; ++c) want[size_t(rows[i]) * C + c] += src[size_t(i) * C + c];
  require_equal_bits(dx.download(), want, "scatter_add_rows_f32");
}
