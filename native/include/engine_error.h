// The engine's one exception type. what() is the plain-language message a person reads (it names the
// file and says what to do); where() is "function (file:line)" of the throw, for bug reports.
// Internal code throws with TS_FAIL(message); the N-API boundary catches everything and rejects.
#pragma once

#include <stdexcept>
#include <string>

namespace tunesmith {

class EngineError : public std::runtime_error {
 public:
  EngineError(const std::string& message, const char* func, const char* file, int line)
      : std::runtime_error(message), where_(std::string(func) + " (" + basename_of(file) + ":" +
                                            std::to_string(line) + ")") {}
  const std::string& where() const noexcept { return where_; }

 private:
  static std::string basename_of(const char* path) {
    std::string p(path);
    const size_t slash = p.find_last_of("/\\");
    return slash == std::string::npos ? p : p.substr(slash + 1);
  }
  std::string where_;
};

}  // namespace tunesmith

#define TS_FAIL(message) throw ::tunesmith::EngineError((message), __func__, __FILE__, __LINE__)
