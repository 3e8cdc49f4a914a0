// GPU parity: flash-style attention forward, backward and decode against the CPU's, over packed sequences
// of odd lengths (1, 7, 129, ...), GQA (H/KV = 4), sliding windows (including one equal to a tile), head
// dims 2..128. Inputs are bf16-rounded for both sides; the backward compares on the SAME forward results
// (the GPU's out and lse are handed to the CPU too), so a mismatch is the backward's own.
// Thresholds: out, dq, dk, dv are bf16 computed from fp32 scores, probabilities and accumulators: 3e-5
// NMSE (their final rounding alone is ≤ 1.5e-5); lse is fp32: 1e-9. Backward must repeat bit for bit.
// N=tokens H=heads KV=kv heads D=head_dim
#include <numeric>

#include "gpu_check.h"

using namespace tunesmith;
using namespace gpucheck;

namespace {

struct AttentionCase {
  std::vector<int> lens;
  int H, KV, D, window;
};

std::string describe(const AttentionCase& c) {
  std::string lens;
  for (int l : c.lens) lens += (lens.empty() ? "" : ",") + std::to_string(l);
  return "attention lens={" + lens + "} " + shape({{"H", c.H}, {"KV", c.KV}, {"D", c.D}, {"window", c.window}});
}

// Device copies of the spans plus the host ones.
struct Spans {
  std::vector<int> start, len;
  int N = 0, max_len = 0;
  DeviceBuffer<int> dstart, dlen;
  explicit Spans(const std::vector<int>& lens) : start(lens.size()), len(lens), dstart(lens.size()), dlen(lens.size()) {
    for (size_t s = 0; s < lens.size(); ++s) start[s] = N, N += lens[s], max_len = std::max(max_len, lens[s]);
    dstart.upload(start), dlen.upload(len);
  }
  SeqSpans host() const { return SeqSpans{start.data(), len.data(), int(len.size())}; }
  cuda::DeviceSeqSpans device() const {
    return cuda::DeviceSeqSpans{dstart.get(), dlen.get(), int(len.size()), max_len};
  }
};

void check_attention(const AttentionCase& c, uint32_t seed) {
  const auto ctx = gpu();
  const std::string tag = describe(c);
  const Spans spans(c.lens);
  const int N = spans.N, H = c.H, KV = c.KV, D = c.D;
  const size_t nq = size_t(N) * H * D, nkv = size_t(N) * KV * D;
  const auto q = round_bf16(opcheck::randn(nq, seed)), k = round_bf16(opcheck::randn(nkv, seed + 1));
  const auto v = round_bf16(opcheck::randn(nkv, seed + 2)), dout = round_bf16(opcheck::randn(nq, seed + 3));
  DeviceBuffer<bf16> dq_in(nq), dk_in(nkv), dv_in(nkv), dout_in(nq), dout_(nq), ddq(nq), ddk(nkv), ddv(nkv);
  DeviceBuffer<float> dlse(size_t(N) * H), scratch(cuda::attention_backward_scratch_floats(N, H));
  upload_bf16(dq_in, q), upload_bf16(dk_in, k), upload_bf16(dv_in, v), upload_bf16(dout_in, dout);
  // Poison the outputs: every element must be written.
  dout_.fill_bytes(0xff), ddq.fill_bytes(0xff), ddk.fill_bytes(0xff), ddv.fill_bytes(0xff), dlse.fill_bytes(0xff);

  cuda::attention_forward(ctx, dout_.get(), dlse.get(), dq_in.get(), dk_in.get(), dv_in.get(), spans.device(), N, H, KV,
                          D, c.window);
  std::vector<float> out(nq), lse(size_t(N) * H);
  attention_forward(opcheck::ctx(), out.data(), lse.data(), q.data(), k.data(), v.data(), spans.host(), H, KV, D,
                    c.window);
  const auto gpu_out = download_bf16(dout_);
  const auto gpu_lse = dlse.download();
  require_nmse(gpu_out, out, 3e-5, tag + " out");
  require_nmse(gpu_lse, lse, 1e-9, tag + " lse");

  cuda::attention_backward(ctx, ddq.get(), ddk.get(), ddv.get(), dout_in.get(), dout_.get(), dlse.get(), dq_in.get(),
                           dk_in.get(), dv_in.get(), spans.device(), N, H, KV, D, c.window, scratch.get());
  std::vector<float> dq(nq), dk(nkv), dv(nkv);
  attention_backward(opcheck::ctx(), dq.data(), dk.data(), dv.data(), dout.data(), gpu_out.data(), gpu_lse.data(),
                     q.data(), k.data(), v.data(), spans.host(), H, KV, D, c.window);
  const auto gdq = download_bf16(ddq), gdk = download_bf16(ddk), gdv = download_bf16(ddv);
  require_nmse(gdq, dq, 3e-5, tag + " dq");
  require_nmse(gdk, dk, 3e-5, tag + " dk");
  require_nmse(gdv, dv, 3e-5, tag + " dv");

  // The same inputs give the same bits (no atomics, fixed reduction orders).
  cuda::attention_backward(ctx, ddq.get(), ddk.get(), ddv.get(), dout_in.get(), dout_.get(), dlse.get(), dq_in.get(),
                           dk_in.get(), dv_in.get(), spans.device(), N, H, KV, D, c.window, scratch.get());
  require_equal_bits(download_bf16(ddq), gdq, tag + " dq repeatable");
  require_equal_bits(download_bf16(ddk), gdk, tag + " dk repeatable");
  require_equal_bits(download_bf16(ddv), gdv, tag + " dv repeatable");
}

}  // namespace

