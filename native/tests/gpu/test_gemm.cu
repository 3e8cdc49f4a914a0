// GPU parity of cuda::gemm and nf4_dequantize_bf16 (cuda_gemm.h). Each case builds its operands on the
// host, runs them on the GPU through every path that can take them (auto, tensor core with each tile,
// the simple kernel), and compares with a double-precision product of the same bf16-rounded values
// (NF4 through the CPU's dequantize_nf4), then the same epilogue. C starts as NaN where it is
// overwritten, so an output the kernel never wrote fails the finiteness check; the leading-dimension
// padding of C holds a sentinel that must survive. Split-K runs too (forced to 3 splits, and automatic with
// a workspace), its partial sums added in a second kernel. Thresholds (NMSE): fp32 outputs 1e-8 (fp32 sums of
// exact bf16 products in another order: ≈1e-11 measured by arithmetic for K=4096), bf16 outputs 1e-5
// (their final rounding alone is ≈1.3e-6). Bit-identical where the arithmetic is the same by design:
// fused NF4 vs dequantize-then-bf16 GEMM, and the dequantize kernel vs the CPU.
// NF4 needs I % 64 == 0 for the tensor-core path; any other I is handled by the simple kernel (checked).
// M,N,K = GEMM dims; for a projection M = tokens, O = out, I = in.
#include <functional>
#include <limits>

#include "cuda_gemm.h"
#include "gpu_check.h"
#include "nf4.h"

using namespace tunesmith;
using namespace gpucheck;
using cuda::DType;
using cuda::GemmPath;
using cuda::GemmTile;
using cuda::GemmTuning;

namespace {

const char* name_of(DType t) { return t == DType::kF32 ? "f32" : t == DType::kBF16 ? "bf16" : "nf4"; }

struct GemmCase {
  int M, N, K;
  DType a = DType::kBF16;
  bool a_trans = false;  // A[i][k] = a[k*lda + i]
  DType b = DType::kBF16;
  bool b_trans = true;   // B[k][j] = b[j*ldb + k] (a weight W[N,K] read as Wᵀ)
  DType c = DType::kF32;
  bool accumulate = false, bias = false;
  float alpha = 1.f, keep_p = 0.f;
  int pad_a = 0, pad_b = 0, pad_c = 0;  // extra elements in each leading dimension
  int offset_a = 0;                     // elements the A pointer is moved by (misalignment)

