// What `adamconf check` found, rendered for a person (text), for CI (JUnit
// XML) and for tools (JSON).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "adamconf/property.hpp"

namespace adamconf::cli {

struct CheckRun {
  std::string implementation;  ///< the implementation's own name
  std::string impl_argument;   ///< what --impl said, for the replay line
  std::string optimizer;       ///< --optimizer, if given
  std::string preset;
  std::string dtype;
  PresetOptions options;
  bool step_counter_from_adapter = false;
  bool bitwise_round_trip = true;  ///< false: the hello states round_trip=within-bound
  bool state_formats_from_adapter = false;  ///< options.state_formats are what the adapter's hello states
  bool subnormals_from_adapter = false;  ///< options.subnormals (flushed) is what the adapter's hello states
  bool scalars_from_adapter = false;  ///< options.scalars (float32) is what the adapter's hello states
  bool precision_from_adapter = false;  ///< options.precision is what the adapter's hello states  ///< options.step_counter is what the adapter's hello states
  std::map<std::string, std::string> held;  ///< hyperparameters the implementation fixes or does not take, at their values
  std::map<std::string, std::string> pinned;
  std::uint64_t seed = 1;
  int cases = 100;
  Shard shard;  ///< --shard, {0, 1} for the whole run
  std::vector<PropertyResult> results;
  std::vector<std::string> not_run;  ///< properties not run after the adapter failed
  double seconds = 0;
  /// Per result, the points of its trace (empty without one): recomputing a
  /// trace is the reference again over every step, so the JSON and HTML reports
  /// share one computation (compute_traces).
  std::vector<std::vector<TracePoint>> traces;

  bool passed() const;
  /// Fills `traces` from the results' traces.
  void compute_traces();
  /// Result k's trace points (none if it has no trace or they were not computed).
  const std::vector<TracePoint>& trace_of(std::size_t k) const;
  std::string replay(const PropertyResult& result) const;  ///< the command that reruns one property
};

/// "trajectory-agrees-with-reference", or "... [amsgrad]" for a variant's run.
std::string display_id(const PropertyResult& r);
/// s with & < > " escaped, control characters but newline and tab blanked (XML and HTML text).
std::string xml_escape(const std::string& s);
/// x printed with a printf format of one double ("%.3g").
std::string format(const char* fmt, double x);
/// s in single quotes for a POSIX shell.
std::string shell_quote(const std::string& s);
/// The options on the command line, as flags: " --amsgrad --maximize".
std::string option_flags(const PresetOptions& options);

/// The format errors are counted in: the dtype, or float32 for master weights (and why).
std::string ulps_of(const CheckRun& run);
std::string render_header(const CheckRun& run);
std::string render_property(const CheckRun& run, const PropertyResult& result);
std::string render_summary(const CheckRun& run);
std::string render_text(const CheckRun& run);
std::string render_junit(const CheckRun& run);
std::string render_json(const CheckRun& run);

}  // namespace adamconf::cli
