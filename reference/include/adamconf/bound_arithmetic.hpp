// Arithmetic on error bounds that stays a bound when it is evaluated in a
// cheap type. Up<T> holds an upper bound of a nonnegative real quantity and
// Down<T> a lower bound of one; the operators only combine them in the ways
// that keep that true (Up + Up, Up * Up, Up / Down, Down - Up, ...), so the
// type checks which way every intermediate must round.
//
// T = double or long double (docs/error-model.md, "Evaluating the bound in a
// hardware type"), p its significand bits (53; 64 for x87 long double), q its
// smallest subnormal (2^-1074; 2^-16445): each operation is rounded to nearest
// by the hardware (the default mode and full precision, checked by the error
// model) and then pushed outward by
//   nudge_up(x)   = x (1 + 2^(1-p)) + q,
//   nudge_down(x) = max(0, x (1 - 2^(1-p)) - q), at most the largest finite.
// Proof for nudge_up (nudge_down is the mirror image): let x = RN(z), z >= 0.
// If x is normal, x in [2^e, 2^(e+1)), then z <= x + 2^(e-p) while
// x 2^(1-p) >= 2^(e+1-p) = ulp(x), so RN(x (1 + 2^(1-p))) >= x + ulp(x) >= z (RN
// is monotone and x + ulp(x) is representable); adding q rounds to no less. If
// x is subnormal or 0, z <= x + q/2 and the sum is x + q exactly (a subnormal
// or the smallest normal). inf stays inf. An FMA contraction of either line
// rounds once and keeps the argument. So an Up<T> is never below the value the
// same formula has in exact arithmetic, and a Down<T> never above.
//
// T = a multiprecision type: the operations are the plain ones (the model's
// definition, within 2^-250 relative of exact arithmetic).
//
// The lower reading (Lower = true; ErrorModel's, for the fast exact path):
// the same quantities estimated from below, so every operation rounds the
// other way. Up<T, true> is at most the formula's exact value and Down<T, true>
// at least it (nudge_down and nudge_up exchanged, with the same proofs); a
// lower reading fed values at most the exact ones (Down: at least) is then
// never above the formula evaluated exactly.
//
// Zero is exact in both: an Up of 0 says the quantity is exactly 0 (every
// nonzero result is nudged to at least 2^-1074), so 0 * inf is 0 ("an exactly
// zero term has no error"), and no operation here produces NaN.
//
// Every operation here is forced inline ([[gnu::always_inline]]): GCC left the
// lower reading's + out of line, called hundreds of times an element on the
// fast exact path; inlined, an audit's fast path runs 5% fewer instructions
// (callgrind: 944 M -> 897 M over a 65536-element float32 step, one thread).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "adamconf/lanes.hpp"

