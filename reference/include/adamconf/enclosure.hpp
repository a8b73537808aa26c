// Enclosure<T>: an exact real known to lie in [lo, hi], two numbers of a
// hardware type T (double, or x87 long double), the number of the fast exact
// path (docs/error-model.md, "The fast exact path"). The reference and the
// error model run on it unchanged, as they run on MPFR: every operation here
// returns an interval holding the exact result of the operation applied to any
// reals of its operands' intervals, so the reference's exact value lies in the
// interval it ends with.
//
// Outward rounding without changing the rounding mode: each end is computed
// rounded to nearest (r = RN(z)) and, unless an error-free check shows r = z,
// pushed out by d = |r| 2^(1-p) + q (q the smallest subnormal):
//   r - d <= z <= r + d.
// Proof: for normal r in [2^e, 2^(e+1)), |z - r| <= ulp(r)/2 = 2^(e-p) while
// RN(|r| 2^(1-p)) >= 2^(e+1-p) (RN is monotone and 2^(e+1-p) is representable),
// and RN(r - d) <= RN(r - ulp(r)) = r - ulp(r) (representable); likewise up. For
// subnormal r the error is at most q/2 < d. The checks: a sum is exact when
// TwoSum's error term is 0 (exact in every range), a product, quotient or
// square root when the FMA residual is 0 and r lies well above the subnormal
// range (there the residual is itself exact). Exact results stay points, so
// an exact zero stays 0 and a value a format holds is recognised as held.
//
// Decisions: a comparison of two intervals is answered where every pair of
// reals in them answers alike, and otherwise throws Undecided; so does
// dividing by, or taking the square root of, an interval reaching zero or
// below it, and a result beyond T's range. A caller of the fast path catches
// Undecided and decides that element in MPFR.
#pragma once

#include <cmath>
#include <concepts>
#include <algorithm>
#include <cstdint>
#include <string>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "adamconf/float_format.hpp"
#include "adamconf/real.hpp"

namespace adamconf {

/// A decision an enclosure cannot make (a comparison of overlapping intervals,
/// a division by an interval holding 0): the element is decided in MPFR.
struct Undecided : std::runtime_error {
  Undecided() : std::runtime_error("an enclosure cannot decide this") {}
};

template <class T>
class Enclosure {
  static_assert(std::is_same_v<T, double> || std::is_same_v<T, long double>, "an enclosure of double or long double");

 public:
  T lo = 0, hi = 0;

  Enclosure() = default;
  /// A point: an integer or a floating value of at most T's precision is exact in T.
  template <class A>
    requires std::is_arithmetic_v<A>
  Enclosure(A a) : lo(static_cast<T>(a)), hi(static_cast<T>(a)) {  // NOLINT: implicit, as an MPFR number is made from an int
    static_assert(std::is_integral_v<A> || sizeof(A) <= sizeof(T), "a long double is no point of a double enclosure");
    if constexpr (std::is_integral_v<A>) {
      // beyond 2^digits an integer may not be a value of T: pushed out
      const long double limit = static_cast<long double>(std::uint64_t{1} << std::min(63, std::numeric_limits<T>::digits));
      if (std::fabs(static_cast<long double>(a)) > limit) {
        lo = down(lo, false);
        hi = up(hi, false);
      }
    }
  }
  static Enclosure between(T low, T high) {
    Enclosure e;
    e.lo = low;
    e.hi = high;
    return e;
  }
  /// The exact MPFR value x, enclosed by its roundings down and up.
  static Enclosure of(const R& x) {
    const mpfr_srcptr p = x.backend().data();
    if constexpr (std::is_same_v<T, double>)
      return between(mpfr_get_d(p, MPFR_RNDD), mpfr_get_d(p, MPFR_RNDU));
    else
      return between(mpfr_get_ld(p, MPFR_RNDD), mpfr_get_ld(p, MPFR_RNDU));
  }
  /// Decimal text ("0.999"), read exactly in MPFR and enclosed.
  static Enclosure parse(const std::string& text) { return of(R(text)); }

  bool is_point() const { return lo == hi; }
  /// The least and largest |x| over the interval.
  T magnitude_low() const { return lo > 0 ? lo : hi < 0 ? -hi : T(0); }
  T magnitude_high() const { return std::max(std::fabs(lo), std::fabs(hi)); }
  T mid() const { return lo / 2 + hi / 2; }

