// A number held in a storage format narrower than float32 (bfloat16, float16)
// whose every operation computes in float32 and rounds its result to the
// format, to nearest even: the arithmetic of the precision convention
// "storage" (PyTorch 1.13's CPU bfloat16 kernels load each operand into
// float, compute, and store the result as c10::BFloat16, round to nearest
// even). FloatAdam<StorageFloat<bfloat16_format>> is a correct implementation
// of that convention.
//
// A float32 result rounded once more to p <= 11 bits errs by at most
// 2^-p |r| + 2^-24 |x| from the exact x (r the float32 result); the error
// model's u|x| for the storage format covers that except within 2^-16 of a
// power of two, where u|x| has 2^-8 |x| ulp's worth of room anyway
// (docs/error-model.md, "Storage formats").
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "adamconf/float_format.hpp"
#include "adamconf/hashing.hpp"
#include "adamconf/real.hpp"

namespace adamconf {

/// A float32 value rounded to `format` (exact: a float is a double).
inline float round_float_to(float x, const FloatFormat& format) {
  return static_cast<float>(round_stored(x, format));
}

/// y rounded to `format` stochastically (the precision convention
/// stochastic-rounding): to its neighbour toward zero, lo, or to the one away
/// from zero, hi, up with probability (|y| - |lo|) / (|hi| - |lo|), decided by
/// 32 uniform random bits: up iff random < that fraction * 2^32. The
/// probability is the fraction exactly when it has at most 32 bits (a normal
/// float32 y over bfloat16 or float16 drops 16 or 13 bits), within 2^-32
/// otherwise. A representable y, zero, inf and NaN stay; beyond the largest
/// finite value hi is inf.
inline float round_stochastically(float y, const FloatFormat& format, std::uint32_t random) {
  if (!std::isfinite(y) || y == 0) return y;
  const double x = y;
  const double q = std::ldexp(1.0, quantum_exponent(x, format));  // the spacing at |y|
  const double lo = std::trunc(x / q) * q;                         // exact: q is a power of two
  if (lo == x) return y;
  const double fraction = std::fabs(x - lo) / q;  // in (0, 1), exact
  double r = static_cast<double>(random) < std::ldexp(fraction, 32) ? lo + std::copysign(q, x) : lo;
  if (std::fabs(r) > format.largest_finite()) r = std::copysign(INFINITY, x);
  return static_cast<float>(r);
}

/// 32 random bits for element `element` of a tensor at step `step`, from the
/// tensor's seed: splitmix64 of the three, so every (seed, step, element) has
/// its own independent-looking draw and the same triple replays it.
inline std::uint32_t rounding_bits(std::uint64_t seed, std::uint64_t step, std::uint64_t element) {
  return static_cast<std::uint32_t>(splitmix64(splitmix64(seed ^ splitmix64(step)) + element) >> 32);
}

template <const FloatFormat& Format>
class StorageFloat {
 public:
  static constexpr const FloatFormat& format = Format;

  StorageFloat() = default;
  /// Rounds to the format, once.
  explicit StorageFloat(double x) : x_(static_cast<float>(round_stored(x, Format))) {}
  explicit StorageFloat(float x) : StorageFloat(static_cast<double>(x)) {}
  explicit StorageFloat(int x) : StorageFloat(static_cast<float>(x)) {}
  explicit StorageFloat(std::int64_t x) : StorageFloat(static_cast<float>(x)) {}
  operator double() const { return x_; }  ///< exact
  float value() const { return x_; }

  friend StorageFloat operator+(StorageFloat a, StorageFloat b) { return StorageFloat(a.x_ + b.x_); }
  friend StorageFloat operator-(StorageFloat a, StorageFloat b) { return StorageFloat(a.x_ - b.x_); }
  friend StorageFloat operator*(StorageFloat a, StorageFloat b) { return StorageFloat(a.x_ * b.x_); }
  friend StorageFloat operator/(StorageFloat a, StorageFloat b) { return StorageFloat(a.x_ / b.x_); }
  friend StorageFloat operator-(StorageFloat a) { return from_bits(-a.x_); }
  /// A float32 scalar operand (PyTorch's add_(Scalar) keeps it in opmath).
  friend StorageFloat operator+(StorageFloat a, float b) { return StorageFloat(a.x_ + b); }
  friend bool operator==(StorageFloat a, StorageFloat b) { return a.x_ == b.x_; }
  friend bool operator<(StorageFloat a, StorageFloat b) { return a.x_ < b.x_; }
  friend bool operator>(StorageFloat a, StorageFloat b) { return a.x_ > b.x_; }

  friend StorageFloat sqrt(StorageFloat a) { return StorageFloat(std::sqrt(a.x_)); }
  friend StorageFloat fma(StorageFloat a, StorageFloat b, StorageFloat c) { return StorageFloat(std::fma(a.x_, b.x_, c.x_)); }
  friend StorageFloat pow(StorageFloat a, StorageFloat b) { return StorageFloat(std::pow(a.x_, b.x_)); }
  friend StorageFloat max(StorageFloat a, StorageFloat b) { return a < b ? b : a; }

 private:
  static StorageFloat from_bits(float x) {
    StorageFloat s;
    s.x_ = x;
    return s;
  }
  float x_ = 0;
};

/// The type a scalar operand is held in: F, or float32 beside a StorageFloat.
template <class F>
struct opmath_scalar {
  using type = F;
};
template <const FloatFormat& Format>
struct opmath_scalar<StorageFloat<Format>> {
  using type = float;
};

using Bfloat16Arithmetic = StorageFloat<bfloat16_format>;
using Float16Arithmetic = StorageFloat<float16_format>;

/// A decimal text (a hyperparameter) as F holds it: correctly rounded to
/// F's storage format, or parse_decimal<F> for a hardware type.
template <class F>
F parse_in_format(const std::string& text) {
  if constexpr (requires { F::format; }) return F(round_to_format(parse_decimal<ReferenceReal>(text), F::format));
  else return parse_decimal<F>(text);
}

}  // namespace adamconf
