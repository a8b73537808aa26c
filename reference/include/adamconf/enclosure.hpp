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
#include "adamconf/lanes.hpp"
#include "adamconf/real.hpp"

namespace adamconf {

template <class T>
class Enclosure {
  static_assert(std::is_same_v<T, double> || std::is_same_v<T, long double> || is_lanes_v<T>,
                "an enclosure of double, long double or lanes of double");
  using S = scalar_of_t<T>;                  // a lane's type
  using Mask = decltype(T() < T());          // bool, or a LaneMask

 public:
  T lo = 0, hi = 0;

  Enclosure() = default;
  /// A point: an integer or a floating value of at most T's precision is exact in T.
  template <class A>
    requires std::is_arithmetic_v<A>
  Enclosure(A a) : lo(static_cast<S>(a)), hi(static_cast<S>(a)) {  // NOLINT: implicit, as an MPFR number is made from an int
    static_assert(std::is_integral_v<A> || sizeof(A) <= sizeof(S), "a long double is no point of a double enclosure");
    if constexpr (std::is_integral_v<A>) {
      // beyond 2^digits an integer may not be a value of T: pushed out
      const long double limit = static_cast<long double>(std::uint64_t{1} << std::min(63, std::numeric_limits<S>::digits));
      if (std::fabs(static_cast<long double>(a)) > limit) {
        lo = down(lo, inexact());
        hi = up(hi, inexact());
      }
    }
  }
  /// A point of every lane (a batch's values, exact).
  Enclosure(const T& x)  // NOLINT: implicit, as a double converts
    requires is_lanes_v<T>
      : lo(x), hi(x) {}
  static Enclosure between(T low, T high) {
    Enclosure e;
    e.lo = low;
    e.hi = high;
    return e;
  }
  /// The exact MPFR value x, enclosed by its roundings down and up (in every lane).
  static Enclosure of(const R& x) {
    const mpfr_srcptr p = x.backend().data();
    if constexpr (std::is_same_v<S, double>)
      return between(mpfr_get_d(p, MPFR_RNDD), mpfr_get_d(p, MPFR_RNDU));
    else
      return between(mpfr_get_ld(p, MPFR_RNDD), mpfr_get_ld(p, MPFR_RNDU));
  }
  /// Decimal text ("0.999"), read exactly in MPFR and enclosed.
  static Enclosure parse(const std::string& text) { return of(R(text)); }

  Mask is_point() const { return lo == hi; }
  /// The least and largest |x| over the interval.
  T magnitude_low() const { return select(lo > 0, lo, select(hi < 0, T(-hi), T(0))); }
  T magnitude_high() const {
    using std::max;
    using std::fabs;
    return max(fabs(lo), fabs(hi));
  }
  T mid() const { return lo / 2 + hi / 2; }

  /// r - d and r + d of the header (r exact: unchanged); Undecided beyond T's range.
  static T down(T r, Mask exact) {
    using std::isfinite;
    if (!all(isfinite(r))) throw Undecided();
    return select(exact, r, T(r - (abs_of(r) * std::numeric_limits<S>::epsilon() + std::numeric_limits<S>::denorm_min())));
  }
  static T up(T r, Mask exact) {
    using std::isfinite;
    if (!all(isfinite(r))) throw Undecided();
    return select(exact, r, T(r + (abs_of(r) * std::numeric_limits<S>::epsilon() + std::numeric_limits<S>::denorm_min())));
  }

  // ---- arithmetic (hidden friends: an int or a double converts on either side) ----
  friend Enclosure operator+(const Enclosure& a, const Enclosure& b) {
    return between(down(a.lo + b.lo, sum_exact(a.lo, b.lo)), up(a.hi + b.hi, sum_exact(a.hi, b.hi)));
  }
  friend Enclosure operator-(const Enclosure& a) { return between(-a.hi, -a.lo); }
  friend Enclosure operator-(const Enclosure& a, const Enclosure& b) { return a + (-b); }
  friend Enclosure operator*(const Enclosure& a, const Enclosure& b) {
    if constexpr (!is_lanes_v<T>) {
      // two points: the one product (extremes' answer, found without its corners)
      if (a.is_point() && b.is_point()) {
        const T r = a.lo * b.lo;
        const bool exact = product_exact(a.lo, b.lo, r);
        return between(down(r, exact), up(r, exact));
      }
    }
    return extremes(a, b, [](T x, T y) { return x * y; }, [](T x, T y, T r) { return product_exact(x, y, r); });
  }
  friend Enclosure operator/(const Enclosure& a, const Enclosure& b) {
    if (any(both(b.lo <= 0, b.hi >= 0))) throw Undecided();  // a divisor that may be 0
    return extremes(a, b, [](T x, T y) { return x / y; }, [](T x, T y, T r) { return quotient_exact(x, y, r); });
  }
  Enclosure& operator+=(const Enclosure& b) { return *this = *this + b; }
  Enclosure& operator-=(const Enclosure& b) { return *this = *this - b; }
  Enclosure& operator*=(const Enclosure& b) { return *this = *this * b; }
  Enclosure& operator/=(const Enclosure& b) { return *this = *this / b; }

