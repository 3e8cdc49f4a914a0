// The GPU parity runner (tunesmith_gpu_tests): every registered TEST in native/tests/gpu/ runs each CUDA
// op against its CPU twin. Same output as the CPU runner ("ok <name> (<ms> ms)", "skip <name>: why",
// "FAIL <name>" + indented detail, then "N passed, N failed"); `--list` names the tests, `--run NAME`
// runs some. The one decision to know: before anything touches CUDA it asks probe.cu whether a usable
// GPU is there, and without one prints exactly one line `skipped: no CUDA device (<reason>)` and exits
// 0, so CI machines without a GPU run this path on every `npm test`.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine_error.h"
#include "probe.h"
#include "test_framework.h"

namespace tstest {

namespace {
std::vector<std::filesystem::path>& temp_dirs() {
  static std::vector<std::filesystem::path> dirs;
  return dirs;
}
}  // namespace

std::string temp_dir() {
  std::random_device rd;
  const std::filesystem::path base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::filesystem::path dir = base / ("tunesmith-gpu-test-" + std::to_string(rd()));
    std::error_code ec;
    if (std::filesystem::create_directory(dir, ec)) {
      temp_dirs().push_back(dir);
      return dir.string();
    }
  }
  throw std::runtime_error("could not create a temporary directory");
}

}  // namespace tstest

namespace {

void print_indented(const std::string& text) {
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = text.find('\n', start);
    std::printf("  %s\n", text.substr(start, end == std::string::npos ? std::string::npos : end - start).c_str());
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

// The reason there is no GPU to test on, or "" when there is one.
std::string no_device_reason() {
  tunesmith::ProbeResult probe;
  probe.cudaCompiled = true;
  tunesmith::cuda_probe(probe);
  if (!probe.cudaUsable) return probe.error.empty() ? "CUDA reports no usable GPU" : probe.error;
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<tstest::TestCase>& tests = tstest::registry();
  std::set<std::string> seen;
  for (const tstest::TestCase& t : tests) {
    if (!seen.insert(t.name).second) {
      std::printf("FAIL duplicate test name %s (%s:%d)\n0 passed, 1 failed\n", t.name, t.file, t.line);
      return 1;
    }
  }
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--list") == 0) {
      for (const tstest::TestCase& t : tests) std::printf("%s\n", t.name);
      return 0;
    }
    if (std::strcmp(argv[i], "--run") == 0) continue;
    only.emplace_back(argv[i]);
  }
  for (const std::string& name : only) {
    if (seen.count(name) == 0) {
      std::printf("FAIL %s\n  no such test (see --list)\n0 passed, 1 failed\n", name.c_str());
      return 1;
    }
  }

  const std::string reason = no_device_reason();
  if (!reason.empty()) {
    std::printf("skipped: no CUDA device (%s)\n", reason.c_str());
    return 0;
  }
  cudaDeviceProp props{};
  if (cudaGetDeviceProperties(&props, 0) == cudaSuccess)
    std::printf("device: %s, compute capability %d.%d, %d SMs, %.1f GiB\n", props.name, props.major, props.minor,
                props.multiProcessorCount, double(props.totalGlobalMem) / double(1ull << 30));

  int passed = 0, failed = 0, skipped = 0;
  for (const tstest::TestCase& t : tests) {
    if (!only.empty() && std::find(only.begin(), only.end(), t.name) == only.end()) continue;
    std::fflush(stdout);
    const auto started = std::chrono::steady_clock::now();
    std::string failure, skip_reason;
    bool skip = false;
    try {
      t.fn();
    } catch (const tstest::Skip& s) {
      skip = true;
      skip_reason = s.reason;
    } catch (const tstest::CheckFailure& e) {
      failure = e.message;
    } catch (const tunesmith::EngineError& e) {
      failure = std::string("unexpected EngineError: ") + e.what() + " [" + e.where() + "]";
    } catch (const std::exception& e) {
      failure = std::string("unexpected exception: ") + e.what();
    } catch (...) {
      failure = "unexpected non-standard exception";
    }
    // A kernel fault poisons the context: every later case would fail for the same reason, so stop.
    const cudaError_t sticky = cudaDeviceSynchronize();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    if (skip) {
      ++skipped;
      std::printf("skip %s: %s\n", t.name, skip_reason.c_str());
    } else if (failure.empty() && sticky == cudaSuccess) {
      ++passed;
      std::printf("ok %s (%.0f ms)\n", t.name, ms);
    } else {
      ++failed;
      std::printf("FAIL %s (%.0f ms)\n", t.name, ms);
      if (!failure.empty()) print_indented(failure);
    }
    if (sticky != cudaSuccess) {
      print_indented(std::string("the CUDA context is broken (") + cudaGetErrorName(sticky) + ": " +
                     cudaGetErrorString(sticky) + "); the remaining cases cannot run");
      break;
    }
  }
  for (const auto& dir : tstest::temp_dirs()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  if (skipped > 0) std::printf("%d skipped\n", skipped);
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