namespace adamconf {

/// The hardware binary types (and lanes of double), rounded outward here; anything else is exact enough.
template <class T>
inline constexpr bool is_directed_v = std::is_same_v<T, double> || std::is_same_v<T, long double> || is_lanes_v<T>;

/// 2^(1-p): the relative spacing of T (2^-52 for double, 2^-63 for x87 long double).
template <class T>
inline constexpr scalar_of_t<T> spacing_v = std::numeric_limits<scalar_of_t<T>>::epsilon();

template <class T>
[[gnu::always_inline]] inline T nudge_up(T x) {
  using S = scalar_of_t<T>;
  if constexpr (is_directed_v<T>) return x * T(1 + spacing_v<T>) + T(std::numeric_limits<S>::denorm_min());
  else return x;
}
template <class T>
[[gnu::always_inline]] inline T nudge_down(T x) {
  using S = scalar_of_t<T>;
  if constexpr (is_directed_v<T>) {
    using std::min;
    const T y = x * T(1 - spacing_v<T>) - T(std::numeric_limits<S>::denorm_min());
    return select(y > T(0), min(y, T(std::numeric_limits<S>::max())), T(0));
  } else {
    return x > 0 ? x : T(0);
  }
}

// Infinity and finiteness without std::numeric_limits<T>::infinity() or
// max(): for Boost.Multiprecision's MPFR numbers those are statics filled in
// on first use without a lock (a thread may read max() as 0.5 while another
// fills it in), and bounds are computed on several threads at once. An MPFR
// number made from double's infinity is infinite; isfinite reads the number.
/// The rounding of an Up result (up; down in the lower reading) and of a Down
/// result (down; up, at most the largest finite, in the lower reading).
template <class T, bool Lower>
[[gnu::always_inline]] inline T round_up_side(T x) {
  if constexpr (Lower) return nudge_down<T>(x);
  else return nudge_up<T>(x);
}
template <class T, bool Lower>
[[gnu::always_inline]] inline T round_down_side(T x) {
  if constexpr (Lower) {
    if constexpr (is_directed_v<T>) {
      using std::min;
      return min(nudge_up<T>(x), T(std::numeric_limits<scalar_of_t<T>>::max()));
    } else {
      return x;
    }
  } else {
    return nudge_down<T>(x);
  }
}

// Each operation below picks per lane (pick: a scalar, MPFR included, takes
// one branch; lanes of double compute both and choose lane by lane), so a
// batch's bounds are, lane for lane, what the scalar operations give.
template <class T, bool Lower = false>
struct Up {
  T x;
  static Up exact(const T& v) { return Up{v}; }  ///< v is representable: no rounding
  static Up infinite() { return Up{T(std::numeric_limits<double>::infinity())}; }
  auto is_zero() const { return x == 0; }
  auto is_finite() const {
    using std::isfinite;
    return isfinite(x);
  }
};

template <class T, bool Lower = false>
struct Down {
  T x;
  static Down exact(const T& v) { return Down{v}; }
};

// ---- upper bounds ----
template <class T, bool L>
[[gnu::always_inline]] inline Up<T, L> operator+(const Up<T, L>& a, const Up<T, L>& b) {
  // an exact zero added is exact: 0 + 0 stays 0, as in MPFR
  return {pick(a.x == 0, ADAMCONF_BRANCH(T) { return b.x; },
               ADAMCONF_BRANCH(T) { return pick(b.x == 0, ADAMCONF_BRANCH(T) { return a.x; }, ADAMCONF_BRANCH(T) { return round_up_side<T, L>(a.x + b.x); }); })};
}
template <class T, bool L>
[[gnu::always_inline]] inline Up<T, L> operator*(const Up<T, L>& a, const Up<T, L>& b) {
  return {pick(either(a.x == 0, b.x == 0), ADAMCONF_BRANCH(T) { return T(0); }, ADAMCONF_BRANCH(T) { return round_up_side<T, L>(a.x * b.x); })};
}
template <class T, bool L>
[[gnu::always_inline]] inline Up<T, L> operator/(const Up<T, L>& a, const Down<T, L>& b) {
  return {pick(a.x == 0, ADAMCONF_BRANCH(T) { return T(0); },
               ADAMCONF_BRANCH(T) {
                 return pick(either(b.x == 0, !a.is_finite()), ADAMCONF_BRANCH(T) { return Up<T, L>::infinite().x; },
                             ADAMCONF_BRANCH(T) { return round_up_side<T, L>(a.x / b.x); });
               })};
}
template <class T, bool L>
[[gnu::always_inline]] inline Up<T, L> sqrt(const Up<T, L>& a) {
  using std::sqrt;
  return {pick(a.x == 0, ADAMCONF_BRANCH(T) { return T(0); }, ADAMCONF_BRANCH(T) { return round_up_side<T, L>(sqrt(a.x)); })};
}
template <class T, bool L>
inline Up<T, L> max(const Up<T, L>& a, const Up<T, L>& b) {
  return {pick(a.x < b.x, ADAMCONF_BRANCH(T) { return b.x; }, ADAMCONF_BRANCH(T) { return a.x; })};
}
template <class T, bool L>
inline Up<T, L> min(const Up<T, L>& a, const Up<T, L>& b) {
  return {pick(b.x < a.x, ADAMCONF_BRANCH(T) { return b.x; }, ADAMCONF_BRANCH(T) { return a.x; })};
}
template <class T, bool L>
inline auto operator>=(const Up<T, L>& a, const Down<T, L>& b) { return a.x >= b.x; }

// ---- lower bounds ----
template <class T, bool L>
[[gnu::always_inline]] inline Down<T, L> operator+(const Down<T, L>& a, const Down<T, L>& b) { return {round_down_side<T, L>(a.x + b.x)}; }
template <class T, bool L>
[[gnu::always_inline]] inline Down<T, L> operator*(const Down<T, L>& a, const Down<T, L>& b) {
  return {pick(either(a.x == 0, b.x == 0), ADAMCONF_BRANCH(T) { return T(0); }, ADAMCONF_BRANCH(T) { return round_down_side<T, L>(a.x * b.x); })};
}
/// a - b, at least 0 (every quantity here is nonnegative).
template <class T, bool L>
[[gnu::always_inline]] inline Down<T, L> operator-(const Down<T, L>& a, const Up<T, L>& b) {
  return {pick(!b.is_finite(), ADAMCONF_BRANCH(T) { return T(0); },
               ADAMCONF_BRANCH(T) {
                 const T d = a.x - b.x;
                 return pick(d > 0, ADAMCONF_BRANCH(T) { return round_down_side<T, L>(d); }, ADAMCONF_BRANCH(T) { return T(0); });
               })};
}
template <class T, bool L>
[[gnu::always_inline]] inline Down<T, L> sqrt(const Down<T, L>& a) {
  using std::sqrt;
  return {round_down_side<T, L>(sqrt(a.x))};
}

}  // namespace adamconf
