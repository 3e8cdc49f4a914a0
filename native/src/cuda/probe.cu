// CUDA half of probe(): is there a driver, is it new enough, which GPUs does it show, can we run on them.
// The driver is looked at first through dlopen/dlsym of libcuda (never linked), before any cudart
// call, so "no driver" and "driver too old" get their own precise messages. Free memory comes from
// the driver's primary context, retained and released around the query: probing holds no GPU memory
// afterwards and leaves a context that a live session owns untouched (cudaDeviceReset would not).
#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <utility>

#include "build_config.h"
#include "probe.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <dlfcn.h>
#endif

namespace tunesmith {
namespace {

// ---- the driver library, resolved by name --------------------------------------------------------

using CuResult = int;  // CUresult: 0 is CUDA_SUCCESS
using CuDevice = int;
using CuContext = void*;

struct DriverApi {
  bool loaded = false;
  std::string loadError;
  CuResult (*driverGetVersion)(int*) = nullptr;
  // Optional: only for the free-memory query.
  CuResult (*init)(unsigned) = nullptr;
  CuResult (*deviceGet)(CuDevice*, int) = nullptr;
  CuResult (*primaryCtxRetain)(CuContext*, CuDevice) = nullptr;
  CuResult (*primaryCtxRelease)(CuDevice) = nullptr;
  CuResult (*ctxPushCurrent)(CuContext) = nullptr;
  CuResult (*ctxPopCurrent)(CuContext*) = nullptr;
  CuResult (*memGetInfo)(size_t*, size_t*) = nullptr;
};

#ifdef _WIN32
constexpr const char* kDriverLibrary = "nvcuda.dll";
void* open_library(std::string& error) {
  HMODULE handle = LoadLibraryA(kDriverLibrary);
  if (!handle) error = "LoadLibrary(nvcuda.dll) failed with Windows error " + std::to_string(GetLastError());
  return reinterpret_cast<void*>(handle);
}
void* find_symbol(void* library, const char* name) {
  return reinterpret_cast<void*>(GetProcAddress(reinterpret_cast<HMODULE>(library), name));
}
#else
constexpr const char* kDriverLibrary = "libcuda.so.1";
void* open_library(std::string& error) {
  void* handle = dlopen(kDriverLibrary, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    error = why ? why : "dlopen(libcuda.so.1) failed";
  }
  return handle;
}
void* find_symbol(void* library, const char* name) { return dlsym(library, name); }
#endif

template <typename Fn>
void resolve(void* library, const char* name, Fn& out) {
  out = reinterpret_cast<Fn>(find_symbol(library, name));
}

// Loaded once per process and never closed: cudart opens the same library and keeps it.
const DriverApi& driver_api() {
  static const DriverApi api = [] {
    DriverApi a;
    void* library = open_library(a.loadError);
    if (!library) return a;
    resolve(library, "cuDriverGetVersion", a.driverGetVersion);
    if (!a.driverGetVersion) {
      a.loadError = std::string(kDriverLibrary) + " has no cuDriverGetVersion";
      return a;
    }
    resolve(library, "cuInit", a.init);
    resolve(library, "cuDeviceGet", a.deviceGet);
    resolve(library, "cuDevicePrimaryCtxRetain", a.primaryCtxRetain);
    resolve(library, "cuDevicePrimaryCtxRelease_v2", a.primaryCtxRelease);
    resolve(library, "cuCtxPushCurrent_v2", a.ctxPushCurrent);
    resolve(library, "cuCtxPopCurrent_v2", a.ctxPopCurrent);
    resolve(library, "cuMemGetInfo_v2", a.memGetInfo);
    a.loaded = true;
    return a;
  }();
  return api;
}

// ---- messages --------------------------------------------------------------------------------------

std::string cuda_version_string(int version) {
  return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

// Oldest driver branch per CUDA major (NVIDIA "CUDA Compatibility", minor version compatibility table:
// 11.x >= 450, 12.x >= 525, 13.x >= 580), the same on Linux and Windows.
int minimum_driver_branch(int cuda_major) {
  switch (cuda_major) {
    case 11: return 450;
    case 12: return 525;
    case 13: return 580;
    default: return 0;
  }
}

std::string driver_too_old_message(int driver_version) {
  const int needed_major = CUDART_VERSION / 1000;
  std::string message = "the NVIDIA driver supports CUDA " + cuda_version_string(driver_version);
  if (driver_version / 1000 >= needed_major) {
    // Same major, yet cudart refused it: name the exact runtime, there is no branch number to give.
    return message + ", which CUDA reports as too old for this build's CUDA " + cuda_version_string(CUDART_VERSION) +
           " runtime: update the NVIDIA driver";
  }
  message += " but this build needs CUDA " + std::to_string(needed_major) + ".0: update the NVIDIA driver";
  if (const int branch = minimum_driver_branch(needed_major)) {
    message += " to version " + std::to_string(branch) + " or newer";
  }
  return message;
}

void fail(ProbeResult& result, ProbeErrorKind kind, std::string message) {
  result.errorKind = kind;
  result.error = std::move(message);
  result.devices.clear();
  result.cudaUsable = false;
}

void fail_cuda(ProbeResult& result, const char* what, cudaError_t status) {
  std::string message = std::string(what) + ": " + cudaGetErrorString(status) + " (" + cudaGetErrorName(status) + ")";
  if (status == cudaErrorSystemDriverMismatch) {
    message += "; the driver's kernel module and user library differ, which usually means a reboot is due "
               "after a driver update";
  }
  fail(result, ProbeErrorKind::CudaError, std::move(message));
}

// ---- devices ---------------------------------------------------------------------------------------

// Whether this build carries kernels that run on a GPU of this compute capability.
bool has_kernels_for(int major, int minor) {
#if TUNESMITH_CUDA_ARCH_CHECK
  const int sass[] = {TUNESMITH_CUDA_SASS_ARCHS 0};
  const int ptx[] = {TUNESMITH_CUDA_PTX_ARCHS 0};
  for (int arch : sass) {
    if (arch != 0 && arch / 10 == major && arch % 10 <= minor) return true;
  }
  for (int arch : ptx) {
    if (arch != 0 && arch <= major * 10 + minor) return true;
  }
  return false;
#else
  (void)major;
  (void)minor;
  return true;
#endif
}

// Free bytes on one device, through a retained-then-released primary context; 0 if it will not give one.
size_t free_memory_bytes(const DriverApi& api, int index) {
  if (!api.init || !api.deviceGet || !api.primaryCtxRetain || !api.primaryCtxRelease || !api.ctxPushCurrent ||
      !api.ctxPopCurrent || !api.memGetInfo) {
    return 0;
  }
  CuDevice device = 0;
  CuContext context = nullptr;
  if (api.init(0) != 0 || api.deviceGet(&device, index) != 0) return 0;
  if (api.primaryCtxRetain(&context, device) != 0) return 0;
  size_t free_bytes = 0;
  size_t total_bytes = 0;
  if (api.ctxPushCurrent(context) == 0) {
    if (api.memGetInfo(&free_bytes, &total_bytes) != 0) free_bytes = 0;
    CuContext popped = nullptr;
    api.ctxPopCurrent(&popped);
  }
  api.primaryCtxRelease(device);
  return free_bytes;
}

}  // namespace

void cuda_probe(ProbeResult& result) {
  result.cudaRuntimeVersion = CUDART_VERSION;

  const DriverApi& api = driver_api();
  if (!api.loaded) {
    fail(result, ProbeErrorKind::NoDriver,
         "no NVIDIA driver found (" + api.loadError +
             "): install the NVIDIA driver to train on a GPU; the CPU backend works without it");
    return;
  }
  int driver_version = 0;
  if (const CuResult status = api.driverGetVersion(&driver_version); status != 0 || driver_version <= 0) {
    fail(result, ProbeErrorKind::CudaError,
         "the NVIDIA driver did not report its CUDA version (CUresult " + std::to_string(status) + ")");
    return;
  }
  result.driverVersion = driver_version;
  if (driver_version / 1000 < CUDART_VERSION / 1000) {
    fail(result, ProbeErrorKind::DriverTooOld, driver_too_old_message(driver_version));
    return;
  }

  int count = 0;
  const cudaError_t count_status = cudaGetDeviceCount(&count);
  if (count_status != cudaSuccess) {
    cudaGetLastError();  // clear it, so a later cudart call does not report it again
    if (count_status == cudaErrorNoDevice) {
      fail(result, ProbeErrorKind::NoDevice,
           "the NVIDIA driver is installed but shows no GPU to this process (check `nvidia-smi` and "
           "CUDA_VISIBLE_DEVICES)");
    } else if (count_status == cudaErrorInsufficientDriver) {
      fail(result, ProbeErrorKind::DriverTooOld, driver_too_old_message(driver_version));
    } else {
      fail_cuda(result, "CUDA could not start", count_status);
    }
    return;
  }
  if (count == 0) {
    fail(result, ProbeErrorKind::NoDevice, "the NVIDIA driver is installed but shows no GPU to this process");
    return;
  }

  bool any_runnable = false;
  for (int index = 0; index < count; ++index) {
    cudaDeviceProp props{};
    if (const cudaError_t status = cudaGetDeviceProperties(&props, index); status != cudaSuccess) {
      cudaGetLastError();
      fail_cuda(result, ("reading the properties of GPU " + std::to_string(index)).c_str(), status);
      return;
    }
    GpuInfo gpu;
    gpu.index = index;
    gpu.name = props.name;
    gpu.totalMemoryBytes = props.totalGlobalMem;
    gpu.freeMemoryBytes = free_memory_bytes(api, index);
    gpu.computeMajor = props.major;
    gpu.computeMinor = props.minor;
    gpu.multiProcessors = props.multiProcessorCount;
    any_runnable = any_runnable || has_kernels_for(props.major, props.minor);
    result.devices.push_back(std::move(gpu));
  }
  if (!any_runnable) {
    const GpuInfo& first = result.devices.front();
    result.errorKind = ProbeErrorKind::NoDevice;
    result.error = "GPU " + std::to_string(first.index) + " (" + first.name + ") has compute capability " +
                   std::to_string(first.computeMajor) + "." + std::to_string(first.computeMinor) +
                   ", which this build has no kernels for (it was built for CUDA architectures "
                   TUNESMITH_CUDA_ARCHS_STRING ")";
    return;  // devices stay listed, so the user sees what was found
  }
  result.cudaUsable = true;
}

}  // namespace tunesmith
