#include "adamconf/exact_run.hpp"

namespace adamconf {

namespace {
std::vector<R> to_reals(const std::vector<double>& xs) { return {xs.begin(), xs.end()}; }
std::vector<R> slice(const std::vector<double>& xs, const TensorSlice& s) {
  return {xs.begin() + static_cast<std::ptrdiff_t>(s.offset), xs.begin() + static_cast<std::ptrdiff_t>(s.offset + s.size)};
}
}  // namespace

OptimizerState<R> to_reference_state(const ImplementationState& s) {
  return {s.step, to_reals(s.m), to_reals(s.v), to_reals(s.vmax)};
}

std::vector<ExactStep> exact_trajectory(const Setup& setup, const RunCase& c) {
  validate_case(c);
  std::vector<ExactStep> out(c.grads.size());
  for (auto& step : out) {
    step.record.elements.resize(c.theta0.size());
    step.bounds.resize(c.theta0.size());
  }
  // Each tensor is an optimizer of its own (PyTorch keeps state per parameter):
  // its group's hyperparameters, its own state and step count; a step without
  // its gradient leaves all of it as it was.
  const auto slices = slices_of(c);
  for (std::size_t k = 0; k < slices.size(); ++k) {
    const TensorSlice& ts = slices[k];
    const auto hyper = values_of<R>(group_hyperparameters(setup.spec.hyper, c, ts.group));
    std::optional<OptimizerState<R>> state;
    if (c.initial_state) {
      const ImplementationState& s = *c.initial_state;
      state = OptimizerState<R>{s.step_of(k), slice(s.m, ts), slice(s.v, ts),
                                s.vmax.empty() ? std::vector<R>{} : slice(s.vmax, ts)};
    }
    ReferenceAdam<R> reference(setup.spec.convention, hyper, slice(c.theta0, ts), state);
    ErrorModel<R> model(setup.dtype, hyper, ts.size);
    StepRecord<R> record;
    for (std::size_t t = 0; t < c.grads.size(); ++t) {
      auto& elements = out[t].record.elements;
      auto& bounds = out[t].bounds;
      if (has_gradient(c, t, k)) {
        std::optional<R> lr;
        if (!c.lrs.empty()) lr = parse_decimal<R>(c.lrs[t]);
        std::vector<R> grad(c.grads[t].begin() + static_cast<std::ptrdiff_t>(ts.offset),
                            c.grads[t].begin() + static_cast<std::ptrdiff_t>(ts.offset + ts.size));
        reference.step_into(record, grad, lr, model);
        if (k == 0 || out[t].record.scalars.t == 0) out[t].record.scalars = record.scalars;
        for (std::size_t i = 0; i < ts.size; ++i) {
          elements[ts.offset + i] = record.elements[i];
          bounds[ts.offset + i] = model.bounds()[i];
        }
      } else {
        // No gradient: theta, the state and the bounds stay as they were.
        const auto& st = reference.state();
        for (std::size_t i = 0; i < ts.size; ++i) {
          ElementRecord<R>& e = elements[ts.offset + i];
          e = ElementRecord<R>{};
          e.theta_in = e.theta = reference.theta()[i];
          e.m = st.m[i];
          e.v = st.v[i];
          if (!st.vmax.empty()) e.vmax = st.vmax[i];
          bounds[ts.offset + i] = model.bounds()[i];
        }
      }
    }
  }
  return out;
}

ExactStep exact_single_step(const Setup& setup, const std::vector<double>& theta, const ImplementationState& state,
                            const std::vector<double>& grad, const std::string& lr) {
  RunCase c;
  c.theta0 = theta;
  c.grads = {grad};
  if (!lr.empty()) c.lrs = {lr};
  c.initial_state = state;
  return exact_trajectory(setup, c).front();
}

ExactStep exact_single_step(const Setup& setup, const RunCase& structure, const std::vector<double>& theta,
                            const ImplementationState& state, std::size_t t) {
  RunCase c;
  c.theta0 = theta;
  c.grads = {structure.grads[t]};
  if (!structure.lrs.empty()) c.lrs = {structure.lrs[t]};
  c.tensors = structure.tensors;
  c.groups = structure.groups;
  if (!structure.grad_given.empty()) c.grad_given = {structure.grad_given[t]};
  c.initial_state = state;
  return exact_trajectory(setup, c).front();
}

}  // namespace adamconf
