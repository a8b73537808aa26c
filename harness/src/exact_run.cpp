#include "adamconf/exact_run.hpp"

#include <limits>
#include <stdexcept>

#include "adamconf/quantized_judge.hpp"

namespace adamconf {

namespace {
std::vector<R> to_reals(const std::vector<double>& xs) { return {xs.begin(), xs.end()}; }
}  // namespace

OptimizerState<R> to_reference_state(const ImplementationState& s) {
  return {s.step, to_reals(s.m), to_reals(s.v), to_reals(s.vmax)};
}


ReferenceAdam<R> tensor_reference(const Setup& setup, const RunCase& c, std::size_t k, const TensorSlice& part) {
  // Each tensor is an optimizer of its own (PyTorch keeps state per parameter).
  std::optional<OptimizerState<R>> state;
  if (c.initial_state) state = to_reference_state(tensor_state(*c.initial_state, part, k));
  std::vector<R> theta0 = to_reals(part_of(c.theta0, part));
  // Kahan: the value tracked is theta + c, exactly.
  if (setup.rules().kahan_summation() && c.initial_state && !c.initial_state->compensation.empty())
    for (std::size_t i = 0; i < part.size; ++i) theta0[i] += R(c.initial_state->compensation.at(part.offset + i));
  return ReferenceAdam<R>(setup.spec.convention, values_of<R>(group_hyperparameters(setup.spec.hyper, c, part.group)),
                          std::move(theta0), state);
}

template <class Model>
bool step_tensor(ReferenceAdam<R>& reference, Model& model, StepRecord<R>& record, const RunCase& c, std::size_t t,
                 std::size_t k, const TensorSlice& part, std::vector<R>& grad) {
  // No gradient: theta, the state and the bounds stay as they were.
  if (!has_gradient(c, t, k)) return false;
  std::optional<R> lr;
  if (!c.lrs.empty()) lr = parse_decimal<R>(c.lrs[t]);
  grad.resize(part.size);
  for (std::size_t i = 0; i < part.size; ++i) grad[i] = c.grads[t][part.offset + i];
  reference.step_into(record, grad, lr, model);
  return true;
}

template bool step_tensor(ReferenceAdam<R>&, ErrorModel<R>&, StepRecord<R>&, const RunCase&, std::size_t,
                          std::size_t, const TensorSlice&, std::vector<R>&);
template bool step_tensor(ReferenceAdam<R>&, ErrorModel<R, double>&, StepRecord<R>&, const RunCase&, std::size_t,
                          std::size_t, const TensorSlice&, std::vector<R>&);
template bool step_tensor(ReferenceAdam<R>&, ErrorModel<R, long double>&, StepRecord<R>&, const RunCase&,
                          std::size_t, std::size_t, const TensorSlice&, std::vector<R>&);

bool quantized_tensor(const PrecisionRules& rules, const TensorSlice& tensor) {
  for (const Quantity q : {Quantity::m, Quantity::v})
    if (const auto& f = rules.quantized(q); f && f->quantizes(tensor.size)) return true;
  return false;
}

template <class Model>
void charge_quantization(const Setup& setup, const RunCase& c, std::size_t k, const TensorSlice& part,
                         const ReferenceAdam<R>& reference, Model& model) {
  const PrecisionRules rules = setup.rules();
  const TensorSlice tensor = slices_of(c).at(k);
  for (const Quantity q : {Quantity::m, Quantity::v}) {
    const std::optional<QuantizedFormat>& f = rules.quantized(q);
    if (!f || !f->quantizes(tensor.size)) continue;
    // A block's scale is its maximum: the part must hold whole blocks of the tensor (its last one may be partial).
    const bool aligned = (part.offset - tensor.offset) % f->block == 0 &&
                         (part.size % f->block == 0 || part.offset + part.size == tensor.offset + tensor.size);
    if (!aligned)
      throw std::logic_error("elements " + std::to_string(part.offset) + ".." + std::to_string(part.offset + part.size) +
                             " of a quantized tensor are not whole blocks of " + std::to_string(f->block));
    const auto& st = reference.state();
    std::vector<R> bounds;
    for (const auto& b : model.bounds()) bounds.push_back(R(q == Quantity::m ? b.m : b.v));
    const std::vector<R> reach = quantization_reach(*f, q == Quantity::m ? st.m : st.v, bounds);
    for (std::size_t i = 0; i < reach.size(); ++i) model.set_stored_error(q, i, reach[i]);
  }
}

template void charge_quantization(const Setup&, const RunCase&, std::size_t, const TensorSlice&, const ReferenceAdam<R>&,
                                  ErrorModel<R>&);
template void charge_quantization(const Setup&, const RunCase&, std::size_t, const TensorSlice&, const ReferenceAdam<R>&,
                                  ErrorModel<R, double>&);
template void charge_quantization(const Setup&, const RunCase&, std::size_t, const TensorSlice&, const ReferenceAdam<R>&,
                                  ErrorModel<R, long double>&);

namespace {

/// Tensor k of `c` through every step into `out`, its bound evaluated in
/// Bound. False when a hardware bound was not finite (then nothing of `out`
/// is to be trusted for this tensor, and it is run again in MPFR).
template <class Bound>
bool run_tensor(const Setup& setup, const RunCase& c, std::size_t k, const TensorSlice& ts, std::vector<ExactStep>& out) {
  ReferenceAdam<R> reference = tensor_reference(setup, c, k, ts);
  ErrorModel<R, Bound> model = tensor_model<Bound>(setup, c, ts, reference);
  StepRecord<R> record;
  std::vector<R> grad;
  for (std::size_t t = 0; t < c.grads.size(); ++t) {
    auto& elements = out[t].record.elements;
    auto& bounds = out[t].bounds;
    if (step_tensor(reference, model, record, c, t, k, ts, grad)) {
      if (out[t].record.scalars.t == 0) out[t].record.scalars = record.scalars;  // the first tensor stepped
      for (std::size_t i = 0; i < ts.size; ++i) elements[ts.offset + i] = record.elements[i];
    } else {
      const auto& st = reference.state();
      for (std::size_t i = 0; i < ts.size; ++i) {
        ElementRecord<R>& e = elements[ts.offset + i];
        e = ElementRecord<R>{};
        e.theta_in = e.theta = reference.theta()[i];
        e.m = st.m[i];
        e.v = st.v[i];
        if (!st.vmax.empty()) e.vmax = st.vmax[i];
      }
    }
    for (std::size_t i = 0; i < ts.size; ++i) {
      const ElementBounds<Bound>& b = model.bounds()[i];
      if (!all_finite(b)) return false;
      // exact: a double or long double is an MPFR number
      bounds[ts.offset + i] = ElementBounds<R>{R(b.theta), R(b.m), R(b.v), R(b.vmax), R(b.compensated)};
    }
    // The next step reads a quantized tensor's stored states: its m and v bounds after this step are the
    // arithmetic's (its codes are judged against them), the next step's the quantization's.
    if (t + 1 < c.grads.size() && has_gradient(c, t, k)) charge_quantization(setup, c, k, ts, reference, model);
  }
  return true;
}

}  // namespace

std::vector<ExactStep> exact_trajectory(const Setup& setup, const RunCase& c, BoundArithmetic bound) {
  validate_case(c);
  std::vector<ExactStep> out(c.grads.size());
  for (auto& step : out) {
    step.record.elements.resize(c.theta0.size());
    step.bounds.resize(c.theta0.size());
  }
  const auto slices = slices_of(c);
  for (std::size_t k = 0; k < slices.size(); ++k) {
    // The bound in hardware floating point, rounded outward (docs/error-model.md,
    // "Evaluating the bound in a hardware type"), or in MPFR where asked or needed.
    bool done = false;
    if (bound == BoundArithmetic::hardware)
      done = setup.dtype.precision <= 24 ? run_tensor<double>(setup, c, k, slices[k], out)
                                         : run_tensor<long double>(setup, c, k, slices[k], out);
    if (!done) run_tensor<R>(setup, c, k, slices[k], out);
  }
  return out;
}

ExactStep exact_single_step(const Setup& setup, const std::vector<double>& theta, const ImplementationState& state,
                            const std::vector<double>& grad, const std::string& lr) {
  RunCase one_step;
  one_step.grads = {grad};
  if (!lr.empty()) one_step.lrs = {lr};
  return exact_single_step(setup, one_step, theta, state, 0);
}

RunCase single_step_case(const RunCase& structure, const std::vector<double>& theta, const ImplementationState& state,
                         std::size_t t) {
  RunCase c;
  c.theta0 = theta;
  c.grads = {structure.grads[t]};
  if (!structure.lrs.empty()) c.lrs = {structure.lrs[t]};
  c.tensors = structure.tensors;
  c.groups = structure.groups;
  if (!structure.grad_given.empty()) c.grad_given = {structure.grad_given[t]};
  c.initial_state = state;
  return c;
}

ExactStep exact_single_step(const Setup& setup, const RunCase& structure, const std::vector<double>& theta,
                            const ImplementationState& state, std::size_t t) {
  return exact_trajectory(setup, single_step_case(structure, theta, state, t)).front();
}

}  // namespace adamconf
