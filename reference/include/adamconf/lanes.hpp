// Lanes<N>: N doubles operated on at once, the number type of the fast exact
// path's element batches (docs/error-model.md, "The fast exact path", "Batches
// of lanes").
// Every arithmetic operation is the same IEEE 754 double operation applied to
// each lane (GCC's vector extensions; a lane's result is bit for bit what the
// double operation gives), so an Enclosure<Lanes<N>> or an error-model bound
// evaluated on Lanes<N> holds in each lane exactly what the double evaluation
// of that lane's element gives.
//
// Decisions: a comparison gives a LaneMask, one truth per lane. Where code
// branches on it (`if (a < b)`), the mask is a decision of the whole batch: taken
// where every lane answers alike, and otherwise Undecided is thrown, so that the
// batch's elements are stepped one by one (enclosure.hpp). Code that must not
// branch per batch picks per lane (`select`, `pick`).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <type_traits>

namespace adamconf {

/// A decision an enclosure cannot make (a comparison of overlapping intervals,
/// a division by an interval holding 0), or lanes of a batch that answer a
/// decision differently: the element (the batch's elements) is decided elsewhere.
struct Undecided : std::runtime_error {
  Undecided() : std::runtime_error("an enclosure cannot decide this") {}
};

/// GCC's vector types of N doubles and of N 64-bit masks (a vector_size cannot depend on a template parameter).
template <int N>
struct LaneVectors;
template <>
struct LaneVectors<2> {
  using V = double __attribute__((vector_size(16)));
  using M = std::int64_t __attribute__((vector_size(16)));
};
template <>
struct LaneVectors<4> {
  using V = double __attribute__((vector_size(32)));
  using M = std::int64_t __attribute__((vector_size(32)));
};
template <>
struct LaneVectors<8> {
  using V = double __attribute__((vector_size(64)));
  using M = std::int64_t __attribute__((vector_size(64)));
};

template <int N>
struct LaneMask {
  using M = typename LaneVectors<N>::M;
  M m;  ///< -1 where true, 0 where false

  static LaneMask all_of(bool b) {
    LaneMask r;
    for (int i = 0; i < N; ++i) r.m[i] = b ? -1 : 0;
    return r;
  }
  bool lane(int i) const { return m[i] != 0; }
  /// The whole batch's answer: every lane true, every lane false, or Undecided.
  explicit operator bool() const {
    bool every = true, none = true;
    for (int i = 0; i < N; ++i) (m[i] ? none : every) = false;
    if (every) return true;
    if (none) return false;
    throw Undecided();
  }
  friend LaneMask operator&(LaneMask a, LaneMask b) { return {a.m & b.m}; }
  friend LaneMask operator|(LaneMask a, LaneMask b) { return {a.m | b.m}; }
  friend LaneMask operator!(LaneMask a) { return {~a.m}; }
  friend LaneMask operator!=(LaneMask a, LaneMask b) { return {a.m ^ b.m}; }
  friend bool any(LaneMask a) {
    for (int i = 0; i < N; ++i)
      if (a.m[i]) return true;
    return false;
  }
  friend bool all(LaneMask a) {
    for (int i = 0; i < N; ++i)
      if (!a.m[i]) return false;
    return true;
  }
};

template <int N>
struct Lanes {
  using V = typename LaneVectors<N>::V;
  V v;

  Lanes() : v{} {}
  /// Every lane x (a number of at most double's precision: exact).
  template <class A>
    requires std::is_arithmetic_v<A>
  Lanes(A x) {  // NOLINT: implicit, as a double is made from an int
    static_assert(!std::is_same_v<A, long double>, "a long double is no lane of a double batch");
    for (int i = 0; i < N; ++i) v[i] = static_cast<double>(x);
  }
  static Lanes of(V v) {
    Lanes r;
    r.v = v;
    return r;
  }
  double operator[](int i) const { return v[i]; }  // (a lane is set through v: no reference to a vector element)

  friend Lanes operator+(const Lanes& a, const Lanes& b) { return of(a.v + b.v); }
  friend Lanes operator-(const Lanes& a, const Lanes& b) { return of(a.v - b.v); }
  friend Lanes operator*(const Lanes& a, const Lanes& b) { return of(a.v * b.v); }
  friend Lanes operator/(const Lanes& a, const Lanes& b) { return of(a.v / b.v); }
  friend Lanes operator-(const Lanes& a) { return of(-a.v); }
  Lanes& operator+=(const Lanes& b) { return *this = *this + b; }
  Lanes& operator-=(const Lanes& b) { return *this = *this - b; }
  Lanes& operator*=(const Lanes& b) { return *this = *this * b; }
  Lanes& operator/=(const Lanes& b) { return *this = *this / b; }

  friend LaneMask<N> operator<(const Lanes& a, const Lanes& b) { return {a.v < b.v}; }
  friend LaneMask<N> operator<=(const Lanes& a, const Lanes& b) { return {a.v <= b.v}; }
  friend LaneMask<N> operator>(const Lanes& a, const Lanes& b) { return {a.v > b.v}; }
  friend LaneMask<N> operator>=(const Lanes& a, const Lanes& b) { return {a.v >= b.v}; }
  friend LaneMask<N> operator==(const Lanes& a, const Lanes& b) { return {a.v == b.v}; }
  friend LaneMask<N> operator!=(const Lanes& a, const Lanes& b) { return {a.v != b.v}; }

