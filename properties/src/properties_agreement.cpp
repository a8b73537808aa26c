// The main properties: agreement with the exact reference within the error
// bound, over whole trajectories and one step at a time from the
// implementation's own state.
#include "property_helpers.hpp"

namespace adamconf::detail {

namespace {

void check_state(Checker& checker, const ImplementationState& s, const ExactStep& exact, std::size_t t,
                 bool amsgrad) {
  // An AMSGrad state must carry its maximum: one not stored (or not exported) is a bug, not a skip.
  if (amsgrad && s.vmax.size() != s.m.size())
    checker.fail("step " + std::to_string(t + 1) + ": the exported state has " + std::to_string(s.vmax.size()) +
                 " AMSGrad maxima for " + std::to_string(s.m.size()) + " elements");
  for (std::size_t i = 0; i < s.m.size(); ++i) {
    const auto& e = exact.record.elements[i];
    const auto& b = exact.bounds[i];
    checker.expect_close(s.m[i], e.m, b.m, at(t, i, "m"));
    checker.expect_close(s.v[i], e.v, b.v, at(t, i, "v"));
    if (amsgrad) checker.expect_close(s.vmax[i], e.vmax, b.vmax, at(t, i, "vmax"));
  }
}

Property trajectory_agrees() {
  return {"trajectory-agrees-with-reference",
          "every step of a whole trajectory agrees with the exact reference within the accumulated error bound",
          nullptr, [](Checker& checker) {
            const auto& ctx = checker.context();
            Scenario s = *gen::scenario(ctx.shape());
            s.run.record_states = ctx.capabilities.state_io;
            const RunResult r = checker.run(s);
            const auto exact = exact_trajectory(setup_of(s), s.run);
            const bool amsgrad = s.spec.convention.adam().amsgrad != AmsgradVariant::none;
            for (std::size_t t = 0; t < exact.size(); ++t) {
              for (std::size_t i = 0; i < r.theta[t].size(); ++i)
                checker.expect_close(r.theta[t][i], exact[t].record.elements[i].theta, exact[t].bounds[i].theta,
                                     at(t, i, "theta"));
              if (s.run.record_states) check_state(checker, r.states[t], exact[t], t, amsgrad);
            }
          }};
}

Property each_step_agrees() {
  return {"each-step-agrees-with-reference",
          "each step, taken from the implementation's own state, agrees with the exact reference within one step's "
          "error bound",
          [](const PropertyContext& ctx) -> std::string {
            return ctx.capabilities.state_io ? "" : "needs state read/write";
          },
          [](Checker& checker) {
            Scenario s = *gen::scenario(checker.context().shape());
            s.run.record_states = true;
            const RunResult r = checker.run(s);
            const bool amsgrad = s.spec.convention.adam().amsgrad != AmsgradVariant::none;
            ImplementationState state = zero_state(s.run.theta0.size(), amsgrad);
            std::vector<double> theta = s.run.theta0;
            for (std::size_t t = 0; t < s.run.grads.size(); ++t) {
              const ExactStep exact = exact_single_step(setup_of(s), theta, state, s.run.grads[t],
                                                        s.run.lrs.empty() ? "" : s.run.lrs[t]);
              for (std::size_t i = 0; i < theta.size(); ++i)
                checker.expect_close(r.theta[t][i], exact.record.elements[i].theta, exact.bounds[i].theta,
                                     at(t, i, "theta"));
              check_state(checker, r.states[t], exact, t, amsgrad);
              if (r.states[t].step != state.step + 1)
                checker.fail("step " + std::to_string(t + 1) + ": the exported step count is " +
                             std::to_string(r.states[t].step) + ", expected " + std::to_string(state.step + 1));
              theta = r.theta[t];
              state = r.states[t];
            }
          }};
}

}  // namespace

std::vector<Property> agreement_properties() { return {trajectory_agrees(), each_step_agrees()}; }

}  // namespace adamconf::detail
