#include "adamconf/judge.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace adamconf {

std::string show_value(double x) { return hex_float_short(x); }

namespace {

/// x / 2^q as a double, without a division: x's significand and exponent
/// (mpfr_get_d_2exp, |mant| in [0.5, 1)) rescaled. For reporting only.
double scaled_to_double(const R& x, long q) {
  long e = 0;
  const double mant = mpfr_get_d_2exp(&e, x.backend().data(), MPFR_RNDN);
  if (mant == 0) return 0.0;
  const long shift = std::clamp(e - q, -100000L, 100000L);
  return std::ldexp(mant, static_cast<int>(shift));
}

/// a / b as a double for b > 0 (a ratio to report).
double ratio_of(const R& a, const R& b) {
  long ea = 0, eb = 0;
  const double ma = mpfr_get_d_2exp(&ea, a.backend().data(), MPFR_RNDN);
  const double mb = mpfr_get_d_2exp(&eb, b.backend().data(), MPFR_RNDN);
  if (ma == 0) return 0.0;
  return std::ldexp(ma / mb, static_cast<int>(std::clamp(ea - eb, -100000L, 100000L)));
}

}  // namespace

Comparison judge(double observed, const R& exact, const R& allowed, const FloatFormat& f, bool output) {
  Comparison c;
  c.observed = observed;
  c.exact = exact;
  c.allowed = allowed;
  const int q = quantum_exponent(exact, f);  // ulp = 2^q: the ulps below are scalings, not divisions
  if (std::isnan(observed)) {
    // NaN agrees with nothing, except where the bound reaches the format's
    // largest finite value: an earlier value may then be inf (inf - inf,
    // inf/inf), and nothing is judged.
    c.error_ulps = std::numeric_limits<double>::infinity();
    c.ratio = std::numeric_limits<double>::infinity();
    c.pass = allowed >= R(f.largest_finite());
    if (c.pass) c.ratio = 0;
  } else if (std::isinf(observed)) {
    // +-inf is a correct result where a value within the allowed error of
    // exact rounds to it: the error is the distance from exact to the
    // overflow threshold of the infinity's sign (for the other sign that is
    // the threshold plus |exact|, within reach only of a bound beyond the format).
    const bool positive = observed > 0;
    const R signed_exact = positive ? exact : R(-exact);
    const R threshold = R(f.largest_finite()) + ldexp(R(1), f.max_exponent - f.precision);
    R to_overflow = threshold - signed_exact;
    if (to_overflow < 0) to_overflow = 0;
    c.pass = to_overflow <= allowed;
    c.error_ulps = scaled_to_double(to_overflow, q);
    c.ratio = to_overflow == 0 ? 0.0 : allowed == 0 ? std::numeric_limits<double>::infinity() : ratio_of(to_overflow, allowed);
  } else {
    R error = R(observed);
    error -= exact;
    if (error < 0) error.backend().negate();
    c.error_ulps = scaled_to_double(error, q);
    c.pass = error <= allowed;  // exact, in MPFR
    // An error at the level of the reference's own rounding is no error of the
    // implementation's: it counts as 0 in the ratio (pass/fail is unchanged).
    const bool immaterial =
        error == 0 || (exact != 0 && mpfr_get_exp(error.backend().data()) <=
                                         mpfr_get_exp(exact.backend().data()) + 16 - significand_bits<R>() - 1);
    c.ratio = immaterial ? 0.0 : allowed == 0 ? std::numeric_limits<double>::infinity() : ratio_of(error, allowed);
  }
  c.allowed_ulps = scaled_to_double(allowed, q);
  c.unbounded = allowed >= R(f.largest_finite());
  if (output && !holds(f, observed)) {
    c.in_format = false;
    c.pass = false;
    c.ratio = std::numeric_limits<double>::infinity();
  }
  return c;
}