  std::string tag() const {
    return shape({{"M", M}, {"N", N}, {"K", K}}) + " A " + name_of(a) + (a_trans ? "ᵀ" : "") + " B " + name_of(b) +
           (b_trans ? "ᵀ" : "") + " C " + name_of(c) + (accumulate ? " +=" : "") + (bias ? " bias" : "") +
           (keep_p > 0 ? " keep" : "") + (pad_a || pad_b || pad_c ? " padded" : "") + (offset_a ? " unaligned" : "");
  }
  int64_t lda() const { return (a_trans ? M : K) + pad_a; }
  int64_t ldb() const { return (b_trans ? K : N) + pad_b; }
  int64_t ldc() const { return N + pad_c; }
  int64_t a_rows() const { return a_trans ? K : M; }
  int64_t b_rows() const { return b_trans ? N : K; }
};

constexpr float kSentinel = 12288.f;  // exact in bf16 too

// Host operands of a case, and the reference output.
struct Operands {
  std::vector<float> a_store;   // [a_rows, lda] (+ offset_a leading elements)
  std::vector<float> b_store;   // [b_rows, ldb]  (dense; for NF4 the values before quantization)
  std::vector<uint8_t> codes;   // NF4 of b_store
  std::vector<float> absmax;
  std::vector<float> bias;      // [N]
  std::vector<float> c0;        // [M, ldc] initial C (NaN where not accumulating, sentinel in the padding)
  std::vector<float> want;      // [M, N]
};

Operands make_operands(const GemmCase& cs, uint32_t seed) {
  Operands o;
  o.a_store = opcheck::randn(size_t(cs.offset_a + cs.a_rows() * cs.lda()), seed);
  if (cs.a == DType::kBF16) o.a_store = round_bf16(o.a_store);
  o.b_store = opcheck::randn(size_t(cs.b_rows() * cs.ldb()), seed + 1, 0.5f);
  if (cs.b == DType::kBF16) o.b_store = round_bf16(o.b_store);
  std::vector<float> b_values = o.b_store;  // what the GPU multiplies by, before rounding to bf16
  if (cs.b == DType::kNF4) {
    o.codes.resize(nf4_packed_bytes(int64_t(o.b_store.size())));
    o.absmax.resize(nf4_blocks(int64_t(o.b_store.size())));
    quantize_nf4(o.b_store.data(), int64_t(o.b_store.size()), o.codes.data(), o.absmax.data());
    dequantize_nf4(o.codes.data(), o.absmax.data(), int64_t(o.b_store.size()), b_values.data());
  }
  o.bias = opcheck::randn(size_t(cs.N), seed + 2);
  o.c0 = opcheck::randn(size_t(cs.M * cs.ldc()), seed + 3);
  if (cs.c == DType::kBF16) o.c0 = round_bf16(o.c0);
  for (int i = 0; i < cs.M; ++i)
    for (int64_t j = 0; j < cs.ldc(); ++j) {
      float& c = o.c0[size_t(i * cs.ldc() + j)];
      if (j >= cs.N) c = kSentinel;
      else if (!cs.accumulate) c = std::numeric_limits<float>::quiet_NaN();
    }

  // Dense, bf16-rounded A[M,K] and B[K,N], then C in double.
  std::vector<float> A(size_t(cs.M) * cs.K), B(size_t(cs.K) * cs.N);
  for (int i = 0; i < cs.M; ++i)
    for (int k = 0; k < cs.K; ++k) {
      const int64_t e = cs.a_trans ? int64_t(k) * cs.lda() + i : int64_t(i) * cs.lda() + k;
      A[size_t(i) * cs.K + k] = dm::round_to_bf16(o.a_store[size_t(cs.offset_a + e)]);
    }
  for (int k = 0; k < cs.K; ++k)
    for (int j = 0; j < cs.N; ++j) {
      const int64_t e = cs.b_trans ? int64_t(j) * cs.ldb() + k : int64_t(k) * cs.ldb() + j;
      B[size_t(k) * cs.N + j] = dm::round_to_bf16(b_values[size_t(e)]);
    }
  o.want.assign(size_t(cs.M) * cs.N, 0.f);
  std::vector<double> row(cs.N);
  for (int i = 0; i < cs.M; ++i) {
    std::fill(row.begin(), row.end(), 0.0);
    for (int k = 0; k < cs.K; ++k) {
      const double a = A[size_t(i) * cs.K + k];
      const float* b = &B[size_t(k) * cs.N];
      for (int j = 0; j < cs.N; ++j) row[j] += a * b[j];
    }
    for (int j = 0; j < cs.N; ++j) {
      double v = cs.alpha * row[j];
      if (cs.keep_p > 0 && hash_uniform(99, uint64_t(int64_t(i) * cs.N + j)) < cs.keep_p) v = 0;
      if (cs.bias) v += o.bias[j];
      if (cs.accumulate) v += o.c0[size_t(i * cs.ldc() + j)];
      o.want[size_t(i) * cs.N + j] = float(v);
    }
  }
  return o;
}

// Device copies of one case's operands.
struct DeviceOperands {
  DeviceBuffer<float> a_f32, b_f32, bias, c_f32;
  DeviceBuffer<bf16> a_bf16, b_bf16, c_bf16;
  DeviceBuffer<uint8_t> codes;
  DeviceBuffer<float> absmax;
  DeviceOperands(const GemmCase& cs, const Operands& o)
      : a_f32(cs.a == DType::kF32 ? o.a_store.size() : 0),
        b_f32(cs.b == DType::kF32 ? o.b_store.size() : 0),
        bias(o.bias.size()),
        c_f32(cs.c == DType::kF32 ? o.c0.size() : 0),
        a_bf16(cs.a == DType::kBF16 ? o.a_store.size() : 0),
        b_bf16(cs.b == DType::kBF16 ? o.b_store.size() : 0),
        c_bf16(cs.c == DType::kBF16 ? o.c0.size() : 0),
        codes(o.codes.size()),
        absmax(o.absmax.size()) {
    if (cs.a == DType::kF32) a_f32.upload(o.a_store); else upload_bf16(a_bf16, o.a_store);
    if (cs.b == DType::kF32) b_f32.upload(o.b_store);
    if (cs.b == DType::kBF16) upload_bf16(b_bf16, o.b_store);
    if (cs.b == DType::kNF4) codes.upload(o.codes), absmax.upload(o.absmax);
    bias.upload(o.bias);
  }
  void reset_c(const GemmCase& cs, const Operands& o) {
    if (cs.c == DType::kF32) c_f32.upload(o.c0); else upload_bf16(c_bf16, o.c0);
  }
  cuda::GemmA A(const GemmCase& cs) const {
    cuda::GemmA a;
    a.layout = cs.a_trans ? cuda::GemmA::kTransposed : cuda::GemmA::kRowMajor;
    a.dtype = cs.a;
    a.data = cs.a == DType::kF32 ? static_cast<const void*>(a_f32.get() + cs.offset_a)
                                 : static_cast<const void*>(a_bf16.get() + cs.offset_a);
    a.ld = cs.lda();
    return a;
  }
  cuda::GemmB B(const GemmCase& cs) const {
    cuda::GemmB b;
    b.layout = cs.b_trans ? cuda::GemmB::kTransposed : cuda::GemmB::kRowMajor;
    b.dtype = cs.b;
    b.data = cs.b == DType::kF32 ? static_cast<const void*>(b_f32.get()) : static_cast<const void*>(b_bf16.get());
    b.nf4_codes = codes.get();
    b.nf4_absmax = absmax.get();
    b.ld = cs.ldb();
    return b;
  }
  cuda::GemmOut C(const GemmCase& cs) const {
    cuda::GemmOut c;
    c.dtype = cs.c;
    c.data = cs.c == DType::kF32 ? static_cast<void*>(c_f32.get()) : static_cast<void*>(c_bf16.get());
    c.ld = cs.ldc();
    c.alpha = cs.alpha;
    c.accumulate = cs.accumulate;
    c.bias = cs.bias ? bias.get() : nullptr;
    if (cs.keep_p > 0) c.keep = cuda::GemmKeepMask{cs.keep_p, 99, cs.N};
    return c;
  }
  std::vector<float> c_host(const GemmCase& cs) const {
    return cs.c == DType::kF32 ? c_f32.download() : download_bf16(c_bf16);
  }
};

// C[M,N] out of C[M,ldc], after checking the padding still holds the sentinel.
std::vector<float> unpadded(const GemmCase& cs, const std::vector<float>& c, const std::string& what) {
  std::vector<float> out(size_t(cs.M) * cs.N);
  for (int i = 0; i < cs.M; ++i)
    for (int64_t j = 0; j < cs.ldc(); ++j) {
      const float v = c[size_t(i * cs.ldc() + j)];
      if (j < cs.N) out[size_t(i) * cs.N + j] = v;
      else if (v != kSentinel)
        throw std::runtime_error(what + ": wrote past N into C's padding at row " + std::to_string(i));
    }
  return out;
}

struct PathChoice {
  const char* name;
  GemmTuning tuning;
  bool workspace;  // give it a split-K workspace of 8·M·N floats
};
const PathChoice kPaths[] = {
    {"auto", {GemmPath::kAuto, GemmTile::kAuto}, false},
    {"tensor core 64x64", {GemmPath::kTensorCore, GemmTile::k64x64}, false},
    {"tensor core 128x128", {GemmPath::kTensorCore, GemmTile::k128x128}, false},
    {"simple", {GemmPath::kSimple, GemmTile::kAuto}, false},
    {"auto with a split-K workspace", {GemmPath::kAuto, GemmTile::kAuto, 0}, true},
    {"tensor core 64x64 split-K 3", {GemmPath::kTensorCore, GemmTile::k64x64, 3}, true},
};

// Runs the case through every path that accepts it; returns how many ran on tensor cores.
int check_case(const GemmCase& cs, uint32_t seed, bool expect_tensor_core) {
  const auto ctx = gpu();
  const Operands o = make_operands(cs, seed);
  DeviceOperands d(cs, o);
  const std::string refusal = cuda::gemm_tensor_core_refusal(cs.M, cs.N, cs.K, d.A(cs), d.B(cs), d.C(cs));
  if (expect_tensor_core && !refusal.empty())
    throw std::runtime_error(cs.tag() + ": expected the tensor-core path, refused: " + refusal);
  if (!expect_tensor_core && refusal.empty())
    throw std::runtime_error(cs.tag() + ": expected the simple path, but the tensor-core path accepts it");
  const double threshold = cs.c == DType::kF32 ? 1e-8 : 1e-5;
  DeviceBuffer<float> workspace(size_t(8) * cs.M * cs.N);
  int tensor_core_runs = 0;
  for (PathChoice path : kPaths) {
    if (path.workspace) {
      path.tuning.workspace = workspace.get();
      path.tuning.workspace_floats = int64_t(workspace.size());
    }
    if (path.tuning.path == GemmPath::kTensorCore && !refusal.empty()) {
      d.reset_c(cs, o);
      CHECK_THROWS_WITH(cuda::gemm(ctx, cs.M, cs.N, cs.K, d.A(cs), d.B(cs), d.C(cs), path.tuning),
                        "tensor-core path cannot run");
      continue;
    }
    d.reset_c(cs, o);
    try {
      cuda::gemm(ctx, cs.M, cs.N, cs.K, d.A(cs), d.B(cs), d.C(cs), path.tuning);
    } catch (const EngineError& e) {
      // Only "no 128×128 tile for these operands" may refuse a forced tile.
      if (path.tuning.tile == GemmTile::k128x128 && std::string(e.what()).find("128") != std::string::npos) continue;
      throw;
    }
    const std::string what = cs.tag() + " [" + path.name + "]";
    require_nmse(unpadded(cs, d.c_host(cs), what), o.want, threshold, what);
    if (path.tuning.path == GemmPath::kTensorCore) ++tensor_core_runs;
  }
  return tensor_core_runs;
}

}  // namespace

