// The adapter interface: how adamconf drives an optimizer under test, in
// process (C++) or in another process (adapter/protocol.hpp). Values cross it
// as doubles holding values of the implementation's format (a float32 value is
// exactly a double).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "adamconf/float_format.hpp"
#include "adamconf/presets.hpp"

namespace adamconf {

/// An implementation's optimizer state, in its own format.
struct ImplementationState {
  std::int64_t step = 0;    ///< steps taken
  std::vector<double> m;    ///< first moment
  std::vector<double> v;    ///< second moment
  std::vector<double> vmax; ///< AMSGrad maximum (raw v or v_hat, as the convention says); empty without AMSGrad
  friend bool operator==(const ImplementationState&, const ImplementationState&) = default;
};

/// One trajectory to run.
struct RunCase {
  std::vector<double> theta0;
  std::vector<std::vector<double>> grads;  ///< per step, one value per element
  std::vector<std::string> lrs;            ///< per step, decimal text; empty: the constant lr
  std::optional<ImplementationState> initial_state;  ///< start from this state (needs state_io)
  bool record_states = false;              ///< return the state after every step (needs state_io)
};

struct RunResult {
  std::vector<std::vector<double>> theta;  ///< per step
  std::vector<ImplementationState> states; ///< per step when record_states
};

/// What an implementation says it can do.
struct Capabilities {
  std::vector<std::string> presets;  ///< presets it implements
  std::vector<std::string> dtypes;   ///< "float32", "float64"
  std::vector<std::string> options;  ///< of "amsgrad", "maximize", "bias_correction"
  std::vector<std::string> hyperparameters{"lr", "beta1", "beta2", "eps", "eps_root", "weight_decay"};  ///< it reads
  bool state_io = false;             ///< can export and import its state
  bool lr_schedule = true;           ///< accepts a learning rate per step

  bool supports_preset(const std::string& p) const;
  bool supports_dtype(const std::string& d) const;
  bool supports_option(const std::string& o) const;
  bool takes(const std::string& hyperparameter) const;
  /// Whether it can run `spec` (preset and the options it turns on).
  bool supports(const OptimizerSpec& spec) const;
};

/// Which optimizer to run, in which format.
struct Setup {
  OptimizerSpec spec;
  FloatFormat dtype = float32_format;
};

/// The implementation failed to answer properly: it crashed, hung, answered
/// garbage or the wrong shape. The message says which, in one line.
struct ImplementationError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Throws ImplementationError unless `results` has the shape of `cases`: one
/// result per case, theta (and states, when recorded) for every step and
/// element. Every caller of Implementation::run checks this before reading.
void validate_results(const std::vector<RunCase>& cases, const std::vector<RunResult>& results);

class Implementation {
 public:
  virtual ~Implementation() = default;
  virtual std::string name() const = 0;
  virtual Capabilities capabilities() const = 0;
  /// Runs every case from its theta0 (and initial state), returning theta
  /// after every step. Throws ImplementationError.
  virtual std::vector<RunResult> run(const Setup& setup, const std::vector<RunCase>& cases) = 0;
};

}  // namespace adamconf