  // ---- functions, lane by lane (found by argument-dependent lookup) ----
  friend Lanes select(LaneMask<N> c, const Lanes& a, const Lanes& b) { return of(c.m ? a.v : b.v); }
  /// The sign bit cleared, as std::fabs does (|-0| = +0, bit for bit).
  friend Lanes fabs(const Lanes& a) {
    using M = typename LaneVectors<N>::M;
    return of((V)((M)a.v & std::numeric_limits<std::int64_t>::max()));
  }
  friend LaneMask<N> isfinite(const Lanes& a) { return fabs(a) <= Lanes(std::numeric_limits<double>::max()); }
  friend LaneMask<N> isnan(const Lanes& a) { return {a.v != a.v}; }
  /// std::max's and std::min's choices, lane by lane: (a < b) ? b : a and (b < a) ? b : a.
  friend Lanes max(const Lanes& a, const Lanes& b) { return of(a.v < b.v ? b.v : a.v); }
  friend Lanes min(const Lanes& a, const Lanes& b) { return of(b.v < a.v ? b.v : a.v); }
  friend Lanes sqrt(const Lanes& a) { return map(a, [](double x) { return std::sqrt(x); }); }
  friend Lanes fma(const Lanes& a, const Lanes& b, const Lanes& c) {
    Lanes r;
    for (int i = 0; i < N; ++i) r.v[i] = std::fma(a.v[i], b.v[i], c.v[i]);
    return r;
  }
  friend Lanes ldexp(const Lanes& a, int e) { return map(a, [e](double x) { return std::ldexp(x, e); }); }
  /// The significand and the exponent every lane shares (Undecided where they differ).
  friend Lanes frexp(const Lanes& a, int* e) {
    Lanes r;
    for (int i = 0; i < N; ++i) {
      int ei = 0;
      r.v[i] = std::frexp(a.v[i], &ei);
      if (i > 0 && ei != *e) throw Undecided();
      *e = ei;
    }
    return r;
  }
  friend Lanes exp(const Lanes& a) { return map(a, [](double x) { return std::exp(x); }); }
  friend Lanes log(const Lanes& a) { return map(a, [](double x) { return std::log(x); }); }

  template <class F>
  static Lanes map(const Lanes& a, F f) {
    Lanes r;
    for (int i = 0; i < N; ++i) r.v[i] = f(a.v[i]);
    return r;
  }
};

/// The lanes of the fast exact path's batches: as many doubles as the widest
/// vector register the build targets holds (CMake's ADAMCONF_NATIVE builds for
/// this machine's): 8 with AVX-512, 4 with AVX2, 2 with x86-64's SSE2. A vector
/// wider than the target's registers is split by GCC into scalar operations
/// (measured: 8 lanes compiled for AVX2 ran 3.8 times slower than 4).
#if defined(__AVX512F__)
inline constexpr int kBatchLanes = 8;
#elif defined(__AVX2__)
inline constexpr int kBatchLanes = 4;
#else
inline constexpr int kBatchLanes = 2;
#endif

template <class T>
inline constexpr bool is_lanes_v = false;
template <int N>
inline constexpr bool is_lanes_v<Lanes<N>> = true;

/// The scalar type of a lane (T itself for double and long double).
template <class T>
struct scalar_of {
  using type = T;
};
template <int N>
struct scalar_of<Lanes<N>> {
  using type = double;
};
template <class T>
using scalar_of_t = typename scalar_of<T>::type;

/// The lanes of T (1 for a scalar).
template <class T>
inline constexpr int lanes_v = 1;
template <int N>
inline constexpr int lanes_v<Lanes<N>> = N;

template <class T>
inline constexpr bool is_lane_mask_v = false;
template <int N>
inline constexpr bool is_lane_mask_v<LaneMask<N>> = true;

// The same words for scalars and bools, so that one formula serves both.
inline bool any(bool b) { return b; }
inline bool all(bool b) { return b; }
/// a and b, a or b: of two bools (both already evaluated), or lane by lane.
inline bool both(bool a, bool b) { return a && b; }
inline bool either(bool a, bool b) { return a || b; }
template <int N>
LaneMask<N> both(LaneMask<N> a, LaneMask<N> b) {
  return a & b;
}
template <int N>
LaneMask<N> either(LaneMask<N> a, LaneMask<N> b) {
  return a | b;
}
template <class T>
  requires std::is_floating_point_v<T>
T select(bool c, T a, T b) {
  return c ? a : b;
}
template <int N>
LaneMask<N> select(LaneMask<N> c, LaneMask<N> a, LaneMask<N> b) {
  return {(a.m & c.m) | (b.m & ~c.m)};
}

/// A branch of pick: a lambda taking everything by reference, forced inline
/// (GCC left these out of line, a call per bound operation).
#define ADAMCONF_BRANCH(T) [&]() __attribute__((always_inline)) -> T

/// c ? if_true() : if_false(), each lane its own: a scalar evaluates only the
/// branch it takes (cheap for MPFR bounds), a batch both, then picks per lane.
template <class C, class A, class B>
[[gnu::always_inline]] inline auto pick(const C& c, A&& if_true, B&& if_false) {
  if constexpr (is_lane_mask_v<C>) return select(c, if_true(), if_false());
  else return c ? if_true() : if_false();  // a bool (or bool | bool, an int)
}

}  // namespace adamconf

template <int N>
class std::numeric_limits<adamconf::Lanes<N>> {
  using L = adamconf::Lanes<N>;
  using D = std::numeric_limits<double>;

 public:
  static constexpr bool is_specialized = true;
  static constexpr int digits = D::digits;
  static constexpr int radix = D::radix;
  static constexpr std::float_denorm_style has_denorm = D::has_denorm;
  static L max() { return L(D::max()); }
  static L min() { return L(D::min()); }
  static L lowest() { return L(D::lowest()); }
  static L epsilon() { return L(D::epsilon()); }
  static L denorm_min() { return L(D::denorm_min()); }
  static L infinity() { return L(D::infinity()); }
};