// ---- projections: y = x·Wᵀ (+ bias) and dx (=|+=) dy·W, W bf16 or NF4 ----------------------------------

// The host emulator (TS_CUDA_EMULATION) switches fibers at every ldmatrix and mma: it skips the largest shape.
#if defined(TS_CUDA_EMULATION)
constexpr bool kEmulated = true;
#else
constexpr bool kEmulated = false;
#endif

TEST(gpu_gemm_forward_projection_matches_cpu) {
  for (DType w : {DType::kBF16, DType::kNF4})
    for (auto [M, O, I] : {std::tuple{1, 64, 64}, {7, 200, 192}, {129, 136, 320}, {300, 1000, 256}, {64, 128, 128}}) {
      if (kEmulated && M == 300) continue;
      GemmCase cs{M, O, I};
      cs.b = w, cs.b_trans = true, cs.c = DType::kBF16, cs.bias = true;
      CHECK(check_case(cs, 100 + M, true) >= 1);
    }
}

TEST(gpu_gemm_backward_projection_matches_cpu) {
  for (DType w : {DType::kBF16, DType::kNF4})
    for (auto [M, O, I] : {std::tuple{1, 64, 64}, {7, 200, 192}, {129, 136, 320}, {300, 96, 1024}}) {
      if (kEmulated && M == 300) continue;
      GemmCase cs{M, I, O};  // dx[M,I] = dy[M,O] · W[O,I]: N = I, K = O
      cs.b = w, cs.b_trans = false, cs.c = DType::kBF16;
      check_case(cs, 200 + M, true);
      cs.c = DType::kF32, cs.accumulate = true;  // q/k/v add their dx into the norm's fp32 gradient
      check_case(cs, 300 + M, true);
    }
}

