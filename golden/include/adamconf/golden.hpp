// Golden traces (golden/FORMAT.md): the catalogue of files `adamconf golden
// regenerate` writes, their rendering, a validating loader, and the checks.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "adamconf/float_format.hpp"
#include "adamconf/implementation.hpp"
#include "adamconf/precision_rules.hpp"
#include "adamconf/presets.hpp"
#include "adamconf/real.hpp"

namespace adamconf::golden {

inline constexpr const char* kFormat = "adamconf-golden/1";
inline constexpr const char* kResultsFormat = "adamconf-results/1";
/// Quantized-steps files (FORMAT.md, "Quantized states"): one step from each given quantized state.
inline constexpr const char* kQuantizedFormat = "adamconf-golden-quantized/1";

/// One step of a quantized-steps file: the state before it (theta, m's and
/// v's codes and scales, t - 1 steps taken) and its gradient.
struct QuantizedStepInput {
  int t = 1;
  std::vector<double> theta, grad;
  QuantizedTensor m, v;
};

/// One golden file to generate: the optimizer, the format and the inputs.
struct GoldenSpec {
  std::string preset;
  PresetOptions options;
  std::map<std::string, std::string> overrides;  ///< hyperparameters set for this scenario
  FloatFormat dtype = float32_format;
  std::string scenario;
  std::string description;
  std::uint64_t seed = 0;
  bool all_fields = true;  ///< false: theta, m, v (and vmax) only (long runs)
  std::vector<double> theta0;
  std::vector<std::vector<double>> grads;
  std::vector<std::string> lrs;  ///< per step; empty: the constant lr
  /// Non-empty: a quantized-steps file (kQuantizedFormat), each step from its
  /// own given state; theta0, grads and lrs are then unused.
  std::vector<QuantizedStepInput> quantized_steps;

