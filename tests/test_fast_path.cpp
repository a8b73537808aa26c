// The fast exact path (enclosure.hpp, fast_step.hpp) against MPFR: every
// enclosure operation holds the exact result of its operands' reals, and stays
// a point where that result is exact; a step run on enclosures holds the MPFR
// reference's value of every decided element, its two readings of the error
// model hold the bound the MPFR path computes, and every value it certifies
// passes judge() in MPFR; over ordinary steps it decides almost every value
// (so the audit's speed does not rest on a fast path that decides nothing).
#include <gtest/gtest.h>

#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <bit>
#include <cmath>
#include <random>

#include "adamconf/enclosure.hpp"
#include "adamconf/exact_run.hpp"
#include "adamconf/fast_step.hpp"
#include "adamconf/generators.hpp"
#include "adamconf/judge.hpp"
#include "adamconf/presets.hpp"

namespace adamconf {

/// How RapidCheck prints an enclosure: [lo, hi] in hex.
template <class T>
void showValue(const Enclosure<T>& e, std::ostream& os) {
  os << "[" << hex_float(static_cast<double>(e.lo)) << ", " << hex_float(static_cast<double>(e.hi)) << "]";
}

namespace {

/// Doubles of either sign over the whole range, with the boundary values as
/// data (0, -0, the smallest subnormal and normal, the largest, 1).
rc::Gen<double> gen_operand() {
  return rc::gen::weightedOneOf<double>({
      {1, rc::gen::element(0.0, -0.0, 0x1p-1074, -0x1p-1074, 0x1p-1022, 0x1.fffffffffffffp+1023, 1.0, -1.0)},
      {6, gen::float_in(float64_format, -1074, 1023)},
      {6, gen::float_in(float64_format, -30, 30)},
  });
}

/// An interval around x: a point, or x to x(1 + 2^-k) for a random k.
template <class T>
rc::Gen<Enclosure<T>> gen_enclosure() {
  return rc::gen::apply(
      [](double x, int k, bool point) {
        const T y = T(x) + std::ldexp(T(x), -k);
        if (point || !std::isfinite(y)) return Enclosure<T>(x);
        return Enclosure<T>::between(std::min<T>(x, y), std::max<T>(x, y));
      },
      gen_operand(), rc::gen::inRange(1, 60), rc::gen::arbitrary<bool>());
}

template <class T>
bool holds_exactly(const Enclosure<T>& e, const R& x) {
  return R(e.lo) <= x && x <= R(e.hi);
}

/// op over every corner of a and b lies in the result; where the operands are
/// points and the exact result is a value of T, the result is that point.
template <class T, class Op, class Exact>
void encloses_corners(const char* what, const Enclosure<T>& a, const Enclosure<T>& b, Op op, Exact exact) {
  RC_LOG() << what << "\n";
  Enclosure<T> result;
  try {
    result = op(a, b);
  } catch (const Undecided&) {
    return;  // beyond T's range, or a divisor holding 0: decided in MPFR
  }
  for (const T x : {a.lo, a.hi})
    for (const T y : {b.lo, b.hi}) RC_ASSERT(holds_exactly(result, exact(R(x), R(y))));
  // An exact result well inside T's normal range (where the error-free checks are exact) stays a point.
  const R normal_enough = ldexp(R(1), std::numeric_limits<T>::min_exponent + 2 * std::numeric_limits<T>::digits);
  if (a.is_point() && b.is_point()) {
    const R z = exact(R(a.lo), R(b.lo));
    // (and operands within 2^200 of each other: the 257-bit reference holds their sum exactly)
    const bool in_range = abs(R(a.lo)) >= normal_enough && abs(R(b.lo)) >= normal_enough && abs(z) >= normal_enough &&
                          abs(ilogb(R(a.lo)) - ilogb(R(b.lo))) < 200;
    if (in_range && R(static_cast<T>(z)) == z) RC_ASSERT(result.is_point());
  }
}

template <class T>
void every_operation_encloses_the_exact_result() {
  const Enclosure<T> a = *gen_enclosure<T>(), b = *gen_enclosure<T>();
  encloses_corners("+", a, b, [](auto x, auto y) { return x + y; }, [](const R& x, const R& y) { return R(x + y); });
  encloses_corners("-", a, b, [](auto x, auto y) { return x - y; }, [](const R& x, const R& y) { return R(x - y); });
  encloses_corners("*", a, b, [](auto x, auto y) { return x * y; }, [](const R& x, const R& y) { return R(x * y); });
  encloses_corners("/", a, b, [](auto x, auto y) { return x / y; }, [](const R& x, const R& y) { return R(x / y); });
  encloses_corners("sqrt", a, b, [](auto x, auto) { return sqrt(abs(x)); },
                   [](const R& x, const R&) { return R(sqrt(abs(x))); });
  encloses_corners("ldexp", a, b, [](auto x, auto) { return ldexp(x, -60); }, [](const R& x, const R&) { return R(ldexp(x, -60)); });
}

RC_GTEST_PROP(Enclosure, DoubleOperationsEncloseTheExactResult, ()) { every_operation_encloses_the_exact_result<double>(); }
RC_GTEST_PROP(Enclosure, LongDoubleOperationsEncloseTheExactResult, ()) {
  every_operation_encloses_the_exact_result<long double>();
}

RC_GTEST_PROP(Enclosure, ComparisonsAnswerOnlyWhatEveryRealOfTheIntervalsAnswers, ()) {
  const Enclosure<double> a = *gen_enclosure<double>(), b = *gen_enclosure<double>();
  bool less_decided = true, equal_decided = true, less = false, equal = false;
  try {
    less = a < b;
  } catch (const Undecided&) {
    less_decided = false;
  }
  try {
    equal = a == b;
  } catch (const Undecided&) {
    equal_decided = false;
  }
  const bool certainly_less = a.hi < b.lo, certainly_not_less = a.lo >= b.hi;
  RC_ASSERT(less_decided == (certainly_less || certainly_not_less));
  if (less_decided) RC_ASSERT(less == certainly_less);
  const bool points = a.is_point() && b.is_point(), disjoint = a.hi < b.lo || b.hi < a.lo;
  RC_ASSERT(equal_decided == (points || disjoint));
  if (equal_decided) RC_ASSERT(equal == (points && a.lo == b.lo));
}

TEST(Enclosure, DecimalsAndIntegersAreEnclosedExactly) {
  const auto tenth = Enclosure<double>::parse("0.1");
  EXPECT_LT(R(tenth.lo), R("0.1"));
  EXPECT_GT(R(tenth.hi), R("0.1"));
  EXPECT_EQ(std::nextafter(tenth.lo, 1.0), tenth.hi);  // the two doubles around 0.1
  EXPECT_TRUE(Enclosure<double>::parse("0.5").is_point());
  EXPECT_TRUE(Enclosure<double>(std::int64_t{1} << 53).is_point());
  const Enclosure<double> big((std::int64_t{1} << 60) + 1);  // no double: pushed out
  EXPECT_TRUE(holds_exactly(big, R((std::int64_t{1} << 60) + 1)));
  EXPECT_FALSE(big.is_point());
  EXPECT_THROW((void)(Enclosure<double>::between(-1, 1) < Enclosure<double>(0)), Undecided);
  EXPECT_THROW((void)(Enclosure<double>(1) / Enclosure<double>::between(-1, 1)), Undecided);
  EXPECT_THROW((void)(Enclosure<double>(0x1p1000) * Enclosure<double>(0x1p1000)), Undecided);
}

/// Every Lanes operation is, lane for lane, the scalar operation the enclosure
/// and the bounds use on double, bit for bit, over boundary values as data
/// (signed zeros, subnormals, the largest, infinities, NaN).
TEST(Lanes, EveryOperationIsTheScalarOneLaneByLane) {
  using L = Lanes<kBatchLanes>;
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> nasty{0.0, -0.0, 0x1p-1074, -0x1p-1074, 0x1p-1022, 0x1.fffffffffffffp+1023, -0x1.fffffffffffffp+1023,
                                  1.0, -1.0, 0.1, -3.5, 1e300, 1e-300, inf, -inf, nan};
  const auto bits = [](double x) { return std::bit_cast<std::uint64_t>(x); };
  std::size_t compared = 0;
  for (std::size_t start = 0; start < nasty.size(); ++start) {
    L a, b;
    for (int j = 0; j < kBatchLanes; ++j) {
      a.v[j] = nasty[(start + static_cast<std::size_t>(j)) % nasty.size()];
      b.v[j] = nasty[(start * 7 + 3 + static_cast<std::size_t>(j) * 5) % nasty.size()];
    }
    const L sum = a + b, difference = a - b, product = a * b, quotient = a / b, negated = -a, absolute = fabs(a), root = sqrt(a),
            larger = max(a, b), smaller = min(a, b), fused = fma(a, b, a), scaled = ldexp(a, -3);
    const LaneMask<kBatchLanes> less = a < b, finite = isfinite(a), not_a_number = isnan(a);
    for (int j = 0; j < kBatchLanes; ++j) {
      const double x = a[j], y = b[j];
      EXPECT_EQ(bits(sum[j]), bits(x + y)) << x << " + " << y;
      EXPECT_EQ(bits(difference[j]), bits(x - y)) << x << " - " << y;
      EXPECT_EQ(bits(product[j]), bits(x * y)) << x << " * " << y;
      if (!std::isnan(x / y)) EXPECT_EQ(bits(quotient[j]), bits(x / y)) << x << " / " << y;
      EXPECT_EQ(bits(negated[j]), bits(-x)) << "-" << x;
      EXPECT_EQ(bits(absolute[j]), bits(std::fabs(x))) << "|" << x << "|";
      if (!std::isnan(std::sqrt(x))) EXPECT_EQ(bits(root[j]), bits(std::sqrt(x))) << "sqrt " << x;
      EXPECT_EQ(bits(larger[j]), bits(std::max(x, y))) << "max " << x << " " << y;
      EXPECT_EQ(bits(smaller[j]), bits(std::min(x, y))) << "min " << x << " " << y;
      if (!std::isnan(std::fma(x, y, x))) EXPECT_EQ(bits(fused[j]), bits(std::fma(x, y, x))) << "fma " << x << " " << y;
      EXPECT_EQ(bits(scaled[j]), bits(std::ldexp(x, -3))) << "ldexp " << x;
      EXPECT_EQ(less.lane(j), x < y) << x << " < " << y;
      EXPECT_EQ(finite.lane(j), static_cast<bool>(std::isfinite(x))) << "isfinite " << x;
      EXPECT_EQ(not_a_number.lane(j), static_cast<bool>(std::isnan(x))) << "isnan " << x;
      ++compared;
    }
  }
  EXPECT_EQ(compared, nasty.size() * kBatchLanes);
  // A decision of a whole batch: every lane alike, else Undecided.
  EXPECT_TRUE(static_cast<bool>(L(1.0) < L(2.0)));
  EXPECT_FALSE(static_cast<bool>(L(2.0) < L(1.0)));
  L mixed(1.0);
  mixed.v[kBatchLanes - 1] = 3.0;
  EXPECT_THROW((void)static_cast<bool>(mixed < L(2.0)), Undecided);
}

// ---- the fast step against the MPFR step ----

/// A scenario of any preset in any format and precision convention.
rc::Gen<Scenario> gen_fast_scenario(std::size_t max_elements = 6) {
  return rc::gen::mapcat(
      rc::gen::tuple(rc::gen::elementOf(presets()),
                     rc::gen::element(float32_format, float64_format, bfloat16_format, float16_format),
                     rc::gen::element(Precision::storage, Precision::float32_opmath, Precision::master_weights,
                                      Precision::stochastic_rounding, Precision::kahan_summation,
                                      Precision::storage_kahan, Precision::promoted),
                     rc::gen::arbitrary<bool>(), rc::gen::arbitrary<bool>()),
      [max_elements](const std::tuple<Preset, FloatFormat, Precision, bool, bool>& t) {
        const auto& [preset, dtype, precision, amsgrad, moments_narrower] = t;
        ScenarioShape shape;
        shape.preset = preset.name;
        shape.dtype = dtype;
        shape.options.amsgrad = amsgrad && preset.amsgrad != AmsgradVariant::none;
        shape.options.precision = is_storage_format(dtype) ? precision : Precision::storage;
        shape.max_elements = max_elements;
        // Moments in a narrower format, both decays and the direction in it: tinygrad's float32 moments
        // beside float64 parameters, and bfloat16 ones beside float32 (the fast path's own range).
        const bool wide = dtype.name == float64_format.name || dtype.name == float32_format.name;
        if (moments_narrower && wide) {
          const std::string moments = dtype.name == float64_format.name ? "float32" : "bfloat16";
          shape.options.state_formats = {.m = moments, .v = moments, .m_decay_in_format = true,
                                         .v_decay_in_format = true, .direction_in_format = true};
        }
        return gen::scenario(shape);
      });
}

/// Step t of s as an implementation would be judged there: theta and the state
/// the exact trajectory reached, rounded to their formats, read as exact; the
/// step count possibly far beyond (a resumed run).
RunCase one_step_of(const Scenario& s, std::size_t t, std::int64_t extra_steps) {
  const Setup setup{s.spec, s.dtype};
  const PrecisionRules rules = setup.rules();
  RunCase one;
  one.grads = {s.run.grads[t]};
  if (!s.run.lrs.empty()) one.lrs = {s.run.lrs[t]};
  ImplementationState state{.step = static_cast<std::int64_t>(t) + extra_steps};
  const std::size_t n = s.run.theta0.size();
  const bool amsgrad = s.spec.convention.adam().amsgrad != AmsgradVariant::none;
  if (t == 0 && extra_steps == 0) {
    one.theta0 = s.run.theta0;
    state.m.assign(n, 0.0);
    state.v.assign(n, 0.0);
    if (amsgrad) state.vmax.assign(n, 0.0);
  } else {
    RunCase before = s.run;
    before.grads.resize(std::max<std::size_t>(t, 1));
    if (!before.lrs.empty()) before.lrs.resize(before.grads.size());
    const auto trajectory = exact_trajectory(setup, before);
    const auto& e = trajectory.back().record.elements;
    for (const auto& x : e) {
      if (!isfinite(x.theta) || !isfinite(x.m) || !isfinite(x.v) || !isfinite(x.vmax))
        RC_DISCARD("the exact trajectory left the finite numbers");
      one.theta0.push_back(round_to_format(x.theta, rules.format_of(Quantity::theta)));
      state.m.push_back(round_to_format(x.m, rules.format_of(Quantity::m)));
      state.v.push_back(round_to_format(x.v, rules.format_of(Quantity::v)));
      if (amsgrad) state.vmax.push_back(round_to_format(x.vmax, rules.format_of(Quantity::vmax)));
      if (rules.kahan_summation())
        state.compensation.push_back(round_to_format(R(x.theta - R(one.theta0.back())), rules.format_of(Quantity::compensation)));
    }
  }
  if (rules.kahan_summation() && state.compensation.empty()) state.compensation.assign(n, 0.0);
  one.initial_state = state;
  return one;
}

/// Values an implementation might report for exact x allowed `allowed` off in
/// format f: the nearest, its neighbours, and values at fractions of the bound.
std::vector<double> observations(const R& x, const R& allowed, const FloatFormat& f) {
  const double nearest = round_to_format(x, f);
  std::vector<double> out{nearest};
  if (!std::isfinite(nearest)) return out;
  const R ulp = ulp_at(x, f);
  for (const int k : {-2, -1, 1, 2}) out.push_back(round_to_format(R(R(nearest) + k * ulp), f));
  for (const char* fraction : {"0.5", "0.999", "1.001", "-0.999", "-1.001"})
    out.push_back(round_to_format(R(x + R(fraction) * allowed), f));
  return out;
}

struct Tally {
  std::size_t values = 0, certified = 0, undecided_elements = 0, ratios_above = 0;
};

/// Compares the fast step of `one` with the MPFR one, value by value.
Tally compare_with_mpfr(const Setup& setup, const RunCase& one) {
  Tally tally;
  const ExactStep exact = exact_single_step(setup, one, one.theta0, *one.initial_state, 0);
  std::optional<FastStep> fast;
  try {
    fast.emplace(setup, one);
  } catch (const Undecided&) {
    return tally;  // the step's scalars: all of it in MPFR
  }
  const PrecisionRules rules = setup.rules();
  const bool amsgrad = setup.spec.convention.adam().amsgrad != AmsgradVariant::none;
  for (std::size_t i = 0; i < one.theta0.size(); ++i) {
    if (!fast->decided(i)) {
      ++tally.undecided_elements;
      continue;
    }
    const auto& e = exact.record.elements[i];
    const auto& b = exact.bounds[i];
    std::vector<std::tuple<Quantity, R, R>> quantities{{Quantity::theta, e.theta, b.theta}, {Quantity::m, e.m, b.m},
                                                       {Quantity::v, e.v, b.v}};
    if (amsgrad) quantities.emplace_back(Quantity::vmax, e.vmax, b.vmax);
    if (rules.kahan_summation()) quantities.emplace_back(Quantity::theta_plus_compensation, e.theta, b.compensated);
    for (const auto& [q, x, allowed] : quantities) {
      const bool output = q != Quantity::theta_plus_compensation;
      const FloatFormat& f = rules.format_of(output ? q : Quantity::theta);
      for (const double observed : observations(x, allowed, f)) {
        ++tally.values;
        const auto certificate = fast->certify(i, q, observed, f, output);
        if (!certificate) continue;
        ++tally.certified;
        const Comparison c = judge(observed, x, allowed, f, output);
        RC_ASSERT(c.pass);  // certified: MPFR passes it too
        RC_ASSERT(certificate->unbounded == c.unbounded);
        RC_ASSERT(certificate->ratio >= c.ratio * (1 - 1e-9));  // an upper bound of the ratio
        // The interval's width against the bound: about 2^-28 of float32's allowed error from double
        // enclosures, up to 2^-5 of float64's from long double ones (a few dozen roundings of 2^-63 against 2^-53).
        // How far above: the interval's width against the bound (about 2^-28 of float32's allowed error from
        // double enclosures, up to 2^-5 of float64's from long double ones), amplified where the bound's own
        // formula nearly cancels (b - E(b) of a quotient): reported, not a verdict.
        const double slack = setup.dtype.precision > 24 ? 0x1p-4 : 0x1p-16;
        if (certificate->ratio > c.ratio * (1 + 1e-6) + slack) ++tally.ratios_above;
      }
    }
  }
  return tally;
}

/// Any preset, format and precision convention, from the trajectory's own
/// states (rounded) and from resumed step counts: the fast path never
/// certifies a value MPFR fails, and its ratios are within 1e-6 of MPFR's.
RC_GTEST_PROP(FastPath, CertifiesOnlyValuesTheMpfrPathPasses, ()) {
  const Scenario s = *gen_fast_scenario();
  const std::size_t t = *rc::gen::inRange<std::size_t>(0, s.run.grads.size());
  const std::int64_t extra = *rc::gen::weightedOneOf<std::int64_t>(
      {{4, rc::gen::just<std::int64_t>(0)}, {1, rc::gen::inRange<std::int64_t>(1, 10'000'000)}});
  const Setup setup{s.spec, s.dtype};
  if (!FastStep::takes(setup)) RC_DISCARD("quantized states are judged in MPFR");
  const Tally tally = compare_with_mpfr(setup, one_step_of(s, t, extra));
  RC_TAG(tally.certified > 0 ? "some certified" : "none certified");
  if (tally.ratios_above) RC_TAG("a certified ratio above MPFR's by more than the intervals' width");
}

/// The fast path's enclosure and readings themselves: the MPFR value lies in
/// every decided element's interval, and the MPFR path's allowed error
/// (evaluated in the same hardware type) between the two readings.
RC_GTEST_PROP(FastPath, EnclosesTheMpfrValueAndAllowedError, ()) {
  const Scenario s = *gen_fast_scenario();
  const std::size_t t = *rc::gen::inRange<std::size_t>(0, s.run.grads.size());
  const Setup setup{s.spec, s.dtype};
  if (!FastStep::takes(setup)) RC_DISCARD("quantized states are judged in MPFR");
  const RunCase one = one_step_of(s, t, 0);
  const ExactStep exact = exact_single_step(setup, one, one.theta0, *one.initial_state, 0);
  std::optional<FastStep> fast;
  try {
    fast.emplace(setup, one);
  } catch (const Undecided&) {
    RC_DISCARD("the step's scalars are decided in MPFR");
  }
  std::size_t compared = 0;
  std::visit(
      [&](const auto& elements) {
        for (std::size_t i = 0; i < elements.size(); ++i) {
          if (!fast->decided(i)) continue;
          const auto& e = exact.record.elements[i];
          const auto& b = exact.bounds[i];
          const auto& f = elements[i];
          RC_ASSERT(holds_exactly(f.theta, e.theta));
          RC_ASSERT(holds_exactly(f.m, e.m));
          RC_ASSERT(holds_exactly(f.v, e.v));
          RC_ASSERT(holds_exactly(f.vmax, e.vmax));
          for (const auto& [bound, low, high] : {std::tuple{b.theta, f.low.theta, f.high.theta}, std::tuple{b.m, f.low.m, f.high.m},
                                                 std::tuple{b.v, f.low.v, f.high.v}, std::tuple{b.compensated, f.low.compensated, f.high.compensated}}) {
            if (!std::isfinite(static_cast<double>(high))) continue;  // the MPFR path's bound is then MPFR's own
            RC_ASSERT(R(low) <= bound);
            RC_ASSERT(bound <= R(high));
            ++compared;
          }
        }
      },
      fast->elements());
  RC_TAG(compared > 0 ? "compared" : "nothing decided");
}

/// The same element stepped in a batch and alone: every interval end and
/// reading equal bit for bit.
template <class T>
void expect_same_bits(const FastStep::Element<T>& a, const FastStep::Element<T>& b) {
  const auto same = [](T x, T y) {
    if constexpr (std::is_same_v<T, double>) return std::bit_cast<std::uint64_t>(x) == std::bit_cast<std::uint64_t>(y);
    else return x == y;  // long double (float64 targets): never batched
  };
  const auto enclosure = [&](const Enclosure<T>& x, const Enclosure<T>& y) { return same(x.lo, y.lo) && same(x.hi, y.hi); };
  const auto bounds = [&](const ElementBounds<T>& x, const ElementBounds<T>& y) {
    return same(x.theta, y.theta) && same(x.m, y.m) && same(x.v, y.v) && same(x.vmax, y.vmax) &&
           same(x.compensated, y.compensated);
  };
  const auto show = [](const char* what, const Enclosure<T>& x, const Enclosure<T>& y) {
    RC_LOG() << what << ": batched [" << hex_float_short(static_cast<double>(x.lo)) << ", " << hex_float_short(static_cast<double>(x.hi))
             << "], alone [" << hex_float_short(static_cast<double>(y.lo)) << ", " << hex_float_short(static_cast<double>(y.hi)) << "]\n";
  };
  show("theta", a.theta, b.theta), show("m", a.m, b.m), show("v", a.v, b.v), show("vmax", a.vmax, b.vmax);
  RC_ASSERT(enclosure(a.theta, b.theta) && enclosure(a.m, b.m) && enclosure(a.v, b.v) && enclosure(a.vmax, b.vmax));
  RC_ASSERT(bounds(a.low, b.low) && bounds(a.high, b.high));
}

/// Batches (lanes.hpp) are an evaluation order, not a second path: any preset,
/// format and precision convention, tensors of up to 4 batches and a partial
/// one (the generators' zeros, subnormals and huge values mixing decisions
/// within a batch), stepped in batches and one element at a time, decide the
/// same elements with the same intervals and readings, bit for bit.
RC_GTEST_PROP(FastPath, BatchesGiveLaneForLaneWhatOneElementAtATimeGives, ()) {
  const Scenario s = *gen_fast_scenario(4 * kBatchLanes + 1);
  const std::size_t t = *rc::gen::inRange<std::size_t>(0, s.run.grads.size());
  const Setup setup{s.spec, s.dtype};
  if (!FastStep::takes(setup)) RC_DISCARD("quantized states are judged in MPFR");
  const RunCase one = one_step_of(s, t, 0);
  std::optional<FastStep> batched, alone;
  bool batched_threw = false, alone_threw = false;
  try {
    batched.emplace(setup, one, 0, FastStep::Batching::lanes_at_any_size);
  } catch (const Undecided&) {
    batched_threw = true;
  }
  try {
    alone.emplace(setup, one, 0, FastStep::Batching::one_at_a_time);
  } catch (const Undecided&) {
    alone_threw = true;
  }
  RC_ASSERT(batched_threw == alone_threw);
  if (alone_threw) RC_DISCARD("the step's scalars are decided in MPFR");
  RC_ASSERT(alone->batched() == 0u);
  for (std::size_t i = 0; i < one.theta0.size(); ++i) {
    RC_ASSERT(batched->decided(i) == alone->decided(i));
    if (!alone->decided(i)) continue;
    RC_LOG() << "element " << i << "\n";
    std::visit(
        [&](const auto& a) {
          using Elements = std::decay_t<decltype(a)>;
          expect_same_bits(a[i], std::get<Elements>(alone->elements())[i]);
        },
        batched->elements());
  }
  RC_TAG(batched->batched() > 0 ? "some elements decided in batches" : "no batch decided");
}

/// The reference itself on lanes: every intermediate of every element's step
/// (the record the error model is told) equal, bit for bit, to the scalar
/// enclosure's, or the lane's batch undecided.
RC_GTEST_PROP(FastPath, TheReferenceOnLanesRecordsWhatItRecordsOnEachElement, ()) {
  using L = Lanes<kBatchLanes>;
  const Scenario s = *gen_fast_scenario(kBatchLanes);
  const Setup setup{s.spec, s.dtype};
  const std::size_t n = s.run.theta0.size();
  const auto hyper = group_hyperparameters(setup.spec.hyper, s.run, 0);
  std::vector<Enclosure<L>> theta0(1), grad(1);
  for (int j = 0; j < kBatchLanes; ++j) {
    theta0[0].lo.v[j] = theta0[0].hi.v[j] = s.run.theta0[std::min<std::size_t>(j, n - 1)];
    grad[0].lo.v[j] = grad[0].hi.v[j] = s.run.grads[0][std::min<std::size_t>(j, n - 1)];
  }
  ReferenceAdam<Enclosure<L>> lanes(setup.spec.convention, values_of<Enclosure<L>>(hyper), theta0);
  StepRecord<Enclosure<L>> batch;
  lanes.step_into(batch, grad);
  if (!batch.undecided.empty()) RC_DISCARD("the batch is undecided");
  for (std::size_t i = 0; i < n; ++i) {
    ReferenceAdam<Enclosure<double>> alone(setup.spec.convention, values_of<Enclosure<double>>(hyper), {Enclosure<double>(s.run.theta0[i])});
    StepRecord<Enclosure<double>> one;
    alone.step_into(one, {Enclosure<double>(s.run.grads[0][i])});
    RC_ASSERT(one.undecided.empty());
    const auto& a = batch.elements[0];
    const auto& b = one.elements[0];
    const int j = static_cast<int>(i);
    for (const auto& [what, x, y] : {std::tuple{"theta_in", a.theta_in, b.theta_in}, std::tuple{"grad", a.grad, b.grad},
                                     std::tuple{"m", a.m, b.m}, std::tuple{"v", a.v, b.v}, std::tuple{"m_hat", a.m_hat, b.m_hat},
                                     std::tuple{"v_hat", a.v_hat, b.v_hat}, std::tuple{"denom", a.denom, b.denom},
                                     std::tuple{"direction", a.direction, b.direction}, std::tuple{"update", a.update, b.update},
                                     std::tuple{"theta", a.theta, b.theta}}) {
      RC_LOG() << "element " << i << " " << what << ": lane [" << hex_float_short(x.lo[j]) << ", " << hex_float_short(x.hi[j])
               << "], alone [" << hex_float_short(y.lo) << ", " << hex_float_short(y.hi) << "]\n";
      RC_ASSERT(std::bit_cast<std::uint64_t>(x.lo[j]) == std::bit_cast<std::uint64_t>(y.lo));
      RC_ASSERT(std::bit_cast<std::uint64_t>(x.hi[j]) == std::bit_cast<std::uint64_t>(y.hi));
    }
  }
  RC_TAG(n > 1 ? "several elements in the batch" : "one element in the batch");
  RC_TAG(setup.spec.convention.adam().amsgrad != AmsgradVariant::none ? "AMSGrad" : "no AMSGrad");
}

/// Batches over an ordinary step whose gradients are 0 at every 7th element
/// and subnormal at every 11th (batches whose lanes answer "is it zero"
/// differently, decided lane by lane or stepped again one at a time): the same
/// bits as one element at a time, and most elements decided in batches.
TEST(FastPath, BatchesOfMixedZeroAndSubnormalGradientsMatchOneAtATime) {
  std::mt19937_64 random(20261205);
  std::normal_distribution<double> normal(0, 1);
  for (const char* preset : {"pytorch-adamw", "optax-adamw", "pytorch-adam"})
    for (const FloatFormat& dtype : {float32_format, bfloat16_format}) {
      const Preset& p = preset_by_name(preset);
      const adamconf::Setup setup{.spec = {.preset = p.name, .hyper = p.defaults, .convention = p.convention}, .dtype = dtype};
      RunCase one;
      const std::size_t n = 1001;
      ImplementationState state{.step = 3};
      one.grads.emplace_back();
      for (std::size_t i = 0; i < n; ++i) {
        one.theta0.push_back(round_to_format(R(normal(random)), dtype));
        state.m.push_back(i % 13 == 0 ? 0.0 : round_to_format(R(normal(random) * 1e-2), dtype));
        state.v.push_back(i % 13 == 0 ? 0.0 : round_to_format(R(std::fabs(normal(random)) * 1e-4), dtype));
        const double g = i % 7 == 0 ? 0.0 : i % 11 == 0 ? std::ldexp(1.0, dtype.min_exponent - 2) : normal(random) * 1e-2;
        one.grads[0].push_back(round_to_format(R(g), dtype));
      }
      one.initial_state = state;
      const FastStep batched(setup, one, 0, FastStep::Batching::lanes);
      const FastStep alone(setup, one, 0, FastStep::Batching::one_at_a_time);
      std::size_t decided = 0;
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(batched.decided(i), alone.decided(i)) << preset << " " << dtype.name << " element " << i;
        if (!alone.decided(i)) continue;
        ++decided;
        const auto& a = std::get<std::vector<FastStep::Element<double>>>(batched.elements())[i];
        const auto& b = std::get<std::vector<FastStep::Element<double>>>(alone.elements())[i];
        for (const auto& [x, y] : {std::pair{a.theta, b.theta}, std::pair{a.m, b.m}, std::pair{a.v, b.v}}) {
          EXPECT_EQ(std::bit_cast<std::uint64_t>(x.lo), std::bit_cast<std::uint64_t>(y.lo)) << preset << " element " << i;
          EXPECT_EQ(std::bit_cast<std::uint64_t>(x.hi), std::bit_cast<std::uint64_t>(y.hi)) << preset << " element " << i;
        }
        for (const auto& [x, y] : {std::pair{a.low.theta, b.low.theta}, std::pair{a.low.m, b.low.m}, std::pair{a.low.v, b.low.v},
                                   std::pair{a.high.theta, b.high.theta}, std::pair{a.high.m, b.high.m}, std::pair{a.high.v, b.high.v}})
          EXPECT_EQ(std::bit_cast<std::uint64_t>(x), std::bit_cast<std::uint64_t>(y)) << preset << " element " << i;
      }
      EXPECT_GE(decided, n * 99 / 100) << preset << " " << dtype.name;
      EXPECT_GE(batched.batched(), n / 2) << preset << " " << dtype.name << ": " << batched.batched() << " of " << n << " in batches";
    }
}

/// Ordinary steps (normal-range theta and gradients, the presets' defaults):
/// the fast path decides at least 99% of the correctly rounded values itself.
TEST(FastPath, DecidesAlmostEveryValueOfOrdinarySteps) {
  std::mt19937_64 random(20261204);
  std::normal_distribution<double> normal(0, 1);
  for (const char* preset : {"pytorch-adamw", "optax-adamw", "keras-adamw", "pytorch-adam"})
    for (const FloatFormat& dtype : {float32_format, bfloat16_format, float64_format}) {
      const Preset& p = preset_by_name(preset);
      const adamconf::Setup setup{.spec = {.preset = p.name, .hyper = p.defaults, .convention = p.convention}, .dtype = dtype};
      RunCase one;
      const std::size_t n = 2000;
      ImplementationState state{.step = 7};
      for (std::size_t i = 0; i < n; ++i) {
        one.theta0.push_back(round_to_format(R(normal(random)), dtype));
        state.m.push_back(round_to_format(R(normal(random) * 1e-2), dtype));
        state.v.push_back(round_to_format(R(std::fabs(normal(random)) * 1e-4), dtype));
      }
      one.grads.emplace_back();
      for (std::size_t i = 0; i < n; ++i) one.grads[0].push_back(round_to_format(R(normal(random) * 1e-2), dtype));
      one.initial_state = state;
      const ExactStep exact = exact_single_step(setup, one, one.theta0, state, 0);
      const FastStep fast(setup, one);
      std::size_t certified = 0, values = 0;
      for (std::size_t i = 0; i < n; ++i)
        for (const auto& [q, x] : {std::pair{Quantity::theta, exact.record.elements[i].theta},
                                   std::pair{Quantity::m, exact.record.elements[i].m},
                                   std::pair{Quantity::v, exact.record.elements[i].v}}) {
          ++values;
          if (fast.certify(i, q, round_to_format(x, dtype), dtype)) ++certified;
        }
      EXPECT_GE(certified, values * 99 / 100) << preset << " " << dtype.name << ": " << certified << " of " << values;
    }
}

}  // namespace
}  // namespace adamconf
