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

#include "adamconf/answer.hpp"
#include "adamconf/judge.hpp"
#include "adamconf/nearest_code.hpp"
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
  /// Each-step properties certify a step's values with the fast exact path
  /// first (fast_step.hpp; the verdict is the same); false judges them in MPFR.
  bool fast_path = true;

  /// A context checking `implementation` (its capabilities as it states them).
  static PropertyContext for_implementation(Implementation& implementation, std::string preset,
                                            PresetOptions options, const FloatFormat& dtype);
  /// The hyperparameters no case varies, with their values: those the user
  /// pinned, those the implementation fixes (Capabilities::fixed), and those
  /// it does not take, at the preset's default.
  std::map<std::string, std::string> held() const;
  /// Why `name` is held, as the end of a sentence ("it is pinned", "the
  /// implementation fixes it at 1e-8"), or "" when cases may vary it.
  std::string why_held(const std::string& name) const;
  /// The scenario shape for this context (preset, options, format, held values).
  ScenarioShape shape() const;
  const Preset& preset_info() const { return preset_by_name(preset); }
  Convention convention() const { return preset_info().resolve(options); }
  /// What the precision convention makes of dtype (PrecisionRules).
  PrecisionRules rules() const { return PrecisionRules(dtype, options.precision, convention().state_formats); }
  /// The format the implementation's values are compared in: float32 for a
  /// storage format's master weights, else dtype.
  const FloatFormat& values_format() const { return rules().reported(); }
  /// The format quantity q is stored and compared in: a state format of its own where given.
  const FloatFormat& format_of(Quantity q) const { return rules().format_of(q); }
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
  /// The same for a value stored in `format` (a state tensor in a format of its own), not values_format.
  /// `output`: false for a value computed from several (theta + compensation), which need not be one of `format`.
  void expect_close(double observed, const R& exact, const R& allowed, const std::function<std::string()>& where,
                    const FloatFormat& format, bool output = true);
  /// |observed - expected| <= allowed for values that are not themselves
  /// outputs of the format (differences, norms).
  void expect_within(const R& observed, const R& expected, const R& allowed, const std::string& where);
  /// value <= limit (an inequality the claim states), else the case fails.
  void expect_at_most(const R& value, const R& limit, const std::string& where);
  /// A claim that holds or not (counted as one checked value); fails the case with `failure`.
  void expect_true(bool holds, const std::string& failure);
  /// A quantized state's code: `accepted` when it reads back as one of the nearest codes to the
  /// exact value within its error (nearest_code.hpp), lowest..highest; counted as one checked
  /// value; fails the case with "<where> => code C  expected code L (or L..H)".
  void expect_code_in(int code, bool accepted, int lowest, int highest, const std::function<std::string()>& where);
  /// A whole trajectory's verification (verify.hpp): its values counted, and
  /// the case failed at its first failing value.
  void record(const Verification& v);
  /// Bitwise equality of two runs' values.
  void expect_identical(double a, double b, const std::string& where);
  /// The same, with the position built only on a failure, which reads
  /// "<where> => <a_name> A  <b_name> B: <why>".
  void expect_identical(double a, double b, const std::function<std::string()>& where, const std::string& a_name,
                        const std::string& b_name, const std::string& why);
  /// A value compared against nothing that could judge it, counted as
  /// unjudged; `reason` ends "nothing judged: every one of the N values
  /// compared ..." when no value of the run was judged.
  void note_unjudged(const std::string& reason);
  /// The reason note_unjudged gave, or "" (then the reason is a bound beyond the format).
  const std::string& unjudged_reason() const { return unjudged_reason_; }
  [[noreturn]] void fail(const std::string& message);

  /// Under master weights: every theta_copy value is the master theta rounded
  /// to nearest even in `storage`, bit for bit (sign of zero and NaN included);
  /// each counts as a value compared, the first that differs fails the case.
  void expect_copies_round_master(const RunResult& r, const FloatFormat& storage, const std::vector<TensorSlice>& slices);
  /// Under kahan-summation: every compensation of every recorded state is a
  /// value of `format` (theta's, or --compensation-format's); each counts as a
  /// value compared, the first that is not fails the case.
  void expect_compensations_stored_in(const RunResult& r, const FloatFormat& format, const std::vector<TensorSlice>& slices);

  const ErrorStatistics& statistics() const { return recorder_.statistics(); }
  /// A value the fast exact path certified to pass (fast_step.hpp): counted as expect_close counts one.
  void record_certified(double ratio, double error_ulps, bool exact_zero, double observed, bool unbounded) {
    recorder_.record_certified(ratio, error_ulps, exact_zero, observed, unbounded);
  }
  const std::optional<std::string>& adapter_failure() const { return adapter_failure_; }
  /// Whether the adapter failure was a refusal (ImplementationRefusal): the adapter still runs the next property.
  bool adapter_refused() const { return adapter_refused_; }
  /// The inputs of the request the adapter failed on.
  const std::string& adapter_failure_inputs() const { return adapter_failure_inputs_; }
  const PropertyContext& context() const { return ctx_; }
  /// The cases the property runs in this run (cases_of), for a statistical
  /// test that splits its false-alarm probability over them.
  int cases_in_run() const { return cases_in_run_; }
  void set_cases_in_run(int n) { cases_in_run_ = n; }
  /// Element-steps sent to the implementation so far (elements x steps of every case run).
  std::size_t work() const { return work_; }

  /// The element of the last failing trajectory recorded, or else of the worst one (record()).
  const std::optional<ElementTrace>& trace() const { return trace_; }

 private:
  const PropertyContext& ctx_;
  std::optional<ElementTrace> trace_;
  std::size_t work_ = 0;
  int cases_in_run_ = 1;
  Recorder recorder_;
  std::optional<std::string> adapter_failure_;
  bool adapter_refused_ = false;
  std::string adapter_failure_inputs_;
  std::string unjudged_reason_;
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
  /// Whether `check` runs it again with each option the implementation offers
  /// and was not asked for (amsgrad, maximize, no bias correction): the
  /// agreement and resume properties and the options' own claims; the
  /// invariances add nothing there.
  bool runs_under_variants = false;
};