// Many k-tiles (the pipeline's steady state and tail) on a 7B-like inner size, both tiles.
TEST(gpu_gemm_deep_k_matches_cpu) {
  const int M = kEmulated ? 32 : 256, N = kEmulated ? 128 : 1024;  // emulated: keep K, shrink the grid
  for (DType w : {DType::kBF16, DType::kNF4}) {
    GemmCase fwd{M, N, 4096};
    fwd.b = w, fwd.c = DType::kF32;
    CHECK_EQ(check_case(fwd, 400, true), 3);  // both tiles and split-K
    GemmCase bwd{M / 2 + 2, N * 4, 1056};  // K = 33 k-tiles: not a multiple of the 4 stages
    bwd.b = w, bwd.b_trans = false, bwd.c = DType::kBF16;
    CHECK_EQ(check_case(bwd, 401, true), 3);
  }
}

// ---- LoRA's GEMMs: fp32 factors and saved activations, rounded to bf16 as their tiles load --------------

TEST(gpu_gemm_lora_shapes_match_cpu) {
  for (int R : {8, 16}) {
    const int T = 129, I = 192, O = 136;  // tokens, in, out
    GemmCase u{T, R, I};                  // u[T,R] = x · Aᵀ
    u.b = DType::kF32;
    check_case(u, 500 + R, true);
    GemmCase y{T, O, R};  // y += s · u · Bᵀ
    y.a = DType::kF32, y.b = DType::kF32, y.c = DType::kBF16, y.accumulate = true, y.alpha = 2.f;
    check_case(y, 510 + R, true);
    GemmCase dB{O, R, T};  // dB[O,R] += s · dyᵀ · u
    dB.a_trans = true, dB.b = DType::kF32, dB.b_trans = false, dB.accumulate = true, dB.alpha = 0.5f;
    check_case(dB, 520 + R, true);
    GemmCase du{T, R, O};  // du = s · dy · B
    du.b = DType::kF32, du.b_trans = false, du.alpha = 2.f;
    check_case(du, 530 + R, true);
    GemmCase dA{R, I, T};  // dA[R,I] += duᵀ · x
    dA.a = DType::kF32, dA.a_trans = true, dA.b_trans = false, dA.accumulate = true;
    check_case(dA, 540 + R, true);
    GemmCase dx{T, I, R};  // dx += keep ⊙ (du · A) / (1-p)
    dx.a = DType::kF32, dx.b = DType::kF32, dx.b_trans = false, dx.c = DType::kBF16, dx.accumulate = true;
    dx.keep_p = 0.25f, dx.alpha = 1.f / 0.75f;
    check_case(dx, 550 + R, true);
  }
}