  // ---- decisions (a batch's: every lane alike, else Undecided) ----
  friend bool operator<(const Enclosure& a, const Enclosure& b) { return static_cast<bool>(less_each(a, b)); }
  friend bool operator>(const Enclosure& a, const Enclosure& b) { return b < a; }
  friend bool operator<=(const Enclosure& a, const Enclosure& b) { return !(b < a); }
  friend bool operator>=(const Enclosure& a, const Enclosure& b) { return !(a < b); }
  friend bool operator==(const Enclosure& a, const Enclosure& b) {
    // two points compare their values; disjoint intervals differ; anything else is undecided
    return static_cast<bool>(equal_each(a, b));
  }
  friend bool operator!=(const Enclosure& a, const Enclosure& b) { return !(a == b); }
  /// a == b lane by lane (a == b itself for a scalar): Undecided where a lane cannot answer.
  friend Mask equal_each(const Enclosure& a, const Enclosure& b) {
    const Mask points = both(a.is_point(), b.is_point());
    const Mask disjoint = either(a.hi < b.lo, b.hi < a.lo);
    if (any(both(!points, !disjoint))) throw Undecided();
    return both(points, a.lo == b.lo);
  }
  /// a < b lane by lane (a < b itself for a scalar): every real of a below every real of b, or
  /// none of them; Undecided where a lane's intervals overlap.
  friend Mask less_each(const Enclosure& a, const Enclosure& b) {
    const Mask below = a.hi < b.lo;
    if (!all(either(below, a.lo >= b.hi))) throw Undecided();
    return below;
  }
  /// x = y where y > x, lane by lane (AMSGrad's running maximum): Undecided where a lane cannot answer.
  friend void raise_to(Enclosure& x, const Enclosure& y) {
    const Mask above = less_each(x, y);
    x = between(select(above, y.lo, x.lo), select(above, y.hi, x.hi));
  }
  /// a >= b lane by lane (a >= b itself for a scalar): Undecided where a lane cannot answer.
  friend Mask at_least(const Enclosure& a, const Enclosure& b) { return !less_each(a, b); }

  // ---- functions (found by argument-dependent lookup, as `using std::sqrt; sqrt(x)` asks) ----
  friend Enclosure abs(const Enclosure& a) {
    const Mask nonnegative = a.lo >= 0, nonpositive = a.hi <= 0;
    return between(select(nonnegative, a.lo, select(nonpositive, T(-a.hi), T(0))),
                   select(nonnegative, a.hi, select(nonpositive, T(-a.lo), a.magnitude_high())));
  }
  friend Enclosure sqrt(const Enclosure& a) {
    using std::sqrt;
    if (any(a.lo < 0)) throw Undecided();  // the exact value may be negative (NaN in MPFR)
    const T l = sqrt(a.lo), h = sqrt(a.hi);
    return between(down(l, root_exact(a.lo, l)), up(h, root_exact(a.hi, h)));
  }
  friend Enclosure max(const Enclosure& a, const Enclosure& b) {
    using std::max;
    return between(max(a.lo, b.lo), max(a.hi, b.hi));
  }
  friend Enclosure min(const Enclosure& a, const Enclosure& b) {
    using std::min;
    return between(min(a.lo, b.lo), min(a.hi, b.hi));
  }
  /// x 2^e: exact unless it leaves the normal range.
  friend Enclosure ldexp(const Enclosure& a, int e) {
    using std::ldexp;
    const T l = ldexp(a.lo, e), h = ldexp(a.hi, e);
    // exact where scaling back restores the operand (no bit was lost below the normal range)
    return between(down(l, ldexp(l, -e) == a.lo), up(h, ldexp(h, -e) == a.hi));
  }
  /// The significand and exponent, where both ends (of every lane) share the exponent.
  friend Enclosure frexp(const Enclosure& a, int* e) {
    using std::frexp;
    int el = 0, eh = 0;
    const T ml = frexp(a.lo, &el), mh = frexp(a.hi, &eh);
    if (el != eh || any((a.lo < 0) != (a.hi < 0))) throw Undecided();
    *e = el;
    return between(ml, mh);
  }
  /// exp and log within 1 ulp (glibc's documented accuracy); pushed out by 4.
  friend Enclosure exp(const Enclosure& a) {
    using std::exp;
    return between(widen_down(exp(a.lo)), widen_up(exp(a.hi)));
  }
  friend Enclosure log(const Enclosure& a) {
    using std::log;
    if (any(a.lo <= 0)) throw Undecided();
    return between(widen_down(log(a.lo)), widen_up(log(a.hi)));
  }

