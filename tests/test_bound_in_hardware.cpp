// The error bound evaluated in hardware floating point (bound_arithmetic.hpp):
// every outward-rounded operation in double and long double is at least (at
// most, for a lower bound) its exact value; the long double bound the verifier
// uses is never below the MPFR bound of the same case and barely above it; a
// double bound overflows where long double does not; and the verifier judges
// the same with either.
#include <gtest/gtest.h>

#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cfloat>
#include <cmath>

#include "adamconf/bound_arithmetic.hpp"
#include "adamconf/error_model.hpp"
#include "adamconf/exact_run.hpp"
#include "adamconf/float_adam.hpp"
#include "adamconf/generators.hpp"
#include "adamconf/structure_generators.hpp"
#include "adamconf/verify.hpp"

namespace adamconf {
namespace {

using U = Up<double>;
using D = Down<double>;

/// Nonnegative T over the whole range: subnormals, 0, the largest, every binade.
template <class T>
rc::Gen<T> gen_magnitude() {
  using L = std::numeric_limits<T>;
  return rc::gen::weightedOneOf<T>({
      {1, rc::gen::element(T(0), L::denorm_min(), L::min(), L::max(), T(1))},
      {8, rc::gen::map(rc::gen::pair(rc::gen::inRange<std::uint64_t>(0, 1ull << 52),
                                     rc::gen::inRange(L::min_exponent - L::digits, L::max_exponent)),
                       [](const std::pair<std::uint64_t, int>& p) {
                         const T x = std::ldexp(T(1) + std::ldexp(T(p.first), -52), p.second - 1);
                         return std::isinf(x) ? L::max() : x;
                       })},
  });
}

template <class T>
void upper_bounds_are_never_below_the_exact_result() {
  const T a = *gen_magnitude<T>(), b = *gen_magnitude<T>();
  const R ea(a), eb(b);
  RC_ASSERT(R((Up<T>{a} + Up<T>{b}).x) >= ea + eb);
  RC_ASSERT(R((Up<T>{a} * Up<T>{b}).x) >= ea * eb);
  if (b > 0) RC_ASSERT(R((Up<T>{a} / Down<T>{b}).x) >= ea / eb);
  RC_ASSERT(R(sqrt(Up<T>{a}).x) >= sqrt(ea));
}

template <class T>
void lower_bounds_are_never_above_the_exact_result() {
  const T a = *gen_magnitude<T>(), b = *gen_magnitude<T>();
  const R ea(a), eb(b);
  RC_ASSERT(R((Down<T>{a} + Down<T>{b}).x) <= ea + eb);
  RC_ASSERT(R((Down<T>{a} * Down<T>{b}).x) <= ea * eb);
  const R difference = ea - eb;
  RC_ASSERT(R((Down<T>{a} - Up<T>{b}).x) <= (difference > 0 ? difference : R(0)));
  RC_ASSERT(R(sqrt(Down<T>{a}).x) <= sqrt(ea));
  RC_ASSERT((Down<T>{a} + Down<T>{b}).x <= std::numeric_limits<T>::max());  // a lower bound is finite
}

RC_GTEST_PROP(BoundArithmetic, DoubleUpperBoundsAreNeverBelowTheExactResult, ()) {
  upper_bounds_are_never_below_the_exact_result<double>();
}
RC_GTEST_PROP(BoundArithmetic, DoubleLowerBoundsAreNeverAboveTheExactResult, ()) {
  lower_bounds_are_never_above_the_exact_result<double>();
}
RC_GTEST_PROP(BoundArithmetic, LongDoubleUpperBoundsAreNeverBelowTheExactResult, ()) {
  upper_bounds_are_never_below_the_exact_result<long double>();
}
RC_GTEST_PROP(BoundArithmetic, LongDoubleLowerBoundsAreNeverAboveTheExactResult, ()) {
  lower_bounds_are_never_above_the_exact_result<long double>();
}

/// The exact values' way in: magnitude_to_double reads the top limb, and must
/// agree with MPFR's own conversion, rounded away from zero and toward it.
RC_GTEST_PROP(BoundArithmetic, MagnitudeToDoubleIsMpfrsRoundingOfTheMagnitude, ()) {
  const auto exponent = *rc::gen::inRange(-1200, 1100);
  const auto fraction = *rc::gen::container<std::vector<std::uint32_t>>(9, rc::gen::arbitrary<std::uint32_t>());
  const bool exact_in_double = *rc::gen::arbitrary<bool>();
  R x = 0;
  for (std::uint32_t f : fraction) x = ldexp(x, 32) + f;  // up to 288 bits, rounded to 257
  if (exact_in_double) x = R(static_cast<double>(fraction[0]) + 0.5);
  if (x == 0) x = 1;
  x = ldexp(x, exponent - ilogb(x)) * (*rc::gen::arbitrary<bool>() ? 1 : -1);
  const mpfr_srcptr p = x.backend().data();
  RC_ASSERT(magnitude_to_double(p, true) == std::fabs(mpfr_get_d(p, MPFR_RNDA)));
  RC_ASSERT(magnitude_to_double(p, false) == std::fabs(mpfr_get_d(p, MPFR_RNDZ)));
}

TEST(BoundArithmetic, ZeroIsExactAndNothingIsNaN) {
  const double inf = INFINITY;
  EXPECT_EQ((U{0} * U{inf}).x, 0.0);
  EXPECT_EQ((U{0} / D{0}).x, 0.0);
  EXPECT_EQ((U{1} / D{0}).x, inf);
  EXPECT_EQ((U{inf} / D{DBL_MAX}).x, inf);
  EXPECT_EQ((D{1} - U{inf}).x, 0.0);
  EXPECT_EQ((U{0x1p-1074} + U{0x1p-1074}).x, 0x1p-1073 + 0x1p-1074);  // a subnormal sum nudged up by one quantum
  EXPECT_EQ((U{0x1p-1074} + U{0}).x, 0x1p-1074);  // an exact zero added is exact, as in MPFR
  EXPECT_EQ((U{0} + U{0}).x, 0.0);                 // 0 + 0 stays an exact 0
}

/// Observes one reference step with both models.
template <class Fast>
using BothModels = BothObservers<R, ErrorModel<R>, ErrorModel<R, Fast>>;

rc::Gen<Scenario> gen_any_scenario() {
  return rc::gen::mapcat(
      rc::gen::tuple(rc::gen::elementOf(presets()), rc::gen::element(float32_format, float64_format),
                     rc::gen::arbitrary<bool>(), rc::gen::inRange(0, 3)),
      [](const std::tuple<Preset, FloatFormat, bool, int>& t) {
        const auto& [preset, dtype, amsgrad, kind] = t;
        ScenarioShape shape;
        shape.preset = preset.name;
        shape.dtype = dtype;
        shape.options.amsgrad = amsgrad && preset.amsgrad != AmsgradVariant::none;
        shape.max_elements = 6;
        if (kind == 1) return gen::large_step_scenario(shape);
        if (kind == 2) return gen::structured_scenario(shape, StructureClass::mixed);
        return gen::scenario(shape);
      });
}

/// Every bound of every element at every step of scenario s, in MPFR and in
/// Fast: how many were compared.
template <class Fast>
std::size_t compare_bounds(const Scenario& s) {
  const adamconf::Setup setup{s.spec, s.dtype};
  const auto slices = slices_of(s.run);
  std::size_t compared = 0;
  for (std::size_t k = 0; k < slices.size(); ++k) {
    ReferenceAdam<R> reference = tensor_reference(setup, s.run, k, slices[k]);
    ErrorModel<R> mpfr(PrecisionRules(s.dtype), reference.hyper(), slices[k].size);
    ErrorModel<R, Fast> fast(PrecisionRules(s.dtype), reference.hyper(), slices[k].size);
    StepRecord<R> record;
    for (std::size_t t = 0; t < s.run.grads.size(); ++t) {
      if (!has_gradient(s.run, t, k)) continue;
      std::vector<R> grad;
      for (std::size_t i = 0; i < slices[k].size; ++i) grad.emplace_back(s.run.grads[t][slices[k].offset + i]);
      std::optional<R> lr;
      if (!s.run.lrs.empty()) lr = parse_decimal<R>(s.run.lrs[t]);
      reference.step_into(record, grad, lr, BothModels<Fast>{mpfr, fast});
      for (std::size_t i = 0; i < slices[k].size; ++i) {
        const auto& a = mpfr.bounds()[i];
        const auto& b = fast.bounds()[i];
        const std::pair<R, Fast> pairs[] = {{a.theta, b.theta}, {a.m, b.m}, {a.v, b.v}, {a.vmax, b.vmax}};
        for (const auto& [exact_bound, fast_bound] : pairs) {
          if (isinf(exact_bound)) {
            RC_ASSERT(std::isinf(fast_bound));
            continue;
          }
          RC_ASSERT(R(fast_bound) >= exact_bound * (1 - ldexp(R(1), -250)));
          RC_ASSERT(R(fast_bound) <= exact_bound * (1 + ldexp(R(1), -20)) + ldexp(R(1), -1000));
          ++compared;
        }
      }
    }
  }
  return compared;
}

/// Any preset, both formats, AMSGrad, large step counts, many tensors: the
/// hardware bound (long double for float64, double and long double for
/// float32) is at least the MPFR one (to within the MPFR evaluation's own
/// 2^-250), and at most 2^-20 relative (2^-1000 absolute) above it. The
/// exact values enter rounded outward to 53 bits (2^-52 relative each) and
/// each operation adds 2^-52 or 2^-63, so a step adds about 2^-47 (measured:
/// 2^-50..2^-43 per step over 1500 cases); where a denominator b - E(b)
/// nearly cancels, the slack of E(b) is amplified by b/(b - E(b)) (measured
/// up to 2^-29 in 1500 cases, at bounds that large). The absolute nudges
/// (2^-1074 in double, far below any float32 quantity; 2^-16445 in long
/// double) no factor of the model lifts to 2^-1000.
RC_GTEST_PROP(BoundInHardware, IsNeverBelowTheMpfrBoundAndBarelyAbove, ()) {
  const Scenario s = *gen_any_scenario();
  std::size_t compared = compare_bounds<long double>(s);
  if (s.dtype.precision == 24) compared += compare_bounds<double>(s);
  RC_TAG(compared > 0);
}

TEST(BoundInHardware, ReachesWhereADoubleBoundOverflows) {
  // A float64 gradient of 1e160: g^2 = 1e320 is past double's range, so a
  // double bound of v is infinite (the reason the verifier's bound is a long
  // double, with MPFR behind it for anything non-finite).
  const Preset& p = preset_by_name("pytorch-adam");
  const HyperValues<R> h = values_of<R>(p.defaults);
  ReferenceAdam<R> a(p.convention, h, {R(1)}), b(p.convention, h, {R(1)}), c(p.convention, h, {R(1)});
  ErrorModel<R, double> in_double(PrecisionRules(float64_format), h, 1);
  ErrorModel<R, long double> in_long_double(PrecisionRules(float64_format), h, 1);
  ErrorModel<R> in_mpfr(PrecisionRules(float64_format), h, 1);
  a.step({R("1e160")}, std::nullopt, in_double);
  b.step({R("1e160")}, std::nullopt, in_long_double);
  c.step({R("1e160")}, std::nullopt, in_mpfr);
  EXPECT_TRUE(std::isinf(in_double.bounds()[0].v));
  const R mpfr_bound = in_mpfr.bounds()[0].v;
  EXPECT_GE(R(in_long_double.bounds()[0].v), mpfr_bound);
  EXPECT_LE(R(in_long_double.bounds()[0].v), mpfr_bound * (1 + ldexp(R(1), -44)));
}

TEST(BoundInHardware, VerifierJudgesAsInMpfr) {
  // The same verdicts and counts with either bound, on correct runs, on runs
  // with one value moved by 3 ulps (near the allowed error) and by 1e-3
  // relative (far past it), over every preset in both formats.
  std::size_t cases = 0, failures = 0;
  for (const Preset& p : presets())
    for (const FloatFormat& f : {float32_format, float64_format}) {
      const adamconf::Setup setup{OptimizerSpec{p.name, PresetOptions{}, p.defaults, p.convention}, f};
      RunCase c;
      ++cases;
      c.theta0 = gen::seeded_theta0(cases, f, 300);
      c.grads = gen::seeded_gradients(cases, f, 1e-8, 4, 300);
      c.tensors = {{100, 0}, {0, 0}, {200, 0}};
      FloatImplementation impl("float");
      RunResult r = impl.run(setup, {c}).front();
      const double correct = r.theta[2][150];
      for (int bad = 0; bad < 3; ++bad) {
        if (bad == 1) r.theta[2][150] = std::nextafter(std::nextafter(std::nextafter(correct, 1e300), 1e300), 1e300);
        if (bad == 2) r.theta[2][150] = correct == 0 ? 1e-3 : correct * (1 + 1e-3);
        VerifySettings fast, mpfr;
        mpfr.bound = BoundArithmetic::mpfr;
        const Verification x = verify_trajectory(setup, c, r, fast), y = verify_trajectory(setup, c, r, mpfr);
        EXPECT_EQ(x.failure.has_value(), y.failure.has_value()) << p.name << " " << f.name;
        if (x.failure && y.failure) {
          EXPECT_EQ(*x.failure, *y.failure);
        }
        EXPECT_EQ(x.statistics.count, y.statistics.count);
        EXPECT_EQ(x.statistics.max_error_ulps, y.statistics.max_error_ulps);
        failures += x.failure.has_value();
        if (bad == 0) {
          EXPECT_FALSE(x.failure) << *x.failure;
        }
        if (bad == 2) {
          EXPECT_TRUE(x.failure) << p.name << " " << f.name;
        }
      }
    }
  EXPECT_GE(failures, cases);
}

}  // namespace
}  // namespace adamconf
