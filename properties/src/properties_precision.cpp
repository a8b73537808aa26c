// Properties of the mixed-precision conventions that the trajectory bound
// alone cannot state: stochastic rounding rounds up as often as the fraction
// says (an exact binomial test with a stated false-alarm probability).
#include <boost/math/distributions/binomial.hpp>

#include <cmath>
#include <sstream>

#include "adamconf/exact_run.hpp"
#include "property_helpers.hpp"

namespace adamconf::detail {

namespace {

/// Elements per group (identical inputs: one float32 value y, rounded up or
/// down independently N times) and groups per case.
constexpr int kCopies = 512;
constexpr int kGroups = 16;
/// The probability that a correct implementation fails one run of the property
/// (every case, every group, both tails): each one-sided test runs at
/// kFalseAlarmPerRun / (2 kGroups cases), so by the union bound the run's
/// false-alarm probability is at most this, whatever the true fractions.
constexpr double kFalseAlarmPerRun = 1e-6;

std::string needs_stochastic_rounding(const PropertyContext& ctx) {
  if (!ctx.rules().stochastic_rounding())
    return "applies to --precision stochastic-rounding over bfloat16 or float16";
  return "";
}

/// theta0 for group j: a storage value whose spacing is 2^k lr for k from -4
/// up to 3 (k < -1: the update is below half an ulp, where round to nearest
/// stalls), sign and fraction random.
double theta_with_spacing(const FloatFormat& f, double lr, int k) {
  const int q = static_cast<int>(std::floor(std::log2(lr))) + k;  // the spacing 2^q
  const int exponent = std::clamp(q + f.precision - 1, f.min_exponent, f.max_exponent - 1);
  const std::uint64_t fraction = *rc::gen::inRange<std::uint64_t>(0, std::uint64_t(1) << (f.precision - 1));
  return float_from(f, *rc::gen::arbitrary<bool>(), fraction, exponent);
}

struct Group {
  double lo = 0, hi = 0;  // the storage neighbours of y, lo toward zero
  R p_low = 0, p_high = 0;  // the round-up probability, as far as y is known
  std::size_t up = 0;
};

Property stochastic_rounding_rounds_up_in_proportion() {
  return {
      "stochastic-rounding-rounds-up-in-proportion",
      "stochastic rounding stores each theta as one of the two neighbours of its float32 value, rounding up as often as "
      "its fraction says (exact binomial test, false-alarm probability at most 1e-6 per run)",
      needs_stochastic_rounding,
      [](Checker& checker) {
        const PropertyContext& ctx = checker.context();
        const Preset& preset = ctx.preset_info();
        ScenarioShape shape = ctx.shape();
        shape.lr_schedule = false;
        Scenario s;
        s.dtype = ctx.dtype;
        s.spec = OptimizerSpec{.preset = preset.name, .options = ctx.options, .hyper = *gen::hyperparameters(preset, shape), .convention = ctx.convention()};
        const double lr = parse_decimal<double>(s.spec.hyper.lr);
        RC_PRE(lr > 0);
        // Step 1 from a fresh state: y = theta0 - lr g/(|g| + eps) (and decay), in float32.
        std::vector<double> theta0, grad;
        for (int j = 0; j < kGroups; ++j) {
          theta0.push_back(theta_with_spacing(ctx.dtype, lr, j % 8 - 4));
          grad.push_back(*gen::float_in(ctx.dtype, -6, 2));
        }
        // The float32 value y of each group and its bound: the same step in float32 (storage: nothing rounded after).
        Setup in_float32{s.spec, float32_format};
        in_float32.spec.convention.precision = Precision::storage;
        RunCase distinct;  // one element per group
        distinct.theta0 = theta0;
        distinct.grads = {grad};
        const ExactStep y = exact_trajectory(in_float32, distinct).front();
        std::vector<Group> groups(kGroups);
        int judged = 0;
        for (int j = 0; j < kGroups; ++j) {
          const R exact = y.record.elements[j].theta, bound = y.bounds[j].theta;
          const double down = round_to_format(exact - bound, ctx.dtype), high = round_to_format(exact + bound, ctx.dtype);
          const R q = ulp_at(exact, ctx.dtype);
          Group& g = groups[j];
          // y's whole interval strictly between two neighbours (else the fraction is unknown: not judged).
          const R low_edge = exact - bound, high_edge = exact + bound;
          R lo = floor(low_edge / q) * q;
          if (lo == low_edge || !std::isfinite(down) || !std::isfinite(high) || high_edge > lo + q || exact == 0) {
            g.lo = g.hi = NAN;
            continue;
          }
          const bool negative = exact < 0;
          g.lo = static_cast<double>(negative ? R(lo + q) : lo);  // toward zero
          g.hi = static_cast<double>(negative ? lo : R(lo + q));
          const R from_lo_low = abs(R(negative ? high_edge : low_edge) - R(g.lo)) / q;
          const R from_lo_high = abs(R(negative ? low_edge : high_edge) - R(g.lo)) / q;
          g.p_low = from_lo_low < 0 ? R(0) : from_lo_low;
          g.p_high = from_lo_high > 1 ? R(1) : from_lo_high;
          ++judged;
        }
        RC_PRE(judged > 0);
        RunCase c;
        c.grads.emplace_back();
        for (int j = 0; j < kGroups; ++j) {
          c.theta0.insert(c.theta0.end(), kCopies, theta0[j]);
          c.grads[0].insert(c.grads[0].end(), kCopies, grad[j]);
        }
        const Setup setup{s.spec, s.dtype};
        const RunCase seeded = with_rounding_seeds(setup, {c}).front();
        const RunResult r = checker.run(setup, {seeded}).front();
        const double alpha = kFalseAlarmPerRun / (2.0 * kGroups * std::max(1, checker.cases_in_run()));
        for (int j = 0; j < kGroups; ++j) {
          Group& g = groups[j];
          if (std::isnan(g.lo)) continue;
          for (int copy = 0; copy < kCopies; ++copy) {
            const std::size_t i = static_cast<std::size_t>(j * kCopies + copy);
            const double stored = r.theta[0][i];
            const bool neighbour = stored == g.lo || stored == g.hi;
            std::ostringstream what;  // described only when it fails
            if (!neighbour)
              what << "step 1, element " << i << ": theta => " << hex_float_short(stored) << ", not one of the neighbours "
                   << hex_float_short(g.lo) << " and " << hex_float_short(g.hi) << " of its float32 value "
                   << to_decimal(y.record.elements[j].theta, 17) << " +- " << to_decimal(y.bounds[j].theta, 3);
            checker.expect_true(neighbour, what.str());
            g.up += stored == g.hi;
          }
          // P(X >= up) under the largest fraction, P(X <= up) under the smallest: both must exceed alpha.
          // (Copies whose float32 values differ within the bound give a Poisson-binomial count,
          // whose tails these binomial ones still dominate.)
          const double p_high = static_cast<double>(g.p_high), p_low = static_cast<double>(g.p_low);
          const boost::math::binomial_distribution<double> at_high(kCopies, p_high), at_low(kCopies, p_low);
          const double upper_tail = g.up == 0 ? 1.0 : boost::math::cdf(boost::math::complement(at_high, static_cast<double>(g.up - 1)));
          const double lower_tail = boost::math::cdf(at_low, static_cast<double>(g.up));
          std::ostringstream what;
          what << "step 1, elements " << j * kCopies << ".." << (j + 1) * kCopies - 1 << " (theta0 "
               << hex_float_short(theta0[j]) << ", gradient " << hex_float_short(grad[j]) << "): " << g.up << " of "
               << kCopies << " rounded up to " << hex_float_short(g.hi) << ", expected a fraction in ["
               << to_decimal(g.p_low, 6) << ", " << to_decimal(g.p_high, 6) << "] (rounding_seed " << seeded.rounding_seed
               << "); the test's level " << alpha << " (1e-6 per run) against P(" << (upper_tail < lower_tail ? ">= " : "<= ")
               << g.up << ")";
          checker.expect_at_most(R(alpha), R(std::min(upper_tail, lower_tail)), what.str());
        }
      },
      100, false};
}

std::string needs_beta2(const PropertyContext& ctx) {
  if (!ctx.capabilities.state_io)
    return "needs state read/write (v shows beta2 from step 1; theta's bias-corrected step hides it for thousands of steps)";
  if (!ctx.preset_info().exposes("beta2")) return "the preset has no beta2";
  if (const std::string why = ctx.why_held("beta2"); !why.empty()) return "beta2 cannot vary: " + why;
  return "";
}

/// beta2 = 0.999 against 0.9999: v = (1 - beta2) g^2 at step 1 differs tenfold,
/// yet both are 1 in bfloat16 (0.99609375 is the nearest below), so an
/// implementation holding beta2 in the storage format gives both the same
/// trajectory. Judged only where the exact values are farther apart than both
/// bounds: there every pair of correct results differs.
Property beta2_sensitivity() {
  return {
      "beta2-0.999-and-0.9999-give-different-moments",
      "beta2 = 0.999 and beta2 = 0.9999 give different second moments and parameters wherever their exact values are "
      "farther apart than both error bounds (a beta2 held in bfloat16 is 1 for both)",
      needs_beta2,
      [](Checker& checker) {
        const PropertyContext& ctx = checker.context();
        Scenario a = *gen::scenario(ctx.shape());
        a.run.record_states = true;
        a.spec.hyper.beta2 = "0.999";
        Scenario b = a;
        b.spec.hyper.beta2 = "0.9999";
        const RunResult ra = checker.run(a), rb = checker.run(b);
        const auto ea = exact_trajectory(setup_of(a), a.run), eb = exact_trajectory(setup_of(b), b.run);
        const auto slices = slices_of(a.run);
        auto judge = [&](double x, double y, const R& exact_x, const R& exact_y, const R& bound_x, const R& bound_y,
                         std::size_t t, std::size_t i, const char* what) {
          if (!(abs(R(exact_x - exact_y)) > R(bound_x + bound_y))) {
            // Within reach of each other: a correct pair may coincide.
            checker.note_unjudged("within reach of its partner (the exact values under beta2 = 0.999 and 0.9999 "
                                  "no farther apart than both error bounds)");
            return;
          }
          const bool differ = std::isnan(x) || std::isnan(y) || x != y;
          std::string message;  // described only when it fails
          if (!differ)
            message = at_tensor(slices, t, i, what) + " => " + hex_float_short(x) +
                      " under beta2 = 0.999 and under 0.9999 alike; exact " + to_decimal(exact_x, 6) + " and " +
                      to_decimal(exact_y, 6) + ", each within " + to_decimal(bound_x, 3) + " and " + to_decimal(bound_y, 3) +
                      ": beta2 is held where both round alike (bfloat16 holds both as 1)";
          checker.expect_true(differ, message);
        };
        for (std::size_t t = 0; t < a.run.grads.size(); ++t)
          for (std::size_t i = 0; i < a.run.theta0.size(); ++i) {
            const auto &xa = ea[t].record.elements[i], &xb = eb[t].record.elements[i];
            const auto &ba = ea[t].bounds[i], &bb = eb[t].bounds[i];
            judge(ra.theta[t][i], rb.theta[t][i], xa.theta, xb.theta, ba.theta, bb.theta, t, i, "theta");
            judge(ra.states[t].v[i], rb.states[t].v[i], xa.v, xb.v, ba.v, bb.v, t, i, "v");
          }
      },
      50};
}

}  // namespace

std::vector<Property> precision_properties() { return {stochastic_rounding_rounds_up_in_proportion(), beta2_sensitivity()}; }

}  // namespace adamconf::detail
