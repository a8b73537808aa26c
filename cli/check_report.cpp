#include "check_report.hpp"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

namespace adamconf::cli {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += (static_cast<unsigned char>(c) < 32 && c != '\n' && c != '\t') ? ' ' : c;
    }
  }
  return out;
}

std::string format(const char* fmt, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, x);
  return buf;
}

namespace {

std::string indent(const std::string& text, const std::string& prefix) {
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out += prefix + line + "\n";
  return out;
}

}  // namespace

bool CheckRun::passed() const {
  if (!not_run.empty()) return false;
  for (const auto& r : results)
    if (r.status == PropertyResult::Status::failed || r.status == PropertyResult::Status::adapter_error) return false;
  return true;
}

void CheckRun::compute_traces() {
  traces.clear();
  for (const auto& r : results) traces.push_back(r.trace ? trace_points(*r.trace) : std::vector<TracePoint>{});
}

const std::vector<TracePoint>& CheckRun::trace_of(std::size_t k) const {
  static const std::vector<TracePoint> none;
  return k < traces.size() ? traces[k] : none;
}

std::string display_id(const PropertyResult& r) { return r.variant.empty() ? r.id : r.id + " [" + r.variant + "]"; }

std::string option_flags(const PresetOptions& options) {
  std::string s;
  if (options.amsgrad) s += " --amsgrad";
  if (options.maximize) s += " --maximize";
  if (!options.bias_correction) s += " --no-bias-correction";
  if (options.step_counter != StepCounter::integer) s += " --step-counter " + to_string(options.step_counter);
  if (options.precision != Precision::storage) s += " --precision " + to_string(options.precision);
  if (options.subnormals != Subnormals::gradual) s += " --subnormals " + to_string(options.subnormals);
  if (options.scalars != Scalars::working) s += " --scalars " + to_string(options.scalars);
  const StateFormats& f = options.state_formats;
  if (!f.m.empty() && f.m == f.v && f.v == f.vmax) {
    s += " --state-format " + f.m;
  } else {
    if (!f.m.empty()) s += " --m-format " + f.m;
    if (!f.v.empty()) s += " --v-format " + f.v;
    if (!f.vmax.empty()) s += " --vmax-format " + f.vmax;
  }
  if (!f.compensation.empty()) s += " --compensation-format " + f.compensation;
  if (f.m_decay_in_format) s += " --m-decay in-format";
  if (f.v_decay_in_format) s += " --v-decay in-format";
  if (f.direction_in_format) s += " --direction in-format";
  return s;
}

std::string CheckRun::replay(const PropertyResult& result) const {
  std::string s = "adamconf check --impl " + shell_quote(impl_argument) + " --preset " + preset + " --dtype " + dtype;
  if (!optimizer.empty()) s += " --optimizer " + shell_quote(optimizer);
  for (const auto& [k, v] : pinned) s += " --set " + shell_quote(k + "=" + v);
  s += option_flags(options);
  if (!result.variant.empty()) s += " --" + result.variant;
  s += " --seed " + std::to_string(seed) + " --cases " + std::to_string(cases) + " --property " + result.id;
  if (shard.count > 1) s += " --shard " + shard.text();
  return s;
}

std::string ulps_of(const CheckRun& run) {
  const auto format = format_by_name(run.dtype);
  std::string states;  // the state tensors stored in a format of their own
  if (format && run.options.state_formats.any()) {
    const PrecisionRules rules(*format, preset_by_name(run.preset).resolve(run.options));
    for (const Quantity q : kStoredFormats)
      if (const FloatFormat& f = rules.format_of(q); f.name != rules.reported().name)
        states += std::string(states.empty() ? "" : ", ") + name(q) + " in " + f.name;
    if (!states.empty()) states = "; " + states;
  }
  if (!format || !PrecisionRules(*format, run.options.precision).master_weights()) return run.dtype + states;
  return std::string(PrecisionRules(*format, run.options.precision).reported().name) + " (the master weights; the " +
         run.dtype + " copy is compared bit for bit)" + states;
}

