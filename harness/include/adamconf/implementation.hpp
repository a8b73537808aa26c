// The Implementation interface: how adamconf drives an optimizer under test,
// in process (a C++ class: implementations/float, the GoogleTest integration)
// or through an adapter (protocol/: a process speaking docs/protocol.md, or a
// library exporting adamconf/adapter.h). Values cross it as doubles holding
// values of the implementation's format (a float32 value is exactly a double).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "adamconf/float_format.hpp"
#include "adamconf/precision_rules.hpp"
#include "adamconf/presets.hpp"

namespace adamconf {

/// An implementation's optimizer state, in its own format. In a case of
/// several tensors, m, v and vmax hold every tensor's elements one after
/// another, and each tensor has its own step count.
/// A state tensor held blockwise-quantized (QuantizedFormat): one code per
/// element into the format's map, one scale per block; empty where the
/// tensor's state is not quantized (a float32 state below the format's size).
struct QuantizedTensor {
  std::vector<int> codes{};
  std::vector<double> scales{};
  bool empty() const { return codes.empty() && scales.empty(); }
  friend bool operator==(const QuantizedTensor&, const QuantizedTensor&) = default;
};

struct ImplementationState {
  std::int64_t step = 0;    ///< steps taken (one tensor; with several, tensor 0's)
  std::vector<double> m{};    ///< first moment
  std::vector<double> v{};    ///< second moment
  std::vector<double> vmax{}; ///< AMSGrad maximum (raw v or v_hat, as the convention says); empty without AMSGrad
  std::vector<std::int64_t> tensor_steps{};  ///< the step count of each tensor; empty: every tensor has `step`
  /// kahan-summation: each element's compensation c (theta + c is the value
  /// the optimizer tracks); empty under every other precision.
  std::vector<double> compensation{};
  /// Per tensor (one entry each, or none at all), m's and v's codes and scales
  /// where the hello names a quantized format (m_format=bnb-dynamic8-signed);
  /// m and v above then hold the values the codes read back as.
  std::vector<QuantizedTensor> m_quantized{}, v_quantized{};

  /// Tensor k's step count.
  std::int64_t step_of(std::size_t k) const { return tensor_steps.empty() ? step : tensor_steps.at(k); }
  friend bool operator==(const ImplementationState&, const ImplementationState&) = default;
};

/// One parameter tensor of a case (protocol /2): `size` elements (0 allowed)
/// in parameter group `group`.
struct Tensor {
  std::size_t size = 0;
  std::size_t group = 0;
  friend bool operator==(const Tensor&, const Tensor&) = default;
};

/// A parameter group's hyperparameters that differ from the setup's (PyTorch
/// param_groups: {"lr": "0.01", "weight_decay": "0"}).
struct ParameterGroup {
  std::map<std::string, std::string> hyperparameters;
  friend bool operator==(const ParameterGroup&, const ParameterGroup&) = default;
};

/// One trajectory to run. theta0, every gradient and every state hold the
/// elements of all tensors one after another, in tensor order.
struct RunCase {
  std::vector<double> theta0;
  std::vector<std::vector<double>> grads;  ///< per step, one value per element
  std::vector<std::string> lrs;            ///< per step, decimal text; empty: the constant lr
  std::optional<ImplementationState> initial_state;  ///< start from this state (needs state_io)
  bool record_states = false;              ///< return the state after every step (needs state_io)
  std::vector<Tensor> tensors;             ///< empty: one tensor of every element, in group 0
  std::vector<ParameterGroup> groups;      ///< empty: one group, the setup's hyperparameters
  /// Per step, per tensor: whether the tensor has a gradient (false: PyTorch's
  /// grad None; the tensor and its state are left alone, its step count does not
  /// advance; its gradient values are ignored). Empty: every tensor, every step.
  std::vector<std::vector<bool>> grad_given;
  /// Under stochastic rounding: the seed the implementation's random numbers
  /// derive from (the same seed replays the same roundings). Checker::run sets
  /// it from the case's contents when 0, so a replayed case replays it too.
  std::uint64_t rounding_seed = 0;