// Skinny GEMMs with a long K (LoRA's x·Aᵀ and dy·B at 7B sizes): few output tiles, so with a workspace the
// automatic choice splits K; every epilogue option on top.
TEST(gpu_gemm_split_k_matches_cpu) {
  GemmCase u{kEmulated ? 130 : 2048, 16, kEmulated ? 1024 : 4096};  // u = x·Aᵀ
  u.b = DType::kBF16, u.c = DType::kF32;
  check_case(u, 700, true);
  GemmCase du{kEmulated ? 70 : 1000, 24, kEmulated ? 1056 : 14336};  // du = s·dy·B, bf16 out, N not a tile
  du.b_trans = false, du.c = DType::kBF16, du.alpha = 2.f;
  check_case(du, 701, true);
  GemmCase masked{65, 40, 800};  // everything on: += with bias, alpha and the keep mask
  masked.accumulate = true, masked.bias = true, masked.alpha = 1.f / 0.75f, masked.keep_p = 0.25f, masked.pad_c = 2;
  check_case(masked, 702, true);
}

// ---- odd shapes: handled by the simple kernel, or by the tensor cores with zero-filled edges ------------

TEST(gpu_gemm_odd_shapes_match_cpu) {
  // K not a multiple of 8 with bf16 rows that are: tensor cores, the partial chunk zero-filled.
  GemmCase k13{7, 9, 13};
  k13.pad_a = 3, k13.pad_b = 3;  // lda = ldb = 16
  check_case(k13, 600, true);
  // An odd leading dimension breaks 16-byte alignment: the simple kernel.
  GemmCase odd_ld{129, 33, 45};
  check_case(odd_ld, 601, false);
  GemmCase unaligned{7, 64, 64};
  unaligned.offset_a = 1;
  check_case(unaligned, 602, false);
  // NF4 with I % 64 != 0: blocks straddle weight rows; only the simple kernel reads them.
  GemmCase nf4_odd{7, 40, 96};
  nf4_odd.b = DType::kNF4;
  check_case(nf4_odd, 603, false);
  GemmCase nf4_odd_bwd{7, 100, 40};
  nf4_odd_bwd.b = DType::kNF4, nf4_odd_bwd.b_trans = false;
  check_case(nf4_odd_bwd, 604, false);
  // Operand combinations without a tensor-core kernel (fp32 B with transposed bf16 A, ...).
  GemmCase other{33, 17, 19};
  other.a_trans = true, other.b = DType::kF32, other.b_trans = true, other.pad_a = 5;
  check_case(other, 605, false);
  // Padded C (ldc > N), fp32, odd N: pairs at the edge are stored one by one.
  GemmCase padded{65, 127, 64};
  padded.pad_c = 5, padded.bias = true;
  check_case(padded, 606, true);
  GemmCase padded_bf16{65, 127, 64};
  padded_bf16.pad_c = 1, padded_bf16.c = DType::kBF16, padded_bf16.accumulate = true;
  check_case(padded_bf16, 607, true);
}

