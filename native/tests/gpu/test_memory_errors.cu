// The CUDA backend's memory and error contract on a real device: one cudaMalloc per arena with the
// current/peak tally memory() reports, an allocation that cannot fit becomes an error with the numbers and
// what to do — and the process and the GPU stay usable — and a failed launch names its op.
#include "cuda/arena.h"
#include "gpu_check.h"

using namespace tunesmith;
using namespace gpucheck;

TEST(gpu_arena_tallies_current_and_peak_bytes) {
  cuda::reset_device_memory_peak();
  const int64_t before = cuda::device_memory_stats().current_bytes;
  {
    cuda::DeviceArena arena("a test arena");
    float* a = nullptr;
    int* b = nullptr;
    arena.build([&](cuda::DeviceArena& x) {
      a = x.take<float>(1000);
      b = x.take<int>(3);
    });
    CHECK(a != nullptr && b != nullptr);
    CHECK(reinterpret_cast<uintptr_t>(b) % cuda::DeviceArena::kAlign == 0);
    CHECK(reinterpret_cast<char*>(b) - reinterpret_cast<char*>(a) >= int64_t(1000 * sizeof(float)));
    CHECK(cuda::device_memory_stats().current_bytes - before == int64_t(arena.capacity()));
    const std::vector<float> zeros(1000, 0.f);
    std::vector<float> got(1000, 1.f);
    CUDA_CHECK(cudaMemcpy(got.data(), a, 4000, cudaMemcpyDeviceToHost));
    CHECK(got == zeros);  // zero-filled
  }
  const auto after = cuda::device_memory_stats();
  CHECK_EQ(after.current_bytes, before);
  CHECK(after.peak_bytes >= before + 4000);
}

TEST(gpu_out_of_memory_is_an_error_with_numbers_and_the_gpu_stays_usable) {
  cuda::DeviceArena huge("activations");
  CHECK_THROWS_WITH(huge.allocate(size_t(1) << 50), "needs \xE2\x89\x88" "1125899.9 GB");
  CHECK_THROWS_WITH(huge.allocate(size_t(1) << 50), "lower max length or enable gradient checkpointing");
  cuda::DeviceArena small("a small arena");
  small.allocate(1 << 20);  // the context survived: this works
  CHECK(small.capacity() >= size_t(1) << 20);
  const auto ctx = gpu();
  DeviceBuffer<float> x(4), y(4);
  x.upload({1, 2, 3, 4});
  cuda::add_f32(ctx, y.get(), x.get(), x.get(), 4);
  CHECK(y.download() == (std::vector<float>{2, 4, 6, 8}));
}

static __global__ void test_noop_kernel() {}

TEST(gpu_a_failed_launch_names_its_op) {
  const auto ctx = gpu();
  test_noop_kernel<<<1, 4096, 0, ctx.stream>>>();  // more threads than a block may have: a launch error
  CHECK_THROWS_WITH(CUDA_CHECK_LAUNCH(ctx, "the_test_op"), "the GPU reported an error in the_test_op");
  // Not sticky: the next op works, and the error was cleared.
  DeviceBuffer<float> x(2);
  x.upload({1, 2});
  cuda::scale_inplace(ctx, x.get(), 2, 2.f);
  CHECK(x.download() == (std::vector<float>{2, 4}));
  // Shape errors are caught before any launch and name the op.
  CHECK_THROWS_WITH(cuda::attention_forward(ctx, nullptr, nullptr, nullptr, nullptr, nullptr, cuda::DeviceSeqSpans{}, 0,
                                            3, 2, 64, 0),
                    "attention_forward");
}
