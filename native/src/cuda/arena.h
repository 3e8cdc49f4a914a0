// Device memory for the CUDA backend: a DeviceArena makes ONE cudaMalloc per lifetime (frozen base, LoRA
// state, activations, generation's KV cache) and hands out 256-byte-aligned slices, laid out twice through
// the same function exactly like the host Arena (tensor.h): once counting, once for real.
// Never managed memory. Every arena adds to one process-wide tally, so memory() can report the bytes held
// now and the peak. The decision to know: when cudaMalloc fails, the error says how much was needed and
// how much was free (cudaMemGetInfo) and what to change, and the process and the CUDA context live on.
// This header is plain C++ (no CUDA include), so the host test runner can check the message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "engine_error.h"

namespace tunesmith {
namespace cuda {

// "needs ≈12.3 GB, 7.9 GB free": the message of an allocation that did not fit. `hint` empty = the
// training hint (lower max length or enable gradient checkpointing).
inline std::string out_of_memory_message(const std::string& purpose, int64_t needed_bytes, int64_t free_bytes,
                                         const std::string& hint) {
  char numbers[96];
  std::snprintf(numbers, sizeof numbers, "needs \xE2\x89\x88%.1f GB, %.1f GB free", double(needed_bytes) / 1e9,
                double(free_bytes) / 1e9);
  return "the GPU does not have enough free memory for " + purpose + ": " + numbers + "; " +
         (hint.empty() ? std::string("lower max length or enable gradient checkpointing") : hint);
}

struct DeviceMemoryStats {
  int64_t current_bytes = 0;  // held by all live DeviceArenas now
  int64_t peak_bytes = 0;     // the most ever held at once (since the last reset)
};
DeviceMemoryStats device_memory_stats();
void reset_device_memory_peak();

class DeviceArena {
 public:
  static constexpr size_t kAlign = 256;  // cudaMalloc's own alignment; enough for any vector load

  // `purpose` names the arena in the out-of-memory message ("activations", "the KV cache").
  explicit DeviceArena(std::string purpose = "the model", std::string oom_hint = "")
      : purpose_(std::move(purpose)), hint_(std::move(oom_hint)) {}
  ~DeviceArena() { release(); }
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;

  // The one allocation, zero-filled. Frees what the arena held before. Throws EngineError on OOM.
  void allocate(size_t bytes);
  void release();

  // Counting mode (nothing allocated): returns nullptr and sums sizes.
  template <typename T>
  T* take(size_t count) {
    const size_t bytes = round_up(count * sizeof(T));
    if (!base_) {
      used_ += bytes;
      return nullptr;
    }
    if (used_ + bytes > capacity_) TS_FAIL("device arena overflow: the layout changed between the two passes");
    T* out = reinterpret_cast<T*>(base_ + used_);
    used_ += bytes;
    return out;
  }

  // Runs `layout(arena)` twice: count, allocate, assign.
  template <typename Fn>
  void build(Fn&& layout) {
    DeviceArena count(purpose_, hint_);
    layout(count);
    allocate(count.used_);
    layout(*this);
  }

  size_t capacity() const { return capacity_; }
  size_t used() const { return used_; }

 private:
  static size_t round_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
  std::string purpose_, hint_;
  uint8_t* base_ = nullptr;
  size_t capacity_ = 0;
  size_t used_ = 0;
};

}  // namespace cuda
}  // namespace tunesmith