TEST(gpu_attention_single_token_and_tiny_heads) {
  check_attention({{1}, 1, 1, 2, 0}, 100);
  check_attention({{7}, 4, 1, 4, 0}, 110);       // GQA 4, D=4 (tiny model shape)
  check_attention({{1, 1, 3}, 2, 1, 32, 0}, 120);  // sequences of one token packed together
}

TEST(gpu_attention_odd_lengths_gqa_head_dim_64) { check_attention({{129, 7, 64}, 8, 2, 64, 0}, 200); }

TEST(gpu_attention_sliding_window_head_dim_128) {
  check_attention({{129, 70}, 4, 1, 128, 40}, 300);
  check_attention({{200}, 2, 2, 80, 64}, 310);  // window = one tile; D=80 pads to 128
  check_attention({{9, 130}, 4, 4, 16, 2}, 320);  // window 2: each token sees itself and the one before
}

#ifdef TS_CUDA_EMULATION  // (fibers for threads: a shorter "long" sequence, still many tiles each way)
TEST(gpu_attention_long_sequence) { check_attention({{300, 24}, 8, 2, 128, 0}, 400); }
#else
TEST(gpu_attention_long_sequence) { check_attention({{1000, 24}, 8, 2, 128, 0}, 400); }
#endif

TEST(gpu_attention_decode_matches_cpu) {
  const auto ctx = gpu();
  for (auto [t, H, KV, D, window] : {std::tuple{0, 1, 1, 4, 0}, {6, 4, 2, 4, 3}, {128, 8, 2, 64, 0},
                                     {1000, 8, 2, 128, 0}, {1000, 4, 1, 128, 100}, {77, 2, 1, 256, 0}}) {
    const std::string tag = "attention_decode " + shape({{"t", t}, {"H", H}, {"KV", KV}, {"D", D}, {"window", window}});
    const int T = t + 5;  // cache rows beyond t hold garbage the op must not read
    const auto q = round_bf16(opcheck::randn(size_t(H) * D, 500 + t));
    auto kc = round_bf16(opcheck::randn(size_t(T) * KV * D, 501 + t));
    auto vc = round_bf16(opcheck::randn(size_t(T) * KV * D, 502 + t));
    for (size_t i = size_t(t + 1) * KV * D; i < kc.size(); ++i) kc[i] = NAN, vc[i] = NAN;
    DeviceBuffer<bf16> dq(q.size()), dk(kc.size()), dv(vc.size()), dout(q.size());
    upload_bf16(dq, q), upload_bf16(dk, kc), upload_bf16(dv, vc);
    cuda::attention_decode(ctx, dout.get(), dq.get(), dk.get(), dv.get(), t, H, KV, D, window);
    std::vector<float> want(q.size());
    attention_decode(opcheck::ctx(), want.data(), q.data(), kc.data(), vc.data(), t, H, KV, D, window);
    require_nmse(download_bf16(dout), want, 3e-5, tag);
  }
}
