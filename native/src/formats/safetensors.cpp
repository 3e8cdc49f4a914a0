// safetensors: header validation over a byte image, the mmap'd file, dtype conversion and the writer.
// See safetensors.h for the layout and the checks; model_files.cpp builds on this for model folders.
#include "safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "engine_error.h"
#include "json.h"

#ifdef _WIN32
#define NOMINMAX
#include <process.h>
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace tunesmith {

// ---- dtypes -------------------------------------------------------------------------------------
namespace {

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::Bool, "BOOL", 1}, {DType::U8, "U8", 1},     {DType::I8, "I8", 1},     {DType::F8_E5M2, "F8_E5M2", 1},
    {DType::F8_E4M3, "F8_E4M3", 1}, {DType::I16, "I16", 2}, {DType::U16, "U16", 2}, {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I32, "I32", 4},   {DType::U32, "U32", 4},   {DType::F32, "F32", 4},
    {DType::F64, "F64", 8},   {DType::I64, "I64", 8},   {DType::U64, "U64", 8},
};

constexpr uint64_t kMaxHeaderBytes = 100000000;  // the Rust reader's HeaderTooLarge limit
constexpr size_t kMaxRank = 16;

}  // namespace

const char* dtype_name(DType dtype) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.dtype == dtype) return info.name;
  }
  return "?";
}

bool dtype_from_name(const std::string& name, DType* out) {
  for (const DTypeInfo& info : kDTypes) {
    if (name == info.name) {
      *out = info.dtype;
      return true;
    }
  }
  return false;
}

size_t dtype_size(DType dtype) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.dtype == dtype) return info.size;
  }
  return 0;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (const int64_t d : shape) n *= d;
  return n;
}

// ---- header parsing -----------------------------------------------------------------------------
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

constexpr const char* kRedownload = "; the file is damaged or incomplete: download it again";

struct ParsedEntry {
  TensorView view;
  uint64_t begin = 0;  // offset in the data buffer
};

ParsedEntry parse_tensor_entry(const std::string& name, const json::Value& info, uint64_t data_size,
                               const std::string& source) {
  auto fail = [&](const std::string& what) { TS_FAIL(source + ": tensor " + json::quote(name) + " " + what + kRedownload); };
  if (!info.is_object()) fail("is described by " + std::string(json::type_name(info.type)) + ", not an object");
  TensorView view;
  view.name = name;

  const json::Value* dtype = info.find("dtype");
  if (dtype == nullptr || !dtype->is_string()) fail("has no \"dtype\" string");
  if (!dtype_from_name(dtype->string, &view.dtype)) {
    TS_FAIL(source + ": tensor " + json::quote(name) + " has dtype " + json::quote(dtype->string) +
            ", which Tunesmith cannot read (known: BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, "
            "I32, U32, F32, F64, I64, U64); use a checkpoint saved in F32, F16 or BF16");
  }

  const json::Value* shape = info.find("shape");
  if (shape == nullptr || !shape->is_array()) fail("has no \"shape\" array");
  if (shape->array.size() > kMaxRank) fail("has " + std::to_string(shape->array.size()) + " dimensions");
  uint64_t numel = 1;
  bool numel_overflow = false, has_zero = false;
  for (const json::Value& d : shape->array) {
    if (!d.is_number() || !d.is_integer || !d.fits_i64 || d.int_value < 0) {
      fail("has a shape entry that is not a non-negative integer");
    }
    view.shape.push_back(d.int_value);
    const auto du = static_cast<uint64_t>(d.int_value);
    if (du == 0) {
      has_zero = true;
    } else if (!numel_overflow && numel > std::numeric_limits<uint64_t>::max() / du) {
      numel_overflow = true;
    } else if (!numel_overflow) {
      numel *= du;
    }
  }
  if (has_zero) {
    numel = 0;  // an empty tensor, however large its other dimensions
    numel_overflow = false;
  }

  const json::Value* offsets = info.find("data_offsets");
  if (offsets == nullptr || !offsets->is_array() || offsets->array.size() != 2) {
    fail("has no \"data_offsets\" [begin, end] pair");
  }
  const json::Value& b = offsets->array[0];
  const json::Value& e = offsets->array[1];
  if (!b.is_number() || !b.is_integer || !b.fits_u64 || !e.is_number() || !e.is_integer || !e.fits_u64) {
    fail("has data_offsets that are not non-negative integers");
  }
  const uint64_t begin = b.uint_value, end = e.uint_value;
  if (begin > end) fail("has data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] with begin after end");
  if (end > data_size) {
    fail("has data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] past the end of the data (" +
         std::to_string(data_size) + " bytes)");
  }
  const size_t elem = dtype_size(view.dtype);
  if (numel_overflow || numel > std::numeric_limits<uint64_t>::max() / elem || numel * elem != end - begin) {
    fail("has shape " + shape_text(view.shape) + " of " + dtype->string + " (" +
         (numel_overflow ? std::string("too many") : std::to_string(numel * elem)) +
         " bytes) but data_offsets span " + std::to_string(end - begin) + " bytes");
  }
  view.nbytes = end - begin;
  return {std::move(view), begin};
}

}  // namespace

