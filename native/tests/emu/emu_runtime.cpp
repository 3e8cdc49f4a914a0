// The emulator's runtime (see cuda_runtime.h here): blocks run one after another; the threads of a block
// are ucontext fibers scheduled round-robin on this one OS thread. A fiber runs until it reaches a block
// barrier, a warp barrier (the two halves of a shuffle) or its end. After each pass the scheduler releases
// every warp whose live threads all wait at a warp barrier, and the block barrier once every live thread
// waits there. A barrier that some live threads can never reach (divergent __syncthreads, a shuffle with
// a lane that already returned) is reported as an error naming the kernel launch, never a hang.
#include <ucontext.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_runtime.h"

dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace emu {
namespace {

enum class State { kReady, kBlockBarrier, kWarpBarrier, kDone };

constexpr size_t kStackBytes = 256 * 1024;

struct Fiber {
  ucontext_t context;
  std::unique_ptr<char[]> stack;
  State state = State::kReady;
};

std::vector<Fiber> g_fibers;
ucontext_t g_scheduler;
int g_current = -1;
const std::function<void()>* g_body = nullptr;
std::vector<uint64_t> g_slots;
std::vector<unsigned char> g_dynamic_shared;
cudaError_t g_last_error = cudaSuccess;

void fiber_main() {
  (*g_body)();
  g_fibers[g_current].state = State::kDone;
  // Returning resumes uc_link: the scheduler.
}

void yield_with(State state) {
  if (g_current < 0) throw std::logic_error("emulator: a barrier outside a kernel");
  Fiber& self = g_fibers[g_current];
  self.state = state;
  swapcontext(&self.context, &g_scheduler);
}

std::string where() {
  return "block (" + std::to_string(blockIdx.x) + "," + std::to_string(blockIdx.y) + "," +
         std::to_string(blockIdx.z) + ") of grid (" + std::to_string(gridDim.x) + "," + std::to_string(gridDim.y) +
         "," + std::to_string(gridDim.z) + "), " + std::to_string(blockDim.x) + " threads";
}

// TS_EMU_ORDER=reverse runs each pass from the last thread to the first, =shuffle in a fixed pseudo-random
// order: a write and a read that race (no barrier between them) show up in one order or the other.
enum class Order { kForward, kReverse, kShuffle };
Order schedule_order() {
  static const Order order = [] {
    const char* v = std::getenv("TS_EMU_ORDER");
    const std::string s = v ? v : "";
    return s == "reverse" ? Order::kReverse : s == "shuffle" ? Order::kShuffle : Order::kForward;
  }();
  return order;
}

std::vector<unsigned> pass_order(unsigned threads, unsigned pass) {
  std::vector<unsigned> order(threads);
  for (unsigned i = 0; i < threads; ++i) order[i] = i;
  if (schedule_order() == Order::kReverse) std::reverse(order.begin(), order.end());
  if (schedule_order() == Order::kShuffle) {
    uint64_t z = 0x9E3779B97F4A7C15ull * (pass + 1);
    for (unsigned i = threads; i > 1; --i) {
      z ^= z >> 31, z *= 0xBF58476D1CE4E5B9ull, z ^= z >> 29;
      std::swap(order[i - 1], order[z % i]);
    }
  }
  return order;
}

void run_block(unsigned threads) {
  if (g_fibers.size() < threads) g_fibers.resize(threads);
  for (unsigned i = 0; i < threads; ++i) {
    Fiber& f = g_fibers[i];
    if (!f.stack) f.stack.reset(new char[kStackBytes]);
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack.get();
    f.context.uc_stack.ss_size = kStackBytes;
    f.context.uc_link = &g_scheduler;
    makecontext(&f.context, fiber_main, 0);
    f.state = State::kReady;
  }
  std::fill(g_dynamic_shared.begin(), g_dynamic_shared.end(), 0xFF);
  for (unsigned pass = 0;; ++pass) {
    bool ran = false;
    for (const unsigned i : pass_order(threads, pass)) {
      if (g_fibers[i].state != State::kReady) continue;
      g_current = int(i);
      threadIdx = dim3(i, 0, 0);
      swapcontext(&g_scheduler, &g_fibers[i].context);
      ran = true;
    }
    g_current = -1;
    unsigned done = 0, at_block = 0;
    for (unsigned i = 0; i < threads; ++i) {
      done += g_fibers[i].state == State::kDone;
      at_block += g_fibers[i].state == State::kBlockBarrier;
    }
    if (done == threads) return;
    bool released = false;
    for (unsigned w = 0; w * 32 < threads; ++w) {
      const unsigned lo = w * 32, hi = std::min(threads, lo + 32);
      unsigned waiting = 0, live = 0;
      for (unsigned i = lo; i < hi; ++i) {
        live += g_fibers[i].state != State::kDone;
        waiting += g_fibers[i].state == State::kWarpBarrier;
      }
      if (waiting == 0) continue;
      if (waiting == live && live < hi - lo)
        throw std::runtime_error("emulator: a warp shuffle with lanes that already returned, in warp " +
                                 std::to_string(w) + " of " + where());
      if (waiting == live) {
        for (unsigned i = lo; i < hi; ++i)
          if (g_fibers[i].state == State::kWarpBarrier) g_fibers[i].state = State::kReady;
        released = true;
      }
    }
    if (!released && at_block > 0 && at_block + done == threads) {
      if (done > 0)
        throw std::runtime_error("emulator: __syncthreads reached by " + std::to_string(at_block) + " threads while " +
                                 std::to_string(done) + " had returned, in " + where());
      for (unsigned i = 0; i < threads; ++i) g_fibers[i].state = State::kReady;
      released = true;
    }
    if (!released && !ran)
      throw std::runtime_error("emulator: deadlock (threads wait at different barriers) in " + where());
  }
}

}  // namespace

void syncthreads() { yield_with(State::kBlockBarrier); }
void warp_barrier() { yield_with(State::kWarpBarrier); }
uint64_t* shuffle_slots() { return g_slots.data(); }
unsigned char* dynamic_shared() { return g_dynamic_shared.data(); }

void run_grid(dim3 grid, dim3 block, size_t shared_bytes, const std::function<void()>& body) {
  const unsigned threads = block.x * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.y != 1 || block.z != 1 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.y > 65535 || grid.z > 65535 || shared_bytes > 227 * 1024) {
    g_last_error = cudaErrorInvalidConfiguration;
    return;
  }
  if (threads % 32 != 0) throw std::runtime_error("emulator: blocks must be whole warps here");
  g_body = &body;
  g_slots.assign(threads, 0);
  g_dynamic_shared.assign(shared_bytes, 0xFF);
  gridDim = grid;
  blockDim = block;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        blockIdx = dim3(x, y, z);
        run_block(threads);
      }
  g_body = nullptr;
}

}  // namespace emu

// ---- the runtime API, on host memory -------------------------------------------------------------------

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    default: return "emulated CUDA error";
  }
}
const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    default: return "cudaErrorUnknown";
  }
}
cudaError_t cudaGetLastError() {
  const cudaError_t e = emu::g_last_error;
  emu::g_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* p, int value, size_t bytes) {
  if (bytes) std::memset(p, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  *free_bytes = size_t(1) << 30;
  *total_bytes = size_t(1) << 30;
  return cudaSuccess;
}
