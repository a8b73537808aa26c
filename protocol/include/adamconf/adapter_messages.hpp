// The adapter protocol's messages (docs/protocol.md), apart from the process
// that carries them: building requests and reading the hello and run answers.
// Every reading fails with one line naming the adapter and the field; the
// fuzz tests (tests/fuzz/) feed these functions arbitrary bytes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "adamconf/implementation.hpp"

namespace adamconf {

/// The protocol versions: /2 adds structured cases (several tensors, parameter
/// groups, no-grad steps). adamconf speaks both; the adapter's hello says which.
inline constexpr const char* kProtocol = "adamconf-adapter/1";
inline constexpr const char* kProtocol2 = "adamconf-adapter/2";
/// The hello adamconf sends: it offers both versions.
std::string hello_request();

/// One optimizer an adapter offers (the hello answer).
struct AdapterOptimizer {
  std::string name;
  std::vector<std::string> presets, dtypes, hyperparameters, options;
  /// Dtypes it does not offer, each with why (its "dtypes_refused": {"bfloat16": "..."}), for check's one line.
  std::map<std::string, std::string> dtypes_refused;
  /// Hyperparameters it fixes (an entry "eps=1e-8" of its list): it cannot take another value.
  std::map<std::string, std::string> fixed;
  /// How it holds the step count: an entry "step_counter=float32" of its options list.
  StepCounter step_counter = StepCounter::integer;
  /// How its arithmetic treats subnormals: an entry "subnormals=flushed" (XLA, TensorFlow on the CPU).
  Subnormals subnormals = Subnormals::gradual;
  /// Where it holds its scalars: an entry "scalars=float32" (Keras' float32 lr, MLX, tinygrad).
  Scalars scalars = Scalars::working;
  /// What it computes bfloat16/float16 in: an entry "precision=float32-opmath" of its options list.
  Precision precision = Precision::storage;
  /// The formats it stores m, v, vmax in where not theta's: entries "m_format=float32" (v_format, vmax_format).
  StateFormats state_formats{};
  /// Whether an imported state is all the optimizer holds, so that a resumed step
  /// equals the uninterrupted one bit for bit: false for an entry
  /// "round_trip=within-bound" (TF.js's setWeights re-derives beta^t by pow).
  bool bitwise_round_trip = true;
  bool state = false;
  bool lr_schedule = true;
};

struct AdapterInfo {
  std::string name;
  int protocol = 1;  ///< the version the adapter answered with
  std::vector<AdapterOptimizer> optimizers;
};

/// An implementation that names its optimizers and what each offers (a hello):
/// an adapter process, or a library loaded in process (library_implementation.hpp).
class AdapterImplementation : public Implementation {
 public:
  const AdapterInfo& info() const { return info_; }
  /// The optimizer run() drives. Throws std::invalid_argument for an unknown name.
  void select(const std::string& optimizer);
  const AdapterOptimizer& selected() const;
  /// The optimizer offering `preset` (the first, if several); nullptr if none.
  const AdapterOptimizer* optimizer_for(const std::string& preset) const;
  std::string name() const override;
  Capabilities capabilities() const override;

 protected:
  AdapterInfo info_;
  std::size_t selected_ = 0;
};

/// The adapter failed; `hung` when it missed a deadline (and was killed).
struct AdapterFailure : ImplementationError {
  AdapterFailure(const std::string& what, bool hung) : ImplementationError(what), hung(hung) {}
  bool hung;
};

/// Splits a hello's "hyperparameters" list into the names it takes and the
/// ones it fixes ("eps=1e-8"); throws std::invalid_argument naming a bad entry.
void read_hyperparameter_list(const std::vector<std::string>& entries, AdapterOptimizer& into);
/// Reads a hello's "options" list: the switches it offers, and "step_counter=..."
/// saying how it holds the step count; throws std::invalid_argument naming a bad entry.
void read_option_list(const std::vector<std::string>& entries, AdapterOptimizer& into);

/// Reads a hello answer; throws AdapterFailure("adapter hello: ...").
/// `default_name` names an adapter whose hello has no "name".
AdapterInfo parse_hello(const std::string& line, const std::string& default_name);

/// The run request for `cases`, as one line, in protocol version `protocol`
/// (1 only carries cases that are not structured).
std::string run_request(long long id, const std::string& optimizer, const Setup& setup, const std::vector<RunCase>& cases,
                        int protocol = 1);

/// Reads the answer to run request `id` ("request 7" in messages); throws
/// ImplementationError("adapter answered request 7 ..."). The shape against
/// the cases is checked by validate_results.
std::vector<RunResult> parse_run_answer(const std::string& line, long long id);
/// The same in version `protocol`: a /2 answer holds values per tensor, which
/// this checks against `cases` and joins into the flat RunResult.
std::vector<RunResult> parse_run_answer(const std::string& line, long long id, const std::vector<RunCase>& cases,
                                        int protocol);

/// Replaces bare NaN, Infinity and -Infinity tokens outside strings by the
/// strings "nan", "inf", "-inf" (Python's json.dumps writes them; JSON has none).
std::string quote_non_finite_tokens(const std::string& line);

}  // namespace adamconf
