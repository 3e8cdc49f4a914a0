// Hopper wgmma GEMM (experiment, not built by CMake; test/gpu/run.sh runs it when time is left): the
// forward layout y[M,N] = x[M,K]·W[N,K]ᵀ, both operands K-major bf16, fp32 accumulators. Each block has two
// warpgroups of 64 rows × BN (BN = 128 or 256) and a STAGES-deep cp.async ring of 128-byte-swizzled tiles
// (64 k wide: one 128-byte row per m or n), which wgmma reads through shared-memory descriptors. Checked
// against a naive kernel (NMSE ≤ 1e-8, every element finite), then timed on M7's forward shapes.
// The decision to know: a tile row's 16-byte chunk j is stored at chunk j ^ (row % 8) of its row — the
// 128-byte swizzle the descriptor names — so the 8-row atoms must start on 1024-byte boundaries.
// What it leaves out (the next steps if it is right and fast): TMA loads, producer/consumer warpgroups,
// wgmma overlapping the next tile's (wait_group 1), NF4 and MN-major operands, edges (M, N, K must divide).
// Build and run, from the repository root, on an sm_90 GPU:
//   nvcc -std=c++17 -O3 -gencode=arch=compute_90a,code=sm_90a native/dev/cuda/gemm_wgmma.cu -o /tmp/gemm_wgmma \
//     && /tmp/gemm_wgmma
// M,N,K = GEMM dims; BM = 128 rows per block, BK = 64.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

using bf16 = __nv_bfloat16;

#define CHECK_CUDA(call)                                                                                        \
  do {                                                                                                          \
    const cudaError_t e_ = (call);                                                                              \
    if (e_ != cudaSuccess) {                                                                                    \
      std::printf("gemm_wgmma: %s failed: %s\n", #call, cudaGetErrorString(e_));                                \
      std::exit(1);                                                                                             \
    }                                                                                                           \
  } while (0)

constexpr int BM = 128, BK = 64, kThreads = 256;

__device__ __forceinline__ uint32_t smem_u32(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
// cp.async wrote through the generic proxy; wgmma reads through the async proxy.
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}

// Shared-memory matrix descriptor: start address, leading byte offset 16 (unused by swizzled K-major),
// stride byte offset 1024 (one 8-row atom of 128-byte rows), 128-byte swizzle. Fields hold bytes >> 4.
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr) {
  uint64_t d = 0;
  d |= static_cast<uint64_t>((addr & 0x3FFFF) >> 4);
  d |= static_cast<uint64_t>(16 >> 4) << 16;
  d |= static_cast<uint64_t>(1024 >> 4) << 32;
  d |= static_cast<uint64_t>(1) << 62;
  return d;
}

// d[64×128] (+)= A[64×16] · B[16×128]: m64n128k16, f32 accumulators in 64 registers per thread, A and B
// K-major bf16 in shared memory (descriptors); scale_d = 0 overwrites d, 1 accumulates.
__device__ __forceinline__ void wgmma_m64n128k16(float (&d)[64], uint64_t desc_a, uint64_t desc_b, int scale_d) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
      "}, %64, %65, p, 1, 1, 0, 0;\n"
      "}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}

// d[64×256] (+)= A[64×16] · B[16×256]: m64n256k16, f32 accumulators in 128 registers per thread, A and B
// K-major bf16 in shared memory (descriptors); scale_d = 0 overwrites d, 1 accumulates.
__device__ __forceinline__ void wgmma_m64n256k16(float (&d)[128], uint64_t desc_a, uint64_t desc_b, int scale_d) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %130, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 "
      "{"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
      "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
      "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
      "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
      "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
      "}, %128, %129, p, 1, 1, 0, 0;\n"
      "}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
        "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
        "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
        "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
        "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
        "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
        "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
        "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
        "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
      : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}

template <int BN>
__device__ __forceinline__ void wgmma_tile(float (&d)[BN / 2], uint64_t a, uint64_t b) {
  if constexpr (BN == 128) wgmma_m64n128k16(d, a, b, 1);
  else wgmma_m64n256k16(d, a, b, 1);
}

