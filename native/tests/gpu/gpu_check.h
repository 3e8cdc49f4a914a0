// Helpers for the GPU parity cases: device buffers that free themselves, uploads that round to bf16 the
// way the GPU does (so the CPU reference sees exactly the GPU's inputs), and the comparison every case
// ends with — NMSE = Σ(got − want)² / Σ want² against a per-op threshold, after checking that every
// output is finite. A failure says which op, the NMSE, the threshold, and the worst element.
// Thresholds (see each case): a bf16 output computed in fp32 carries the rounding of its last step, at
// most 2^-8 relative, so its NMSE is ≤ 1.5e-5 even for a single element (≈ 2.7e-6 on random data):
// bf16 outputs get 3e-5, which rounding can never exceed while a wrong index or a missed key lands far
// above; fp32 outputs get 1e-9 or tighter; what the GPU must reproduce exactly is compared bit for bit.
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "cuda/cuda_check.h"
#include "cuda/device_math.h"
#include "cuda_ops.h"
#include "op_check.h"
#include "test_framework.h"

namespace gpucheck {

using tunesmith::cuda::bf16;

template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n) : n_(n) {
    if (n) CUDA_CHECK(cudaMalloc(&p_, n * sizeof(T)));
  }
  ~DeviceBuffer() {
    if (p_) cudaFree(p_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* get() const { return p_; }
  size_t size() const { return n_; }
  void upload(const std::vector<T>& v) {
    if (v.size() != n_) throw std::runtime_error("upload: size mismatch");
    if (n_) CUDA_CHECK(cudaMemcpy(p_, v.data(), n_ * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<T> v(n_);
    if (n_) CUDA_CHECK(cudaMemcpy(v.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost));
    return v;
  }
  void fill_bytes(int byte) {
    if (n_) CUDA_CHECK(cudaMemset(p_, byte, n_ * sizeof(T)));
  }

 private:
  T* p_ = nullptr;
  size_t n_;
};

inline tunesmith::cuda::CudaContext gpu() {
  tunesmith::cuda::CudaContext ctx;
  ctx.stream = nullptr;
  ctx.sync_each_op = true;  // a fault names its op in the failure
  return ctx;
}

// The values a float vector takes once stored as bf16.
inline std::vector<float> round_bf16(std::vector<float> v) {
  for (float& x : v) x = tunesmith::dm::round_to_bf16(x);
  return v;
}

inline std::vector<bf16> to_bf16_bits(const std::vector<float>& v) {
  std::vector<bf16> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const uint16_t bits = tunesmith::dm::bf16_bits_from_float(v[i]);
    std::memcpy(&out[i], &bits, 2);
  }
  return out;
}

inline std::vector<float> from_bf16_bits(const std::vector<bf16>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    uint16_t bits;
    std::memcpy(&bits, &v[i], 2);
    out[i] = tunesmith::dm::float_from_bf16_bits(bits);
  }
  return out;
}

// A device bf16 copy of v (rounded to nearest even).
inline void upload_bf16(DeviceBuffer<bf16>& d, const std::vector<float>& v) { d.upload(to_bf16_bits(v)); }
inline std::vector<float> download_bf16(const DeviceBuffer<bf16>& d) { return from_bf16_bits(d.download()); }

struct Nmse {
  double nmse = 0, max_abs = 0;
  size_t worst = 0;
};

inline Nmse nmse_of(const std::vector<float>& got, const std::vector<float>& want) {
  Nmse r;
  double err = 0, ref = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = double(got[i]) - want[i];
    err += d * d, ref += double(want[i]) * want[i];
    if (std::fabs(d) > r.max_abs) r.max_abs = std::fabs(d), r.worst = i;
  }
  r.nmse = ref > 0 ? err / ref : err;
  return r;
}

// Every value finite, and NMSE(got, want) ≤ threshold.
inline void require_nmse(const std::vector<float>& got, const std::vector<float>& want, double threshold,
                         const std::string& what) {
  if (got.size() != want.size())
    throw std::runtime_error(what + ": size " + std::to_string(got.size()) + " vs " + std::to_string(want.size()));
  for (size_t i = 0; i < got.size(); ++i)
    if (!std::isfinite(got[i]))
      throw std::runtime_error(what + ": non-finite value " + std::to_string(got[i]) + " at " + std::to_string(i));
  const Nmse r = nmse_of(got, want);
  if (!(r.nmse <= threshold)) {
    std::ostringstream os;
    os.precision(6);
    os << what << ": NMSE " << r.nmse << " > " << threshold << "; worst at " << r.worst << ": got "
       << got[r.worst] << ", want " << want[r.worst] << " (of " << got.size() << ")";
    throw std::runtime_error(os.str());
  }
}

inline void require_equal_bits(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  if (got.size() != want.size()) throw std::runtime_error(what + ": size mismatch");
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], 4) != 0) {
      std::ostringstream os;
      os.precision(9);
      os << what << ": not bit-identical at " << i << ": got " << got[i] << ", want " << want[i];
      throw std::runtime_error(os.str());
    }
  }
}

inline std::vector<float> uniform(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

inline std::string shape(std::initializer_list<std::pair<const char*, int64_t>> dims) {
  std::string s;
  for (const auto& d : dims) s += (s.empty() ? "" : " ") + std::string(d.first) + "=" + std::to_string(d.second);
  return s;
}

}  // namespace gpucheck
