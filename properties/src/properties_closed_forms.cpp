// Properties with a closed form: step 1, zero gradients, constant gradients,
// and the bound on how far one step can move a parameter. Expected values come
// from the formulas here, not from the reference; the allowed error is the
// error model's (which the reference computes for the same inputs).
#include <cmath>

#include "property_helpers.hpp"

namespace adamconf::detail {

namespace {

std::string needs_bias_correction(const PropertyContext& ctx) {
  // The convention's, not the option's: a preset may have none to begin with (MLX's default).
  const Convention c = ctx.convention();
  const ScaleByAdam& a = c.adam();
  return a.bias_correction1 && a.bias_correction2 ? "" : "needs bias correction (the convention has none)";
}

std::string first_of(std::initializer_list<std::string> reasons) {
  for (const auto& r : reasons)
    if (!r.empty()) return r;
  return "";
}

/// The direction under a constant gradient g at step t, with bias correction:
/// m_hat = g and v_hat = g^2 exactly, so Algorithm 1 gives g/(sqrt(g^2 + eps_root) + eps)
/// (g/max(sqrt(g^2 + eps_root), eps) with eps as a floor)
/// and eps-hat gives g/(sqrt(g^2 + eps_root/bc2) + eps/sqrt(bc2)).
R constant_gradient_direction(const Scenario& s, const R& g, std::int64_t t) {
  const auto h = values_of<R>(s.spec.hyper);
  const ScaleByAdam& adam = s.spec.convention.adam();
  if (adam.eps_placement == EpsPlacement::after_bias_correction) {
    R denominator = sqrt(g * g + h.eps_root);
    apply_eps(adam, denominator, h.eps);
    return g / denominator;
  }
  const R bc2 = 1 - integer_power(h.beta2, t);
  return g / (sqrt(g * g + h.eps_root / bc2) + h.eps / sqrt(bc2));
}

/// The gradient the moments see (maximize negates it).
R effective(const Scenario& s, double g) { return s.spec.options.maximize ? R(-g) : R(g); }

/// eps and eps_root as they act at step 1, for the step-1 sign claims.
struct StepOneEps {
  R eps, eps_root;
};
StepOneEps step_one_eps(const Scenario& s) {
  const auto h = values_of<R>(s.spec.hyper);
  if (s.spec.convention.adam().eps_placement == EpsPlacement::after_bias_correction) return {h.eps, h.eps_root};
  const R c2 = 1 - h.beta2;
  return {h.eps / sqrt(c2), h.eps_root / c2};
}

/// |d - sign(g)| for the step-1 direction d = g/(sqrt(g^2 + eps_root) + eps):
/// (sqrt(g^2 + eps_root) - |g| + eps)/(sqrt(g^2 + eps_root) + eps) <= (eps + eps_root/(2|g|))/|g|.
R distance_from_sign(const StepOneEps& e, const R& g) {
  return g == 0 ? R(0) : R((e.eps + e.eps_root / (2 * abs(g))) / abs(g));
}

/// A step-1 scenario whose gradients all satisfy |g| >= 2^12 max(eps, sqrt(eps_root)).
/// Built inside the generator, so the counterexample shows what ran.
rc::Gen<Scenario> large_gradient_step_one(const PropertyContext& ctx) {
  ScenarioShape shape = zero_decay_shape(ctx);
  shape.max_steps = 1;
  shape.lr_schedule = false;
  return rc::gen::exec([shape] {
    Scenario s = *gen::scenario(shape);
    const StepOneEps e = step_one_eps(s);
    const R threshold = std::max(e.eps, R(sqrt(e.eps_root))) * 4096;
    const int low = std::max(threshold == 0 ? -10 : static_cast<int>(floor(log2(threshold))) + 1, -10);
    const int high = static_cast<int>(std::floor(std::log2(largest_gradient(s.dtype)))) - 1;
    RC_PRE(low <= high);
    for (double& g : s.run.grads[0]) g = *gen::float_in(s.dtype, low, std::max(low, std::min(high, low + 20)));
    return s;
  });
}

/// A large-gradient step-1 scenario, run, with what both step-1 sign claims need.
struct StepOneRun {
  Scenario s;
  RunResult r;
  std::vector<ExactStep> exact;
  R lr;
  StepOneEps eps;
};

StepOneRun run_large_gradient_step_one(Checker& checker) {
  StepOneRun run;
  run.s = *large_gradient_step_one(checker.context());
  run.r = checker.run(run.s);
  run.exact = exact_trajectory(setup_of(run.s), run.s.run);
  run.lr = lr_at(run.s, 0);
  run.eps = step_one_eps(run.s);
  return run;
}

Property step_one_closed_form() {
  return {.id = "step-one-closed-form",
          .claim = "step 1 moves every parameter by -lr g/(sqrt(g^2 + eps_root) + eps) (eps-hat: eps/sqrt(1 - beta2), "
          "eps_root/(1 - beta2))",
          .not_applicable = [](const PropertyContext& ctx) { return first_of({needs_bias_correction(ctx), needs_zero_weight_decay(ctx)}); },
          .body = [](Checker& checker) {
            ScenarioShape shape = zero_decay_shape(checker.context());
            shape.max_steps = 1;
            const Scenario s = *gen::scenario(shape);
            const RunResult r = checker.run(s);
            const auto exact = exact_trajectory(setup_of(s), s.run);
            const R lr = lr_at(s, 0);
            for (std::size_t i = 0; i < s.run.theta0.size(); ++i) {
              const R expected = R(s.run.theta0[i]) - lr * constant_gradient_direction(s, effective(s, s.run.grads[0][i]), 1);
              checker.expect_close(r.theta[0][i], expected, exact[0].bounds[i].theta, at(0, i, "theta"));
            }
          }};
}

Property step_one_sign() {
  return {.id = "step-one-moves-by-lr-sign-g",
          .claim = "when |g| >> eps, step 1 moves every parameter by -lr sign(g), to within lr (eps + eps_root/(2|g|))/|g|",
          .not_applicable = [](const PropertyContext& ctx) { return first_of({needs_bias_correction(ctx), needs_zero_weight_decay(ctx)}); },
          .body = [](Checker& checker) {
            const auto [s, r, exact, lr, e] = run_large_gradient_step_one(checker);
            for (std::size_t i = 0; i < s.run.theta0.size(); ++i) {
              const R g = effective(s, s.run.grads[0][i]);
              const R sign = g > 0 ? R(1) : g < 0 ? R(-1) : R(0);
              checker.expect_within(R(r.theta[0][i]), R(s.run.theta0[i]) - lr * sign,
                                    exact[0].bounds[i].theta + lr * distance_from_sign(e, g), at(0, i, "theta"));
            }
          }};
}

Property step_one_norm() {
  return {.id = "step-one-norm-is-lr-sqrt-d",
          .claim = "when |g| >> eps, the L2 norm of the step-1 update of D parameters is lr sqrt(D)",
          .not_applicable = [](const PropertyContext& ctx) { return first_of({needs_bias_correction(ctx), needs_zero_weight_decay(ctx)}); },
          .body = [](Checker& checker) {
            const auto [s, r, exact, lr, e] = run_large_gradient_step_one(checker);
            // | ||d~|| - lr sqrt(D) | <= ||d~ - d|| + ||d - lr sign(g)||  (triangle inequality)
            R norm2 = 0, rounding2 = 0, off_sign2 = 0;
            for (std::size_t i = 0; i < s.run.theta0.size(); ++i) {
              const R d = diff(r.theta[0][i], s.run.theta0[i]);
              norm2 += d * d;
              rounding2 += exact[0].bounds[i].theta * exact[0].bounds[i].theta;
              const R off = lr * distance_from_sign(e, R(s.run.grads[0][i]));
              off_sign2 += off * off;
            }
            const R d = R(static_cast<double>(s.run.theta0.size()));
            checker.expect_within(sqrt(norm2), lr * sqrt(d), sqrt(rounding2) + sqrt(off_sign2), "step 1: ||update||");
          }};
}

Property zero_gradient_decay() {
  return {.id = "zero-gradient-only-decays",
          .claim = "with zero gradients theta only decays: theta_t = theta_0 prod_k (1 - s_k wd), s_k = lr_k, the schedule "
          "multiplier or 1 as the convention says (1 without decay)",
          .not_applicable = [](const PropertyContext& ctx) -> std::string {
            if (ctx.convention().has(DecayKind::l2)) return "L2 decay feeds wd*theta into the moments";
            if (is_held_zero(ctx, "eps") && !is_held_nonzero(ctx, "eps_root"))
              return "needs eps > 0 (0/0 otherwise)";
            return "";
          },
          .body = [](Checker& checker) {
            ScenarioShape shape = checker.context().shape();
            shape.zero_gradients = true;
            const Scenario s = *gen::scenario(shape);
            const RunResult r = checker.run(s);
            const auto exact = exact_trajectory(setup_of(s), s.run);
            const auto h = values_of<R>(s.spec.hyper);
            R factor = 1;
            for (std::size_t t = 0; t < s.run.grads.size(); ++t) {
              const R lr = lr_at(s, t);
              for (const auto& transform : s.spec.convention.chain) {
                if (const auto* d = std::get_if<DecayWeights>(&transform)) {
                  const R scale = d->scale == DecayScale::learning_rate ? lr
                                  : d->scale == DecayScale::schedule    ? R(h.lr == 0 ? R(1) : R(lr / h.lr))
                                                                        : R(1);
                  factor *= 1 - scale * h.weight_decay;
                }
                if (std::holds_alternative<AddDecayedWeights>(transform)) factor *= 1 - lr * h.weight_decay;
              }
              for (std::size_t i = 0; i < s.run.theta0.size(); ++i)
                checker.expect_close(r.theta[t][i], R(s.run.theta0[i]) * factor, exact[t].bounds[i].theta,
                                     at(t, i, "theta"));
            }
          }};
}

Property constant_gradient_steps() {
  return {.id = "constant-gradient-constant-step",
          .claim = "under a constant gradient every step moves by -lr g/(sqrt(g^2 + eps_root) + eps) (eps-hat: eps/sqrt(1 - "
          "beta2^t), eps_root/(1 - beta2^t))",
          .not_applicable = [](const PropertyContext& ctx) { return first_of({needs_bias_correction(ctx), needs_zero_weight_decay(ctx)}); },
          .body = [](Checker& checker) {
            ScenarioShape shape = zero_decay_shape(checker.context());
            shape.lr_schedule = false;
            const Scenario s = *rc::gen::map(gen::scenario(shape), [](Scenario s) {
              for (auto& step : s.run.grads) step = s.run.grads.front();  // constant gradients
              return s;
            });
            const RunResult r = checker.run(s);
            const auto exact = exact_trajectory(setup_of(s), s.run);
            const R lr = lr_at(s, 0);
            for (std::size_t t = 0; t < s.run.grads.size(); ++t)
              for (std::size_t i = 0; i < s.run.theta0.size(); ++i) {
                const double before = t == 0 ? s.run.theta0[i] : r.theta[t - 1][i];
                const R allowed = exact[t].bounds[i].theta + (t == 0 ? R(0) : exact[t - 1].bounds[i].theta);
                const R expected = -lr * constant_gradient_direction(s, effective(s, s.run.grads[0][i]),
                                                                     static_cast<std::int64_t>(t + 1));
                checker.expect_within(diff(r.theta[t][i], before), expected, allowed, at(t, i, "theta_t - theta_(t-1)"));
              }
          }};
}

Property update_magnitude_bound() {
  return {.id = "update-magnitude-bound",
          .claim = "no step moves a parameter by more than lr B_t, B_t^2 = sum_k w_k^2/omega_k over the moments' weights "
          "(Cauchy-Schwarz; it is tight, and exceeds the lr max(1, (1-b1)/sqrt(1-b2)) Kingma & Ba state in 2.1 "
          "for large t)",
          .not_applicable = [](const PropertyContext& ctx) -> std::string {
            if (is_held_zero(ctx, "beta2"))
              return "needs beta2 > 0 (the bound divides by beta2), and " + ctx.why_held("beta2") + " (0)";
            return needs_zero_weight_decay(ctx);
          },
          .body = [](Checker& checker) {
            const Scenario s = *gen::scenario(zero_decay_shape(checker.context()));
            const auto h = values_of<R>(s.spec.hyper);
            RC_PRE(h.beta2 > 0);
            const RunResult r = checker.run(s);
            const auto exact = exact_trajectory(setup_of(s), s.run);
            const auto& adam = s.spec.convention.adam();
            const R c1 = 1 - h.beta1, c2 = 1 - h.beta2, ratio = h.beta1 * h.beta1 / h.beta2;
            R series = 0, ratio_power = 1;
            for (std::size_t t = 0; t < s.run.grads.size(); ++t) {
              // m_hat = sum w_k g_k, w_k = c1 b1^(t-k)/bc1; v_hat >= sum omega_k g_k^2, omega_k = c2 b2^(t-k)/bc2
              series += ratio_power;
              ratio_power *= ratio;
              const auto step = static_cast<std::int64_t>(t + 1);
              const R bc1 = adam.bias_correction1 ? R(1 - integer_power(h.beta1, step)) : R(1);
              const R bc2 = adam.bias_correction2 ? R(1 - integer_power(h.beta2, step)) : R(1);
              const R bound = lr_at(s, t) * sqrt(c1 * c1 * bc2 / (c2 * bc1 * bc1) * series);
              for (std::size_t i = 0; i < s.run.theta0.size(); ++i) {
                const double before = t == 0 ? s.run.theta0[i] : r.theta[t - 1][i];
                const R rounding = exact[t].bounds[i].theta + (t == 0 ? R(0) : exact[t - 1].bounds[i].theta);
                checker.expect_at_most(abs(diff(r.theta[t][i], before)), bound + rounding, at(t, i, "|theta_t - theta_(t-1)|"));
              }
            }
          }};
}

}  // namespace

std::vector<Property> closed_form_properties() {
  return {step_one_closed_form(), step_one_sign(),          step_one_norm(),
          zero_gradient_decay(),  constant_gradient_steps(), update_magnitude_bound()};
}

}  // namespace adamconf::detail
