// Strict recursive-descent JSON parser; see json.h. UTF-8 is validated in strings (overlongs,
// surrogates and bytes past U+10FFFF rejected), \u escapes are decoded with surrogate pairs.
#include "json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_set>

#include "engine_error.h"

namespace tunesmith::json {

const char* type_name(Type type) {
  switch (type) {
    case Type::Null: return "null";
    case Type::Bool: return "a boolean";
    case Type::Number: return "a number";
    case Type::String: return "a string";
    case Type::Array: return "an array";
    case Type::Object: return "an object";
  }
  return "?";
}

const Value* Value::find(const std::string& key) const {
  if (type != Type::Object) return nullptr;
  for (const auto& member : object) {
    if (member.first == key) return &member.second;
  }
  return nullptr;
}

namespace {

class Parser {
 public:
  Parser(const char* text, size_t size, const std::string& source, const ParseOptions& options)
      : text_(text), size_(size), source_(source), options_(options) {}

  Value parse_document() {
    if (size_ > options_.max_bytes) {
      TS_FAIL(source_ + ": JSON text is " + std::to_string(size_) + " bytes, more than the limit of " +
              std::to_string(options_.max_bytes) + "; the file is corrupt or not what it claims to be");
    }
    skip_ws();
    Value v = parse_value(0);
    skip_ws();
    if (pos_ != size_) fail("unexpected text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { fail_at(pos_, what); }
  [[noreturn]] void fail_at(size_t at, const std::string& what) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < at && i < size_; ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    TS_FAIL(source_ + ": invalid JSON at byte " + std::to_string(at) + " (line " + std::to_string(line) +
            ", column " + std::to_string(column) + "): " + what);
  }

  void skip_ws() {
    while (pos_ < size_) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else {
        break;
      }
    }
  }

  bool at_end() const { return pos_ >= size_; }
  char peek() const { return text_[pos_]; }

  Value parse_value(size_t depth) {
    if (at_end()) fail("unexpected end of input, expected a value");
    if (++values_ > options_.max_values) {
      fail("more than " + std::to_string(options_.max_values) + " values, more than this file can legitimately hold");
    }
    const char c = peek();
    switch (c) {
      case '{': return parse_object(depth);
      case '[': return parse_array(depth);
      case '"': {
        Value v;
        v.type = Type::String;
        v.offset = pos_;
        v.string = parse_string();
        return v;
      }
      case 't': return parse_literal("true", Type::Bool, true);
      case 'f': return parse_literal("false", Type::Bool, false);
      case 'n': return parse_literal("null", Type::Null, false);
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
        fail(std::string("unexpected character ") + describe_char(c) + ", expected a value");
    }
  }

  static std::string describe_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", u);
    return buf;
  }

  Value parse_literal(const char* word, Type type, bool boolean) {
    const size_t n = std::strlen(word);
    if (size_ - pos_ < n || std::memcmp(text_ + pos_, word, n) != 0) {
      fail(std::string("unexpected character ") + describe_char(peek()) + ", expected a value");
    }
    Value v;
    v.type = type;
    v.boolean = boolean;
    v.offset = pos_;
    pos_ += n;
    return v;
  }

  void enter(size_t depth) const {
    if (depth + 1 > options_.max_depth) {
      fail("nesting deeper than " + std::to_string(options_.max_depth) + " levels");
    }
  }

