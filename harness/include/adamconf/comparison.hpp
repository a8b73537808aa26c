// Observed versus allowed error, in ulps of the target format (Boost.Math
// style: max and RMS in units of epsilon, the worst case with its inputs).
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include "adamconf/exact_run.hpp"

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

/// `output`: observed is a value the implementation stored in f (theta, m, v,
/// vmax), so one f cannot hold fails; false for a value computed from several
/// (theta + compensation, summed in double).
Comparison compare(double observed, const R& exact, const R& allowed, const FloatFormat& f, bool output = true);

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

  /// A compared output of the format, described when it is the worst so far.
  void add(const Comparison& c, const std::string& where, const FloatFormat& f);
  /// A compared output that is not the worst: counted, not described.
  void add_value(const Comparison& c);
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

/// Hex float of a value of format f (Python float.hex form, trimmed of trailing zeros).
std::string show_value(double x);

}  // namespace adamconf
