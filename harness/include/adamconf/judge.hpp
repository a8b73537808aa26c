// The one judge of a value (Boost.Math's relative_error: one function, one
// special-value policy, one report format). judge() decides whether an
// implementation's value agrees with the exact one within the error model's
// allowed error, and how far off it is in ulps and as a fraction of the
// allowed error; a Recorder counts every judged value and describes only the
// worst and the failures (max and RMS in ulps, the worst case with its
// inputs). The property checker, the trajectory verifier, `golden check` and
// `identify` all judge through it.
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include "adamconf/float_format.hpp"
#include "adamconf/real.hpp"

namespace adamconf {

/// One compared value: an implementation's `observed`, the `exact` value and
/// the error model's `allowed` absolute error.
struct Comparison {
  double observed = 0;
  R exact = 0;
  R allowed = 0;
  double error_ulps = 0;    ///< |observed - exact| in ulps of the format at exact
  double allowed_ulps = 0;  ///< allowed in the same ulps
  double ratio = 0;         ///< |observed - exact| / allowed (0 when both are 0; inf when allowed is 0)
  bool pass = true;         ///< |observed - exact| <= allowed, and observed is not NaN
  bool unbounded = false;   ///< allowed reaches the format's largest finite value: any finite value passes
  /// The observed value is one the format holds (or inf, NaN). A value it
  /// cannot hold (a float32 m where bfloat16 is declared, a double where
  /// float32 is) is no output of that format: it fails, whatever its error.
  bool in_format = true;

  /// "0x1.947ae2p-2 expected 0x1.947ae4p-2 (exact 0.39500000499...): error 1.3 ulps, allowed 2.1 ulps"
  std::string describe(const FloatFormat& f) const;
};

/// The judge. |observed - exact| <= allowed, computed exactly; the special values:
///   - NaN agrees with nothing, except where the bound reaches the format's
///     largest finite value (an earlier value may then be inf, and inf - inf is
///     NaN): there it passes, and counts as not judged (`unbounded`);
///   - +-inf is correct where a value within the allowed error of exact
///     rounds to it: its error is the distance from exact to the overflow
///     threshold of its sign;
///   - a value the format cannot hold (a float32 m where bfloat16 is declared)
///     fails whatever its error, unless `output` is false: a value computed
///     from several (theta + compensation, summed in double).
/// Errors at the level of the reference's own rounding count as 0 in the ratio.
Comparison judge(double observed, const R& exact, const R& allowed, const FloatFormat& f, bool output = true);

/// Running max and RMS of errors in ulps, the worst case by ratio, and how the
/// ratios spread (the headroom of the bulk: a correct implementation often
/// meets its bound exactly on a few values, where the dominant error is one the
/// bound charges in full, such as beta2 rounded to the format).
struct ErrorStatistics {
  static constexpr int kRatioBins = 32;
  std::size_t count = 0;          ///< values checked
  std::size_t ulps_count = 0;     ///< of them, outputs of the format with an exact value other than 0 (max and RMS)
  double max_error_ulps = 0;      ///< over those
  double sum_squares_ulps = 0;
  double worst_ratio = 0;
  std::string worst;  ///< description of the worst case, with its inputs
  /// ratio_bins[k]: values with ratio in (2^-(k+1), 2^-k]; bin 0 also holds
  /// the ratios above 1 (failures); the last bin every ratio <= 2^-(kRatioBins-1), 0 included.
  std::array<std::size_t, kRatioBins> ratio_bins{};
  std::size_t at_zero = 0;            ///< outputs whose exact value is 0: an ulp there is the format's smallest, so no ulps
  std::size_t unbounded = 0;          ///< outputs whose bound allows any finite value: compared, but nothing judged
  double max_abs_error_at_zero = 0;   ///< their largest |observed|

  /// A judged output of the format: counted, and binned by its ratio.
  void add_value(const Comparison& c);
  /// An output certified to pass by the fast path (fast_step.hpp), counted as
  /// add_value counts a comparison: its ratio (an upper bound of judge()'s),
  /// its error in ulps, whether its exact value is 0, the value observed, and
  /// whether its bound reached the format's largest value (judge()'s unbounded).
  void add_certified(double ratio, double error_ulps, bool exact_zero, double observed, bool unbounded);
  /// Makes `description` the worst value's, with its ratio.
  void set_worst(double ratio, std::string description);
  /// A checked value that is not an output of the format (a difference, a
  /// norm, an inequality): its ratio to what is allowed, no ulps.
  void add_bound(double ratio, const std::string& description);
  /// A value compared against no bound at all: counted as unbounded, no ratio.
  void add_unjudged();
  double rms_ulps() const;
  /// The upper edge 2^-k of the bin holding the q-quantile of the ratios (0 when no value was checked).
  double ratio_quantile(double q) const;
  void merge(const ErrorStatistics& other);

 private:
  void bin(double ratio);
};

/// One value a Recorder judged.
struct Judged {
  Comparison comparison;
  bool worst = false;       ///< the worst value recorded so far (statistics().worst describes it)
  std::string description;  ///< "<where> => <comparison>", only for the worst so far and a failure; else empty
  bool pass() const { return comparison.pass; }
};

/// Records judged values: counts every one, and describes (the exact value's
/// decimal text, most of the cost of a comparison) only the worst so far and
/// the failures.
class Recorder {
 public:
  /// Judges one value and records it; `where()` ("step 2, element 7: theta")
  /// is called only when the value is described.
  template <class Where>
  Judged record(double observed, const R& exact, const R& allowed, const FloatFormat& f, Where&& where,
                bool output = true) {
    Judged j{.comparison = judge(observed, exact, allowed, f, output)};
    j.worst = j.comparison.ratio > statistics_.worst_ratio || statistics_.worst.empty();
    statistics_.add_value(j.comparison);
    if (!j.comparison.pass) ++failures_;
    if (j.worst || !j.comparison.pass) {
      j.description = std::string(where()) + " => " + j.comparison.describe(f);
      if (j.worst) statistics_.set_worst(j.comparison.ratio, j.description);
    }
    return j;
  }
  /// A value the fast path certified to pass: counted, never described (the
  /// caller judges the worst candidates in MPFR, so that the worst is described exactly).
  void record_certified(double ratio, double error_ulps, bool exact_zero, double observed, bool unbounded) {
    statistics_.add_certified(ratio, error_ulps, exact_zero, observed, unbounded);
  }
  ErrorStatistics& statistics() { return statistics_; }
  const ErrorStatistics& statistics() const { return statistics_; }
  /// Values recorded that failed.
  std::size_t failures() const { return failures_; }

 private:
  ErrorStatistics statistics_;
  std::size_t failures_ = 0;
};

/// Hex float of a value of format f (Python float.hex form, trimmed of trailing zeros).
std::string show_value(double x);

}  // namespace adamconf