 private:
  static T abs_of(T x) {
    using std::fabs;
    return fabs(x);
  }
  static Mask inexact() {
    if constexpr (std::is_same_v<Mask, bool>) return false;
    else return Mask::all_of(false);
  }
  static T widen_down(T r) {
    for (int k = 0; k < 4; ++k) r = down(r, inexact());
    return r;
  }
  static T widen_up(T r) {
    for (int k = 0; k < 4; ++k) r = up(r, inexact());
    return r;
  }
  /// Where r = RN(z) lies far enough above the subnormal range that an FMA residual is exact.
  static Mask residual_exact_range(T r) {
    static const S limit = std::ldexp(std::numeric_limits<S>::min(), 2 * std::numeric_limits<S>::digits);
    return abs_of(r) >= T(limit);
  }
  static Mask fma_zero(T a, T b, T c) {
    using std::fma;
    return fma(a, b, c) == T(0);
  }
  static Mask sum_exact(T a, T b) {  // TwoSum (Knuth): the error of RN(a + b) exactly
    using std::isfinite;
    const T s = a + b, bb = s - a;
    return both(isfinite(s), (a - (s - bb)) + (b - bb) == T(0));
  }
  static Mask product_exact(T a, T b, T r) {
    return pick(r == T(0), ADAMCONF_BRANCH(Mask) { return either(a == T(0), b == T(0)); },
                ADAMCONF_BRANCH(Mask) { return both(residual_exact_range(r), fma_zero(a, b, -r)); });
  }
  static Mask quotient_exact(T a, T b, T r) {
    return pick(r == T(0), ADAMCONF_BRANCH(Mask) { return a == T(0); },
                ADAMCONF_BRANCH(Mask) { return both(both(residual_exact_range(r), residual_exact_range(a)), fma_zero(r, b, -a)); });
  }
  static Mask root_exact(T x, T r) {
    return pick(r == T(0), ADAMCONF_BRANCH(Mask) { return x == T(0); },
                ADAMCONF_BRANCH(Mask) { return both(residual_exact_range(x), fma_zero(r, r, -x)); });
  }
  /// The interval of op over the corners of a and b (op monotone in each operand on intervals
  /// not holding a pole): the least and largest corner (the first of equal ones), each pushed
  /// out unless exact; lane by lane.
  template <class Op, class Exact>
  static Enclosure extremes(const Enclosure& a, const Enclosure& b, Op op, Exact exact) {
    using std::isnan;
    const T xs[2] = {a.lo, a.hi}, ys[2] = {b.lo, b.hi};
    T low = 0, high = 0, low_x = 0, low_y = 0, high_x = 0, high_y = 0;
    bool first = true;
    for (const T& x : xs)
      for (const T& y : ys) {
        const T r = op(x, y);
        if (any(isnan(r))) throw Undecided();  // 0 times an infinite end: no value
        if (first) {
          low = high = r, low_x = high_x = x, low_y = high_y = y;
          first = false;
          continue;
        }
        const Mask below = r < low, above = r > high;
        low = select(below, r, low), low_x = select(below, x, low_x), low_y = select(below, y, low_y);
        high = select(above, r, high), high_x = select(above, x, high_x), high_y = select(above, y, high_y);
      }
    return between(down(low, exact(low_x, low_y, low)), up(high, exact(high_x, high_y, high)));
  }
};

/// a >= b and a == b for any other number (an enclosure's are its own, lane by lane).
template <class Real>
  requires(!requires(const Real& x) { x.lo; })
bool at_least(const Real& a, const Real& b) {
  return a >= b;
}
template <class Real, class B>
  requires(!requires(const Real& x) { x.lo; })
bool equal_each(const Real& a, const B& b) {
  return a == b;  // (b an int: MPFR compares without a temporary)
}
template <class Real>
  requires(!requires(const Real& x) { x.lo; })
void raise_to(Real& x, const Real& y) {
  if (y > x) x = y;
}

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
template <>
inline int significand_bits<Enclosure<Lanes<kBatchLanes>>>() { return significand_bits<R>(); }

/// Each lane rounded to the format (as a double).
template <int N>
Lanes<N> round_to_format(const Lanes<N>& x, const FloatFormat& f) {
  return Lanes<N>::map(x, [&f](double y) { return round_to_format(y, f); });
}

/// The roundings to the format of the interval's reals: rounding is monotone,
/// so they lie between the ends' roundings (a point where those agree). The
/// error model's representation errors |h - fl(h)| are then intervals too:
/// 0.001 enclosed by two adjacent doubles rounds to either in float64.
template <class T>
Enclosure<T> round_to_format(const Enclosure<T>& x, const FloatFormat& f) {
  return Enclosure<T>::between(round_to_format(x.lo, f), round_to_format(x.hi, f));
}

}  // namespace adamconf
