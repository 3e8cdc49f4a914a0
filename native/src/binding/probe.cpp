// probe() dispatcher: the CPU backend is always there; CUDA is asked only when compiled in.
// A build without CUDA says so as errorKind NotCompiled, so the app can tell "this build has no GPU
// support" apart from "this machine has no GPU".
#include "probe.h"

namespace tunesmith {

const char* probe_error_kind_name(ProbeErrorKind kind) {
  switch (kind) {
    case ProbeErrorKind::None: return nullptr;
    case ProbeErrorKind::NotCompiled: return "not-compiled";
    case ProbeErrorKind::NoDriver: return "no-driver";
    case ProbeErrorKind::DriverTooOld: return "driver-too-old";
    case ProbeErrorKind::NoDevice: return "no-device";
    case ProbeErrorKind::CudaError: return "cuda-error";
  }
  return "cuda-error";
}

ProbeResult probe() {
  ProbeResult result;
#ifdef TUNESMITH_WITH_CUDA
  result.cudaCompiled = true;
  cuda_probe(result);
#else
  result.errorKind = ProbeErrorKind::NotCompiled;
  result.error =
      "this build of the engine has no CUDA backend (nvcc was not found when it was built, or "
      "TUNESMITH_CUDA=OFF): install the CUDA toolkit and run `npm run build:native` to train on a GPU";
#endif
  return result;
}

}  // namespace tunesmith
