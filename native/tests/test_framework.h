// A tiny test framework for the engine's C++ tests (tunesmith_native_tests).
//   TEST(name) { CHECK(x); CHECK_EQ(a, b); CHECK_THROWS_WITH(expr, "text in the message"); }
// Tests register themselves; main.cpp runs them and prints "ok <name> (<ms> ms)", "skip <name>: why"
// or "FAIL <name>" followed by indented detail lines, then "N passed, N failed". A failed CHECK ends its test (it
// throws); any exception escaping a test fails it with the exception's message.
// Test names are global across files and must be unique (main.cpp refuses duplicates).
#pragma once

#include <cmath>
#include <cstdint>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

namespace tstest {

struct TestCase {
  const char* name;
  void (*fn)();
  const char* file;
  int line;
};

inline std::vector<TestCase>& registry() {
  static std::vector<TestCase> tests;
  return tests;
}

struct Registrar {
  Registrar(const char* name, void (*fn)(), const char* file, int line) {
    registry().push_back({name, fn, file, line});
  }
};

struct CheckFailure : std::exception {
  explicit CheckFailure(std::string m) : message(std::move(m)) {}
  const char* what() const noexcept override { return message.c_str(); }
  std::string message;
};

inline std::string basename_of(const char* path) {
  std::string p(path);
  const size_t slash = p.find_last_of("/\\");
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

[[noreturn]] inline void fail(const char* file, int line, const std::string& what) {
  throw CheckFailure(basename_of(file) + ":" + std::to_string(line) + ": " + what);
}

template <typename T>
std::string show(const T& v) {
  std::ostringstream s;
  s.precision(9);
  s << v;
  return s.str();
}
inline std::string show(const std::string& v) { return "\"" + v + "\""; }
inline std::string show(const char* v) { return v == nullptr ? "null" : "\"" + std::string(v) + "\""; }
inline std::string show(uint8_t v) { return std::to_string(static_cast<unsigned>(v)); }
inline std::string show(int8_t v) { return std::to_string(static_cast<int>(v)); }
template <typename T>
std::string show(const std::vector<T>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size() && i < 16; ++i) s += (i ? ", " : "") + show(v[i]);
  if (v.size() > 16) s += ", ... (" + std::to_string(v.size()) + " items)";
  return s + "]";
}

// Thrown by SKIP(reason): the test could not run here (e.g. no Python); reported as "skip".
struct Skip {
  std::string reason;
};

// A fresh empty directory for one test, removed when the run ends.
std::string temp_dir();

}  // namespace tstest

#define TSTEST_CAT2(a, b) a##b
#define TSTEST_CAT(a, b) TSTEST_CAT2(a, b)

#define TEST(name)                                                                               \
  static void TSTEST_CAT(tstest_fn_, name)();                                                    \
  static const ::tstest::Registrar TSTEST_CAT(tstest_reg_, name)(#name, &TSTEST_CAT(tstest_fn_, name), \
                                                                 __FILE__, __LINE__);            \
  static void TSTEST_CAT(tstest_fn_, name)()

#define SKIP(reason) throw ::tstest::Skip{reason}

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) ::tstest::fail(__FILE__, __LINE__, "CHECK(" #cond ") failed"); \
  } while (0)

#define CHECK_MSG(cond, msg)                                                                        \
  do {                                                                                              \
    if (!(cond)) ::tstest::fail(__FILE__, __LINE__, std::string("CHECK(" #cond ") failed: ") + (msg)); \
  } while (0)

#define CHECK_EQ(a, b)                                                                                 \
  do {                                                                                                 \
    const auto& tstest_a = (a);                                                                        \
    const auto& tstest_b = (b);                                                                        \
    if (!(tstest_a == tstest_b)) {                                                                     \
      ::tstest::fail(__FILE__, __LINE__,                                                               \
                     "CHECK_EQ(" #a ", " #b ") failed: " + ::tstest::show(tstest_a) + " != " + ::tstest::show(tstest_b)); \
    }                                                                                                  \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                            \
  do {                                                                                                   \
    const double tstest_a = static_cast<double>(a), tstest_b = static_cast<double>(b);                   \
    if (!(std::fabs(tstest_a - tstest_b) <= (tol))) {                                                    \
      ::tstest::fail(__FILE__, __LINE__, "CHECK_NEAR(" #a ", " #b ") failed: " + ::tstest::show(tstest_a) + \
                                             " vs " + ::tstest::show(tstest_b));                          \
    }                                                                                                    \
  } while (0)

// expr must throw a std::exception whose what() contains `needle`.
#define CHECK_THROWS_WITH(expr, needle)                                                                    \
  do {                                                                                                     \
    bool tstest_threw = false;                                                                             \
    try {                                                                                                  \
      (void)(expr);                                                                                        \
    } catch (const ::tstest::CheckFailure&) {                                                              \
      throw;                                                                                               \
    } catch (const std::exception& tstest_e) {                                                             \
      tstest_threw = true;                                                                                 \
      const std::string tstest_what = tstest_e.what();                                                     \
      if (tstest_what.find(needle) == std::string::npos) {                                                 \
        ::tstest::fail(__FILE__, __LINE__, std::string("CHECK_THROWS_WITH(" #expr "): the message does not contain \"") + \
                                               (needle) + "\": " + tstest_what);                          \
      }                                                                                                    \
    }                                                                                                      \
    if (!tstest_threw) ::tstest::fail(__FILE__, __LINE__, "CHECK_THROWS_WITH(" #expr "): nothing was thrown"); \
  } while (0)
