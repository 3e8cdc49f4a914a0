// Float buffers for the engine: an Arena that makes ONE allocation per lifetime (frozen weights, LoRA
// parameters, gradients, optimizer moments, activations) and hands out 64-byte-aligned slices.
// The decision to know: every owner lays itself out twice through the same function — once with a
// counting arena to learn its size, once with the real arena — so sizes and pointers can never drift.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "engine_error.h"

namespace tunesmith {

#define TS_CHECK(cond, msg) \
  do {                      \
    if (!(cond)) TS_FAIL(msg); \
  } while (0)

class Arena {
 public:
  static constexpr size_t kAlign = 64;

  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Counting mode: take() returns nullptr and only sums sizes.
  static Arena counting() { return Arena(); }

  // The one allocation. Zero-filled, so gradients and moments start at 0.
  void allocate(size_t bytes) {
    bytes = round_up(bytes);
    base_.reset(static_cast<uint8_t*>(aligned_alloc_bytes(bytes)));
    if (bytes && !base_) TS_FAIL("out of memory allocating " + std::to_string(bytes >> 20) + " MiB");
    std::memset(base_.get(), 0, bytes);
    capacity_ = bytes;
    used_ = 0;
  }

  template <typename T>
  T* take(size_t count) {
    const size_t bytes = round_up(count * sizeof(T));
    if (!base_) {  // counting
      used_ += bytes;
      return nullptr;
    }
    TS_CHECK(used_ + bytes <= capacity_, "arena overflow: layout changed between the two passes");
    T* out = reinterpret_cast<T*>(base_.get() + used_);
    used_ += bytes;
    return out;
  }

  size_t used() const { return used_; }
  size_t capacity() const { return capacity_; }
  bool counting_only() const { return !base_; }

  // Runs `layout(arena)` twice: count, allocate, assign.
  template <typename Fn>
  void build(Fn&& layout) {
    Arena count;
    layout(count);
    allocate(count.used());
    layout(*this);
  }

 private:
  static size_t round_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
  static void* aligned_alloc_bytes(size_t bytes) {
    if (bytes == 0) bytes = kAlign;
#if defined(_MSC_VER)
    return _aligned_malloc(bytes, kAlign);
#else
    return std::aligned_alloc(kAlign, bytes);
#endif
  }
  struct Free {
    void operator()(uint8_t* p) const {
#if defined(_MSC_VER)
      _aligned_free(p);
#else
      std::free(p);
#endif
    }
  };
  std::unique_ptr<uint8_t, Free> base_;
  size_t capacity_ = 0;
  size_t used_ = 0;
};

}  // namespace tunesmith
