// The Node-API surface: module registration and conversion of C++ results into JS objects.
// Every exported function runs inside guarded(): a C++ exception of any type becomes a JS Error with
// its message, never a std::terminate that would take the app down.
#include <napi.h>

#include <exception>
#include <string>
#include <utility>

#include "build_config.h"
#include "probe.h"
#include "session.h"

namespace {

template <typename Fn>
Napi::Value guarded(const Napi::CallbackInfo& info, const char* name, Fn&& fn) {
  Napi::Env env = info.Env();
  try {
    return std::forward<Fn>(fn)(env);
  } catch (const Napi::Error&) {
    throw;  // already a JS exception; node-addon-api rethrows it into JS
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string(name) + ": " + e.what());
  } catch (...) {
    throw Napi::Error::New(env, std::string(name) + ": unknown native error");
  }
}

Napi::Object gpu_to_js(Napi::Env env, const tunesmith::GpuInfo& gpu) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("index", gpu.index);
  out.Set("name", gpu.name);
  // Doubles hold integers exactly up to 2^53 bytes (8 PiB): plain numbers, not BigInt, for JSON.
  out.Set("totalMemoryBytes", static_cast<double>(gpu.totalMemoryBytes));
  out.Set("freeMemoryBytes", static_cast<double>(gpu.freeMemoryBytes));
  out.Set("computeCapability", std::to_string(gpu.computeMajor) + "." + std::to_string(gpu.computeMinor));
  out.Set("multiProcessors", gpu.multiProcessors);
  return out;
}

Napi::Value probe_js(const Napi::CallbackInfo& info) {
  return guarded(info, "probe", [](Napi::Env env) -> Napi::Value {
    const tunesmith::ProbeResult result = tunesmith::probe();
    Napi::Object out = Napi::Object::New(env);

    Napi::Array backends = Napi::Array::New(env);
    backends.Set(0u, "cpu");
    if (result.cudaUsable) backends.Set(1u, "cuda");
    out.Set("backends", backends);

    out.Set("cudaCompiled", result.cudaCompiled);
    if (result.cudaRuntimeVersion > 0) out.Set("cudaRuntimeVersion", result.cudaRuntimeVersion);
    if (result.driverVersion > 0) out.Set("driverVersion", result.driverVersion);

    Napi::Array devices = Napi::Array::New(env, result.devices.size());
    for (size_t i = 0; i < result.devices.size(); ++i) {
      devices.Set(static_cast<uint32_t>(i), gpu_to_js(env, result.devices[i]));
    }
    out.Set("devices", devices);

    if (const char* kind = tunesmith::probe_error_kind_name(result.errorKind)) {
      out.Set("error", result.error);
      out.Set("errorKind", kind);
    }
    out.Set("engineVersion", TUNESMITH_ENGINE_VERSION);
    out.Set("napiVersion", NAPI_VERSION);
    return out;
  });
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, probe_js, "probe"));
  tunesmith::init_session(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(tunesmith_native, init)
