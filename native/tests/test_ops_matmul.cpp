// gemm against a naive triple loop for every B layout and odd shapes; NF4 weights against their
// dequantized f32 copy; matmul_backward by finite differences. M/N/K as in ops.h.
#include <cstring>

#include "nf4.h"
#include "op_check.h"
#include "test_framework.h"

using namespace tunesmith;
using namespace opcheck;

namespace {

// C[M,N] = alpha·A·B (+C) with B[k][j] = p[k*ld+j] or p[j*ld+k]
std::vector<float> naive_gemm(int M, int N, int K, float alpha, const std::vector<float>& A,
                              const std::vector<float>& B, bool transposed, const std::vector<float>& C0,
                              bool accumulate) {
  std::vector<float> C(size_t(M) * N);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += double(A[size_t(i) * K + k]) * (transposed ? B[size_t(j) * K + k] : B[size_t(k) * N + j]);
      C[size_t(i) * N + j] = float(alpha * s + (accumulate ? C0[size_t(i) * N + j] : 0.0));
    }
  return C;
}

}  // namespace

TEST(ops_gemm_matches_naive_for_odd_shapes_and_both_layouts) {
  const int shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {6, 16, 256}, {37, 131, 300}, {100, 17, 513}, {5, 300, 19}};
  for (auto& s : shapes) {
    const int M = s[0], N = s[1], K = s[2];
    for (int transposed = 0; transposed < 2; ++transposed) {
      for (int accumulate = 0; accumulate < 2; ++accumulate) {
        auto A = randn(size_t(M) * K, 1);
        auto B = randn(size_t(K) * N, 2);
        auto C = randn(size_t(M) * N, 3);
        auto want = naive_gemm(M, N, K, 0.7f, A, B, transposed, C, accumulate);
        GemmB view;
        view.layout = transposed ? GemmB::kTransposed : GemmB::kRowMajor;
        view.f32 = B.data();
        view.ld = transposed ? K : N;
        gemm(ctx(), M, N, K, 0.7f, A.data(), K, view, accumulate, C.data(), N);
        require_close(C, want, 1e-4, "gemm " + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K),
                      1.0);  // values are ~sqrt(K): compare errors to that scale, not to cancelled sums
      }
    }
  }
}

TEST(ops_matmul_nf4_equals_matmul_of_dequantized_weight) {
  const int N = 9, I = 70, O = 33;  // I*O odd multiple of nothing: blocks straddle rows
  auto w = randn(size_t(O) * I, 4, 0.1f);
  std::vector<uint8_t> codes(nf4_packed_bytes(w.size()));
  std::vector<float> absmax(nf4_blocks(w.size()));
  quantize_nf4(w.data(), int64_t(w.size()), codes.data(), absmax.data());
  std::vector<float> deq(w.size());
  dequantize_nf4(codes.data(), absmax.data(), int64_t(w.size()), deq.data());
  FrozenWeight q;
  q.out = O, q.in = I, q.nf4.codes = codes.data(), q.nf4.absmax = absmax.data();
  FrozenWeight f;
  f.out = O, f.in = I, f.f32 = deq.data();
  auto x = randn(size_t(N) * I, 5);
  auto bias = randn(O, 6);
  std::vector<float> yq(size_t(N) * O), yf(size_t(N) * O);
  matmul_forward(ctx(), yq.data(), x.data(), q, bias.data(), N);
  matmul_forward(ctx(), yf.data(), x.data(), f, bias.data(), N);
  require_close(yq, yf, 1e-5, "nf4 forward");
  auto dy = randn(size_t(N) * O, 7);
  std::vector<float> dxq(size_t(N) * I), dxf(size_t(N) * I);
  matmul_backward(ctx(), dxq.data(), false, dy.data(), q, N);
  matmul_backward(ctx(), dxf.data(), false, dy.data(), f, N);
  require_close(dxq, dxf, 1e-5, "nf4 backward");
}

TEST(ops_matmul_backward_matches_finite_differences) {
  const int N = 5, I = 11, O = 7;
  auto w = randn(size_t(O) * I, 8, 0.3f);
  FrozenWeight W;
  W.out = O, W.in = I, W.f32 = w.data();
  auto x = randn(size_t(N) * I, 9);
  auto r = randn(size_t(N) * O, 10);
  std::vector<float> y(size_t(N) * O);
  auto loss = [&] {
    matmul_forward(ctx(), y.data(), x.data(), W, nullptr, N);
    return weighted_sum(y, r);
  };
  std::vector<float> dx(size_t(N) * I, 1.f);  // accumulate onto ones, then subtract them
  matmul_backward(ctx(), dx.data(), true, r.data(), W, N);
  for (auto& g : dx) g -= 1.f;
  require_grad(x, dx, loss, "matmul dx");
}