std::string render_header(const CheckRun& run) {
  std::string shard;
  if (run.shard.count > 1)
    shard = "\n  shard " + run.shard.text() + ": the cases whose ordinal in the whole run is " +
            std::to_string(run.shard.index) + " modulo " + std::to_string(run.shard.count);
  std::string stated;
  if (run.step_counter_from_adapter && run.options.step_counter == StepCounter::float32)
    stated += "\n  step counter float32, as the adapter's hello states: the count stops at 2^24 (PyTorch 1.12+, dlib)";
  if (run.step_counter_from_adapter && run.options.step_counter == StepCounter::int32)
    stated += "\n  step counter int32, as the adapter's hello states: the count stops at 2^31 - 1 (Optax, TF.js's saved "
              "iterations)";
  if (!run.bitwise_round_trip)
    stated += "\n  round trip within the bound, as the adapter's hello states: an imported state is not all the "
              "optimizer holds, so a resumed step is judged within its bound, not bit for bit";
  if (run.precision_from_adapter && run.options.precision != Precision::storage) {
    const std::string how = run.options.precision == Precision::master_weights
                                ? "float32 master weights and state, a " + run.dtype + " copy rounded to nearest even"
                            : run.options.precision == Precision::stochastic_rounding
                                ? "float32 arithmetic, theta rounded to " + run.dtype + " stochastically"
                            : run.options.precision == Precision::kahan_summation
                                ? "float32 arithmetic, theta and its Kahan compensation in " + run.dtype
                            : run.options.precision == Precision::storage_kahan
                                ? "every operation in " + run.dtype + ", the update accumulated into a Kahan compensation"
                            : run.options.precision == Precision::promoted
                                ? "float32 arithmetic, the products among " + run.dtype + " values (1 - beta1) g, g g, "
                                  "(1 - beta2) g g, wd theta and the update lr u rounded to " + run.dtype
                                : "float32 arithmetic, " + run.dtype + " when stored";
    stated += "\n  precision " + to_string(run.options.precision) + ", as the adapter's hello states: " + how;
  }
  if (run.subnormals_from_adapter)
    stated += "\n  subnormals flushed, as the adapter's hello states: a result below the smallest normal may be 0, a "
              "subnormal operand is read as 0";
  if (run.scalars_from_adapter)
    stated += "\n  scalars in float32, as the adapter's hello states: lr_t, the betas and the bias corrections may "
              "be held in float32" +
              std::string(run.options.scalars == Scalars::weak_dtype
                              ? ", and 1 - beta1, 1 - beta2 and wd in " + run.dtype + " (weak scalars)"
                              : "");
  if (run.state_formats_from_adapter)
    stated += "\n  state formats " + describe(run.options.state_formats) + ", as the adapter's hello states";
  if (!run.held.empty()) {
    stated += "\n  held, as the implementation takes no other value:";
    for (const auto& [name, value] : run.held) stated += " " + name + "=" + value;
  }
  return "adamconf check: " + run.implementation + " as " + run.preset + option_flags(run.options) + ", " + run.dtype + "\n  seed " +
         std::to_string(run.seed) + ", up to " + std::to_string(run.cases) + " cases per property; errors in ulps of " +
         ulps_of(run) + shard + stated + "\n\n";
}

