// safetensors reading (mmap) and writing, and a model folder's weights as one set of named tensors.
//
// File layout (formats.md §5.1): u64 LE header length N | N bytes of UTF-8 JSON | data buffer.
// JSON: {"__metadata__": {str: str}?, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}}
// with offsets relative to the data buffer (file offset 8 + N), e exclusive, little-endian row-major.
//
// The one decision to know: every count, offset and shape is checked against the file size before
// any tensor byte is touched (N <= 100,000,000 and <= file size - 8; JSON strict; dtype known;
// numel x dtype size == e - b; 0 <= b <= e <= data size; tensors sorted by offset are contiguous
// from 0 with no overlap and no gap, and the last e equals the data size, as the Rust reference
// requires). A hostile file gets an EngineError that names it, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tunesmith {

struct ModelConfig;

enum class DType { Bool, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

const char* dtype_name(DType dtype);                   // "F32", "BF16", ...
bool dtype_from_name(const std::string& name, DType* out);  // false for unknown names
size_t dtype_size(DType dtype);                        // bytes per element

// A tensor inside a mapped file; `data` stays valid while the SafetensorsFile/ModelFiles lives.
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  uint64_t nbytes = 0;
  int64_t numel() const;
};

// Parsed header of a safetensors byte image; views point into the bytes given to the parser.
struct SafetensorsContents {
  std::vector<TensorView> tensors;  // in data-offset order
  std::map<std::string, std::string> metadata;
};

// Validates and parses a whole safetensors image held in memory (bytes[0..size)). `source` names it in
// errors. This is the reader's core; SafetensorsFile calls it on the mapping; the fuzzer calls it
// directly. Throws EngineError.
SafetensorsContents parse_safetensors(const uint8_t* bytes, uint64_t size, const std::string& source);

// One memory-mapped, validated .safetensors file. Move-only.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);  // throws EngineError
  ~SafetensorsFile();
  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const;
  const std::vector<TensorView>& tensors() const;
  const std::map<std::string, std::string>& metadata() const;
  const TensorView* find(const std::string& name) const;  // nullptr when absent

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A Hugging Face model folder's weights: model.safetensors, or the shards that
// model.safetensors.index.json lists (every listed shard must exist and hold exactly the tensors the
// index assigns it; no tensor in two shards). Move-only.
class ModelFiles {
 public:
  explicit ModelFiles(const std::string& model_dir);  // throws EngineError
  ~ModelFiles();
  ModelFiles(ModelFiles&&) noexcept;
  ModelFiles& operator=(ModelFiles&&) noexcept;
  ModelFiles(const ModelFiles&) = delete;
  ModelFiles& operator=(const ModelFiles&) = delete;

  const std::string& dir() const;
  size_t shard_count() const;
  std::vector<std::string> names() const;                 // sorted
  const TensorView* find(const std::string& name) const;  // nullptr when absent
  const TensorView& get(const std::string& name) const;   // throws EngineError naming the tensor
  const std::vector<std::string>& warnings() const;       // non-fatal findings (index total_size off)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Checks that `files` holds exactly the tensors a `config` model needs (names from tensor_names.h),
// each with the expected shape and a float dtype (F32/F16/BF16). Missing, mis-shaped, wrongly typed and
// unexpected tensors are all reported in one EngineError. Tolerated, returned as warnings: rotary
// `inv_freq` buffers of old checkpoints, and lm_head.weight in a tied-embedding model (unused).
std::vector<std::string> check_model_tensors(const ModelConfig& config, const ModelFiles& files);

// ---- conversion ---------------------------------------------------------------------------------
// bf16/f16 -> f32 are exact (every bf16/f16 value, subnormals, inf and NaN payload class included).
float bf16_to_f32(uint16_t bits);
float f16_to_f32(uint16_t bits);
uint16_t f32_to_bf16(float value);  // round to nearest even; NaN stays NaN
uint16_t f32_to_f16(float value);   // round to nearest even; overflow -> inf; NaN stays NaN

// Converts elements [begin, begin + count) of a F32/F16/BF16 tensor to f32. Throws for other dtypes
// or an out-of-range request.
void to_f32(const TensorView& tensor, float* out, int64_t begin, int64_t count);
// The whole tensor: out holds numel() floats.
void to_f32(const TensorView& tensor, float* out);

// ---- writing ------------------------------------------------------------------------------------
struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;  // numel x dtype_size bytes, little-endian row-major
};

// Writes a safetensors file as the reference writer does: header JSON padded with spaces to a
// multiple of 8, __metadata__ first, tensors ordered by descending dtype size then name, data
// contiguous. Streams the data; writes to "<path>.tmp-<pid>" and renames over `path`, so a crash
// never leaves a half-written file under the final name. Throws EngineError.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace tunesmith
