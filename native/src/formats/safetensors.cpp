// safetensors reading: header validation over a byte image and the mmap'd file (float_convert.cpp and
// safetensors_writer.cpp hold conversion and writing).
// See safetensors.h for the layout and the checks; model_files.cpp builds on this for model folders.
#include "safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "engine_error.h"
#include "json.h"

#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
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
  options.max_array_items = kMaxRank;  // shapes and offset pairs are the only arrays
  options.max_values = 4000000;        // ~400,000 tensors: far more than any checkpoint file holds
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

}  // namespace tunesmith
