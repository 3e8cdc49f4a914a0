// DeviceArena: one cudaMalloc per lifetime, zero-filled, and the process-wide tally of device bytes held
// now and at the peak (see arena.h). An allocation that does not fit becomes an EngineError with the
// bytes needed and free; the failed cudaMalloc leaves no sticky error, so the session lives on.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>

#include "arena.h"
#include "cuda_check.h"

namespace tunesmith {
namespace cuda {

namespace {
std::atomic<int64_t> g_current{0};
std::atomic<int64_t> g_peak{0};

void add_held(int64_t bytes) {
  const int64_t now = g_current.fetch_add(bytes) + bytes;
  int64_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}
}  // namespace

DeviceMemoryStats device_memory_stats() { return DeviceMemoryStats{g_current.load(), g_peak.load()}; }
void reset_device_memory_peak() { g_peak.store(g_current.load()); }

void DeviceArena::allocate(size_t bytes) {
  release();
  bytes = round_up(std::max<size_t>(bytes, kAlign));
  void* p = nullptr;
  const cudaError_t status = cudaMalloc(&p, bytes);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky: clear it
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
      cudaGetLastError();
      free_bytes = 0;
    }
    TS_FAIL(out_of_memory_message(purpose_, int64_t(bytes), int64_t(free_bytes), hint_));
  }
  if (status != cudaSuccess) throw_cuda_error(status, "cudaMalloc for " + purpose_, __func__, __FILE__, __LINE__);
  base_ = static_cast<uint8_t*>(p);
  capacity_ = bytes;
  used_ = 0;
  add_held(int64_t(bytes));
  CUDA_CHECK(cudaMemset(base_, 0, bytes));
}

void DeviceArena::release() {
  if (!base_) return;
  cudaFree(base_);  // a failure here (a dead context) has nothing left to free
  add_held(-int64_t(capacity_));
  base_ = nullptr;
  capacity_ = 0;
  used_ = 0;
}

}  // namespace cuda
}  // namespace tunesmith