// Copies k-tile kt of A rows [m0, m0+BM) and B rows [n0, n0+BN) into one stage, swizzled.
template <int BN>
__device__ __forceinline__ void load_stage(uint32_t sa, uint32_t sb, const bf16* A, const bf16* B, int K, int m0,
                                           int n0, int kt, int tid) {
#pragma unroll
  for (int c = tid; c < BM * 8; c += kThreads) {
    const int r = c / 8, j = c % 8;
    cp_async_16(sa + r * 128 + ((j ^ (r & 7)) * 16), A + int64_t(m0 + r) * K + kt * BK + j * 8);
  }
#pragma unroll
  for (int c = tid; c < BN * 8; c += kThreads) {
    const int r = c / 8, j = c % 8;
    cp_async_16(sb + r * 128 + ((j ^ (r & 7)) * 16), B + int64_t(n0 + r) * K + kt * BK + j * 8);
  }
}

template <int BN, int STAGES>
__global__ void __launch_bounds__(kThreads, 1) wgmma_gemm_kernel(const bf16* A, const bf16* B, float* C, int M, int N,
                                                                  int K) {
  constexpr int A_BYTES = BM * BK * 2, B_BYTES = BN * BK * 2, STAGE = A_BYTES + B_BYTES;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const uint32_t base = (smem_u32(smem_raw) + 1023) & ~1023u;
  const int tid = threadIdx.x, wg = tid / 128, warp = (tid / 32) % 4, lane = tid % 32;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN, KT = K / BK;
  float d[BN / 2];
#pragma unroll
  for (int i = 0; i < BN / 2; ++i) d[i] = 0.f;

#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < KT) load_stage<BN>(base + s * STAGE, base + s * STAGE + A_BYTES, A, B, K, m0, n0, s, tid);
    cp_async_commit();
  }
  for (int kt = 0; kt < KT; ++kt) {
    cp_async_wait<STAGES - 2>();
    fence_proxy_async();
    __syncthreads();  // tile kt in place for everyone; everyone's wgmma of tile kt-1 finished
    const int next = kt + STAGES - 1;
    if (next < KT) {
      const uint32_t s = base + (next % STAGES) * STAGE;
      load_stage<BN>(s, s + A_BYTES, A, B, K, m0, n0, next, tid);
    }
    cp_async_commit();
    const uint32_t sa = base + (kt % STAGES) * STAGE + wg * 64 * 128, sb = base + (kt % STAGES) * STAGE + A_BYTES;
    wgmma_fence();
#pragma unroll
    for (int k16 = 0; k16 < BK / 16; ++k16) wgmma_tile<BN>(d, smem_desc(sa + k16 * 32), smem_desc(sb + k16 * 32));
    wgmma_commit();
    wgmma_wait<0>();
  }
  cp_async_wait<0>();

  // D fragment: warp w of the warpgroup holds rows 16w..16w+15; register 4j+i holds row g + 8(i/2), column
  // 8j + 2t + i%2 (g = lane/4, t = lane%4), as mma.m16n8's C repeated along N.
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int j = 0; j < BN / 8; ++j)
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int row = m0 + wg * 64 + warp * 16 + g + 8 * (i / 2), col = n0 + 8 * j + 2 * t + (i % 2);
      C[int64_t(row) * N + col] = d[4 * j + i];
    }
}

__global__ void naive_kernel(const bf16* A, const bf16* B, float* C, int M, int N, int K) {
  const int n = blockIdx.x * blockDim.x + threadIdx.x, m = blockIdx.y;
  if (n >= N) return;
  float acc = 0.f;
  for (int k = 0; k < K; ++k) acc = fmaf(__bfloat162float(A[int64_t(m) * K + k]), __bfloat162float(B[int64_t(n) * K + k]), acc);
  C[int64_t(m) * N + n] = acc;
}

__global__ void fill(bf16* p, int64_t n, float scale, uint32_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    uint64_t z = i * 0x9E3779B97F4A7C15ull + seed;
    z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
    p[i] = __float2bfloat16_rn(scale * (float(z >> 40) * (2.f / 16777216.f) - 1.f));
  }
}

template <int BN, int STAGES>
struct Config {
  static constexpr int kSmem = STAGES * (BM * BK * 2 + BN * BK * 2) + 1024;
  static void setup() {
    CHECK_CUDA(cudaFuncSetAttribute(wgmma_gemm_kernel<BN, STAGES>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem));
  }
  static void run(const bf16* A, const bf16* B, float* C, int M, int N, int K) {
    wgmma_gemm_kernel<BN, STAGES><<<dim3(N / BN, M / BM), kThreads, kSmem>>>(A, B, C, M, N, K);
  }
};