  /// r - d and r + d of the header (r exact: unchanged); Undecided beyond T's range.
  static T down(T r, bool exact) {
    if (!std::isfinite(r)) throw Undecided();
    return exact ? r : r - (std::fabs(r) * std::numeric_limits<T>::epsilon() + std::numeric_limits<T>::denorm_min());
  }
  static T up(T r, bool exact) {
    if (!std::isfinite(r)) throw Undecided();
    return exact ? r : r + (std::fabs(r) * std::numeric_limits<T>::epsilon() + std::numeric_limits<T>::denorm_min());
  }

  // ---- arithmetic (hidden friends: an int or a double converts on either side) ----
  friend Enclosure operator+(const Enclosure& a, const Enclosure& b) {
    return between(down(a.lo + b.lo, sum_exact(a.lo, b.lo)), up(a.hi + b.hi, sum_exact(a.hi, b.hi)));
  }
  friend Enclosure operator-(const Enclosure& a) { return between(-a.hi, -a.lo); }
  friend Enclosure operator-(const Enclosure& a, const Enclosure& b) { return a + (-b); }
  friend Enclosure operator*(const Enclosure& a, const Enclosure& b) {
    if (a.is_point() && b.is_point()) {
      const T r = a.lo * b.lo;
      const bool exact = product_exact(a.lo, b.lo, r);
      return between(down(r, exact), up(r, exact));
    }
    return extremes(a, b, [](T x, T y) { return x * y; }, [](T x, T y, T r) { return product_exact(x, y, r); });
  }
  friend Enclosure operator/(const Enclosure& a, const Enclosure& b) {
    if (b.lo <= 0 && b.hi >= 0) throw Undecided();  // a divisor that may be 0
    return extremes(a, b, [](T x, T y) { return x / y; }, [](T x, T y, T r) { return quotient_exact(x, y, r); });
  }
  Enclosure& operator+=(const Enclosure& b) { return *this = *this + b; }
  Enclosure& operator-=(const Enclosure& b) { return *this = *this - b; }
  Enclosure& operator*=(const Enclosure& b) { return *this = *this * b; }
  Enclosure& operator/=(const Enclosure& b) { return *this = *this / b; }

  // ---- decisions ----
  friend bool operator<(const Enclosure& a, const Enclosure& b) {
    if (a.hi < b.lo) return true;
    if (a.lo >= b.hi) return false;
    throw Undecided();
  }
  friend bool operator>(const Enclosure& a, const Enclosure& b) { return b < a; }
  friend bool operator<=(const Enclosure& a, const Enclosure& b) { return !(b < a); }
  friend bool operator>=(const Enclosure& a, const Enclosure& b) { return !(a < b); }
  friend bool operator==(const Enclosure& a, const Enclosure& b) {
    if (a.is_point() && b.is_point()) return a.lo == b.lo;
    if (a.hi < b.lo || b.hi < a.lo) return false;
    throw Undecided();
  }
  friend bool operator!=(const Enclosure& a, const Enclosure& b) { return !(a == b); }

  // ---- functions (found by argument-dependent lookup, as `using std::sqrt; sqrt(x)` asks) ----
  friend Enclosure abs(const Enclosure& a) {
    if (a.lo >= 0) return a;
    if (a.hi <= 0) return -a;
    return between(T(0), a.magnitude_high());
  }
  friend Enclosure sqrt(const Enclosure& a) {
    if (a.lo < 0) throw Undecided();  // the exact value may be negative (NaN in MPFR)
    const T l = std::sqrt(a.lo), h = std::sqrt(a.hi);
    return between(down(l, root_exact(a.lo, l)), up(h, root_exact(a.hi, h)));
  }
  friend Enclosure max(const Enclosure& a, const Enclosure& b) {
    return between(std::max(a.lo, b.lo), std::max(a.hi, b.hi));
  }
  friend Enclosure min(const Enclosure& a, const Enclosure& b) {
    return between(std::min(a.lo, b.lo), std::min(a.hi, b.hi));
  }
  /// x 2^e: exact unless it leaves the normal range.
  friend Enclosure ldexp(const Enclosure& a, int e) {
    const T l = std::ldexp(a.lo, e), h = std::ldexp(a.hi, e);
    // exact where scaling back restores the operand (no bit was lost below the normal range)
    return between(down(l, std::ldexp(l, -e) == a.lo), up(h, std::ldexp(h, -e) == a.hi));
  }
  /// The significand and exponent, where both ends share the exponent.
  friend Enclosure frexp(const Enclosure& a, int* e) {
    int el = 0, eh = 0;
    const T ml = std::frexp(a.lo, &el), mh = std::frexp(a.hi, &eh);
    if (el != eh || (a.lo < 0) != (a.hi < 0)) throw Undecided();
    *e = el;
    return between(ml, mh);
  }
  /// exp and log within 1 ulp (glibc's documented accuracy); pushed out by 4.
  friend Enclosure exp(const Enclosure& a) { return between(widen_down(std::exp(a.lo)), widen_up(std::exp(a.hi))); }
  friend Enclosure log(const Enclosure& a) {
    if (a.lo <= 0) throw Undecided();
    return between(widen_down(std::log(a.lo)), widen_up(std::log(a.hi)));
  }