TEST(gpu_gemm_k_zero_writes_the_epilogue_alone) {
  const auto ctx = gpu();
  const int M = 5, N = 8;
  DeviceBuffer<float> c(size_t(M) * N), bias(N);
  const auto b = opcheck::randn(N, 1);
  bias.upload(b);
  c.upload(std::vector<float>(size_t(M) * N, 3.f));
  cuda::GemmOut out;
  out.data = c.get(), out.ld = N, out.accumulate = true;
  cuda::gemm(ctx, M, N, 0, cuda::GemmA{}, cuda::GemmB{}, out);
  for (float v : c.download()) CHECK_EQ(v, 3.f);
  out.accumulate = false, out.bias = bias.get();
  cuda::gemm(ctx, M, N, 0, cuda::GemmA{}, cuda::GemmB{}, out);
  const auto got = c.download();
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) CHECK_EQ(got[size_t(i) * N + j], b[j]);
}

TEST(gpu_gemm_propagates_nan_and_inf) {
  const auto ctx = gpu();
  const int M = 70, N = 72, K = 96;
  for (GemmPath path : {GemmPath::kTensorCore, GemmPath::kSimple}) {
    auto a = round_bf16(opcheck::randn(size_t(M) * K, 1));
    a[size_t(3) * K + 17] = std::numeric_limits<float>::quiet_NaN();  // row 3 → all NaN
    a[size_t(40) * K + 5] = std::numeric_limits<float>::infinity();   // row 40 → ±inf (or NaN)
    const auto w = round_bf16(opcheck::randn(size_t(N) * K, 2));
    DeviceBuffer<bf16> da(a.size()), dw(w.size());
    DeviceBuffer<float> dc(size_t(M) * N);
    upload_bf16(da, a), upload_bf16(dw, w);
    cuda::GemmA A;
    A.data = da.get(), A.ld = K;
    cuda::GemmB B;
    B.layout = cuda::GemmB::kTransposed, B.data = dw.get(), B.ld = K;
    cuda::GemmOut C;
    C.data = dc.get(), C.ld = N;
    cuda::gemm(ctx, M, N, K, A, B, C, GemmTuning{path, GemmTile::kAuto});
    const auto c = dc.download();
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        const float v = c[size_t(i) * N + j];
        if (i == 3) CHECK_MSG(std::isnan(v), "row 3 column " + std::to_string(j));
        else if (i == 40) CHECK_MSG(!std::isfinite(v), "row 40 column " + std::to_string(j));
        else CHECK_MSG(std::isfinite(v), "row " + std::to_string(i) + " column " + std::to_string(j));
      }
  }
}

TEST(gpu_gemm_rejects_bad_arguments) {
  const auto ctx = gpu();
  DeviceBuffer<float> c(64);
  DeviceBuffer<bf16> a(64);
  cuda::GemmA A;
  A.data = a.get(), A.ld = 8;
  cuda::GemmB B;
  B.data = a.get(), B.ld = 8;
  cuda::GemmOut C;
  C.data = c.get(), C.ld = 8;
  CHECK_THROWS_WITH(cuda::gemm(ctx, -1, 8, 8, A, B, C), "negative size");
  cuda::GemmOut narrow = C;
  narrow.ld = 4;
  CHECK_THROWS_WITH(cuda::gemm(ctx, 8, 8, 8, A, B, narrow), "ldc");
  cuda::GemmA nf4_a = A;
  nf4_a.dtype = DType::kNF4;
  CHECK_THROWS_WITH(cuda::gemm(ctx, 8, 8, 8, nf4_a, B, C), "must be f32 or bf16");
  cuda::GemmB nf4_b = B;
  nf4_b.dtype = DType::kNF4;
  CHECK_THROWS_WITH(cuda::gemm(ctx, 8, 8, 8, A, nf4_b, C), "null codes");
  cuda::GemmOut mask = C;
  mask.keep.p = 1.f;
  CHECK_THROWS_WITH(cuda::gemm(ctx, 8, 8, 8, A, B, mask), "keep-mask");
}