/// Every property, in report order.
const std::vector<Property>& all_properties();
const Property& property_by_id(const std::string& id);

/// One of N deterministic parts of a run (`check --shard I/N`). Every case of
/// every property has an ordinal in the whole run (properties in report order,
/// then case index); shard `index` (0-based) runs the cases whose ordinal is
/// `index` modulo `count`, so the shards together run each case exactly once.
struct Shard {
  int index = 0;
  int count = 1;
  bool selects(std::size_t ordinal) const { return static_cast<int>(ordinal % static_cast<std::size_t>(count)) == index; }
  /// "2/4" (1-based, as --shard takes it) into {1, 4}; throws std::invalid_argument naming the text.
  static Shard parse(const std::string& text);
  /// The inverse of parse: "2/4".
  std::string text() const { return std::to_string(index + 1) + "/" + std::to_string(count); }
};

struct RunSettings {
  std::uint64_t seed = 1;
  int cases = 100;  ///< successful cases per property
  Shard shard{};    ///< which cases of the whole run this run takes
  /// The ordinal of this property's case 0 in the whole run (cases_of sums of
  /// the properties before it); only sharding reads it.
  std::size_t first_ordinal = 0;
};

/// The cases `property` runs when the settings ask for `cases` (cases_per_hundred, at least 2).
int cases_of(const Property& property, int cases);
/// The seed of case `index` of `property` in a run seeded `seed`. Each case is
/// generated from its own seed, and its size from its index alone, so a case
/// is the same whichever other cases run (a shard, a replay with --case).
std::uint64_t case_seed(std::uint64_t seed, const std::string& property_id, int index);
/// RapidCheck's size for case `index` of `cases`: spread evenly over 0..100, the last at 100.
int case_size(int index, int cases);

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
  std::vector<int> case_indices;  ///< the index of each case run (0..cases_of-1; a shard runs some)
  int shrinks = 0;
  bool shrink_budget_spent = false;
  /// adapter_error from a refusal (the adapter answered {"error"}): the later properties still run.
  bool adapter_refused = false;  ///< shrinking stopped at the budget (run_property), not at a minimum
  ErrorStatistics statistics;  ///< over every comparison made
  /// Why the unjudged values were not judged, where not a bound beyond the format (Checker::note_unjudged).
  std::string unjudged_reason;
  /// A whole trajectory's element to plot: of the failing case (shrunk), or of
  /// the worst one; none for properties that compare no whole trajectory.
  std::optional<ElementTrace> trace;
  std::uint64_t seed = 0;
  double seconds = 0;
};

std::string to_string(PropertyResult::Status s);

/// One run of the suite with options on: `check` runs it as given (name ""),
/// then once more with each option the implementation offers and the preset
/// has (amsgrad, maximize, no-bias-correction), which it was not asked for.
struct OptionVariant {
  std::string name;
  PresetOptions options;
};
std::vector<OptionVariant> option_variants(const std::string& preset, const PresetOptions& given,
                                           const Capabilities& capabilities);

/// Shrinking a failure reruns the implementation and the reference on every
/// candidate; for a case of hundreds of steps that is minutes. It stops at a
/// budget counted in element-steps sent to the implementation (deterministic,
/// unlike a clock), after at least kMinShrinkTries candidates; the failure is
/// then reported as shrunk so far.
inline constexpr std::size_t kShrinkBudgetElementSteps = 100000;
inline constexpr int kMinShrinkTries = 100;

/// Runs one property with RapidCheck under `settings`; deterministic for a
/// deterministic implementation and the same seed.
PropertyResult run_property(const Property& property, const PropertyContext& ctx, const RunSettings& settings);

}  // namespace adamconf