  std::string name() const;          ///< "<preset>/<dtype>-<scenario>"
  std::string relative_path() const; ///< name() + ".json"
};

/// Every golden file, in a fixed order.
std::vector<GoldenSpec> catalogue();

/// The file's text, deterministic to the byte.
std::string render(const GoldenSpec& spec);
/// golden/traces/index.json for the catalogue.
std::string render_index(const std::vector<GoldenSpec>& specs);

/// A malformed golden or results file: "<file>: <field>: <problem>".
struct FileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A golden file as read back.
struct GoldenTrace {
  std::string path, name, preset;
  FloatFormat dtype = float32_format;
  PresetOptions options;
  Hyperparameters hyper;
  int digits = 0;
  std::size_t elements = 0;
  std::vector<std::string> fields;
  std::size_t steps = 0;
  std::vector<double> theta0;
  std::vector<std::string> learning_rates;  ///< per step
  std::vector<std::vector<double>> gradients;  ///< per step
  struct Step {
    int t = 0;  ///< 1-based
    std::map<std::string, std::vector<R>> exact;    ///< per field
    std::map<std::string, std::vector<R>> allowed;  ///< theta, m, v, vmax
  };
  std::vector<Step> trace;  ///< the recorded steps, in order
};

/// A quantized-steps file as read back: per step the state before it, and
/// after it theta's exact value and allowed error, each block's exact scale
/// and allowed error, and the codes a correct quantizer may store.
struct QuantizedGolden {
  std::string path, name, preset;
  FloatFormat dtype = float32_format;
  PresetOptions options;
  Hyperparameters hyper;
  std::size_t elements = 0;
  struct After {  ///< one quantized state after the step
    std::vector<R> scales_exact, scales_allowed;
    std::vector<std::vector<int>> acceptable;  ///< per element, ascending
  };
  struct Step {
    int t = 0;
    std::string lr;
    std::vector<double> theta, gradient;
    QuantizedTensor m, v;  ///< before the step
    std::vector<R> theta_exact, theta_allowed;
    After m_after, v_after;
  };
  std::vector<Step> steps;
};

/// The state before a quantized-steps file's step t as an implementation
/// holds it: t - 1 steps taken, m's and v's codes and scales, and the values
/// they read back as, fl32(map[code] * scale) (either build of the map: the
/// files use only codes both read the same).
ImplementationState quantized_state(const PrecisionRules& rules, int t, const QuantizedTensor& m, const QuantizedTensor& v);

/// Reads and validates a golden file; throws FileError naming the field.
GoldenTrace load(const std::string& path);
/// The same for a file's text; `path` names it in messages.
GoldenTrace load_text(const std::string& text, const std::string& path);
/// A quantized-steps file, likewise.
QuantizedGolden load_quantized_text(const std::string& text, const std::string& path);
/// Either kind of golden file, by its format field.
std::variant<GoldenTrace, QuantizedGolden> load_any(const std::string& path);

/// An implementation's results for a golden file (FORMAT.md, "Checking").
struct Results {
  std::string path;    ///< the file read
  std::string golden;
  std::map<std::string, std::vector<std::vector<double>>> values;  ///< "theta", "m", "v": per step, per element
};
Results load_results(const std::string& path);
Results load_results_text(const std::string& text, const std::string& path);

/// An implementation run over a golden file, as FORMAT.md, "Checking", asks:
/// a trajectory file's steps from theta0 (theta per step), or each step of a
/// quantized-steps file from the state it gives (theta, m's and v's codes and
/// scales). Throws std::invalid_argument, naming the implementation and the
/// file, where it cannot run the file (a dtype or option it does not offer, a
/// quantized state it cannot import, state formats other than the file's),
/// and ImplementationError where it fails while running.
Results run(const GoldenTrace& golden, Implementation& impl);
Results run(const QuantizedGolden& golden, Implementation& impl);
/// Results as a results file (adamconf-results/1), every value a hex float.
std::string render_results(const Results& results);

/// Per step of a check: errors in ulps and against the allowed error.
struct StepCheck {
  int t = 0;
  std::string quantity;
  /// Max and RMS error in ulps over the values whose exact value is not 0 (ErrorStatistics).
  double max_error_ulps = 0, rms_error_ulps = 0, max_allowed_ulps = 0, worst_ratio = 0;
  std::size_t worst_element = 0, failures = 0;
  std::string worst;  ///< "element 2 => x  expected y (exact z): error e ulps, allowed a ulps"
  /// A quantized state's codes ("m codes"): failures are codes outside their acceptable set; no ulps.
  bool codes = false;
};
struct CheckReport {
  std::vector<StepCheck> steps;
  std::size_t compared = 0, failures = 0;
  /// Values whose bound reaches beyond the format: compared, but any finite value, inf or NaN passes there.
  std::size_t unjudged = 0;
  bool pass() const { return failures == 0; }
};
/// Compares results with the golden trace; throws FileError when the shapes disagree.
CheckReport check(const GoldenTrace& golden, const Results& results);
/// The same for a quantized-steps file: results carry theta, m_codes, m_scales,
/// v_codes and v_scales per step of the file.
CheckReport check(const QuantizedGolden& golden, const Results& results);

/// Outcome of comparing the committed files with what the reference produces now.
struct VerifyReport {
  std::vector<std::string> problems;  ///< one line each: file, line, field, both values
  std::size_t files = 0;
  bool clean() const { return problems.empty(); }
};

struct RegenerateReport {
  std::size_t written = 0;                      ///< golden files (besides index.json)
  std::vector<std::string> removed_stale;       ///< listed by the previous index, gone from the catalogue
  std::vector<std::string> removed_temporaries; ///< TARGET.tmp.* left by an interrupted run
};

/// Writes every file under `dir` (golden/traces) atomically and returns what
/// it did. It removes only files the previous index.json listed (and its own
/// interrupted temporaries), and refuses (std::invalid_argument) an empty
/// name or a directory that has files but no adamconf index.json. `progress`
/// is called after each file with (done, total, name).
RegenerateReport regenerate(const std::string& dir,
                            const std::function<void(std::size_t, std::size_t, const std::string&)>& progress);
VerifyReport verify(const std::string& dir, const std::function<void(std::size_t, std::size_t, const std::string&)>& progress);


/// x as decimal text with `digits` significant digits, rounded to nearest
/// ("-1.23456789012e-05", "0"): MPFR's correctly rounded conversion.
std::string decimal(const R& x, int digits);
/// The smallest `digits`-digit decimal >= x (x >= 0).
std::string decimal_rounded_up(const R& x, int digits);

}  // namespace adamconf::golden
