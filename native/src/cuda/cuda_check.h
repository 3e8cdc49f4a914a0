// Error checks for the CUDA backend: every runtime call goes through CUDA_CHECK and every launch is
// followed by CUDA_CHECK_LAUNCH(ctx, "op_name"); both throw an EngineError whose message names the op
// (what a person reads) and whose where() names the function, file and line (for the bug report).
// The decision to know: kernels run asynchronously, so a fault inside one surfaces at the next
// synchronization; CUDA_SYNC(ctx) then names the last op launched on the context, and with
// TUNESMITH_CUDA_SYNC=1 (CudaContext::sync_each_op) every launch synchronizes, which pins the fault to
// its own op. Nothing here exits or aborts: the N-API boundary turns the exception into a rejection.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "cuda_ops.h"
#include "engine_error.h"
#include "tensor.h"  // TS_CHECK

namespace tunesmith {
namespace cuda {

// Errors after which the CUDA context is unusable: every later call fails the same way.
inline bool cuda_error_is_sticky(cudaError_t status) {
  switch (status) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
      return true;
    default:
      return false;
  }
}

inline std::string cuda_error_message(cudaError_t status, const std::string& op) {
  std::string message = "the GPU reported an error in " + op + ": " + cudaGetErrorString(status) + " (" +
                        cudaGetErrorName(status) + ")";
  if (cuda_error_is_sticky(status))
    message += "; the GPU cannot continue in this process: close the model and load it again (this is a bug in "
               "the engine; please report it with this message)";
  return message;
}

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const std::string& op, const char* func,
                                          const char* file, int line) {
  if (!cuda_error_is_sticky(status)) cudaGetLastError();  // clear it, so the next call does not see it again
  throw EngineError(cuda_error_message(status, op), func, file, line);
}

inline void check_launch(const CudaContext& ctx, const char* op, const char* func, const char* file, int line) {
  ctx.last_op = op;
  cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess && ctx.sync_each_op) status = cudaStreamSynchronize(ctx.stream);
  if (status != cudaSuccess) throw_cuda_error(status, op, func, file, line);
}

inline void synchronize(const CudaContext& ctx, const char* func, const char* file, int line) {
  const cudaError_t status = cudaStreamSynchronize(ctx.stream);
  if (status != cudaSuccess) {
    const std::string op = ctx.last_op && *ctx.last_op
                               ? std::string(ctx.last_op) + " or an op before it (TUNESMITH_CUDA_SYNC=1 pins it)"
                               : std::string("a GPU kernel");
    throw_cuda_error(status, op, func, file, line);
  }
}

}  // namespace cuda
}  // namespace tunesmith

// A CUDA runtime call: CUDA_CHECK(cudaMemcpyAsync(...)).
#define CUDA_CHECK(call)                                                                               \
  do {                                                                                                 \
    const cudaError_t ts_cuda_status_ = (call);                                                        \
    if (ts_cuda_status_ != cudaSuccess)                                                                \
      ::tunesmith::cuda::throw_cuda_error(ts_cuda_status_, #call, __func__, __FILE__, __LINE__);       \
  } while (0)

// Right after a kernel launch: CUDA_CHECK_LAUNCH(ctx, "rmsnorm_forward").
#define CUDA_CHECK_LAUNCH(ctx, op) ::tunesmith::cuda::check_launch((ctx), (op), __func__, __FILE__, __LINE__)

// Wait for everything launched on ctx.stream; a kernel fault becomes an EngineError naming the op.
#define CUDA_SYNC(ctx) ::tunesmith::cuda::synchronize((ctx), __func__, __FILE__, __LINE__)
