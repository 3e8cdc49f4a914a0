// The exported GEMM entry (cuda_gemm.h): checks shapes and dtypes, then launches the tensor-core kernel
// (gemm_mma.cuh, instantiated in gemm_mma_*.cu) when the operands meet its alignment, or the simple
// kernel below — one thread per output pair, the same bf16-rounded operands and fp32 sums — when not.
// Also the NF4 → bf16 dequantize kernel of the scratch-buffer strategy.
// The decision to know: the tensor-core path needs 16-byte aligned rows for bf16 operands (pointer and
// leading dimension a multiple of 8 elements), and for NF4 a leading dimension that is a multiple of 64
// (whole blocks per row) with the contiguous extent a multiple of 32; fp32 operands and C need nothing.
// M,N,K = GEMM dims.
#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <type_traits>

#include "cuda_check.h"
#include "cuda_gemm.h"
#include "gemm_mma.cuh"

namespace tunesmith {
namespace cuda {
namespace {

// ---- the simple kernel ----------------------------------------------------------------------------------

struct SimpleParams {
  mma::Params p;
  DType a_dtype, b_dtype;
  bool a_transposed, b_transposed;  // A[i][k] = a[k*lda + i]; B[k][j] = b[j*ldb + k]
};

__device__ __forceinline__ float load_a(const SimpleParams& s, int i, int k) {
  const int64_t e = s.a_transposed ? static_cast<int64_t>(k) * s.p.lda + i : static_cast<int64_t>(i) * s.p.lda + k;
  if (s.a_dtype == DType::kBF16) return __bfloat162float(static_cast<const bf16*>(s.p.a)[e]);
  return dm::round_to_bf16(static_cast<const float*>(s.p.a)[e]);
}

__device__ __forceinline__ float load_b(const SimpleParams& s, int k, int j) {
  const int64_t e = s.b_transposed ? static_cast<int64_t>(j) * s.p.ldb + k : static_cast<int64_t>(k) * s.p.ldb + j;
  if (s.b_dtype == DType::kBF16) return __bfloat162float(static_cast<const bf16*>(s.p.b)[e]);
  if (s.b_dtype == DType::kF32) return dm::round_to_bf16(static_cast<const float*>(s.p.b)[e]);
  return dm::round_to_bf16(dm::nf4_dequant_at(s.p.codes, s.p.absmax, e));
}

// Blocks of 256 threads as 16 rows × 16 column pairs; thread (r, c) computes C[row][2c], C[row][2c+1].
// Rows stride over gridDim.y.
__global__ void gemm_simple_kernel(const SimpleParams s) {
  const mma::Params& p = s.p;
  const int col = 2 * (blockIdx.x * 16 + threadIdx.x % 16);
  if (col >= p.N) return;
  for (int row = blockIdx.y * 16 + threadIdx.x / 16; row < p.M; row += gridDim.y * 16) {
    float acc0 = 0.f, acc1 = 0.f;
    for (int k = 0; k < p.K; ++k) {
      const float a = load_a(s, row, k);
      acc0 = fmaf(a, load_b(s, k, col), acc0);
      if (col + 1 < p.N) acc1 = fmaf(a, load_b(s, k, col + 1), acc1);
    }
    mma::store_pair(p, row, col, acc0, acc1);
  }
}

// Split-K: C's pair (row, col) = the epilogue of Σ over splits, in split order, of partial[s][row][col].
__global__ void gemm_split_reduce_kernel(const mma::Params p) {
  const int pairs = (p.N + 1) / 2;
  const int64_t total = static_cast<int64_t>(p.M) * pairs;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int row = static_cast<int>(i / pairs), col = 2 * static_cast<int>(i % pairs);
    float v0 = 0.f, v1 = 0.f;
    for (int s = 0; s < p.splits; ++s) {
      const float* part = p.partial + (static_cast<int64_t>(s) * p.M + row) * p.N + col;
      v0 += part[0];
      if (col + 1 < p.N) v1 += part[1];
    }
    mma::store_pair(p, row, col, v0, v1);
  }
}

// ---- NF4 -> bf16 --------------------------------------------------------------------------------------

// 16 elements per thread (8 code bytes, one absmax: 16 divides 64). Needs n % 16 == 0, codes 8-byte and out
// 16-byte aligned.
__global__ void nf4_dequantize_kernel(bf16* out, const uint8_t* codes, const float* absmax, int64_t groups) {
  __shared__ float lut[16];
  if (threadIdx.x < 16) lut[threadIdx.x] = dm::nf4_code_value(threadIdx.x);
  __syncthreads();
  for (int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; q < groups; q += int64_t(gridDim.x) * blockDim.x) {
    const mma::u32x2 w = reinterpret_cast<const mma::u32x2*>(codes)[q];
    const float scale = absmax[q / 4];  // 4 groups of 16 per 64-block
    uint32_t v[8];
#pragma unroll
    for (int j = 0; j < 8; ++j)
      v[j] = mma::pack_bf16x2(lut[gemm_math::nf4_code_in_words(w.x, w.y, 2 * j)] * scale,
                              lut[gemm_math::nf4_code_in_words(w.x, w.y, 2 * j + 1)] * scale);
    mma::u32x4* dst = reinterpret_cast<mma::u32x4*>(out + q * 16);
    dst[0] = mma::make_u32x4(v[0], v[1], v[2], v[3]);
    dst[1] = mma::make_u32x4(v[4], v[5], v[6], v[7]);
  }
}

// Any n and alignment: one element per thread.
__global__ void nf4_dequantize_any_kernel(bf16* out, const uint8_t* codes, const float* absmax, int64_t n) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    out[e] = __float2bfloat16_rn(dm::nf4_dequant_at(codes, absmax, e));
}

// ---- facts about the device ---------------------------------------------------------------------------

struct DeviceFacts {
  int sm_count = 0, smem_optin = 0, major = 0;
};

DeviceFacts current_device_facts() {
#if defined(TS_CUDA_EMULATION)
  return DeviceFacts{132, 227 * 1024, 9};  // the emulator plays an H100-class GPU
#else
  static std::mutex mutex;
  static std::map<int, DeviceFacts> known;
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(mutex);
  auto it = known.find(device);
  if (it != known.end()) return it->second;
  DeviceFacts f;
  CUDA_CHECK(cudaDeviceGetAttribute(&f.sm_count, cudaDevAttrMultiProcessorCount, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&f.smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&f.major, cudaDevAttrComputeCapabilityMajor, device));
  known.emplace(device, f);
  return f;
#endif
}

// ---- operand kinds and the instantiated kernels -----------------------------------------------------

struct Kind {
  mma::Src src;
  bool k_major;
};
Kind kind_of(const GemmA& A) {
  return Kind{A.dtype == DType::kF32 ? mma::Src::kF32 : mma::Src::kBf16, A.layout == GemmA::kRowMajor};
}
Kind kind_of(const GemmB& B) {
  const mma::Src src = B.dtype == DType::kF32 ? mma::Src::kF32 : B.dtype == DType::kNF4 ? mma::Src::kNf4 : mma::Src::kBf16;
  return Kind{src, B.layout == GemmB::kTransposed};
}

template <class Op>
bool matches(const Kind& k) {
  return Op::src == k.src && Op::k_major == k.k_major;
}

// Shared-memory bytes of the instantiation for (tile, A, B), or -1 if there is none.
int mma_smem_bytes(bool large, const Kind& a, const Kind& b) {
  int bytes = -1;
#define TS_GEMM_MMA_SMEM(T, A, B)                                                          \
  if (std::is_same<mma::T, mma::TileLarge>::value == large && matches<mma::A>(a) && matches<mma::B>(b)) \
    bytes = mma::Smem<mma::T, mma::A, mma::B>::BYTES;
  TS_GEMM_MMA_BF16_INSTANCES(TS_GEMM_MMA_SMEM)
  TS_GEMM_MMA_NF4_INSTANCES(TS_GEMM_MMA_SMEM)
  TS_GEMM_MMA_LORA_INSTANCES(TS_GEMM_MMA_SMEM)
#undef TS_GEMM_MMA_SMEM
  return bytes;
}

cudaError_t mma_run(bool large, const Kind& a, const Kind& b, const mma::Params& p, cudaStream_t stream) {
#define TS_GEMM_MMA_RUN(T, A, B)                                                        \
  if (std::is_same<mma::T, mma::TileLarge>::value == large && matches<mma::A>(a) && matches<mma::B>(b)) \
    return mma::run<mma::T, mma::A, mma::B>(p, stream);
  TS_GEMM_MMA_BF16_INSTANCES(TS_GEMM_MMA_RUN)
  TS_GEMM_MMA_NF4_INSTANCES(TS_GEMM_MMA_RUN)
  TS_GEMM_MMA_LORA_INSTANCES(TS_GEMM_MMA_RUN)
#undef TS_GEMM_MMA_RUN
  return cudaErrorInvalidValue;  // unreachable: the caller checked mma_smem_bytes
}

bool aligned(const void* p, uintptr_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

const char* dtype_name(DType t) { return t == DType::kF32 ? "f32" : t == DType::kBF16 ? "bf16" : "nf4"; }

// Shapes, dtypes, pointers: the contract of cuda_gemm.h. Throws with the op's name.
void validate(int M, int N, int K, const GemmA& A, const GemmB& B, const GemmOut& C) {
  if (M < 0 || N < 0 || K < 0)
    TS_FAIL("gemm: negative size M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K));
  if (M == 0 || N == 0) return;
  if (C.data == nullptr) TS_FAIL("gemm: the output C is null");
  if (C.dtype == DType::kNF4) TS_FAIL("gemm: the output C must be f32 or bf16, not nf4");
  if (C.ld < N) TS_FAIL("gemm: ldc " + std::to_string(C.ld) + " < N " + std::to_string(N));
  if (!(C.keep.p >= 0.f && C.keep.p < 1.f)) TS_FAIL("gemm: keep-mask p must be in [0, 1)");
  if (C.keep.p > 0.f && C.keep.ld < N) TS_FAIL("gemm: keep-mask ld < N");
  if (K == 0) return;
  if (A.data == nullptr) TS_FAIL("gemm: the operand A is null");
  if (A.dtype == DType::kNF4) TS_FAIL("gemm: the operand A must be f32 or bf16, not nf4");
  const int64_t a_min_ld = A.layout == GemmA::kRowMajor ? K : M;
  if (A.ld < a_min_ld) TS_FAIL("gemm: lda " + std::to_string(A.ld) + " < " + std::to_string(a_min_ld));
  if (B.dtype == DType::kNF4) {
    if (B.nf4_codes == nullptr || B.nf4_absmax == nullptr) TS_FAIL("gemm: the NF4 operand B has null codes or absmax");
  } else if (B.data == nullptr) {
    TS_FAIL("gemm: the operand B is null");
  }
  const int64_t b_min_ld = B.layout == GemmB::kRowMajor ? N : K;
  if (B.ld < b_min_ld) TS_FAIL("gemm: ldb " + std::to_string(B.ld) + " < " + std::to_string(b_min_ld));
}

mma::Params params_of(int M, int N, int K, const GemmA& A, const GemmB& B, const GemmOut& C) {
  mma::Params p{};
  p.M = M;
  p.N = N;
  p.K = K;
  p.a = A.data;
  p.lda = A.ld;
  p.b = B.data;
  p.codes = B.nf4_codes;
  p.absmax = B.nf4_absmax;
  p.ldb = B.ld;
  p.c = C.data;
  p.ldc = C.ld;
  p.c_bf16 = C.dtype == DType::kBF16;
  p.accumulate = C.accumulate;
  p.c_pairs = C.ld % 2 == 0 && aligned(C.data, C.dtype == DType::kBF16 ? 4 : 8);
  p.alpha = C.alpha;
  p.bias = C.bias;
  p.keep_p = C.keep.p;
  p.keep_seed = C.keep.seed;
  p.keep_ld = C.keep.ld;
  return p;
}

}  // namespace

std::string gemm_tensor_core_refusal(int M, int N, int K, const GemmA& A, const GemmB& B, const GemmOut& C) {
  (void)M;
  (void)C;
  const Kind a = kind_of(A), b = kind_of(B);
  if (mma_smem_bytes(false, a, b) < 0)
    return std::string("no tensor-core kernel for A ") + dtype_name(A.dtype) +
           (a.k_major ? " row-major" : " transposed") + " with B " + dtype_name(B.dtype) +
           (B.layout == GemmB::kRowMajor ? " row-major" : " transposed");
  if (A.dtype == DType::kBF16 && (A.ld % 8 != 0 || !aligned(A.data, 16)))
    return "bf16 A needs a 16-byte aligned pointer and lda % 8 == 0";
  if (B.dtype == DType::kBF16 && (B.ld % 8 != 0 || !aligned(B.data, 16)))
    return "bf16 B needs a 16-byte aligned pointer and ldb % 8 == 0";
  if (B.dtype == DType::kNF4) {
    if (B.ld % 64 != 0) return "NF4 B needs whole 64-element blocks per weight row (ldb % 64 == 0)";
    const int contiguous = B.layout == GemmB::kTransposed ? K : N;
    if (contiguous % 32 != 0) return "NF4 B needs its contiguous extent (K or N) to be a multiple of 32";
    if (!aligned(B.nf4_codes, 16) || !aligned(B.nf4_absmax, 4)) return "NF4 B needs 16-byte aligned codes";
  }
  const DeviceFacts f = current_device_facts();
  if (f.major < 8) return "tensor-core kernels need compute capability 8.0 or newer";
  if (mma_smem_bytes(false, a, b) > f.smem_optin) return "not enough shared memory per block on this GPU";
  return "";
}

void gemm(const CudaContext& ctx, int M, int N, int K, const GemmA& A, const GemmB& B, const GemmOut& C,
          const GemmTuning& tuning) {
  validate(M, N, K, A, B, C);
  if (M == 0 || N == 0) return;
  mma::Params p = params_of(M, N, K, A, B, C);

  const std::string refusal =
      tuning.path == GemmPath::kSimple ? std::string("simple path requested") : gemm_tensor_core_refusal(M, N, K, A, B, C);
  if (!refusal.empty()) {
    if (tuning.path == GemmPath::kTensorCore) TS_FAIL("gemm: the tensor-core path cannot run: " + refusal);
    SimpleParams s{p, A.dtype, B.dtype, A.layout == GemmA::kTransposed, B.layout == GemmB::kTransposed};
    const int64_t col_blocks = gemm_math::ceil_div(gemm_math::ceil_div(N, 2), 16);
    const int64_t row_blocks = std::min<int64_t>(gemm_math::ceil_div(M, 16), 65535);
    launch(gemm_simple_kernel, dim3(static_cast<unsigned>(col_blocks), static_cast<unsigned>(row_blocks)), dim3(256), 0,
           ctx.stream, s);
    CUDA_CHECK_LAUNCH(ctx, "gemm (simple kernel)");
    return;
  }

  const Kind a = kind_of(A), b = kind_of(B);
  const DeviceFacts f = current_device_facts();
  const int large_bytes = mma_smem_bytes(true, a, b);
  const bool large_ok = large_bytes > 0 && large_bytes <= f.smem_optin;
  bool large = false;
  if (tuning.tile == GemmTile::k128x128) {
    if (!large_ok) TS_FAIL("gemm: the 128×128 tile is not available for these operands on this GPU");
    large = true;
  } else if (tuning.tile == GemmTile::kAuto) {
    // The large tile when it alone fills every SM at least once; else more, smaller blocks.
    large = large_ok && gemm_math::ceil_div(M, 128) * gemm_math::ceil_div(N, 128) >= f.sm_count;
  }
  const int bm = large ? 128 : 64, bn = large ? 128 : 64;
  const int64_t tiles_m = gemm_math::ceil_div(M, bm), tiles_n = gemm_math::ceil_div(N, bn);
  if (tiles_m * tiles_n > INT32_MAX) TS_FAIL("gemm: the output is too large for one launch");
  p.tiles_m = static_cast<int>(tiles_m);
  p.tiles_n = static_cast<int>(tiles_n);

  // Split-K when the output has too few tiles to fill the GPU and K is long (LoRA's skinny GEMMs).
  static_assert(mma::TileLarge::BK == mma::TileSmall::BK, "split-K counts k-tiles of one size");
  const int64_t k_tiles = gemm_math::ceil_div(K, mma::TileSmall::BK);
  const int64_t output = int64_t(M) * N;
  int64_t splits = 1;
  if (tuning.split_k > 1) {
    splits = std::min<int64_t>(tuning.split_k, std::max<int64_t>(k_tiles, 1));
    if (tuning.workspace == nullptr || tuning.workspace_floats < splits * output)
      TS_FAIL("gemm: split-K " + std::to_string(splits) + " needs a workspace of " + std::to_string(splits * output) +
              " floats");
  } else if (tuning.split_k == 0 && tuning.workspace != nullptr && tiles_m * tiles_n < f.sm_count && k_tiles >= 8) {
    splits = std::min<int64_t>({gemm_math::ceil_div(2 * f.sm_count, tiles_m * tiles_n), k_tiles / 4,
                                tuning.workspace_floats / output, 64});
  }
  if (splits >= 2) {
    const int64_t per_split = gemm_math::ceil_div(k_tiles, splits);
    p.splits = static_cast<int>(gemm_math::ceil_div(k_tiles, per_split));  // every split gets a k-tile
    p.k_tiles_per_split = static_cast<int>(per_split);
    p.partial = tuning.workspace;
  }
  const cudaError_t status = mma_run(large, a, b, p, ctx.stream);
  if (status != cudaSuccess) throw_cuda_error(status, "gemm (tensor-core kernel)", __func__, __FILE__, __LINE__);
  CUDA_CHECK_LAUNCH(ctx, "gemm");
  if (p.partial != nullptr) {
    const int64_t blocks = std::min<int64_t>(gemm_math::ceil_div(int64_t(M) * ((N + 1) / 2), 256), 65536);
    launch(gemm_split_reduce_kernel, dim3(static_cast<unsigned>(blocks)), dim3(256), 0, ctx.stream, p);
    CUDA_CHECK_LAUNCH(ctx, "gemm (split-K sum)");
  }
}

void nf4_dequantize_bf16(const CudaContext& ctx, bf16* out, const uint8_t* codes, const float* absmax, int64_t n) {
  if (n < 0) TS_FAIL("nf4_dequantize_bf16: negative element count");
  if (n == 0) return;
  if (out == nullptr || codes == nullptr || absmax == nullptr) TS_FAIL("nf4_dequantize_bf16: null pointer");
  const int threads = 256;
  if (n % 16 == 0 && aligned(codes, 8) && aligned(out, 16)) {
    const int64_t groups = n / 16;
    const int64_t blocks = std::min<int64_t>(gemm_math::ceil_div(groups, threads), 65536);
    launch(nf4_dequantize_kernel, dim3(static_cast<unsigned>(blocks)), dim3(threads), 0, ctx.stream, out, codes, absmax,
           groups);
  } else {
    const int64_t blocks = std::min<int64_t>(gemm_math::ceil_div(n, threads), 65536);
    launch(nf4_dequantize_any_kernel, dim3(static_cast<unsigned>(blocks)), dim3(threads), 0, ctx.stream, out, codes,
           absmax, n);
  }
  CUDA_CHECK_LAUNCH(ctx, "nf4_dequantize_bf16");
}

}  // namespace cuda
}  // namespace tunesmith
