// adamconf golden check: an implementation's results against a golden file,
// per step max and RMS error in ulps and pass/fail against the allowed error.
#include <cmath>

#include "adamconf/bounded_json.hpp"
#include "adamconf/golden.hpp"
#include "adamconf/precision_rules.hpp"
#include "adamconf/judge.hpp"
#include "internal.hpp"

namespace adamconf::golden {

StepCheck detail::judge_row(int t, const std::string& quantity, const std::vector<double>& values,
                            const std::vector<R>& exact, const std::vector<R>& allowed, const FloatFormat& format,
                            CheckReport& report) {
  StepCheck s;
  s.t = t;
  s.quantity = quantity;
  // Every value judged as the properties judge one (judge(): the one NaN,
  // infinity and not-in-the-format policy), through one recorder per step.
  Recorder recorder;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const Judged j = recorder.record(values[i], exact[i], allowed[i], format, [i] { return "element " + std::to_string(i); });
    s.max_allowed_ulps = std::max(s.max_allowed_ulps, j.comparison.allowed_ulps);
    if (j.worst) s.worst_element = i;
    if (j.comparison.unbounded) ++report.unjudged;
    ++report.compared;
  }
  const ErrorStatistics& statistics = recorder.statistics();
  s.max_error_ulps = statistics.max_error_ulps;
  s.rms_error_ulps = statistics.rms_ulps();
  s.worst_ratio = statistics.worst_ratio;
  s.worst = statistics.worst;
  s.failures = recorder.failures();
  report.failures += s.failures;
  return s;
}

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
    const FloatFormat& format =
        PrecisionRules(g.dtype, g.options.precision, g.options.state_formats).format_of(*quantity_by_name(quantity));
    for (const auto& step : g.trace)
      report.steps.push_back(detail::judge_row(step.t, quantity, values[static_cast<std::size_t>(step.t - 1)],
                                               step.exact.at(quantity), step.allowed.at(quantity), format, report));
  }
  // Zero values compared is no pass (a golden file recording no step used to
  // pass any results).
  if (report.compared == 0) throw FileError(g.path + ": trace: no recorded values to compare the results with");
  return report;
}

}  // namespace adamconf::golden
