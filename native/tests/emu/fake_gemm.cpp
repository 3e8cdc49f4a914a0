// The emulator's stand-in for cuda::gemm (src/cuda/gemm.cu uses tensor-core instructions that no host can
// run): the contract of cuda_gemm.h written as plain loops over host memory — operands read through their
// views and rounded to bf16 as the GPU's tiles are (fp32 operands too; NF4 as bf16(code · absmax)),
// products summed in fp32, then alpha, the keep mask, bias and accumulation, and the output rounded to its
// dtype. With it the real lora_matmul.cu and the CUDA model path run end to end under the emulator.
// M,N,K = GEMM dims
#include <string>

#include "cuda/device_math.h"
#include "cuda_gemm.h"
#include "ops.h"

namespace tunesmith {
namespace cuda {

namespace {

float bf16_at(const void* p, int64_t i) {
  uint16_t bits;
  std::memcpy(&bits, static_cast<const uint8_t*>(p) + 2 * i, 2);
  return dm::float_from_bf16_bits(bits);
}

float operand(DType dtype, const void* data, int64_t i) {
  if (dtype == DType::kBF16) return bf16_at(data, i);
  return dm::round_to_bf16(static_cast<const float*>(data)[i]);  // fp32 rounded as the tile loads it
}

float a_at(const GemmA& A, int i, int k) {
  const int64_t at = A.layout == GemmA::kRowMajor ? int64_t(i) * A.ld + k : int64_t(k) * A.ld + i;
  return operand(A.dtype, A.data, at);
}

float b_at(const GemmB& B, int k, int j) {
  const int64_t at = B.layout == GemmB::kRowMajor ? int64_t(k) * B.ld + j : int64_t(j) * B.ld + k;
  if (B.dtype == DType::kNF4) return dm::round_to_bf16(dm::nf4_dequant_at(B.nf4_codes, B.nf4_absmax, at));
  return operand(B.dtype, B.data, at);
}

}  // namespace

void gemm(const CudaContext& ctx, int M, int N, int K, const GemmA& A, const GemmB& B, const GemmOut& C,
          const GemmTuning&) {
  (void)ctx;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float acc = 0.f;
      for (int k = 0; k < K; ++k) acc += a_at(A, i, k) * b_at(B, k, j);
      float value = C.alpha * acc;
      if (C.keep.p > 0.f && hash_uniform(C.keep.seed, uint64_t(int64_t(i) * C.keep.ld + j)) < C.keep.p) value = 0.f;
      if (C.bias) value += C.bias[j];
      const int64_t at = int64_t(i) * C.ld + j;
      if (C.dtype == DType::kF32) {
        float* out = static_cast<float*>(C.data);
        out[at] = C.accumulate ? out[at] + value : value;
      } else {
        const float before = C.accumulate ? bf16_at(C.data, at) : 0.f;
        const uint16_t bits = dm::bf16_bits_from_float(before + value);
        std::memcpy(static_cast<uint8_t*>(C.data) + 2 * at, &bits, 2);
      }
    }
}

std::string gemm_tensor_core_refusal(int, int, int, const GemmA&, const GemmB&, const GemmOut&) {
  return "the host emulator has no tensor cores";
}

void nf4_dequantize_bf16(const CudaContext&, bf16* out, const uint8_t* codes, const float* absmax, int64_t n) {
  for (int64_t e = 0; e < n; ++e) {
    const uint16_t bits = dm::bf16_bits_from_float(dm::nf4_dequant_at(codes, absmax, e));
    std::memcpy(reinterpret_cast<uint8_t*>(out) + 2 * e, &bits, 2);
  }
}

}  // namespace cuda
}  // namespace tunesmith