SafetensorsContents parse_safetensors(const uint8_t* bytes, uint64_t size, const std::string& source) {
  if (size < 8) {
    TS_FAIL(source + " is " + std::to_string(size) + " bytes, too short for a safetensors file (it needs an "
                     "8-byte header length first)" + kRedownload);
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > kMaxHeaderBytes) {
    TS_FAIL(source + ": the header claims " + std::to_string(header_len) + " bytes, more than the 100,000,000 "
                     "a safetensors header may have; this is not a valid safetensors file" + kRedownload);
  }
  if (header_len > size - 8) {
    TS_FAIL(source + ": the header claims " + std::to_string(header_len) + " bytes but the file has only " +
            std::to_string(size - 8) + " after the length field" + kRedownload);
  }
  if (header_len < 2) TS_FAIL(source + ": the header is " + std::to_string(header_len) + " bytes, too short for JSON" + kRedownload);
  json::ParseOptions options;
  options.max_bytes = kMaxHeaderBytes;
  options.max_depth = 8;
  const std::string header_source = source + " (header)";
  const json::Value root = json::parse(reinterpret_cast<const char*>(bytes + 8), header_len, header_source, options);
  if (!root.is_object()) TS_FAIL(header_source + ": the header must be a JSON object" + kRedownload);

  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = size - data_start;
  SafetensorsContents out;
  std::vector<ParsedEntry> entries;
  for (const auto& [key, value] : root.object) {
    if (key == "__metadata__") {
      if (!value.is_object()) TS_FAIL(header_source + ": \"__metadata__\" must be an object of strings" + kRedownload);
      for (const auto& [mk, mv] : value.object) {
        if (!mv.is_string()) {
          TS_FAIL(header_source + ": \"__metadata__\" entry " + json::quote(mk) + " must be a string" + kRedownload);
        }
        out.metadata[mk] = mv.string;
      }
      continue;
    }
    entries.push_back(parse_tensor_entry(key, value, data_size, source));
  }

  // Sorted by offsets, tensors must tile the data buffer exactly: no gap, no overlap, nothing after.
  std::stable_sort(entries.begin(), entries.end(), [](const ParsedEntry& a, const ParsedEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.view.nbytes < b.view.nbytes;
  });
  uint64_t cursor = 0;
  const std::string* previous = nullptr;
  for (ParsedEntry& e : entries) {
    if (e.begin < cursor) {
      TS_FAIL(source + ": tensors " + json::quote(*previous) + " and " + json::quote(e.view.name) +
              " overlap in the data buffer (bytes " + std::to_string(e.begin) + " to " + std::to_string(cursor) + ")" +
              kRedownload);
    }
    if (e.begin > cursor) {
      TS_FAIL(source + ": bytes " + std::to_string(cursor) + " to " + std::to_string(e.begin) +
              " of the data buffer belong to no tensor (before " + json::quote(e.view.name) +
              "); safetensors tensors must be contiguous" + kRedownload);
    }
    cursor = e.begin + e.view.nbytes;
    e.view.data = bytes + data_start + e.begin;
    previous = &e.view.name;
  }
  if (cursor != data_size) {
    TS_FAIL(source + ": the tensors cover " + std::to_string(cursor) + " bytes of data but the file holds " +
            std::to_string(data_size) + "; the header and the file size disagree" + kRedownload);
  }
  out.tensors.reserve(entries.size());
  for (ParsedEntry& e : entries) out.tensors.push_back(std::move(e.view));
  return out;
}

// ---- the mapped file ----------------------------------------------------------------------------
struct SafetensorsFile::Impl {
  std::string path;
  const uint8_t* base = nullptr;
  uint64_t size = 0;
#ifdef _WIN32
  HANDLE file = INVALID_HANDLE_VALUE;
  HANDLE mapping = nullptr;
#endif
  SafetensorsContents contents;

  ~Impl() {
#ifdef _WIN32
    if (base != nullptr) UnmapViewOfFile(base);
    if (mapping != nullptr) CloseHandle(mapping);
    if (file != INVALID_HANDLE_VALUE) CloseHandle(file);
#else
    if (base != nullptr) munmap(const_cast<uint8_t*>(base), size);
#endif
  }

