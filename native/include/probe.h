// Backend discovery: which backends this build can run here, which GPUs it sees, and, when there is no
// usable GPU, one precise reason (ProbeErrorKind) with a message a person can act on.
// probe() reports problems as data (it throws only std::bad_alloc), never exits, and leaves no GPU
// context behind: it is safe in the app's main process and in a trainer that already holds a session.
// JS shape: native/index.d.ts (ProbeResult).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tunesmith {

struct GpuInfo {
  int index = 0;
  std::string name;
  uint64_t totalMemoryBytes = 0;
  uint64_t freeMemoryBytes = 0;  // 0 when the device would not give a context (busy, exclusive mode)
  int computeMajor = 0;
  int computeMinor = 0;
  int multiProcessors = 0;
};

enum class ProbeErrorKind { None, NotCompiled, NoDriver, DriverTooOld, NoDevice, CudaError };

struct ProbeResult {
  bool cudaCompiled = false;
  bool cudaUsable = false;     // compiled, driver fine, at least one device
  int cudaRuntimeVersion = 0;  // 1000*major + 10*minor, as CUDA encodes it; 0 = unknown
  int driverVersion = 0;       // the CUDA version the driver supports, same encoding; 0 = unknown
  std::vector<GpuInfo> devices;
  ProbeErrorKind errorKind = ProbeErrorKind::None;
  std::string error;
};

// The dispatcher (src/binding/probe.cpp): CPU facts, then the CUDA probe when it is compiled in.
ProbeResult probe();

// "no-driver", "driver-too-old", ... as in index.d.ts; nullptr for None.
const char* probe_error_kind_name(ProbeErrorKind kind);

#ifdef TUNESMITH_WITH_CUDA
// Fills the CUDA fields of `result` (src/cuda/probe.cu). Throws only std::bad_alloc.
void cuda_probe(ProbeResult& result);
#endif

}  // namespace tunesmith