namespace {
std::string ulps_text(double x) {
  char buf[64];
  if (std::isinf(x)) return "inf";
  std::snprintf(buf, sizeof buf, x < 100 ? "%.3g" : "%.4g", x);
  return buf;
}
}  // namespace

std::string Comparison::describe(const FloatFormat& f) const {
  return show_value(observed) + (in_format ? "" : std::string(" (not a ") + f.name + " value)") + "  expected " +
         show_value(round_to_format(exact, f)) + " (exact " +
         to_decimal(exact, 21) + "): error " + ulps_text(error_ulps) + " ulps, allowed " + ulps_text(allowed_ulps) +
         " ulps";
}

void ErrorStatistics::bin(double ratio) {
  int k = kRatioBins - 1;
  if (!(ratio <= 0.5)) {
    k = 0;  // above 1/2, failures and NaN included
  } else if (ratio > 0) {
    int e = 0;
    const double m = std::frexp(ratio, &e);  // ratio = m 2^e, m in [0.5, 1): in (2^(e-1), 2^e], or 2^(e-1) itself
    k = std::min(kRatioBins - 1, m == 0.5 ? 1 - e : -e);
  }
  ++ratio_bins[static_cast<std::size_t>(k)];
}

void ErrorStatistics::add_value(const Comparison& c) {
  add_certified(c.ratio, c.error_ulps, c.exact == 0, c.observed, c.unbounded);
}

void ErrorStatistics::add_certified(double ratio, double error_ulps, bool exact_zero, double observed,
                                    bool bound_unbounded) {
  ++count;
  if (bound_unbounded) ++unbounded;
  bin(ratio);
  if (exact_zero) {
    ++at_zero;
    max_abs_error_at_zero = std::max(max_abs_error_at_zero, std::fabs(observed));
    return;
  }
  ++ulps_count;
  max_error_ulps = std::max(max_error_ulps, error_ulps);
  sum_squares_ulps += error_ulps * error_ulps;
}

void ErrorStatistics::set_worst(double ratio, std::string description) {
  worst_ratio = ratio;
  worst = std::move(description);
}

void ErrorStatistics::add_unjudged() {
  ++count;
  ++unbounded;
}

void ErrorStatistics::add_bound(double ratio, const std::string& description) {
  ++count;
  bin(ratio);
  if (ratio > worst_ratio || worst.empty()) {
    worst_ratio = ratio;
    worst = description;
  }
}

double ErrorStatistics::rms_ulps() const { return ulps_count ? std::sqrt(sum_squares_ulps / ulps_count) : 0.0; }

double ErrorStatistics::ratio_quantile(double q) const {
  // Over the values with a ratio (the ones with no bound, like bitwise equality, have none).
  std::size_t total = 0;
  for (const std::size_t n : ratio_bins) total += n;
  if (total == 0) return 0;
  const double target = q * static_cast<double>(total);
  double below = 0;
  for (int k = kRatioBins - 1; k >= 0; --k) {  // smallest ratios first
    below += static_cast<double>(ratio_bins[static_cast<std::size_t>(k)]);
    if (below >= target && ratio_bins[static_cast<std::size_t>(k)]) return std::ldexp(1.0, -k);
  }
  return 1;
}

void ErrorStatistics::merge(const ErrorStatistics& o) {
  count += o.count;
  ulps_count += o.ulps_count;
  max_error_ulps = std::max(max_error_ulps, o.max_error_ulps);
  sum_squares_ulps += o.sum_squares_ulps;
  for (std::size_t k = 0; k < ratio_bins.size(); ++k) ratio_bins[k] += o.ratio_bins[k];
  at_zero += o.at_zero;
  unbounded += o.unbounded;
  max_abs_error_at_zero = std::max(max_abs_error_at_zero, o.max_abs_error_at_zero);
  if (o.worst_ratio > worst_ratio || worst.empty()) {
    worst_ratio = o.worst_ratio;
    worst = o.worst;
  }
}

}  // namespace adamconf
