// Target floating-point formats (the formats implementations under test compute
// in) and exact operations on them: correct rounding of an exact value, the ulp
// of a value, the unit roundoff, and text forms (hex floats as Python's float.hex).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>

namespace adamconf {

/// 2^e as a double, exactly, for a normal power (-1022 <= e <= 1023): its bits built, no libm call.
constexpr double normal_power_of_two(int e) { return std::bit_cast<double>(static_cast<std::uint64_t>(e + 1023) << 52); }

struct FloatFormat {
  const char* name;  ///< "float32" or "float64": the names users type
  int precision;     ///< significand bits, hidden bit included (24, 53)
  int min_exponent;  ///< exponent of the smallest normal number (-126, -1022)
  int max_exponent;  ///< exponent of the largest finite number (127, 1023)

  /// Unit roundoff u = 2^-p: round-to-nearest gives |fl(x) - x| <= u|x| for normal results.
  double unit_roundoff() const { return std::ldexp(1.0, -precision); }
  /// The smallest positive subnormal, 2^(emin - p + 1); the absolute error of a
  /// rounding into the subnormal range is at most half of it.
  double smallest_subnormal() const { return std::ldexp(1.0, min_exponent - precision + 1); }
  /// (2 - 2^(1-p)) 2^emax, exact (every format here has emax <= 1023 and p <= 53).
  constexpr double largest_finite() const {
    return (2.0 - normal_power_of_two(1 - precision)) * normal_power_of_two(max_exponent);
  }
  /// Whether this is float32 or float64, whose roundings of a double the hardware does.
  constexpr bool is_float32() const { return precision == 24 && min_exponent == -126 && max_exponent == 127; }
  constexpr bool is_float64() const { return precision == 53 && min_exponent == -1022 && max_exponent == 1023; }
};

inline constexpr FloatFormat float32_format{"float32", 24, -126, 127};
inline constexpr FloatFormat float64_format{"float64", 53, -1022, 1023};
/// Storage formats of mixed precision: bfloat16 (float32's exponent range, 8
/// significand bits) and IEEE binary16 (max 65504, subnormals from 2^-24).
inline constexpr FloatFormat bfloat16_format{"bfloat16", 8, -126, 127};
inline constexpr FloatFormat float16_format{"float16", 11, -14, 15};

/// Whether f is narrower than float32 (a storage format: bfloat16, float16).
inline bool is_storage_format(const FloatFormat& f) { return f.precision < 24; }

/// "float32", "float64", "bfloat16", "float16" -> the format; nullopt for anything else.
std::optional<FloatFormat> format_by_name(const std::string& name);
/// The same, as a pointer to the format's constant (nullptr for anything else).
const FloatFormat* known_format(const std::string& name);

/// Exponent of the quantum (the ulp) of the format at exact value x:
/// ulp(x) = 2^quantum_exponent. For x = 0 or subnormal x it is emin - p + 1.
template <class Real>
int quantum_exponent(const Real& x, const FloatFormat& f) {
  using std::frexp;
  int leading = f.min_exponent;
  if (x != 0) {
    int e = 0;
    // x = frac * 2^e, 0.5 <= |frac| < 1, so the leading bit is 2^(e-1)
    if constexpr (requires { mpfr_get_exp(x.backend().data()); }) e = static_cast<int>(mpfr_get_exp(x.backend().data()));
    else if constexpr (std::is_same_v<Real, double>) {
      const int biased = static_cast<int>(std::bit_cast<std::uint64_t>(x) >> 52 & 0x7ff);
      if (biased != 0 && biased != 0x7ff) e = biased - 1022;  // a normal double: its exponent field, as frexp reads it
      else (void)frexp(x, &e);
    } else (void)frexp(x, &e);
    leading = std::max(e - 1, f.min_exponent);
  }
  return leading - (f.precision - 1);
}

/// The ulp of the format at exact value x (the spacing of representable numbers there).
template <class Real>
Real ulp_at(const Real& x, const FloatFormat& f) {
  using std::ldexp;
  return ldexp(Real(1), quantum_exponent(x, f));
}

/// Correctly rounds exact x to the format (round to nearest, ties to even),
/// subnormals included; returns +-inf on overflow. Exact: no double rounding.
template <class Real>
double round_to_format(const Real& x, const FloatFormat& f) {
  using std::floor;
  using std::ldexp;
  if (x == 0) return 0.0;
  if constexpr (std::is_same_v<Real, double>) {
    // The hardware's conversion rounds to nearest even, as below; float32's only where x is within its normal
    // range (a conversion into float32's subnormals would follow MXCSR's flush-to-zero, which builtin:float sets).
    if (f.is_float64() && std::isfinite(x)) return x;
    if (f.is_float32() && std::fabs(x) >= 0x1p-126 && std::fabs(x) <= 0x1p+129) return static_cast<double>(static_cast<float>(x));
  }
  const int q = quantum_exponent(x, f);
  const Real scaled = ldexp(x, -q);  // an integer after rounding, |scaled| < 2^p
  Real r = floor(scaled);
  const Real frac = scaled - r;
  const Real half = Real(1) / 2;
  if (frac > half || (frac == half && floor(r / 2) * 2 != r)) r += 1;
  const Real y = ldexp(r, q);
  const double largest = f.largest_finite();
  if (y > Real(largest)) return std::numeric_limits<double>::infinity();
  if (y < Real(-largest)) return -std::numeric_limits<double>::infinity();
  return static_cast<double>(y);  // exact: y has at most p <= 53 significant bits
}

/// Whether `format` holds x: a finite x is one of its values (inf and NaN are held by every format).
inline bool holds(const FloatFormat& format, double x) {
  return !std::isfinite(x) || round_to_format(x, format) == x;
}

/// A double rounded to `format` once, to nearest even, as IEEE 754 stores it:
/// a zero keeps its sign, a value that underflows to zero keeps x's sign
/// (-2^-30 is -0 in float16), inf or NaN stays as it is.
inline double round_stored(double x, const FloatFormat& format) {
  return !std::isfinite(x) || x == 0 ? x : std::copysign(round_to_format(x, format), x);
}

/// The distance from exact x to the nearest value that rounds to the infinity
/// of x's sign: 0 when x itself overflows the format (|x| >= largest +
/// ulp/2, the round-to-nearest overflow threshold), else threshold - |x|.
/// An implementation's +-inf agrees with x within `allowed` when this is <= allowed.
template <class Real>
Real distance_to_overflow(const Real& x, const FloatFormat& f) {
  using std::abs;
  using std::ldexp;
  const Real threshold = Real(f.largest_finite()) + ldexp(Real(1), f.max_exponent - f.precision);
  const Real d = threshold - Real(abs(x));
  return d > 0 ? d : Real(0);
}

/// Python's float.hex() text of a double: "0x1.999999999999ap-4", "-0x0.0p+0", "inf".
std::string hex_float(double x);
/// hex_float without the fraction's trailing zeros: "0x1.8p-3", "0x1p-4", "-0x0p+0".
/// Python's float.fromhex and C's strtod read it.
std::string hex_float_short(double x);
/// Parses a hex float or decimal text into a double (strtod semantics); nullopt
/// unless the whole text is a number.
std::optional<double> parse_double(const std::string& text);

}  // namespace adamconf
