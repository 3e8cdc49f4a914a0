// The C++ test runner: `tunesmith_native_tests` runs every registered TEST; `--list` prints their names,
// one a line; `--run NAME [NAME...]` runs only those. Output: "ok <name> (<ms> ms)", "skip <name>: why"
// or "FAIL <name>" with indented detail, then "N passed, N failed". Exit status 0 only when every test ran and passed.
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
    const std::filesystem::path dir = base / ("tunesmith-native-test-" + std::to_string(rd()));
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
    const std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::printf("  %s\n", line.c_str());
    if (end == std::string::npos) break;
    start = end + 1;
  }
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
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    if (skip) {
      ++skipped;
      std::printf("skip %s: %s\n", t.name, skip_reason.c_str());
    } else if (failure.empty()) {
      ++passed;
      std::printf("ok %s (%.0f ms)\n", t.name, ms);
    } else {
      ++failed;
      std::printf("FAIL %s (%.0f ms)\n", t.name, ms);
      print_indented(failure);
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