  void map() {
#ifdef _WIN32
    file = CreateFileA(path.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING,
                       FILE_ATTRIBUTE_NORMAL, nullptr);
    if (file == INVALID_HANDLE_VALUE) TS_FAIL(path + " could not be opened (Windows error " + std::to_string(GetLastError()) + ")");
    LARGE_INTEGER li;
    if (!GetFileSizeEx(file, &li)) TS_FAIL(path + ": could not read the file size");
    size = static_cast<uint64_t>(li.QuadPart);
    if (size == 0) return;
    mapping = CreateFileMappingA(file, nullptr, PAGE_READONLY, 0, 0, nullptr);
    if (mapping == nullptr) TS_FAIL(path + " could not be mapped into memory (Windows error " + std::to_string(GetLastError()) + ")");
    base = static_cast<const uint8_t*>(MapViewOfFile(mapping, FILE_MAP_READ, 0, 0, 0));
    if (base == nullptr) TS_FAIL(path + " could not be mapped into memory (Windows error " + std::to_string(GetLastError()) + ")");
#else
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) TS_FAIL(path + " could not be opened: " + std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      TS_FAIL(path + ": could not read the file size: " + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      TS_FAIL(path + " is not a regular file");
    }
    size = static_cast<uint64_t>(st.st_size);
    if (size > 0) {
      void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        TS_FAIL(path + " could not be mapped into memory: " + std::strerror(err));
      }
      base = static_cast<const uint8_t*>(p);
    }
    ::close(fd);  // the mapping keeps the file
#endif
  }
};

SafetensorsFile::SafetensorsFile(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->map();
  static const uint8_t kEmpty[1] = {0};
  impl_->contents = parse_safetensors(impl_->base != nullptr ? impl_->base : kEmpty, impl_->size, path);
}

SafetensorsFile::~SafetensorsFile() = default;
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;

const std::string& SafetensorsFile::path() const { return impl_->path; }
const std::vector<TensorView>& SafetensorsFile::tensors() const { return impl_->contents.tensors; }
const std::map<std::string, std::string>& SafetensorsFile::metadata() const { return impl_->contents.metadata; }

