// adamconf golden check: an implementation's results against a golden file,
// per step max and RMS error in ulps and pass/fail against the allowed error.
#include <cmath>

#include "adamconf/golden.hpp"

namespace adamconf::golden {

CheckReport check(const GoldenTrace& g, const Results& results) {
  if (results.golden != g.name)
    throw FileError("results are for golden \"" + results.golden + "\", not \"" + g.name + "\"");
  CheckReport report;
  for (const auto& [quantity, values] : results.values) {
    if (std::find(g.fields.begin(), g.fields.end(), quantity) == g.fields.end())
      throw FileError("results have " + quantity + ", which the golden file " + g.name + " does not record");
    if (values.size() != g.trace.size())
      throw FileError("results have " + std::to_string(values.size()) + " steps of " + quantity + ", the golden file " +
                      std::to_string(g.trace.size()));
    for (std::size_t t = 0; t < values.size(); ++t) {
      if (values[t].size() != g.elements)
        throw FileError("results step " + std::to_string(t + 1) + " has " + std::to_string(values[t].size()) + " " +
                        quantity + " values, the golden file " + std::to_string(g.elements));
      StepCheck s;
      s.t = static_cast<int>(t + 1);
      s.quantity = quantity;
      double sum_squares = 0;
      for (std::size_t i = 0; i < g.elements; ++i) {
        const R& exact = g.trace[t].exact.at(quantity)[i];
        const R& allowed = g.trace[t].allowed.at(quantity)[i];
        const double x = values[t][i];
        const R ulp = ulp_at(exact, g.dtype);
        const bool finite = std::isfinite(x);
        const R error = finite ? R(abs(R(x) - exact)) : R(0);
        const double error_ulps = finite ? static_cast<double>(error / ulp) : INFINITY;
        const double allowed_ulps = static_cast<double>(allowed / ulp);
        const bool ok = finite && error <= allowed;
        const double ratio = !finite ? INFINITY : error == 0 ? 0.0 : allowed == 0 ? INFINITY : static_cast<double>(error / allowed);
        sum_squares += error_ulps * error_ulps;
        s.max_allowed_ulps = std::max(s.max_allowed_ulps, allowed_ulps);
        if (!ok) ++s.failures;
        if (ratio >= s.worst_ratio || i == 0) {
          s.worst_ratio = ratio;
          s.worst_element = i;
          char buf[160];
          std::snprintf(buf, sizeof buf, ": error %.3g ulps, allowed %.3g ulps", error_ulps, allowed_ulps);
          s.worst = hex_float_short(x) + "  expected " + hex_float_short(round_to_format(exact, g.dtype)) +
                    " (exact " + decimal(exact, g.digits) + ")" + buf;
        }
        s.max_error_ulps = std::max(s.max_error_ulps, error_ulps);
        ++report.compared;
      }
      s.rms_error_ulps = std::sqrt(sum_squares / static_cast<double>(g.elements));
      report.failures += s.failures;
      report.steps.push_back(std::move(s));
    }
  }
  return report;
}

}  // namespace adamconf::golden
