// Equivalences between two ways of running the implementation: AdamW at
// wd = 0 and Adam, L2 and Adam fed g + wd*theta, maximize and negated
// gradients, resumed and uninterrupted runs, repeated runs; and AMSGrad's
// monotone maximum.
#include "adamconf/exact_run.hpp"
#include "property_helpers.hpp"

namespace adamconf::detail {

namespace {

/// A preset the implementation supports whose convention, decay removed,
/// equals `spec`'s, with the same hyperparameters; nullopt if none.
std::optional<OptimizerSpec> adam_partner(const PropertyContext& ctx, const OptimizerSpec& spec) {
  const Convention target = spec.convention.without_decay();
  for (const auto& p : presets()) {
    if (p.name == spec.preset || !ctx.capabilities.supports_preset(p.name)) continue;
    try {
      std::map<std::string, std::string> overrides;
      for (const auto& h : p.hyperparameters) overrides[h] = spec.hyper.get(h);
      OptimizerSpec partner = make_spec(p.name, spec.options, overrides);
      if (!ctx.capabilities.supports(partner) || partner.convention.without_decay() != target) continue;
      Hyperparameters a = partner.hyper, b = spec.hyper;
      a.weight_decay = b.weight_decay = "0";
      if (a == b && parse_decimal<R>(partner.hyper.weight_decay) == 0) return partner;
    } catch (const std::invalid_argument&) {
      // the partner cannot take these options
    }
  }
  return std::nullopt;
}

Property adamw_without_decay_is_adam() {
  return {.id = "zero-decay-is-adam",
          .claim = "with weight_decay = 0, a decoupled-decay convention computes the same trajectory as Adam without decay",
          .not_applicable = [](const PropertyContext& ctx) -> std::string {
            if (!ctx.convention().has(DecayKind::decoupled)) return "no decoupled decay in this convention";
            return needs_zero_weight_decay(ctx);
          },
          .body = [](Checker& checker) {
            const auto& ctx = checker.context();
            const Scenario s = *gen::scenario(zero_decay_shape(ctx));
            const RunResult a = checker.run(s);
            const auto exact = exact_trajectory(setup_of(s), s.run);
            if (const auto partner = adam_partner(ctx, s.spec)) {
              // Against the implementation's own Adam.
              Scenario adam = s;
              adam.spec = *partner;
              const RunResult b = checker.run(adam);
              for (std::size_t t = 0; t < s.run.grads.size(); ++t)
                for (std::size_t i = 0; i < s.run.theta0.size(); ++i)
                  checker.expect_within(R(a.theta[t][i]), R(b.theta[t][i]), 2 * exact[t].bounds[i].theta,
                                        at(t, i, "theta versus " + partner->preset));
            } else {
              // Against the exact Adam without decay.
              Setup adam = setup_of(s);
              adam.spec.convention = s.spec.convention.without_decay();
              const auto e = exact_trajectory(adam, s.run);
              for (std::size_t t = 0; t < s.run.grads.size(); ++t)
                for (std::size_t i = 0; i < s.run.theta0.size(); ++i)
                  checker.expect_close(a.theta[t][i], e[t].record.elements[i].theta, e[t].bounds[i].theta,
                                       at(t, i, "theta versus exact Adam without decay"));
            }
          }};
}

Property l2_is_adam_on_modified_gradient() {
  return {.id = "l2-is-adam-on-modified-gradient",
          .claim = "L2 weight decay equals Adam without decay fed the gradient g + wd theta, step by step",
          .not_applicable = [](const PropertyContext& ctx) -> std::string {
            if (!ctx.convention().has(DecayKind::l2)) return "no L2 decay in this convention";
            if (!ctx.capabilities.state_io) return "needs state read/write";
            return "";
          },
          .body = [](Checker& checker) {
            const auto& ctx = checker.context();
            Scenario s = *gen::scenario(ctx.shape());
            s.run.record_states = true;
            const RunResult a = checker.run(s);
            const std::size_t n = s.run.theta0.size();
            const bool amsgrad = s.spec.convention.adam().amsgrad != AmsgradVariant::none;
            const auto h = values_of<R>(s.spec.hyper);
            OptimizerSpec plain = s.spec;
            plain.hyper.weight_decay = "0";
            // One single-step case per step, from the L2 run's own state, up
            // to a state that overflowed (finite_state).
            std::size_t steps = 0;
            while (steps < s.run.grads.size() && (steps == 0 || finite_state(a.theta[steps - 1], a.states[steps - 1]))) ++steps;
            std::vector<RunCase> cases;
            std::vector<std::vector<R>> exact_grads;
            for (std::size_t t = 0; t < steps; ++t) {
              RunCase c;
              c.theta0 = t == 0 ? s.run.theta0 : a.theta[t - 1];
              c.initial_state = t == 0 ? zero_state(n, amsgrad) : a.states[t - 1];
              if (!s.run.lrs.empty()) c.lrs = {s.run.lrs[t]};
              std::vector<R> g_exact;
              std::vector<double> g;
              for (std::size_t i = 0; i < n; ++i) {
                // maximize negates the fed gradient, so feed g - wd theta then
                // (under Kahan the parameter is theta + its compensation)
                R theta = c.theta0[i];
                if (setup_of(s).rules().kahan_summation() && !c.initial_state->compensation.empty())
                  theta += R(c.initial_state->compensation[i]);
                const R wd_theta = h.weight_decay * theta;
                g_exact.push_back(s.spec.options.maximize ? R(R(s.run.grads[t][i]) - wd_theta)
                                                          : R(R(s.run.grads[t][i]) + wd_theta));
                g.push_back(round_to_format(g_exact.back(), s.dtype));
              }
              c.grads = {g};
              cases.push_back(c);
              exact_grads.push_back(g_exact);
            }
            const auto b = checker.run(Setup{plain, s.dtype}, cases);
            for (std::size_t t = 0; t < steps; ++t) {
              const RunCase& c = cases[t];
              const ExactStep ea = exact_single_step(setup_of(s), c.theta0, *c.initial_state, s.run.grads[t],
                                                     c.lrs.empty() ? "" : c.lrs[0]);
              // B's bound: the exact modified gradient, known to B only rounded.
              const adamconf::Setup plain_setup{plain, s.dtype};
              ReferenceAdam<R> reference = tensor_reference(plain_setup, c, 0, slices_of(c).front());
              ErrorModel<R> model = tensor_model<R>(plain_setup, c, slices_of(c).front(), reference);
              for (std::size_t i = 0; i < n; ++i)
                model.set_input_gradient_error(i, abs(R(c.grads[0][i]) - exact_grads[t][i]));
              std::optional<R> lr;
              if (!c.lrs.empty()) lr = parse_decimal<R>(c.lrs[0]);
              reference.step(exact_grads[t], lr, model);
              for (std::size_t i = 0; i < n; ++i)
                checker.expect_within(R(b[t].theta[0][i]), R(a.theta[t][i]), ea.bounds[i].theta + model.bounds()[i].theta,
                                      at(t, i, "theta fed g + wd theta versus theta with L2"));
            }
          }};
}

Property amsgrad_monotone() {
  return {.id = "amsgrad-max-never-decreases", .claim = "the AMSGrad maximum never decreases",
          .not_applicable = [](const PropertyContext& ctx) -> std::string {
            const Preset& p = ctx.preset_info();
            const bool built_in = p.convention.adam().amsgrad != AmsgradVariant::none;
            if (!built_in && p.amsgrad == AmsgradVariant::none) return "the preset has no AMSGrad";
            if (!built_in && !ctx.capabilities.supports_option("amsgrad")) return "the implementation does not offer amsgrad";
            if (!ctx.capabilities.state_io) return "needs state read/write";
            return "";
          },
          .body = [](Checker& checker) {
            ScenarioShape shape = checker.context().shape();
            shape.options.amsgrad = checker.context().preset_info().amsgrad != AmsgradVariant::none;
            Scenario s = *gen::scenario(shape);
            s.run.record_states = true;
            const RunResult r = checker.run(s);
            for (std::size_t t = 0; t < r.states.size(); ++t) {
              if (r.states[t].vmax.size() != s.run.theta0.size())
                checker.fail("step " + std::to_string(t + 1) + ": the exported state has no AMSGrad maximum");
              for (std::size_t i = 0; i < s.run.theta0.size(); ++i) {
                const double before = t == 0 ? 0.0 : r.states[t - 1].vmax[i];
                // A maximum that overflowed to inf (g + wd theta or g^2 past the format's range, as
                // the error model allows) has nothing above it: beta2 v = 0 inf is NaN in the next
                // step of a correct implementation (PyTorch's float16 Adam, beta2 = 0).
                if (!std::isfinite(before)) {  // inf, or the NaN an inf became: the element stays beyond judgment
                  checker.note_unjudged("a maximum after one that overflowed to inf");
                  continue;
                }
                checker.expect_true(r.states[t].vmax[i] >= before,
                                    at(t, i, "vmax") + " => " + show_value(r.states[t].vmax[i]) + " after " +
                                        show_value(before) + ": the maximum decreased");
              }
            }
          },
          .runs_under_variants = true};
}

Property maximize_is_negation() {
  return {.id = "maximize-is-negated-gradient", .claim = "maximize gives the trajectory of minimizing the negated gradients",
          .not_applicable = [](const PropertyContext& ctx) -> std::string {
            if (!ctx.preset_info().offers_maximize) return "the preset has no maximize option";
            if (!ctx.capabilities.supports_option("maximize")) return "the implementation does not offer maximize";
            return "";
          },
          .body = [](Checker& checker) {
            const auto& ctx = checker.context();
            ScenarioShape shape = ctx.shape();
            shape.options.maximize = true;
            const Scenario s = *gen::scenario(shape);
            Scenario negated = s;
            negated.spec.options.maximize = false;
            negated.spec.convention = ctx.preset_info().resolve(negated.spec.options);
            for (auto& step : negated.run.grads)
              for (double& g : step) g = -g;
            const RunResult a = checker.run(s), b = checker.run(negated);
            const auto e = exact_trajectory(setup_of(s), s.run);
            for (std::size_t t = 0; t < s.run.grads.size(); ++t)
              for (std::size_t i = 0; i < s.run.theta0.size(); ++i)
                checker.expect_within(R(a.theta[t][i]), R(b.theta[t][i]), 2 * e[t].bounds[i].theta,
                                      at(t, i, "theta with maximize versus negated gradients"));
          }};
}

/// A run of 2 or more steps with its states, and the step k (1-based) after
/// which to resume it: drawn, then moved back to the last finite state, since
/// requests carry finite numbers only (docs/protocol.md: a run that overflowed,
/// float16's 65504, resumes from the last finite state before k, or not at all).
struct ResumePoint {
  Scenario s;
  RunResult run;
  std::size_t k;
};
ResumePoint run_to_resume(Checker& checker) {
  ScenarioShape shape = checker.context().shape();
  shape.min_steps = 2;
  Scenario s = *gen::scenario(shape);
  s.run.record_states = true;
  RunResult a = checker.run(s);
  std::size_t k = *gen::uniform<std::size_t>(1, s.run.grads.size());
  while (k > 0 && !finite_state(a.theta[k - 1], a.states[k - 1])) --k;
  if (k == 0) RC_DISCARD("the run has no finite state to resume from");
  return {.s = std::move(s), .run = std::move(a), .k = k};
}

Property resume_equals_uninterrupted() {
  return {.id = "resume-equals-uninterrupted",
          .claim = "a run resumed from exported state continues the uninterrupted run",
          .not_applicable = [](const PropertyContext& ctx) -> std::string { return ctx.capabilities.state_io ? "" : "needs state read/write"; },
          .body = [](Checker& checker) {
            const auto [s, a, k] = run_to_resume(checker);
            RunCase resumed;
            resumed.theta0 = a.theta[k - 1];
            resumed.initial_state = a.states[k - 1];
            resumed.grads.assign(s.run.grads.begin() + k, s.run.grads.end());
            if (!s.run.lrs.empty()) resumed.lrs.assign(s.run.lrs.begin() + k, s.run.lrs.end());
            const RunResult b = checker.run(setup_of(s), {resumed}).front();
            // Both continue exactly from the state at step k.
            const auto e = exact_trajectory(setup_of(s), resumed);
            for (std::size_t j = 0; j < resumed.grads.size(); ++j)
              for (std::size_t i = 0; i < s.run.theta0.size(); ++i)
                checker.expect_within(R(b.theta[j][i]), R(a.theta[k + j][i]), 2 * e[j].bounds[i].theta,
                                      at(k + j, i, "theta resumed after step " + std::to_string(k)));
          },
          .runs_under_variants = true};
}

Property resume_under_other_hyperparameters() {
  return {.id = "resume-under-other-hyperparameters-uses-them",
          .claim = "a state exported by a run under some hyperparameters and imported into a run under others steps under "
                   "the new ones (a state carries moments and counts, not betas, lr, eps or decay)",
          .not_applicable = [](const PropertyContext& ctx) -> std::string {
            return ctx.capabilities.state_io ? "" : "needs state read/write";
          },
          .body = [](Checker& checker) {
            const auto [first, a, k] = run_to_resume(checker);
            Scenario second = first;
            second.spec.hyper = *gen::hyperparameters(preset_by_name(first.spec.preset), checker.context().shape());
            if (second.spec.hyper == first.spec.hyper) RC_DISCARD("the second draw of hyperparameters equals the first");
            const std::size_t tensors = slices_of(first.run).size();
            RunCase& c = second.run;
            c.theta0 = a.theta[k - 1];
            c.initial_state = per_tensor(a.states[k - 1], tensors);
            c.grads = {first.run.grads[std::min(k, first.run.grads.size() - 1)]};  // the next gradient, or the last
            c.lrs.clear();  // the second run's own constant lr
            c.record_states = true;
            const RunResult b = checker.run(setup_of(second), {c}).front();
            judge_step(checker, second, c, 0, c.theta0, *c.initial_state, b.theta[0], b.states[0],
                       ", resumed under other hyperparameters from the state exported after step " + std::to_string(k),
                       k);
          },
          .runs_under_variants = true};
}

Property deterministic() {
  return {.id = "repeated-runs-are-identical", .claim = "running the same case twice gives bitwise identical results", .body = [](Checker& checker) {
            Scenario s = *gen::scenario(checker.context().shape());
            s.run.record_states = checker.context().capabilities.state_io;
            const auto first = checker.run(setup_of(s), {s.run, s.run});
            const auto again = checker.run(setup_of(s), {s.run});
            for (const RunResult* other : {&first[1], &again[0]})
              for (std::size_t t = 0; t < s.run.grads.size(); ++t) {
                for (std::size_t i = 0; i < s.run.theta0.size(); ++i)
                  checker.expect_identical(first[0].theta[t][i], other->theta[t][i], at(t, i, "theta"));
                if (s.run.record_states)
                  for (std::size_t i = 0; i < s.run.theta0.size(); ++i) {
                    checker.expect_identical(first[0].states[t].m[i], other->states[t].m[i], at(t, i, "m"));
                    checker.expect_identical(first[0].states[t].v[i], other->states[t].v[i], at(t, i, "v"));
                  }
              }
          }};
}

}  // namespace

std::vector<Property> equivalence_properties() {
  return {adamw_without_decay_is_adam(), l2_is_adam_on_modified_gradient(), amsgrad_monotone(),
          maximize_is_negation(), resume_equals_uninterrupted(), resume_under_other_hyperparameters(), deterministic()};
}

}  // namespace adamconf::detail