const TensorView* SafetensorsFile::find(const std::string& name) const {
  for (const TensorView& t : impl_->contents.tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// ---- conversion ---------------------------------------------------------------------------------
float bf16_to_f32(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t u;
  if (exp == 0x1f) {
    u = sign | 0x7f800000 | (mant << 13);  // inf, or NaN keeping its payload
  } else if (exp != 0) {
    u = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    u = sign;  // +-0
  } else {
    // Subnormal: normalize. value = mant * 2^-24.
    exp = 113;
    while ((mant & 0x400) == 0) {
      mant <<= 1;
      --exp;
    }
    u = sign | (exp << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32_to_bf16(float value) {
  uint32_t u;
  std::memcpy(&u, &value, 4);
  if ((u & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fff + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}

uint16_t f32_to_f16(float value) {
  uint32_t u;
  std::memcpy(&u, &value, 4);
  const auto sign = static_cast<uint16_t>((u >> 16) & 0x8000);
  const uint32_t a = u & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00 | static_cast<uint16_t>((a >> 13) & 0x3ff);  // NaN
  if (a >= 0x477ff000) return sign | 0x7c00;  // >= 65520 rounds to inf
  const uint32_t exp = a >> 23;
  if (exp < 113) {  // below 2^-14: half subnormal, units of 2^-24
    const uint32_t shift = 126 - exp;
    if (shift > 24) return sign;
    const uint32_t mant = (a & 0x7fffff) | (exp != 0 ? 0x800000 : 0);
    const uint32_t kept = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    const uint32_t rounded = kept + ((rest > half || (rest == half && (kept & 1))) ? 1 : 0);
    return sign | static_cast<uint16_t>(rounded);
  }
  const uint32_t h = ((exp - 112) << 10) | ((a >> 13) & 0x3ff);
  const uint32_t rest = a & 0x1fff;
  const uint32_t rounded = h + ((rest > 0x1000 || (rest == 0x1000 && (h & 1))) ? 1 : 0);
  return sign | static_cast<uint16_t>(rounded);
}

void to_f32(const TensorView& t, float* out, int64_t begin, int64_t count) {
  const int64_t n = t.numel();
  if (begin < 0 || count < 0 || begin > n || count > n - begin) {
    TS_FAIL("tensor " + t.name + ": elements [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
            ") are outside its " + std::to_string(n));
  }
  switch (t.dtype) {
    case DType::F32:
      if (count > 0) std::memcpy(out, t.data + begin * 4, static_cast<size_t>(count) * 4);
      return;
    case DType::BF16:
    case DType::F16: {
      const uint8_t* p = t.data + begin * 2;
      const bool bf16 = t.dtype == DType::BF16;
      for (int64_t i = 0; i < count; ++i) {
        const auto bits = static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8));
        out[i] = bf16 ? bf16_to_f32(bits) : f16_to_f32(bits);
      }
      return;
    }
    default:
      TS_FAIL("tensor " + t.name + " has dtype " + dtype_name(t.dtype) +
              "; only F32, F16 and BF16 tensors can be read as floats. Use a checkpoint saved in one of these");
  }
}

void to_f32(const TensorView& t, float* out) { to_f32(t, out, 0, t.numel()); }

// ---- writing ------------------------------------------------------------------------------------
namespace {

std::string temp_path_for(const std::string& path) {
#ifdef _WIN32
  return path + ".tmp-" + std::to_string(_getpid());
#else
  return path + ".tmp-" + std::to_string(getpid());
#endif
}

bool replace_file(const std::string& from, const std::string& to) {
#ifdef _WIN32
  return MoveFileExA(from.c_str(), to.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH) != 0;
#else
  return std::rename(from.c_str(), to.c_str()) == 0;
#endif
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  struct Entry {
    const TensorToWrite* tensor;
    uint64_t nbytes;
  };
  std::vector<Entry> entries;
  for (const TensorToWrite& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__") TS_FAIL(path + ": cannot write a tensor named " + json::quote(t.name));
    const size_t elem = dtype_size(t.dtype);
    uint64_t numel = 1;
    for (const int64_t d : t.shape) {
      if (d < 0) TS_FAIL(path + ": tensor " + t.name + " has a negative dimension");
      numel *= static_cast<uint64_t>(d);
    }
    const uint64_t nbytes = numel * elem;
    if (nbytes > 0 && t.data == nullptr) TS_FAIL(path + ": tensor " + t.name + " has no data");
    entries.push_back({&t, nbytes});
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    const size_t sa = dtype_size(a.tensor->dtype), sb = dtype_size(b.tensor->dtype);
    return sa != sb ? sa > sb : a.tensor->name < b.tensor->name;
  });
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].tensor->name == entries[i - 1].tensor->name) {
      TS_FAIL(path + ": two tensors are named " + json::quote(entries[i].tensor->name));
    }
  }

  std::string header = "{";
  bool first = true;
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first_meta = true;
    for (const auto& [k, v] : metadata) {
      header += (first_meta ? "" : ",") + json::quote(k) + ":" + json::quote(v);
      first_meta = false;
    }
    header += "}";
    first = false;
  }
  uint64_t offset = 0;
  for (const Entry& e : entries) {
    header += (first ? "" : ",") + json::quote(e.tensor->name) + ":{\"dtype\":\"" + dtype_name(e.tensor->dtype) +
              "\",\"shape\":[";
    for (size_t i = 0; i < e.tensor->shape.size(); ++i) header += (i ? "," : "") + std::to_string(e.tensor->shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + e.nbytes) + "]}";
    offset += e.nbytes;
    first = false;
  }
  header += "}";
  while (header.size() % 8 != 0) header += ' ';

  const std::string tmp = temp_path_for(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) TS_FAIL(path + " could not be written: " + std::strerror(errno) + " (check the folder exists and is writable)");
  auto abandon = [&](const std::string& why) {
    std::fclose(f);
    std::remove(tmp.c_str());
    TS_FAIL(path + " could not be written: " + why + " (check free disk space and permissions)");
  };
  uint8_t len_bytes[8];
  const uint64_t header_len = header.size();
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<uint8_t>(header_len >> (8 * i));
  if (std::fwrite(len_bytes, 1, 8, f) != 8 || std::fwrite(header.data(), 1, header.size(), f) != header.size()) {
    abandon(std::strerror(errno));
  }
  for (const Entry& e : entries) {
    const auto* p = static_cast<const uint8_t*>(e.tensor->data);
    uint64_t left = e.nbytes;
    while (left > 0) {
      const size_t chunk = static_cast<size_t>(std::min<uint64_t>(left, 64u << 20));
      if (std::fwrite(p, 1, chunk, f) != chunk) abandon(std::strerror(errno));
      p += chunk;
      left -= chunk;
    }
  }
  if (std::fflush(f) != 0) abandon(std::strerror(errno));
#ifndef _WIN32
  if (fsync(fileno(f)) != 0) abandon(std::strerror(errno));
#endif
  if (std::fclose(f) != 0) {
    std::remove(tmp.c_str());
    TS_FAIL(path + " could not be written: " + std::strerror(errno));
  }
  if (!replace_file(tmp, path)) {
    const int err = errno;
    std::remove(tmp.c_str());
    TS_FAIL(path + " could not be put in place: " + std::strerror(err));
  }
}

}  // namespace tunesmith