  Value parse_object(size_t depth) {
    enter(depth);
    Value v;
    v.type = Type::Object;
    v.offset = pos_;
    ++pos_;  // '{'
    skip_ws();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return v;
    }
    // Duplicate keys: a linear scan for small objects, a hash set once an object grows (a safetensors
    // header can hold a million keys; a quadratic check would hang on it).
    constexpr size_t kLinearKeys = 16;
    std::unordered_set<std::string> keys;
    for (;;) {
      skip_ws();
      if (at_end()) fail("unexpected end of input inside an object");
      if (peek() != '"') fail("expected '\"' to start an object key");
      const size_t key_at = pos_;
      std::string key = parse_string();
      bool duplicate = false;
      if (v.object.size() < kLinearKeys) {
        for (const auto& member : v.object) duplicate = duplicate || member.first == key;
      } else {
        if (keys.empty()) {
          for (const auto& member : v.object) keys.insert(member.first);
        }
        duplicate = !keys.insert(key).second;
      }
      if (duplicate) fail_at(key_at, "duplicate key " + quote(key));
      skip_ws();
      if (at_end() || peek() != ':') fail("expected ':' after an object key");
      ++pos_;
      skip_ws();
      Value member = parse_value(depth + 1);
      v.object.emplace_back(std::move(key), std::move(member));
      skip_ws();
      if (at_end()) fail("unexpected end of input inside an object");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return v;
      }
      fail("expected ',' or '}' in an object");
    }
  }

  Value parse_array(size_t depth) {
    enter(depth);
    Value v;
    v.type = Type::Array;
    v.offset = pos_;
    ++pos_;  // '['
    skip_ws();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return v;
    }
    for (;;) {
      skip_ws();
      if (v.array.size() == options_.max_array_items) {
        fail("an array with more than " + std::to_string(options_.max_array_items) + " items");
      }
      v.array.push_back(parse_value(depth + 1));
      skip_ws();
      if (at_end()) fail("unexpected end of input inside an array");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return v;
      }
      fail("expected ',' or ']' in an array");
    }
  }

  Value parse_number() {
    Value v;
    v.type = Type::Number;
    v.offset = pos_;
    const size_t start = pos_;
    bool integer = true;
    if (peek() == '-') {
      v.is_negative = true;
      ++pos_;
    }
    if (at_end()) fail("a number needs digits after '-'");
    if (peek() == '0') {
      ++pos_;
      if (!at_end() && peek() >= '0' && peek() <= '9') fail("a number may not have leading zeros");
    } else if (peek() >= '1' && peek() <= '9') {
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    } else {
      fail("a number needs digits");
    }
    const size_t int_end = pos_;
    if (!at_end() && peek() == '.') {
      integer = false;
      ++pos_;
      if (at_end() || !(peek() >= '0' && peek() <= '9')) fail("a number needs digits after '.'");
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      integer = false;
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (at_end() || !(peek() >= '0' && peek() <= '9')) fail("a number needs digits in its exponent");
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    }
    const std::string text(text_ + start, pos_ - start);
    v.number = std::strtod(text.c_str(), nullptr);  // overflow gives +-inf: callers range-check
    if (integer) {
      v.is_integer = true;
      uint64_t magnitude = 0;
      bool overflow = false;
      for (size_t i = start + (v.is_negative ? 1 : 0); i < int_end; ++i) {
        const uint64_t digit = static_cast<uint64_t>(text_[i] - '0');
        if (magnitude > (UINT64_MAX - digit) / 10) {
          overflow = true;
          break;
        }
        magnitude = magnitude * 10 + digit;
      }
      if (!overflow) {
        if (!v.is_negative) {
          v.fits_u64 = true;
          v.uint_value = magnitude;
          if (magnitude <= static_cast<uint64_t>(INT64_MAX)) {
            v.fits_i64 = true;
            v.int_value = static_cast<int64_t>(magnitude);
          }
        } else if (magnitude <= static_cast<uint64_t>(INT64_MAX) + 1) {
          v.fits_i64 = true;
          v.int_value = magnitude == static_cast<uint64_t>(INT64_MAX) + 1
                            ? INT64_MIN
                            : -static_cast<int64_t>(magnitude);
          v.fits_u64 = magnitude == 0;
        }
      }
    }
    return v;
  }

  unsigned hex4() {
    if (size_ - pos_ < 4) fail("a \\u escape needs four hex digits");
    unsigned value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_ + i];
      value <<= 4;
      if (c >= '0' && c <= '9') value |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') value |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') value |= static_cast<unsigned>(c - 'A' + 10);
      else fail("a \\u escape needs four hex digits");
    }
    pos_ += 4;
    return value;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  // Copies one UTF-8 sequence starting at pos_, validating it.
  void copy_utf8(std::string& out) {
    const auto b0 = static_cast<unsigned char>(text_[pos_]);
    size_t len;
    unsigned cp;
    if (b0 < 0x80) {
      out += static_cast<char>(b0);
      ++pos_;
      return;
    } else if ((b0 & 0xe0) == 0xc0) {
      len = 2;
      cp = b0 & 0x1f;
    } else if ((b0 & 0xf0) == 0xe0) {
      len = 3;
      cp = b0 & 0x0f;
    } else if ((b0 & 0xf8) == 0xf0) {
      len = 4;
      cp = b0 & 0x07;
    } else {
      fail("invalid UTF-8 byte in a string");
    }
    if (size_ - pos_ < len) fail("truncated UTF-8 sequence in a string");
    for (size_t i = 1; i < len; ++i) {
      const auto b = static_cast<unsigned char>(text_[pos_ + i]);
      if ((b & 0xc0) != 0x80) fail("invalid UTF-8 sequence in a string");
      cp = (cp << 6) | (b & 0x3f);
    }
    const unsigned min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      fail("invalid UTF-8 sequence in a string");
    }
    out.append(text_ + pos_, len);
    pos_ += len;
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (at_end()) fail("unterminated string");
      const char c = peek();
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) fail("a control character must be escaped in a string");
      if (c != '\\') {
        copy_utf8(out);
        continue;
      }
      ++pos_;
      if (at_end()) fail("unterminated escape in a string");
      const char e = peek();
      ++pos_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xd800 && cp <= 0xdbff) {
            if (size_ - pos_ < 2 || text_[pos_] != '\\' || text_[pos_ + 1] != 'u') {
              fail("a high surrogate \\u escape must be followed by a low one");
            }
            pos_ += 2;
            const unsigned low = hex4();
            if (low < 0xdc00 || low > 0xdfff) fail("a high surrogate \\u escape must be followed by a low one");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            fail("a lone low surrogate \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          pos_ -= 1;
          fail(std::string("unknown escape \\") + describe_char(e));
      }
    }
  }

  const char* text_;
  size_t size_;
  const std::string& source_;
  const ParseOptions& options_;
  size_t pos_ = 0;
  size_t values_ = 0;
};

}  // namespace

Value parse(const char* text, size_t size, const std::string& source, const ParseOptions& options) {
  return Parser(text, size, source, options).parse_document();
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (u < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", u);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace tunesmith::json
