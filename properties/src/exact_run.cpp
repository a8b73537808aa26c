#include "adamconf/exact_run.hpp"

namespace adamconf {

namespace {
std::vector<R> to_reals(const std::vector<double>& xs) { return {xs.begin(), xs.end()}; }
}  // namespace

OptimizerState<R> to_reference_state(const ImplementationState& s) {
  return {s.step, to_reals(s.m), to_reals(s.v), to_reals(s.vmax)};
}

std::vector<ExactStep> exact_trajectory(const Setup& setup, const RunCase& c) {
  const auto hyper = values_of<R>(setup.spec.hyper);
  std::optional<OptimizerState<R>> state;
  if (c.initial_state) state = to_reference_state(*c.initial_state);
  ReferenceAdam<R> reference(setup.spec.convention, hyper, to_reals(c.theta0), state);
  ErrorModel<R> model(setup.dtype, hyper, c.theta0.size());
  std::vector<ExactStep> out;
  out.reserve(c.grads.size());
  for (std::size_t t = 0; t < c.grads.size(); ++t) {
    std::optional<R> lr;
    if (!c.lrs.empty()) lr = parse_decimal<R>(c.lrs[t]);
    ExactStep step;
    step.record = reference.step(to_reals(c.grads[t]), lr, model);
    step.bounds = model.bounds();
    out.push_back(std::move(step));
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

}  // namespace adamconf
