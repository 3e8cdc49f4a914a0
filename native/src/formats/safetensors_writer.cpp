// write_safetensors (declared in safetensors.h): the reference writer's layout (header padded with
// spaces to 8 bytes, __metadata__ first, tensors by descending dtype size then name), streamed to a
// temporary file that is fsync'd and renamed over the target, so a crash never leaves half a file.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "engine_error.h"
#include "json.h"
#include "safetensors.h"

#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <process.h>
#include <windows.h>
#else
#include <unistd.h>
#endif

namespace tunesmith {

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
