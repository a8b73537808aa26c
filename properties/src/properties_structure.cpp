// Properties of structured cases (protocol /2) and long time scales: many
// tensors of mixed sizes, parameter groups, steps without a gradient, large
// step counts, long trajectories.
#include <algorithm>

#include "adamconf/structure_generators.hpp"
#include "property_helpers.hpp"

namespace adamconf::detail {

namespace {

std::string needs_tensors(const PropertyContext& ctx) {
  return ctx.capabilities.tensors ? ""
                                  : "needs cases of several tensors, groups and no-grad steps: the adapter speaks "
                                    "adamconf-adapter/1 (say \"adamconf-adapter/2\" in hello)";
}

/// Tensor k of `s` alone: its elements, its group's hyperparameters as the
/// setup's, its own no-grad steps.
Scenario alone(const Scenario& s, std::size_t k) {
  const auto slices = slices_of(s.run);
  const TensorSlice& ts = slices[k];
  Scenario out = s;
  out.spec.hyper = group_hyperparameters(s.spec.hyper, s.run, ts.group);
  out.run = RunCase{};
  out.run.theta0 = part_of(s.run.theta0, ts);
  for (const auto& g : s.run.grads) out.run.grads.push_back(part_of(g, ts));
  out.run.lrs = s.run.lrs;
  if (!s.run.grad_given.empty()) {
    out.run.tensors = {Tensor{ts.size, 0}};
    for (const auto& flags : s.run.grad_given) out.run.grad_given.push_back({flags[k]});
  }
  return out;
}

/// Protocol /1: the tensors of a structured scenario as cases of one tensor
/// each (empty ones among them), sent in one request; every case's trajectory
/// must agree (a case after an empty one is stepped too).
void check_cases_of_one_tensor(Checker& checker, const Scenario& s) {
  std::vector<Scenario> parts;
  std::vector<RunCase> cases;
  for (std::size_t k = 0; k < slices_of(s.run).size(); ++k) {
    parts.push_back(alone(s, k));
    parts.back().run.record_states = checker.context().capabilities.state_io;
    cases.push_back(parts.back().run);
  }
  const std::vector<RunResult> results = checker.run(setup_of(s), cases);
  VerifySettings settings;
  settings.jobs = checker.context().jobs;
  for (std::size_t k = 0; k < parts.size(); ++k)
    checker.record(verify_trajectory(setup_of(parts[k]), parts[k].run, results[k], settings));
}

Property structured_trajectory_agrees() {
  return {.id = "structured-trajectory-agrees-with-reference",
          .claim = "with many tensors of mixed sizes (empty ones, vector remainders), parameter groups and steps without a "
          "gradient, every tensor's trajectory agrees with the exact reference within its error bound (protocol /1: the "
          "tensors as cases of one tensor each, in one request)",
          .body = [](Checker& checker) {
            const Scenario s = *gen::structured_scenario(checker.context().shape(), StructureClass::mixed);
            if (checker.context().capabilities.tensors) check_trajectory_with_states(checker, s);
            else check_cases_of_one_tensor(checker, s);
          }};
}

Property structured_each_step_agrees() {
  return {.id = "structured-each-step-agrees-with-reference",
          .claim = "with many tensors, groups and no-grad steps, each step from the implementation's own state agrees with the "
          "exact reference, and exactly the tensors given a gradient advance their step counts",
          .not_applicable = [](const PropertyContext& ctx) -> std::string {
            if (!ctx.capabilities.state_io) return "needs state read/write";
            return needs_tensors(ctx);
          },
          .body = [](Checker& checker) {
            check_each_step(checker, *gen::structured_scenario(checker.context().shape(), StructureClass::mixed));
          }};
}

/// Why a property that steps tensors a quantized format stores cannot run under these options, or "".
std::string quantized_amsgrad_not_modelled(const PropertyContext& ctx) {
  if (!ctx.rules().any_quantized() || ctx.convention().adam().amsgrad == AmsgradVariant::none) return "";
  return kQuantizedAmsgradNotModelled;
}

Property quantized_trajectory_agrees() {
  return {.id = "quantized-trajectory-agrees-with-reference",
          .claim = "whole trajectories of quantized states (tensors below, at and above the format's size, partial last "
          "blocks) agree with the exact unquantized reference within a bound that charges each step's quantization: "
          "theta, and the m and v the codes read back as",
          .not_applicable = [](const PropertyContext& ctx) -> std::string {
            if (!ctx.rules().any_quantized()) return "applies to quantized state formats (--m-format bnb-dynamic8-signed)";
            return quantized_amsgrad_not_modelled(ctx);
          },
          .body = [](Checker& checker) {
            Scenario s = *gen::structured_scenario(checker.context().shape(), StructureClass::quantized_trajectory);
            s.run.record_states = checker.context().capabilities.state_io;  // theta alone where the state stays inside
            check_trajectory(checker, s);
          },
          .cases_per_hundred = 5,
          .shrink = false};
}

Property quantized_each_step_agrees() {
  return {.id = "quantized-each-step-agrees-with-reference",
          .claim = "each step from the implementation's own quantized state (tensors below, at and above the format's size, "
          "partial last blocks) agrees with the exact reference: theta within one step's bound, every block's scale its exact "
          "maximum, every code a nearest code to the exact moment over it",
          .not_applicable = [](const PropertyContext& ctx) -> std::string {
            if (!ctx.rules().any_quantized()) return "applies to quantized state formats (--m-format bnb-dynamic8-signed)";
            if (const std::string why = quantized_amsgrad_not_modelled(ctx); !why.empty()) return why;
            return ctx.capabilities.state_io ? "" : "needs state read/write";
          },
          .body = [](Checker& checker) {
            check_each_step(checker, *gen::structured_scenario(checker.context().shape(), StructureClass::quantized));
          },
          .cases_per_hundred = 5,
          .shrink = false};
}

Property large_tensors_agree() {
  // theta only: with m, v and vmax of 2^20 elements over 3 steps a float64 answer
  // passes the protocol's 256 MiB line limit. A state not written back past a
  // chunk shows in theta from the second step on (the class has 2 or 3 steps).
  return {.id = "large-tensors-agree-with-reference",
             .claim = "tensors at chunk boundaries (65535, 65536, 65537, 2^17 + 3 elements, over 2^20 in all) agree with the "
             "exact reference in every element of theta (protocol /1: one tensor past the first chunk)",
             .not_applicable = quantized_amsgrad_not_modelled,
             .body = [](Checker& checker) {
               check_trajectory(checker, *gen::structured_scenario(checker.context().shape(), StructureClass::large));
             },
             .cases_per_hundred = 2,
             .shrink = false};
}

Property no_grad_leaves_tensor_alone() {
  return {.id = "no-grad-step-leaves-tensor-bit-identical",
          .claim = "a step that gives a tensor no gradient leaves that tensor, its moments and its step count bit-identical",
          .not_applicable = needs_tensors, .body = [](Checker& checker) {
            const auto& ctx = checker.context();
            Scenario s = *gen::structured_scenario(ctx.shape(), StructureClass::mixed);
            RC_PRE(!s.run.grad_given.empty());
            s.run.record_states = ctx.capabilities.state_io;
            const RunResult r = checker.run(s);
            const auto slices = slices_of(s.run);
            const bool amsgrad = s.spec.convention.adam().amsgrad != AmsgradVariant::none;
            for (std::size_t t = 0; t < s.run.grads.size(); ++t)
              for (std::size_t k = 0; k < slices.size(); ++k) {
                if (has_gradient(s.run, t, k)) continue;
                const std::vector<double>& before = t == 0 ? s.run.theta0 : r.theta[t - 1];
                for (std::size_t i = slices[k].offset; i < slices[k].offset + slices[k].size; ++i)
                  checker.expect_identical(r.theta[t][i], before[i], at_tensor(slices, t, i, "theta (no gradient)"));
                if (!s.run.record_states || t == 0) continue;
                const ImplementationState& a = r.states[t - 1];
                const ImplementationState& b = r.states[t];
                for (std::size_t i = slices[k].offset; i < slices[k].offset + slices[k].size; ++i) {
                  checker.expect_identical(b.m[i], a.m[i], at_tensor(slices, t, i, "m (no gradient)"));
                  checker.expect_identical(b.v[i], a.v[i], at_tensor(slices, t, i, "v (no gradient)"));
                  if (amsgrad && b.vmax.size() == b.m.size() && a.vmax.size() == a.m.size())
                    checker.expect_identical(b.vmax[i], a.vmax[i], at_tensor(slices, t, i, "vmax (no gradient)"));
                }
                checker.expect_true(b.step_of(k) == a.step_of(k),
                                    "step " + std::to_string(t + 1) + ": tensor " + std::to_string(k) +
                                        " had no gradient, and its step count went from " + std::to_string(a.step_of(k)) +
                                        " to " + std::to_string(b.step_of(k)));
              }
          }};
}

Property independent_of_other_tensors() {
  return {.id = "tensor-trajectory-independent-of-other-tensors",
          .claim = "a tensor's trajectory is the same, within both runs' error bounds, whether it runs among other tensors and "
          "groups or alone",
          .not_applicable = needs_tensors, .body = [](Checker& checker) {
            const auto& ctx = checker.context();
            const Scenario s = *gen::structured_scenario(ctx.shape(), StructureClass::mixed);
            const auto slices = slices_of(s.run);
            RC_PRE(slices.size() >= 2);
            const std::size_t k = *gen::uniform<std::size_t>(0, slices.size());
            RC_PRE(slices[k].size > 0);
            const Scenario single = alone(s, k);
            const std::vector<RunResult> rs = checker.run(setup_of(s), {s.run});
            const RunResult r1 = checker.run(single);
            // Both runs are within E of the same exact value, so within 2E of each other.
            const auto exact = exact_trajectory(setup_of(single), single.run);
            for (std::size_t t = 0; t < exact.size(); ++t)
              for (std::size_t i = 0; i < slices[k].size; ++i)
                checker.expect_within(R(rs[0].theta[t][slices[k].offset + i]), R(r1.theta[t][i]),
                                      2 * exact[t].bounds[i].theta,
                                      at_tensor(slices, t, slices[k].offset + i, "theta among others vs alone"));
          }};
}

Property split_changes_nothing() {
  return {.id = "splitting-a-tensor-changes-no-value",
          .claim = "splitting a tensor into several (empty pieces included), or merging them back, changes no value beyond both "
          "runs' error bounds",
          .not_applicable = needs_tensors, .body = [](Checker& checker) {
            const auto& ctx = checker.context();
            Scenario whole = *gen::scenario(ctx.shape());
            const std::size_t n = whole.run.theta0.size();
            // cut points, sorted, repeats allowed (empty pieces)
            auto cuts = *rc::gen::container<std::vector<std::size_t>>(static_cast<std::size_t>(*gen::uniform(1, 5)),
                                                                      gen::uniform<std::size_t>(0, n + 1));
            std::sort(cuts.begin(), cuts.end());
            Scenario split = whole;
            std::size_t previous = 0;
            for (std::size_t c : cuts) {
              split.run.tensors.push_back({c - previous, 0});
              previous = c;
            }
            split.run.tensors.push_back({n - previous, 0});
            const RunResult a = checker.run(whole);
            const RunResult b = checker.run(split);
            const auto exact = exact_trajectory(setup_of(whole), whole.run);
            const auto slices = slices_of(split.run);
            for (std::size_t t = 0; t < exact.size(); ++t)
              for (std::size_t i = 0; i < n; ++i)
                checker.expect_within(R(b.theta[t][i]), R(a.theta[t][i]), 2 * exact[t].bounds[i].theta,
                                      at_tensor(slices, t, i, "theta split vs whole"));
          }};
}

Property large_step_counts_agree() {
  return {.id = "large-step-counts-agree-with-reference",
          .claim = "from a state at a large step count (255-258, 2047-2050, 2^24 +- 1, 10^6) with betas whose bias correction "
          "is still visible there, each step agrees with the exact reference and advances the count as the convention's "
          "counter does (an integer by 1; a float32 count stops at 2^24)",
          .not_applicable = [](const PropertyContext& ctx) -> std::string {
            return ctx.capabilities.state_io ? "" : "needs state read/write (the run starts from an injected state)";
          },
          .body = [](Checker& checker) { check_each_step(checker, *gen::large_step_scenario(checker.context().shape())); }};
}

Property boundary_states_agree() {
  return {.id = "imported-boundary-states-agree-with-reference",
          .claim = "from an imported state at its formats' edges (step counts 2^31 - 1, 2^31, 2^32 + 1 and 2^53 - 1; m and v "
                   "at +-0, subnormals, the smallest normal and the top of the range) each step agrees with the exact "
                   "reference and the count advances as the convention's counter does",
          .not_applicable = [](const PropertyContext& ctx) -> std::string {
            return ctx.capabilities.state_io ? "" : "needs state read/write (the run starts from an imported state)";
          },
          .body = [](Checker& checker) {
            check_each_step(checker, *gen::boundary_state_scenario(checker.context().shape()));
          }};
}

Property long_trajectory_agrees() {
  return {.id = "long-trajectory-agrees-with-reference",
          .claim = "a trajectory of 10^4 to 2*10^4 steps from step 0 agrees with the exact reference within the accumulated "
                   "error bound",
          .body = [](Checker& checker) { check_trajectory(checker, *gen::long_scenario(checker.context().shape())); },
          .cases_per_hundred = 5,
          .shrink = false};
}

}  // namespace

std::vector<Property> structure_properties() {
  return {structured_trajectory_agrees(), structured_each_step_agrees(), no_grad_leaves_tensor_alone(),
          independent_of_other_tensors(), split_changes_nothing(),      large_step_counts_agree(),
          boundary_states_agree(),        long_trajectory_agrees(),
          // a quantizer's bug is reported first where it names block and code, then by theta's trajectories
          quantized_each_step_agrees(),   quantized_trajectory_agrees(), large_tensors_agree()};
}

}  // namespace adamconf::detail
