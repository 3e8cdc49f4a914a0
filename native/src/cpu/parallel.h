// parallel_rows: split [0, n) into fixed chunks of `grain` and run fn(begin, end) on the pool.
// Chunks depend only on n and grain, never on the thread count.
#pragma once

#include <algorithm>
#include <cstdint>

#include "ops.h"

namespace tunesmith {

template <typename Fn>
void parallel_rows(const OpContext& ctx, int64_t n, int64_t grain, Fn&& fn) {
  if (n <= 0) return;
  const int64_t tasks = (n + grain - 1) / grain;
  ctx.pool->parallel_for(static_cast<int>(tasks), [&](int t) {
    const int64_t begin = t * grain;
    fn(begin, std::min(n, begin + grain));
  });
}

// Whether this CPU runs AVX2 + FMA code (kernels compiled twice pick their version once with it).
inline bool cpu_has_avx2_fma() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

}  // namespace tunesmith

// Force-inlined helpers, so a body written once compiles into each instruction-set wrapper.
#if defined(_MSC_VER)
#define TS_ALWAYS_INLINE __forceinline
#else
#define TS_ALWAYS_INLINE __attribute__((always_inline)) inline
#endif

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define TS_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define TS_HAVE_AVX2 1
#endif
