// adamconf golden check: an implementation's results against a golden file,
// per step max and RMS error in ulps and pass/fail against the allowed error.
#include <cmath>

#include "adamconf/bounded_json.hpp"
#include "adamconf/golden.hpp"

namespace adamconf::golden {

CheckReport check(const GoldenTrace& g, const Results& results) {
  // Shape errors name the results file and the field: "<results>: theta: ...".
  const std::string file = results.path.empty() ? std::string("results") : results.path;
  if (results.golden != g.name)
    throw FileError(file + ": golden: the results are for \"" + excerpt(results.golden) + "\", not \"" + g.name + "\"");
  CheckReport report;
  for (const auto& [quantity, values] : results.values) {
    if (std::find(g.fields.begin(), g.fields.end(), quantity) == g.fields.end() || quantity == "m_hat" ||
        quantity == "v_hat" || quantity == "update")
      throw FileError(file + ": " + quantity + ": the golden file " + g.path + " does not record " + quantity);
    if (values.size() != g.steps)
      throw FileError(file + ": " + quantity + ": has " + std::to_string(values.size()) + " steps, the golden file " +
                      g.path + " " + std::to_string(g.steps));
    for (std::size_t t = 0; t < values.size(); ++t)
      if (values[t].size() != g.elements)
        throw FileError(file + ": " + quantity + "[" + std::to_string(t) + "]: has " + std::to_string(values[t].size()) +
                        " values, the golden file " + g.path + " " + std::to_string(g.elements));
    // The format the quantity is stored in: float32 for a master's theta, a state format of its own.
    const FloatFormat& format = stored_format(g.dtype, g.options.precision, g.options.state_formats, quantity);
    for (const auto& step : g.trace) {
      const std::size_t t = static_cast<std::size_t>(step.t - 1);
      StepCheck s;
      s.t = step.t;
      s.quantity = quantity;
      double sum_squares = 0;
      for (std::size_t i = 0; i < g.elements; ++i) {
        const R& exact = step.exact.at(quantity)[i];
        const R& allowed = step.allowed.at(quantity)[i];
        const double x = values[t][i];
        const R ulp = ulp_at(exact, format);
        // a value the format cannot hold is not an implementation's output in that format
        const bool representable = std::isnan(x) || round_to_format(R(x), format) == x;
        // +-inf agrees where a value within the allowed error of exact overflows (properties' compare())
        const bool agreeing_infinity = std::isinf(x) && exact != 0 && (x > 0) == (exact > 0);
        const bool finite = (std::isfinite(x) || agreeing_infinity) && representable;
        const R error = !finite ? R(0) : agreeing_infinity ? distance_to_overflow(exact, format) : R(abs(R(x) - exact));
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
          s.worst = hex_float_short(x) + (representable ? "" : std::string(" (not a ") + format.name + " value)") +
                    "  expected " + hex_float_short(round_to_format(exact, format)) +
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
  // Zero values compared is no pass (a golden file recording no step used to
  // pass any results).
  if (report.compared == 0) throw FileError(g.path + ": trace: no recorded values to compare the results with");
  return report;
}

}  // namespace adamconf::golden
