// Host emulation of the slice of CUDA the engine's own kernels use (src/cuda/ except the GEMM), so the
// GPU parity cases can run on a machine with no GPU: tunesmith_cuda_emu_tests compiles the kernel files
// with g++ against this header (it shadows the real cuda_runtime.h on that target's include path).
// The decision to know: every CUDA thread of a block is a fiber (ucontext) on ONE OS thread, run until it
// reaches __syncthreads, a warp shuffle or its end; a barrier releases when every live thread of the block
// (or warp) has reached it. So block-level logic, index math, masking and reductions run exactly as
// written, deterministically; what cannot be seen here is timing (races, missing barriers between
// independent warps), memory coalescing, and anything tensor-core. Dynamic shared memory is refilled with
// 0xFF bytes (NaN) before every block, so reading a slot nobody wrote shows up as NaN. TS_EMU_ORDER=reverse
// or =shuffle changes the order the fibers run in (emu_runtime.cpp), which exposes write/read races.
// Device memory is host memory. Launch-configuration errors are reported through cudaGetLastError.
#pragma once

#define TS_CUDA_EMULATION 1

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n)
#define CUDART_VERSION 13000

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct float2 {
  float x, y;
};
inline float2 make_float2(float x, float y) { return float2{x, y}; }

typedef struct CUstream_st* cudaStream_t;

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorNoDevice = 100,
  cudaErrorECCUncorrectable = 214,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchTimeout = 702,
  cudaErrorAssert = 710,
  cudaErrorHardwareStackError = 714,
  cudaErrorIllegalInstruction = 715,
  cudaErrorMisalignedAddress = 716,
  cudaErrorInvalidAddressSpace = 717,
  cudaErrorInvalidPc = 718,
  cudaErrorLaunchFailure = 719,
};
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };

const char* cudaGetErrorString(cudaError_t error);
const char* cudaGetErrorName(cudaError_t error);
cudaError_t cudaGetLastError();
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaMalloc(void** p, size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T** p, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(p), bytes);
}
cudaError_t cudaFree(void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemset(void* p, int value, size_t bytes);
// Streams: everything runs at the call, so the async forms are the plain ones.
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}
inline cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t) {
  return cudaMemset(p, value, bytes);
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
template <typename F>
cudaError_t cudaFuncSetAttribute(F, cudaFuncAttribute, int) {
  return cudaSuccess;
}

// ---- what a kernel sees ---------------------------------------------------------------------------------
extern dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace emu {
void syncthreads();
void warp_barrier();
uint64_t* shuffle_slots();  // one slot per thread of the block
unsigned char* dynamic_shared();
void run_grid(dim3 grid, dim3 block, size_t shared_bytes, const std::function<void()>& body);

template <typename T>
T shuffle_from(T v, int src_lane) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffle of a type wider than 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  uint64_t* slots = shuffle_slots();
  const unsigned warp_base = threadIdx.x & ~31u;
  slots[threadIdx.x] = bits;
  warp_barrier();
  const uint64_t got = slots[warp_base + unsigned(src_lane)];
  warp_barrier();
  T out;
  std::memcpy(&out, &got, sizeof(T));
  return out;
}
}  // namespace emu

inline void __syncthreads() { emu::syncthreads(); }
template <typename T>
T __shfl_xor_sync(unsigned, T v, int lane_mask) {
  return emu::shuffle_from(v, int(threadIdx.x & 31u) ^ lane_mask);
}
template <typename T>
T __shfl_up_sync(unsigned, T v, unsigned delta) {
  const unsigned lane = threadIdx.x & 31u;
  return emu::shuffle_from(v, int(lane >= delta ? lane - delta : lane));
}

// IEEE single operations with no contraction: this target is compiled with -ffp-contract=off.
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// The device's integer min/max, as unqualified calls in kernels find them.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline int64_t min(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max(int64_t a, int64_t b) { return a > b ? a : b; }

// ---- launching (replaces src/cuda/reduce.cuh's launch and TS_DYNAMIC_SHARED) ---------------------------
namespace tunesmith {
namespace cuda {
template <typename... Params, typename... Args>
inline void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t,
                   Args&&... args) {
  emu::run_grid(grid, block, shared_bytes, [=]() { kernel(args...); });
}
}  // namespace cuda
}  // namespace tunesmith
#define TS_DYNAMIC_SHARED(name) unsigned char* name = ::emu::dynamic_shared()
