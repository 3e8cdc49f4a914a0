// A small, strict JSON parser (RFC 8259) for config.json, safetensors headers and index files.
// No dependencies. Limits: nesting depth (default 64), input size, value count and array length (the
// caller's), so a hostile file cannot exhaust the stack or memory. Errors say where: "<source>: invalid JSON at byte 123 (line 4,
// column 7): expected ':' after an object key".
// The one decision to know: integers keep their exact text value (u64/i64), because safetensors
// offsets can pass 2^53 where a double would silently round; duplicate object keys are an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tunesmith::json {

enum class Type { Null, Bool, Number, String, Array, Object };

const char* type_name(Type type);  // "null", "a boolean", "a number", ...

struct Value {
  Type type = Type::Null;
  bool boolean = false;
  double number = 0.0;
  // Set when the number's text is an integer (no '.', no exponent) that fits: then the exact value is
  // in uint_value (non-negative) or int_value (negative or small enough), and is_integer is true.
  bool is_integer = false;
  bool is_negative = false;
  bool fits_u64 = false;
  bool fits_i64 = false;
  uint64_t uint_value = 0;
  int64_t int_value = 0;
  std::string string;
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object;  // in file order, keys unique
  size_t offset = 0;  // byte offset of the value in the input, for error messages

  bool is_null() const { return type == Type::Null; }
  bool is_object() const { return type == Type::Object; }
  bool is_array() const { return type == Type::Array; }
  bool is_string() const { return type == Type::String; }
  bool is_number() const { return type == Type::Number; }
  bool is_bool() const { return type == Type::Bool; }
  // Member lookup for objects (nullptr when absent or not an object).
  const Value* find(const std::string& key) const;
};

struct ParseOptions {
  size_t max_depth = 64;
  size_t max_bytes = 64u << 20;
  // Memory bounds: a Value is ~150 bytes, so a hostile 100 MB text of tiny values could otherwise
  // expand to gigabytes. Readers of known formats set these to what the format can legitimately hold.
  size_t max_values = SIZE_MAX;       // every value, at every depth
  size_t max_array_items = SIZE_MAX;  // entries of any one array
};

// Parses exactly one JSON value with only whitespace around it. Throws EngineError naming `source`.
Value parse(const char* text, size_t size, const std::string& source, const ParseOptions& options = {});
inline Value parse(const std::string& text, const std::string& source, const ParseOptions& options = {}) {
  return parse(text.data(), text.size(), source, options);
}

// Writes `s` as a JSON string literal (with quotes), escaping as RFC 8259 requires.
std::string quote(const std::string& s);

}  // namespace tunesmith::json