std::string render_property(const CheckRun& run, const PropertyResult& r) {
  char head[200];
  std::snprintf(head, sizeof head, "  %-5s %-34s ", to_string(r.status).c_str(), display_id(r).c_str());
  std::string out = head;
  switch (r.status) {
    case PropertyResult::Status::passed:
      out += std::to_string(r.cases) + " cases";
      if (r.statistics.count) {
        out += ", worst " + format("%.3g", r.statistics.worst_ratio) + " of allowed";
        // Where the worst meets the bound, the median says how close the bulk comes (docs/reading-reports.md).
        if (r.statistics.worst_ratio > 0.5) out += " (median " + format("%.2g", r.statistics.ratio_quantile(0.5)) + ")";
        if (r.statistics.ulps_count) out += ", max error " + format("%.3g", r.statistics.max_error_ulps) + " ulps";
        if (r.statistics.unbounded)
          out += ", " + std::to_string(r.statistics.unbounded) + " of " + std::to_string(r.statistics.count) +
                 (r.unjudged_reason.empty() ? " values with a bound beyond the format (not judged)"
                                            : " values not judged, " + r.unjudged_reason.substr(0, r.unjudged_reason.find(" (")));
      }
      return out + format(" (%.1f s)\n", r.seconds);
    case PropertyResult::Status::skipped:
      return out + r.reason + "\n";
    case PropertyResult::Status::adapter_error:
      out += "on case " + std::to_string(r.cases) + "\n        " + r.reason + "\n";
      if (!r.counterexample.empty()) out += "        the request:\n" + indent(r.counterexample, "          ");
      return out + "        replay: " + run.replay(r) + "\n";
    default:
      out += "after " + std::to_string(r.cases) + " cases, shrunk " + std::to_string(r.shrinks) + " times" +
             (r.shrink_budget_spent ? " (stopped at the shrinking budget)" : "") + "\n";
      out += "        claim: " + r.claim + "\n";
      out += "        " + r.reason + "\n";
      if (!r.counterexample.empty()) out += "        inputs:\n" + indent(r.counterexample, "          ");
      return out + "        replay: " + run.replay(r) + "\n";
  }
}

std::string render_summary(const CheckRun& run) {
  int passed = 0, failed = 0, skipped = 0;
  for (const auto& r : run.results) {
    if (r.status == PropertyResult::Status::passed) ++passed;
    else if (r.status == PropertyResult::Status::skipped) ++skipped;
    else ++failed;
  }
  std::string out;
  for (const auto& id : run.not_run) out += "  ----  " + id + "  not run: the adapter failed\n";
  return out + "\n" + std::to_string(passed) + " passed, " + std::to_string(failed) + " failed, " +
         std::to_string(skipped) + " skipped" +
         (run.not_run.empty() ? "" : ", " + std::to_string(run.not_run.size()) + " not run") +
         format(" in %.1f s\n", run.seconds);
}

std::string render_text(const CheckRun& run) {
  std::string out = render_header(run);
  for (const auto& r : run.results) out += render_property(run, r);
  return out + render_summary(run);
}

std::string render_junit(const CheckRun& run) {
  int failures = 0, skipped = 0;
  for (const auto& r : run.results) {
    if (r.status == PropertyResult::Status::failed || r.status == PropertyResult::Status::adapter_error) ++failures;
    if (r.status == PropertyResult::Status::skipped) ++skipped;
  }
  const std::string suite = "adamconf." + run.preset + "." + run.dtype;
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n";
  out += "  <testsuite name=\"" + xml_escape(suite) + "\" tests=\"" +
         std::to_string(run.results.size() + run.not_run.size()) + "\" failures=\"" +
         std::to_string(failures + static_cast<int>(run.not_run.size())) + "\" skipped=\"" + std::to_string(skipped) +
         "\" time=\"" + format("%.3f", run.seconds) + "\">\n";
  out += "    <properties><property name=\"implementation\" value=\"" + xml_escape(run.implementation) +
         "\"/><property name=\"seed\" value=\"" + std::to_string(run.seed) + "\"/></properties>\n";
  for (const auto& r : run.results) {
    out += "    <testcase classname=\"" + xml_escape(suite) + "\" name=\"" + xml_escape(display_id(r)) + "\" time=\"" +
           format("%.3f", r.seconds) + "\">";
    if (r.status == PropertyResult::Status::skipped) {
      out += "<skipped message=\"" + xml_escape(r.reason) + "\"/>";
    } else if (r.status != PropertyResult::Status::passed) {
      out += "\n      <failure message=\"" + xml_escape(r.reason) + "\">" +
             xml_escape("claim: " + r.claim + "\n" + r.reason + "\ninputs:\n" + r.counterexample + "replay: " +
                        run.replay(r)) +
             "</failure>\n    ";
    }
    out += "</testcase>\n";
  }
  for (const auto& id : run.not_run)
    out += "    <testcase classname=\"" + xml_escape(suite) + "\" name=\"" + xml_escape(id) +
           "\"><failure message=\"not run: the adapter failed\"/></testcase>\n";
  return out + "  </testsuite>\n</testsuites>\n";
}

