// The number types the reference runs on, and the few operations the generic
// code needs from them beyond + - * / sqrt.
//
// ReferenceReal is the default: MPFR at 257 bits (77 decimal digits), stack
// allocated. bench/ measured it about 5x faster than Boost's cpp_bin_float at
// the same precision; the README has the table. Expression templates are off so
// that `auto x = a * b` is a number, not a lazy expression.
#pragma once

#include <boost/multiprecision/cpp_bin_float.hpp>
#include <boost/multiprecision/mpfr.hpp>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace adamconf {

namespace mp = boost::multiprecision;

template <unsigned Digits10>
using MpfrReal = mp::number<mp::mpfr_float_backend<Digits10, mp::allocate_stack>, mp::et_off>;
template <unsigned Bits>
using BinFloatReal = mp::number<mp::cpp_bin_float<Bits, mp::digit_base_2>, mp::et_off>;

/// The reference precision: 77 decimal digits = 257 bits of significand.
using ReferenceReal = MpfrReal<77>;
/// The reference's number, as the harness, the properties and golden files name it.
using R = ReferenceReal;

template <class Real>
inline constexpr bool is_multiprecision_v = mp::is_number<Real>::value;

/// Parses a decimal string ("0.999", "1e-8") into Real, rounding once to
/// nearest. For the multiprecision types that is MPFR's / Boost's correctly
/// rounded conversion, so "0.999" is 999/1000 to 77 digits, not the nearest double.
/// Throws std::invalid_argument naming the text when it is not a finite number.
template <class Real>
Real parse_decimal(const std::string& text);

/// The number of bits of significand of Real (24 for float, 257 for ReferenceReal).
template <class Real>
int significand_bits() {
  return std::numeric_limits<Real>::digits;
}

/// The longest decimal text adamconf reads (77 significant digits, sign,
/// point and exponent fit many times over).
inline constexpr std::size_t kMaxDecimalLength = 200;

namespace detail {
/// Throws std::invalid_argument naming (a short prefix of) the text unless it
/// is a decimal of at most kMaxDecimalLength characters with |exponent| <= 9999.
void check_decimal_syntax(const std::string& text);
/// 'text' cut to `limit` characters, control characters replaced, for messages.
std::string quoted_prefix(const std::string& text, std::size_t limit);
}

template <class Real>
Real parse_decimal(const std::string& text) {
  detail::check_decimal_syntax(text);
  if constexpr (is_multiprecision_v<Real>) {
    return Real(text);
  } else if constexpr (requires { Real::parse(text); }) {
    return Real::parse(text);  // an Enclosure: the exact value, enclosed
  } else if constexpr (std::is_same_v<Real, float>) {
    return std::strtof(text.c_str(), nullptr);
  } else if constexpr (std::is_same_v<Real, double>) {
    return std::strtod(text.c_str(), nullptr);
  } else {
    return std::strtold(text.c_str(), nullptr);
  }
}

/// b^n by binary powering, for every Real alike: at most 2 floor(log2 n)
/// multiplications, so relative error at most 2 floor(log2 n) u. (A generic pow
/// through exp and log has no such bound for every type: Boost's cpp_bin_float
/// pow is off by more than an ulp.)
template <class Real>
Real integer_power(Real b, std::int64_t n) {
  Real result(1);
  bool first = true;
  while (n > 0) {
    if (n & 1) {
      result = first ? b : Real(result * b);
      first = false;
    }
    n >>= 1;
    if (n > 0) b = b * b;
  }
  return result;
}

/// Decimal text in scientific form with `digits` significant digits.
template <class Real>
std::string to_decimal(const Real& x, int digits) {
  if constexpr (is_multiprecision_v<Real>) {
    return x.str(digits - 1, std::ios_base::scientific);  // like %.*e: digits after the point
  } else {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%.*Le", digits - 1, static_cast<long double>(x));
    return buf;
  }
}

}  // namespace adamconf
