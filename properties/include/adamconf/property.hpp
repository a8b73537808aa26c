// The property suite: each property is one claim about any correct
// implementation, named as a sentence, checked by RapidCheck on generated
// scenarios through the Implementation interface.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "adamconf/comparison.hpp"
#include "adamconf/generators.hpp"
#include "adamconf/implementation.hpp"
#include "adamconf/verify.hpp"

namespace adamconf {

/// What the suite checks: one implementation, one preset (with options), one format.
struct PropertyContext {
  Implementation* implementation = nullptr;
  Capabilities capabilities;
  std::string preset;
  PresetOptions options;
  FloatFormat dtype = float32_format;
  std::map<std::string, std::string> pinned;  ///< hyperparameters fixed by the user
  int jobs = 0;  ///< threads for the reference and bounds of large cases; 0: every core

  /// A context checking `implementation` (its capabilities as it states them).
  static PropertyContext for_implementation(Implementation& implementation, std::string preset,
                                            PresetOptions options, const FloatFormat& dtype);
  /// The scenario shape for this context (preset, options, format, pins).
  ScenarioShape shape() const;
  const Preset& preset_info() const { return preset_by_name(preset); }
  Convention convention() const { return preset_info().resolve(options); }
};

/// Runs the implementation and compares its values for one property case.
/// Comparisons that fail end the case (RapidCheck then shrinks it).
class Checker {
 public:
  explicit Checker(const PropertyContext& ctx) : ctx_(ctx) {}

  /// Runs the cases, checking that the answer has the right shape. An adapter
  /// failure (crash, hang, garbage, wrong shape) fails this case and, since
  /// rerunning a broken adapter only wastes time, every later case at once.
  std::vector<RunResult> run(const Setup& setup, const std::vector<RunCase>& cases);
  RunResult run(const Scenario& s);

  /// |observed - exact| <= allowed, else the case fails with
  /// "<where> => observed  expected ...: error X ulps, allowed Y ulps".
  void expect_close(double observed, const R& exact, const R& allowed, const std::string& where);
  /// The same, with the position built only when it is reported (the worst so far, or a failure).
  void expect_close(double observed, const R& exact, const R& allowed, const std::function<std::string()>& where);
  /// |observed - expected| <= allowed for values that are not themselves
  /// outputs of the format (differences, norms).
  void expect_within(const R& observed, const R& expected, const R& allowed, const std::string& where);
  /// value <= limit (an inequality the claim states), else the case fails.
  void expect_at_most(const R& value, const R& limit, const std::string& where);
  /// A claim that holds or not (counted as one checked value); fails the case with `failure`.
  void expect_true(bool holds, const std::string& failure);
  /// A whole trajectory's verification (verify.hpp): its values counted, and
  /// the case failed at its first failing value.
  void record(const Verification& v);
  /// Bitwise equality of two runs' values.
  void expect_identical(double a, double b, const std::string& where);
  [[noreturn]] void fail(const std::string& message);

  const ErrorStatistics& statistics() const { return stats_; }
  const std::optional<std::string>& adapter_failure() const { return adapter_failure_; }
  /// The inputs of the request the adapter failed on.
  const std::string& adapter_failure_inputs() const { return adapter_failure_inputs_; }
  const PropertyContext& context() const { return ctx_; }

 private:
  const PropertyContext& ctx_;
  ErrorStatistics stats_;
  std::optional<std::string> adapter_failure_;
  std::string adapter_failure_inputs_;
};

struct Property {
  std::string id;     ///< kebab-case, for --property and reports
  std::string claim;  ///< the claim, as a sentence
  /// Why the property does not apply to this context, or "" when it does.
  std::function<std::string(const PropertyContext&)> not_applicable;
  /// One case: draws its inputs with *gen::..., runs, checks.
  std::function<void(Checker&)> body;
  /// Cases this property runs per 100 the settings ask for (its cases are
  /// large: millions of elements, 10^4 steps); at least 2.
  int cases_per_hundred = 100;
  /// Whether a failure is shrunk. Shrinking a case of millions of element-steps
  /// reruns the implementation hundreds of times (minutes through a Python
  /// adapter); such a failure is reported as generated, replayable by its seed.
  bool shrink = true;
};

/// Every property, in report order.
const std::vector<Property>& all_properties();
const Property& property_by_id(const std::string& id);

struct RunSettings {
  std::uint64_t seed = 1;
  int cases = 100;  ///< successful cases per property
};

struct PropertyResult {
  enum class Status { passed, failed, skipped, adapter_error };
  std::string id, claim;
  /// The option the check turned on by itself for this run ("amsgrad",
  /// "maximize"; "" for the options on the command line): `check` runs the
  /// suite once more for every option the adapter offers.
  std::string variant;
  Status status = Status::passed;
  std::string reason;          ///< skipped: why; failed: the failing comparison; adapter_error: what happened
  std::string counterexample;  ///< the shrunk inputs (adapter_error: the inputs of the failed request)
  int cases = 0;               ///< cases run (before any failure)
  int shrinks = 0;
  ErrorStatistics statistics;  ///< over every comparison made
  std::uint64_t seed = 0;
  double seconds = 0;
};

std::string to_string(PropertyResult::Status s);

/// Runs one property with RapidCheck under `settings`; deterministic for a
/// deterministic implementation and the same seed.
PropertyResult run_property(const Property& property, const PropertyContext& ctx, const RunSettings& settings);

}  // namespace adamconf
