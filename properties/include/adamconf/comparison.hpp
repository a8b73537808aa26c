// Observed versus allowed error, in ulps of the target format (Boost.Math
// style: max and RMS in units of epsilon, the worst case with its inputs).
#pragma once

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

  /// "0x1.947ae2p-2 expected 0x1.947ae4p-2 (exact 0.39500000499...): error 1.3 ulps, allowed 2.1 ulps"
  std::string describe(const FloatFormat& f) const;
};

Comparison compare(double observed, const R& exact, const R& allowed, const FloatFormat& f);

/// Running max and RMS of errors in ulps, and the worst case by ratio.
struct ErrorStatistics {
  std::size_t count = 0;
  double max_error_ulps = 0;
  double sum_squares_ulps = 0;
  double worst_ratio = 0;
  std::string worst;  ///< description of the worst case, with its inputs

  void add(const Comparison& c, const std::string& where, const FloatFormat& f);
  /// One checked value: its error in ulps (0 for an inequality), its ratio to
  /// what is allowed, and the line that describes it.
  void add(double error_ulps, double ratio, const std::string& description);
  /// A checked value that is not the worst: counted, not described.
  void add_value(double error_ulps);
  double rms_ulps() const;
  void merge(const ErrorStatistics& other);
};

/// Hex float of a value of format f (Python float.hex form, trimmed of trailing zeros).
std::string show_value(double x);

}  // namespace adamconf
