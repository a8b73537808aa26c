// The main properties: agreement with the exact reference within the error
// bound, over whole trajectories and one step at a time from the
// implementation's own state.
#include <algorithm>

#include "adamconf/exact_run.hpp"
#include "property_helpers.hpp"

namespace adamconf::detail {

std::string at_tensor(const std::vector<TensorSlice>& slices, std::size_t step, std::size_t i, const std::string& what) {
  // the tensor that holds element i (empty tensors hold nothing)
  std::size_t k = 0;
  for (std::size_t j = 0; j < slices.size(); ++j)
    if (slices[j].offset <= i && i < slices[j].offset + slices[j].size) k = j;
  return value_position(slices, k, step, i, what);
}

namespace {

void check_state(Checker& checker, const ImplementationState& s, const ExactStep& exact, std::size_t t, bool amsgrad,
                 const std::vector<TensorSlice>& slices) {
  // Each state tensor compared in the format it is stored in (a state format of its own where given).
  const FloatFormat &fm = checker.context().format_of(Quantity::m), &fv = checker.context().format_of(Quantity::v),
                    &fvmax = checker.context().format_of(Quantity::vmax);
  // An AMSGrad state must carry its maximum: one not stored (or not exported) is a bug, not a skip.
  if (amsgrad && s.vmax.size() != s.m.size())
    checker.fail("step " + std::to_string(t + 1) + ": the exported state has " + std::to_string(s.vmax.size()) +
                 " AMSGrad maxima for " + std::to_string(s.m.size()) + " elements");
  for (std::size_t i = 0; i < s.m.size(); ++i) {
    const auto& e = exact.record.elements[i];
    const auto& b = exact.bounds[i];
    checker.expect_close(s.m[i], e.m, b.m, [&] { return at_tensor(slices, t, i, "m"); }, fm);
    checker.expect_close(s.v[i], e.v, b.v, [&] { return at_tensor(slices, t, i, "v"); }, fv);
    if (amsgrad) checker.expect_close(s.vmax[i], e.vmax, b.vmax, [&] { return at_tensor(slices, t, i, "vmax"); }, fvmax);
  }
}

/// The step count of every tensor after step t, from the counts before it, as
/// the convention's counter holds them (a float32 count stops at 2^24).
std::vector<std::int64_t> advanced_steps(const RunCase& c, const ImplementationState& before, std::size_t t,
                                         StepCounter counter) {
  std::vector<std::int64_t> out;
  for (std::size_t k = 0; k < slices_of(c).size(); ++k)
    out.push_back(has_gradient(c, t, k) ? advance_count(counter, before.step_of(k)) : held_count(counter, before.step_of(k)));
  return out;
}

}  // namespace

void check_trajectory(Checker& checker, const Scenario& s) {
  const RunResult r = checker.run(s);
  VerifySettings settings;
  settings.jobs = checker.context().jobs;
  checker.record(verify_trajectory(setup_of(s), s.run, r, settings));
}

void check_trajectory_with_states(Checker& checker, Scenario s) {
  s.run.record_states = checker.context().capabilities.state_io;
  check_trajectory(checker, s);
}

void check_each_step(Checker& checker, Scenario s) {
  s.run.record_states = true;
  const RunResult r = checker.run(s);
  const bool amsgrad = s.spec.convention.adam().amsgrad != AmsgradVariant::none;
  const auto slices = slices_of(s.run);
  ImplementationState state = s.run.initial_state ? *s.run.initial_state : zero_state(s.run.theta0.size(), amsgrad);
  std::vector<double> theta = s.run.theta0;
  for (std::size_t t = 0; t < s.run.grads.size(); ++t) {
    if (!finite_state(theta, state)) break;  // overflowed within its bound: no exact step from there
    const ExactStep exact = exact_single_step(setup_of(s), s.run, theta, state, t);
    for (std::size_t i = 0; i < theta.size(); ++i)
      checker.expect_close(r.theta[t][i], exact.record.elements[i].theta, exact.bounds[i].theta,
                           [&] { return at_tensor(slices, t, i, "theta"); });
    check_state(checker, r.states[t], exact, t, amsgrad, slices);
    if (setup_of(s).rules().kahan_summation())  // Kahan: theta + c within the compensated bound
      for (std::size_t i = 0; i < theta.size(); ++i)
        checker.expect_close(r.theta[t][i] + r.states[t].compensation.at(i), exact.record.elements[i].theta,
                             exact.bounds[i].compensated, [&] { return at_tensor(slices, t, i, "theta + compensation"); },
                             checker.context().values_format(), false);
    const auto expected = advanced_steps(s.run, state, t, s.spec.convention.adam().counter);
    for (std::size_t k = 0; k < expected.size(); ++k) {
      const std::int64_t got = r.states[t].step_of(k);
      checker.expect_true(got == expected[k], "step " + std::to_string(t + 1) + ": the exported step count" +
                                                  (slices.size() > 1 ? " of tensor " + std::to_string(k) : "") + " is " +
                                                  std::to_string(got) + ", expected " + std::to_string(expected[k]));
    }
    theta = r.theta[t];
    state = r.states[t];
    if (slices.size() > 1 && state.tensor_steps.empty()) state.tensor_steps.assign(slices.size(), state.step);
  }
}

namespace {

Property trajectory_agrees() {
  return {.id = "trajectory-agrees-with-reference",
          .claim = "every step of a whole trajectory agrees with the exact reference within the accumulated error bound",
          .body = [](Checker& checker) { check_trajectory_with_states(checker, *gen::scenario(checker.context().shape())); },
          .runs_under_variants = true};
}

Property each_step_agrees() {
  return {.id = "each-step-agrees-with-reference",
          .claim = "each step, taken from the implementation's own state, agrees with the exact reference within one step's "
          "error bound",
          .not_applicable = [](const PropertyContext& ctx) -> std::string {
            return ctx.capabilities.state_io ? "" : "needs state read/write";
          },
          .body = [](Checker& checker) { check_each_step(checker, *gen::scenario(checker.context().shape())); },
          .runs_under_variants = true};
}

}  // namespace

std::vector<Property> agreement_properties() { return {trajectory_agrees(), each_step_agrees()}; }

}  // namespace adamconf::detail