  /// Whether the case needs protocol /2: several tensors, groups or no-grad steps.
  bool structured() const;
};

/// Where tensor k's elements lie in the flat vectors, and its group.
struct TensorSlice {
  std::size_t offset = 0, size = 0, group = 0;
};
/// The tensors of `c` (one, of every element, when c.tensors is empty).
std::vector<TensorSlice> slices_of(const RunCase& c);
/// The elements of `xs` (theta0, a gradient, m, v, vmax) that lie in slice `s`.
std::vector<double> part_of(const std::vector<double>& xs, const TensorSlice& s);
/// Tensor k's state (its elements and its own step count) within a state of the whole case.
ImplementationState tensor_state(const ImplementationState& s, const TensorSlice& slice, std::size_t k);
/// Appends one tensor's state to `joined` (the inverse of tensor_state, tensor after tensor).
void append_tensor_state(ImplementationState& joined, const ImplementationState& tensor);
/// "step 3, tensor 7 element 65536: theta" (element counted within tensor k),
/// "step 3, element 2: theta" in a case of one tensor; step is 0-based.
/// "tensor 7 element 65536: theta" (element counted within tensor k), "element 2: theta" in a case of one tensor.
std::string element_position(const std::vector<TensorSlice>& slices, std::size_t k, std::size_t element,
                             const std::string& what);
std::string value_position(const std::vector<TensorSlice>& slices, std::size_t k, std::size_t step, std::size_t element,
                           const std::string& what);
/// Whether tensor k has a gradient at step t (0-based).
bool has_gradient(const RunCase& c, std::size_t t, std::size_t k);
/// The hyperparameters of parameter group `group`: `base` with its overrides.
Hyperparameters group_hyperparameters(const Hyperparameters& base, const RunCase& c, std::size_t group);
/// Throws std::invalid_argument unless the case is well formed: tensor sizes
/// summing to theta0's, groups that exist and whose overrides are valid
/// hyperparameters, grad_given of one flag per step and tensor, no learning-rate
/// schedule together with several groups, an initial state of the right shape.
void validate_case(const RunCase& c);

struct RunResult {
  std::vector<std::vector<double>> theta;  ///< per step
  std::vector<ImplementationState> states; ///< per step when record_states
  /// Under master weights (theta is then the float32 master): the model's
  /// storage-format copy of theta after every step; empty otherwise.
  std::vector<std::vector<double>> theta_copy;
};

/// What an implementation says it can do.
struct Capabilities {
  std::vector<std::string> presets;  ///< presets it implements
  std::vector<std::string> dtypes;   ///< "float32", "float64"
  /// Dtypes it does not offer, each with why (an adapter's "dtypes_refused"); check quotes the reason.
  std::map<std::string, std::string> dtypes_refused;
  std::vector<std::string> options;  ///< of "amsgrad", "maximize", "bias_correction"
  std::vector<std::string> hyperparameters{"lr", "beta1", "beta2", "eps", "eps_root", "weight_decay"};  ///< it reads
  /// Those it fixes at a value it cannot change (dlib's eps 1e-8): never varied, skipped where a claim needs them to vary.
  std::map<std::string, std::string> fixed;
  /// How it holds the step count, as its hello states ("step_counter=float32" in its options list).
  StepCounter step_counter = StepCounter::integer;
  /// What it computes a storage format in, as its hello states ("precision=float32-opmath").
  Precision precision = Precision::storage;
  /// How its arithmetic treats subnormals, as its hello states ("subnormals=flushed").
  Subnormals subnormals = Subnormals::gradual;
  /// Where it holds its scalars, as its hello states ("scalars=float32").
  Scalars scalars = Scalars::working;
  /// The formats it stores m, v, vmax in where not theta's, as its hello states ("m_format=float32").
  StateFormats state_formats{};
  bool state_io = false;             ///< can export and import its state
  /// Whether an imported state is all it holds (a resumed step then equals the
  /// uninterrupted one bit for bit); false as its hello states "round_trip=within-bound".
  bool bitwise_round_trip = true;
  bool lr_schedule = true;           ///< accepts a learning rate per step
  bool tensors = false;              ///< runs structured cases: several tensors, groups, no-grad steps (protocol /2)

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
  /// What the convention's precision makes of dtype: formats, master, stochastic rounding, compensation.
  PrecisionRules rules() const { return PrecisionRules(dtype, spec.convention); }
};

/// The implementation failed to answer properly: it crashed, hung, answered
/// garbage or the wrong shape. The message says which, in one line.
struct ImplementationError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The implementation answered, properly, that it cannot run a request (an
/// adapter's {"error": ...}, a library function's nonzero status). The request
/// fails, and with it the property; the implementation still runs the next one.
struct ImplementationRefusal : ImplementationError {
  using ImplementationError::ImplementationError;
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