 private:
  static T widen_down(T r) {
    for (int k = 0; k < 4; ++k) r = down(r, false);
    return r;
  }
  static T widen_up(T r) {
    for (int k = 0; k < 4; ++k) r = up(r, false);
    return r;
  }
  /// Where r = RN(z) lies far enough above the subnormal range that an FMA residual is exact.
  static bool residual_exact_range(T r) {
    return std::fabs(r) >= std::ldexp(std::numeric_limits<T>::min(), 2 * std::numeric_limits<T>::digits);
  }
  static bool sum_exact(T a, T b) {  // TwoSum (Knuth): the error of RN(a + b) exactly
    const T s = a + b, bb = s - a;
    return std::isfinite(s) && (a - (s - bb)) + (b - bb) == 0;
  }
  static bool product_exact(T a, T b, T r) {
    if (r == 0) return a == 0 || b == 0;
    return residual_exact_range(r) && std::fma(a, b, -r) == 0;
  }
  static bool quotient_exact(T a, T b, T r) {
    if (r == 0) return a == 0;
    return residual_exact_range(r) && residual_exact_range(a) && std::fma(r, b, -a) == 0;
  }
  static bool root_exact(T x, T r) {
    if (r == 0) return x == 0;
    return residual_exact_range(x) && std::fma(r, r, -x) == 0;
  }
  /// The interval of op over the corners of a and b (op monotone in each operand on intervals
  /// not holding a pole): the least and largest corner, each pushed out unless exact.
  template <class Op, class Exact>
  static Enclosure extremes(const Enclosure& a, const Enclosure& b, Op op, Exact exact) {
    const T xs[2] = {a.lo, a.hi}, ys[2] = {b.lo, b.hi};
    T low = 0, high = 0, low_x = 0, low_y = 0, high_x = 0, high_y = 0;
    bool first = true;
    for (const T x : xs)
      for (const T y : ys) {
        const T r = op(x, y);
        if (std::isnan(r)) throw Undecided();  // 0 times an infinite end: no value
        if (first || r < low) low = r, low_x = x, low_y = y;
        if (first || r > high) high = r, high_x = x, high_y = y;
        first = false;
      }
    return between(down(low, exact(low_x, low_y, low)), up(high, exact(high_x, high_y, high)));
  }
};

template <class T>
inline constexpr bool is_enclosure_v = false;
template <class T>
inline constexpr bool is_enclosure_v<Enclosure<T>> = true;

/// The reference's rounding as its error model charges it: an enclosure stands
/// in for the 257-bit reference, so its model charges what the MPFR one does.
template <>
inline int significand_bits<Enclosure<double>>() { return significand_bits<R>(); }
template <>
inline int significand_bits<Enclosure<long double>>() { return significand_bits<R>(); }

/// The roundings to the format of the interval's reals: rounding is monotone,
/// so they lie between the ends' roundings (a point where those agree). The
/// error model's representation errors |h - fl(h)| are then intervals too:
/// 0.001 enclosed by two adjacent doubles rounds to either in float64.
template <class T>
Enclosure<T> round_to_format(const Enclosure<T>& x, const FloatFormat& f) {
  return Enclosure<T>::between(round_to_format(x.lo, f), round_to_format(x.hi, f));
}

}  // namespace adamconf