template <class Cfg>
bool check_and_time(const char* name, const bf16* A, const bf16* B, float* C, float* ref, int M, int N, int K,
                    bool check) {
  Cfg::setup();
  if (check) {
    CHECK_CUDA(cudaMemset(C, 0xFF, size_t(M) * N * 4));
    Cfg::run(A, B, C, M, N, K);
    const cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess) {
      std::printf("%-22s %5dx%5dx%5d: FAILED to run: %s\n", name, M, N, K, cudaGetErrorString(e));
      return false;
    }
    std::vector<float> got(size_t(M) * N), want(got.size());
    CHECK_CUDA(cudaMemcpy(got.data(), C, got.size() * 4, cudaMemcpyDeviceToHost));
    CHECK_CUDA(cudaMemcpy(want.data(), ref, want.size() * 4, cudaMemcpyDeviceToHost));
    double err = 0, norm = 0;
    bool finite = true;
    for (size_t i = 0; i < got.size(); ++i) {
      finite = finite && std::isfinite(got[i]);
      err += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
      norm += double(want[i]) * want[i];
    }
    const double nmse = err / norm;
    if (!finite || !(nmse <= 1e-8)) {
      std::printf("%-22s %5dx%5dx%5d: WRONG (NMSE %.2e, finite %d; got[0] %g want %g)\n", name, M, N, K, nmse,
                  int(finite), got[0], want[0]);
      return false;
    }
    std::printf("%-22s %5dx%5dx%5d: correct (NMSE %.1e)\n", name, M, N, K, nmse);
  }
  cudaEvent_t start, stop;
  CHECK_CUDA(cudaEventCreate(&start));
  CHECK_CUDA(cudaEventCreate(&stop));
  for (int i = 0; i < 3; ++i) Cfg::run(A, B, C, M, N, K);
  std::vector<float> ms;
  for (int t = 0; t < 5; ++t) {
    CHECK_CUDA(cudaEventRecord(start));
    for (int r = 0; r < 20; ++r) Cfg::run(A, B, C, M, N, K);
    CHECK_CUDA(cudaEventRecord(stop));
    CHECK_CUDA(cudaEventSynchronize(stop));
    float total = 0;
    CHECK_CUDA(cudaEventElapsedTime(&total, start, stop));
    ms.push_back(total / 20);
  }
  std::sort(ms.begin(), ms.end());
  std::printf("%-22s %5dx%5dx%5d: %.4f ms, %.1f TFLOP/s\n", name, M, N, K, ms[2], 2.0 * M * N * K / (ms[2] * 1e-3) / 1e12);
  return true;
}

int main() {
  const int T = 2048;
  struct Shape {
    int M, N, K;
  };
  const Shape shapes[] = {{T, 1024, 4096}, {T, 4096, 4096}, {T, 14336, 4096}, {T, 4096, 14336}};
  bf16 *A = nullptr, *B = nullptr;
  float *C = nullptr, *ref = nullptr;
  CHECK_CUDA(cudaMalloc(&A, size_t(T) * 14336 * 2));
  CHECK_CUDA(cudaMalloc(&B, size_t(14336) * 4096 * 2));
  CHECK_CUDA(cudaMalloc(&C, size_t(T) * 14336 * 4));
  CHECK_CUDA(cudaMalloc(&ref, size_t(T) * 14336 * 4));
  fill<<<1024, 256>>>(A, int64_t(T) * 14336, 1.f, 1);
  fill<<<1024, 256>>>(B, int64_t(14336) * 4096, 0.05f, 2);
  int failures = 0;
  for (const Shape& s : shapes) {
    const bool check = s.N == 1024;  // the naive reference is slow: check on the smallest shape
    if (check) {
      naive_kernel<<<dim3((s.N + 255) / 256, s.M), 256>>>(A, B, ref, s.M, s.N, s.K);
      CHECK_CUDA(cudaDeviceSynchronize());
    }
    failures += !check_and_time<Config<128, 4>>("wgmma 128x128x64 s4", A, B, C, ref, s.M, s.N, s.K, check);
    failures += !check_and_time<Config<256, 4>>("wgmma 128x256x64 s4", A, B, C, ref, s.M, s.N, s.K, check);
    failures += !check_and_time<Config<256, 3>>("wgmma 128x256x64 s3", A, B, C, ref, s.M, s.N, s.K, check);
  }
  std::printf("%d wgmma variant run(s) wrong or failed\n", failures);
  return failures == 0 ? 0 : 1;
}
