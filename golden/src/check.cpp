// adamconf golden check: an implementation's results against a golden file,
// per step max and RMS error in ulps and pass/fail against the allowed error.
#include <cmath>

#include "adamconf/bounded_json.hpp"
#include "adamconf/comparison.hpp"
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
        // Judged as the properties judge a value (compare(): the one NaN,
        // infinity and not-in-the-format policy): a NaN or an infinity passes
        // only where the bound reaches beyond the format (an earlier value may
        // then be inf, and inf - inf is NaN), and counts as not judged there.
        const Comparison c = compare(x, exact, allowed, format);
        const double error_ulps = c.error_ulps, allowed_ulps = c.allowed_ulps, ratio = c.ratio;
        sum_squares += error_ulps * error_ulps;
        s.max_allowed_ulps = std::max(s.max_allowed_ulps, allowed_ulps);
        if (!c.pass) ++s.failures;
        if (c.unbounded) ++report.unjudged;
        if (ratio >= s.worst_ratio || i == 0) {
          s.worst_ratio = ratio;
          s.worst_element = i;
          char buf[160];
          std::snprintf(buf, sizeof buf, ": error %.3g ulps, allowed %.3g ulps", error_ulps, allowed_ulps);
          s.worst = hex_float_short(x) + (c.in_format ? "" : std::string(" (not a ") + format.name + " value)") +
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
