// The exact side of a check: the reference and the error model run over the
// same case an implementation ran, giving the exact value and the allowed
// error of every element at every step.
#pragma once

#include <vector>

#include "adamconf/error_model.hpp"
#include "adamconf/implementation.hpp"
#include "adamconf/reference_adam.hpp"

namespace adamconf {

struct ExactStep {
  StepRecord<R> record;
  std::vector<ElementBounds<R>> bounds;
};

/// What the error bound is evaluated in: hardware floating point rounded
/// outward (the default: double for float32 targets, long double for float64;
/// docs/error-model.md, "Evaluating the bound in a hardware type"; MPFR where
/// such a bound is not finite) or MPFR, as golden files are.
enum class BoundArithmetic { hardware, mpfr };

/// The reference trajectory of `c` under `setup`, with the trajectory error
/// bound accumulated from the first step (or from c.initial_state, read as exact).
std::vector<ExactStep> exact_trajectory(const Setup& setup, const RunCase& c,
                                        BoundArithmetic bound = BoundArithmetic::hardware);

/// One exact step from an implementation's state (theta and optimizer state as
/// it reported them) with gradient `grad` and learning rate `lr` (decimal, or
/// empty): the single-step check's expected values and bounds.
ExactStep exact_single_step(const Setup& setup, const std::vector<double>& theta, const ImplementationState& state,
                            const std::vector<double>& grad, const std::string& lr);

/// Step t (0-based) of the structured case `structure` (its tensors, groups,
/// no-grad flags, learning rate) as a case of one step from theta and state.
RunCase single_step_case(const RunCase& structure, const std::vector<double>& theta, const ImplementationState& state,
                         std::size_t t);

/// Step t (0-based) of the structured case `structure` (its tensors, groups
/// and no-grad flags) taken from an implementation's theta and state.
ExactStep exact_single_step(const Setup& setup, const RunCase& structure, const std::vector<double>& theta,
                            const ImplementationState& state, std::size_t t);

/// The reference for `part` (a range of elements) of tensor k of `c`: its
/// group's hyperparameters, its part of theta0 and of the initial state, its own
/// step count. Exact trajectories and the verifier both start here.
ReferenceAdam<R> tensor_reference(const Setup& setup, const RunCase& c, std::size_t k, const TensorSlice& part);

/// The error model for `part` of tensor k of `c`, beside its reference. Under
/// kahan-summation a case that starts from a compensation c0 starts theta's
/// error at u_32 |theta0 + c0| (the implementation forms theta0 + c0 in
/// float32), and theta's own |c0| more (the implementation's theta is theta0).
template <class Bound>
ErrorModel<R, Bound> tensor_model(const Setup& setup, const RunCase& c, const TensorSlice& part,
                                  const ReferenceAdam<R>& reference) {
  const PrecisionRules rules = setup.rules();
  ErrorModel<R, Bound> model(rules, reference.hyper(), part.size);
  // A quantized tensor's m and v are judged by their codes, against the bound before quantization.
  std::size_t tensor_size = part.size;  // part may be a chunk of its tensor (the verifier's)
  for (const TensorSlice& s : slices_of(c))
    if (s.offset <= part.offset && part.offset < s.offset + s.size) tensor_size = s.size;
  for (const Quantity q : {Quantity::m, Quantity::v})
    if (const auto& f = rules.quantized(q); f && f->quantizes(tensor_size)) model.store_as_computed(q);
  if (rules.kahan_summation() && c.initial_state && !c.initial_state->compensation.empty())
    for (std::size_t i = 0; i < part.size; ++i)
      if (const double c0 = c.initial_state->compensation.at(part.offset + i); c0 != 0)
        model.set_initial_theta_error(i, ldexp(abs(reference.theta()[i]), -24), R(c0));
  return model;
}

/// Step t (0-based) of that reference and its error model, if tensor k has a
/// gradient at step t (else nothing changes). `grad` is scratch storage.
/// Returns whether it stepped.
/// Model: ErrorModel<R>, ErrorModel<R, double> or ErrorModel<R, long double>.
template <class Model>
bool step_tensor(ReferenceAdam<R>& reference, Model& model, StepRecord<R>& record, const RunCase& c, std::size_t t,
                 std::size_t k, const TensorSlice& part, std::vector<R>& grad);

/// Whether tensor `tensor` stores m or v quantized (a quantized format of its size).
bool quantized_tensor(const PrecisionRules& rules, const TensorSlice& tensor);

/// After a step of a trajectory in which tensor k had a gradient: a
/// quantized tensor's m and v are what a correct quantizer stored, so the
/// bounds the next step reads become quantization_reach of the exact values
/// (docs/error-model.md, "Quantized states across steps"). `part` holds whole
/// blocks of the tensor. Nothing where the tensor is not quantized.
template <class Model>
void charge_quantization(const Setup& setup, const RunCase& c, std::size_t k, const TensorSlice& part,
                         const ReferenceAdam<R>& reference, Model& model);

/// The reference's view of an implementation state (values are exact).
OptimizerState<R> to_reference_state(const ImplementationState& s);

}  // namespace adamconf