std::string render_json(const CheckRun& run) {
  nlohmann::ordered_json j;
  j["format"] = "adamconf-report/1";
  j["implementation"] = run.implementation;
  j["preset"] = run.preset;
  j["dtype"] = run.dtype;
  j["options"] = {{"amsgrad", run.options.amsgrad}, {"maximize", run.options.maximize},
                  {"bias_correction", run.options.bias_correction},
                  {"step_counter", to_string(run.options.step_counter)},
                  {"precision", to_string(run.options.precision)},
                  {"subnormals", to_string(run.options.subnormals)},
                  {"scalars", to_string(run.options.scalars)}};
  if (run.options.state_formats.any()) {
    const StateFormats& f = run.options.state_formats;
    j["options"]["state_formats"] = {{"m", f.m}, {"v", f.v}, {"vmax", f.vmax}};  // "" for theta's format
    if (!f.compensation.empty()) j["options"]["state_formats"]["compensation"] = f.compensation;
    if (f.m_decay_in_format) j["options"]["state_formats"]["m_decay"] = "in-format";
    if (f.v_decay_in_format) j["options"]["state_formats"]["v_decay"] = "in-format";
    if (f.direction_in_format) j["options"]["state_formats"]["direction"] = "in-format";
  }
  j["pinned"] = run.pinned;
  j["seed"] = run.seed;
  j["cases"] = run.cases;
  j["shard"] = {{"index", run.shard.index + 1}, {"count", run.shard.count}};
  j["passed"] = run.passed();
  j["seconds"] = run.seconds;
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (std::size_t k = 0; k < run.results.size(); ++k) {
    const PropertyResult& r = run.results[k];
    nlohmann::ordered_json p;
    p["id"] = r.id;
    if (!r.variant.empty()) p["variant"] = r.variant;
    p["claim"] = r.claim;
    p["status"] = r.status == PropertyResult::Status::passed    ? "pass"
                  : r.status == PropertyResult::Status::skipped ? "skip"
                  : r.status == PropertyResult::Status::failed  ? "fail"
                                                                : "adapter-error";
    p["cases"] = r.cases;
    p["case_indices"] = r.case_indices;
    p["seconds"] = r.seconds;
    if (!r.reason.empty()) p["reason"] = r.reason;
    if (!r.counterexample.empty()) p["counterexample"] = r.counterexample;
    p["values_compared"] = r.statistics.count;
    if (r.statistics.count) {
      p["worst_ratio"] = r.statistics.worst_ratio;
      p["max_error_ulps"] = r.statistics.max_error_ulps;
      p["rms_error_ulps"] = r.statistics.rms_ulps();
      p["values_in_ulps"] = r.statistics.ulps_count;
      p["ratio_median"] = r.statistics.ratio_quantile(0.5);
      p["ratio_p99"] = r.statistics.ratio_quantile(0.99);
      p["values_at_zero"] = r.statistics.at_zero;
      p["values_unbounded"] = r.statistics.unbounded;
      p["max_abs_error_at_zero"] = r.statistics.max_abs_error_at_zero;
      p["worst"] = r.statistics.worst;
    }
    if (r.status == PropertyResult::Status::failed || r.status == PropertyResult::Status::adapter_error)
      p["replay"] = run.replay(r);
    if (r.trace) {
      // The failing (or worst) trajectory's element, step by step: what --html plots.
      nlohmann::ordered_json points = nlohmann::ordered_json::array();
      for (const TracePoint& q : run.trace_of(k))
        points.push_back({{"step", q.step}, {"observed", show_value(q.observed)}, {"exact", q.exact},
                          {"error_ulps", std::isfinite(q.error_ulps) ? nlohmann::ordered_json(q.error_ulps) : nlohmann::ordered_json("inf")},
                          {"allowed_ulps", q.allowed_ulps}, {"pass", q.pass}});
      p["trace"] = {{"position", r.trace->position}, {"points", points}};
    }
    list.push_back(p);
  }
  for (const auto& id : run.not_run) list.push_back({{"id", id}, {"status", "not-run"}});
  j["properties"] = list;
  return j.dump(2) + "\n";
}

}  // namespace adamconf::cli
