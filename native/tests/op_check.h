// Helpers for the op tests: seeded random fills, a thread pool, closeness checks that throw with a
// message (so they work under any TEST runner), and the finite-difference gradient check.
// The FD check: for a scalar loss ℓ(θ) = Σ out(θ) ⊙ R (R fixed random), compare the op's backward
// (run with dout = R) to (ℓ(θ+ε) − ℓ(θ−ε)) / 2ε at every element of θ, summed in double.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "ops.h"

namespace opcheck {

inline tunesmith::ThreadPool& pool() {
  static tunesmith::ThreadPool p(3);  // odd on purpose: more threads than this machine's cores
  return p;
}
inline tunesmith::OpContext ctx() { return tunesmith::OpContext{&pool()}; }

inline std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

inline void require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

// max |a-b| / max(|b|, floor) over all elements must be <= tol.
inline void require_close(const std::vector<float>& a, const std::vector<float>& b, double tol,
                          const std::string& what, double floor = 1e-3) {
  require(a.size() == b.size(), what + ": size mismatch");
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    require(std::isfinite(a[i]), what + ": non-finite value at " + std::to_string(i));
    const double err = std::fabs(double(a[i]) - b[i]) / std::max(std::fabs(double(b[i])), floor);
    if (err > worst) worst = err, at = i;
  }
  if (worst > tol) {
    std::ostringstream os;
    os << what << ": relative error " << worst << " > " << tol << " at " << at << " (got " << a[at] << ", want "
       << b[at] << ")";
    throw std::runtime_error(os.str());
  }
}

inline double weighted_sum(const std::vector<float>& out, const std::vector<float>& r) {
  double s = 0;
  for (size_t i = 0; i < out.size(); ++i) s += double(out[i]) * r[i];
  return s;
}

// Central differences of loss() with respect to every element of theta, compared to `analytic`.
// The tolerance is relative to the largest gradient magnitude (FD on float32 has absolute noise).
inline void require_grad(std::vector<float>& theta, const std::vector<float>& analytic,
                         const std::function<double()>& loss, const std::string& what, double tol = 2e-2,
                         float eps = 1e-2f) {
  require(theta.size() == analytic.size(), what + ": gradient size mismatch");
  double scale = 1e-6;
  for (float g : analytic) scale = std::max(scale, std::fabs(double(g)));
  for (size_t i = 0; i < theta.size(); ++i) {
    const float keep = theta[i];
    theta[i] = keep + eps;
    const double up = loss();
    theta[i] = keep - eps;
    const double down = loss();
    theta[i] = keep;
    const double fd = (up - down) / (2.0 * eps);
    const double err = std::fabs(fd - analytic[i]) / scale;
    if (!(err <= tol)) {
      std::ostringstream os;
      os << what << ": gradient mismatch at " << i << ": analytic " << analytic[i] << ", finite difference " << fd
         << " (error " << err << " of max |g| " << scale << ")";
      throw std::runtime_error(os.str());
    }
  }
}

}  // namespace opcheck