// ---- NF4: the two strategies give the tensor cores the same numbers -------------------------------------

TEST(gpu_nf4_dequantize_matches_cpu_bit_for_bit) {
  const auto ctx = gpu();
  for (int64_t n : {int64_t(64) * 1000, int64_t(1001), int64_t(4096) * 1024}) {
    const auto w = opcheck::randn(size_t(n), 7, 0.02f);
    std::vector<uint8_t> codes(nf4_packed_bytes(n));
    std::vector<float> absmax(nf4_blocks(n)), want(static_cast<size_t>(n));
    quantize_nf4(w.data(), n, codes.data(), absmax.data());
    dequantize_nf4(codes.data(), absmax.data(), n, want.data());
    DeviceBuffer<uint8_t> dcodes(codes.size());
    DeviceBuffer<float> dabs(absmax.size());
    DeviceBuffer<bf16> out(static_cast<size_t>(n));
    dcodes.upload(codes), dabs.upload(absmax);
    cuda::nf4_dequantize_bf16(ctx, out.get(), dcodes.get(), dabs.get(), n);
    require_equal_bits(download_bf16(out), round_bf16(want), "nf4_dequantize_bf16 n=" + std::to_string(n));
  }
}

TEST(gpu_gemm_fused_nf4_equals_dequantize_then_bf16_gemm) {
  const auto ctx = gpu();
  const int M = 129, O = 320, I = 256;
  const auto w = opcheck::randn(size_t(O) * I, 8, 0.02f);
  std::vector<uint8_t> codes(nf4_packed_bytes(int64_t(w.size())));
  std::vector<float> absmax(nf4_blocks(int64_t(w.size())));
  quantize_nf4(w.data(), int64_t(w.size()), codes.data(), absmax.data());
  DeviceBuffer<uint8_t> dcodes(codes.size());
  DeviceBuffer<float> dabs(absmax.size());
  DeviceBuffer<bf16> wdq(w.size()), x(size_t(M) * std::max(O, I));
  dcodes.upload(codes), dabs.upload(absmax);
  upload_bf16(x, opcheck::randn(x.size(), 9));
  cuda::nf4_dequantize_bf16(ctx, wdq.get(), dcodes.get(), dabs.get(), int64_t(w.size()));
  for (bool forward : {true, false})
    for (GemmTile tile : {GemmTile::k64x64, GemmTile::k128x128}) {
      const int N = forward ? O : I, K = forward ? I : O;
      cuda::GemmA A;
      A.data = x.get(), A.ld = K;
      cuda::GemmB fused;
      fused.layout = forward ? cuda::GemmB::kTransposed : cuda::GemmB::kRowMajor;
      fused.dtype = DType::kNF4, fused.nf4_codes = dcodes.get(), fused.nf4_absmax = dabs.get(), fused.ld = I;
      cuda::GemmB scratch = fused;
      scratch.dtype = DType::kBF16, scratch.data = wdq.get();
      DeviceBuffer<float> c1(size_t(M) * N), c2(size_t(M) * N);
      cuda::GemmOut C;
      C.ld = N;
      C.data = c1.get();
      cuda::gemm(ctx, M, N, K, A, fused, C, GemmTuning{GemmPath::kTensorCore, tile});
      C.data = c2.get();
      cuda::gemm(ctx, M, N, K, A, scratch, C, GemmTuning{GemmPath::kTensorCore, tile});
      require_equal_bits(c1.download(), c2.download(),
                         std::string("fused vs scratch NF4, ") + (forward ? "x·Wᵀ" : "dy·W") +
                             (tile == GemmTile::k64x64 ? " 64x64" : " 128x128"));
    }
}
