// Invariances: transformations of the inputs with a known effect on the
// trajectory. Each compares two runs of the implementation; the allowed
// difference is the sum of both runs' error bounds.
#include <algorithm>
#include <numeric>

#include "property_helpers.hpp"

namespace adamconf::detail {

namespace {

Property lr_linearity() {
  return {.id = "updates-scale-with-lr",
          .claim = "with weight_decay = 0, multiplying the learning rate by 2^k multiplies every update theta_t - theta_0 by 2^k",
          .not_applicable = [](const PropertyContext& ctx) -> std::string {
            if (const std::string why = needs_free(ctx, "lr", "to scale it"); !why.empty()) return why;
            return needs_zero_weight_decay(ctx);
          },
          .body = [](Checker& checker) {
            const auto& ctx = checker.context();
            const Scenario s = *gen::scenario(zero_decay_shape(ctx));
            const int k = *rc::gen::element(-3, -2, -1, 1, 2, 3);
            Scenario scaled = s;
            scaled.spec.hyper.lr = scale_decimal(s.spec.hyper.lr, k);
            for (auto& lr : scaled.run.lrs) lr = scale_decimal(lr, k);
            const RunResult a = checker.run(s), b = checker.run(scaled);
            const auto ea = exact_trajectory(setup_of(s), s.run), eb = exact_trajectory(setup_of(scaled), scaled.run);
            const R factor = ldexp(R(1), k);
            for (std::size_t t = 0; t < s.run.grads.size(); ++t)
              for (std::size_t i = 0; i < s.run.theta0.size(); ++i)
                checker.expect_within(diff(b.theta[t][i], s.run.theta0[i]), factor * diff(a.theta[t][i], s.run.theta0[i]),
                                      eb[t].bounds[i].theta + factor * ea[t].bounds[i].theta,
                                      at(t, i, "update with lr*2^" + std::to_string(k)));
          }};
}

Property translation_invariance() {
  return {.id = "translation-invariance",
          .claim = "with weight_decay = 0, shifting theta_0 by c shifts the whole trajectory by c",
          .not_applicable = needs_zero_weight_decay, .body = [](Checker& checker) {
            const auto& ctx = checker.context();
            const Scenario s = *gen::scenario(zero_decay_shape(ctx));
            Scenario shifted = s;
            const double c = *gen::float_in(s.dtype, -3, 3);
            for (double& x : shifted.run.theta0)
              x = round_to_format(x + c, s.dtype);  // the shift actually applied: theta0' - theta0 (x + c exact in double)
            const RunResult a = checker.run(s), b = checker.run(shifted);
            const auto ea = exact_trajectory(setup_of(s), s.run), eb = exact_trajectory(setup_of(shifted), shifted.run);
            for (std::size_t t = 0; t < s.run.grads.size(); ++t)
              for (std::size_t i = 0; i < s.run.theta0.size(); ++i)
                checker.expect_within(diff(b.theta[t][i], a.theta[t][i]), diff(shifted.run.theta0[i], s.run.theta0[i]),
                                      ea[t].bounds[i].theta + eb[t].bounds[i].theta, at(t, i, "shifted theta - theta"));
          }};
}

Property reflection_symmetry() {
  return {.id = "reflection-symmetry", .claim = "negating the gradients and theta_0 negates the whole trajectory", .body = [](Checker& checker) {
            const Scenario s = *gen::scenario(checker.context().shape());
            Scenario mirrored = s;
            for (double& x : mirrored.run.theta0) x = -x;
            for (auto& step : mirrored.run.grads)
              for (double& g : step) g = -g;
            const RunResult a = checker.run(s), b = checker.run(mirrored);
            const auto e = exact_trajectory(setup_of(s), s.run);
            for (std::size_t t = 0; t < s.run.grads.size(); ++t)
              for (std::size_t i = 0; i < s.run.theta0.size(); ++i)
                checker.expect_within(R(b.theta[t][i]), -R(a.theta[t][i]), 2 * e[t].bounds[i].theta,
                                      at(t, i, "mirrored theta"));
          }};
}

Property elementwise_independence() {
  return {.id = "elementwise-independence",
          .claim = "an element's trajectory does not depend on the other elements (nor on how many there are)", .body = [](Checker& checker) {
            const ScenarioShape shape = checker.context().shape();
            // The same first element among different companions (shown second), and alone.
            const auto [s, other] = *rc::gen::exec([shape] {
              const Scenario s = *gen::scenario(shape);
              Scenario other = *gen::scenario(shape);
              other.spec = s.spec;
              other.run.lrs = s.run.lrs;
              other.run.grads.resize(s.run.grads.size(), other.run.grads.back());
              for (std::size_t t = 0; t < s.run.grads.size(); ++t) other.run.grads[t][0] = s.run.grads[t][0];
              other.run.theta0[0] = s.run.theta0[0];
              return std::make_pair(s, other);
            });
            Scenario alone = s;
            alone.run.theta0.resize(1);
            for (auto& step : alone.run.grads) step.resize(1);
            const auto results = checker.run(setup_of(s), {s.run, other.run, alone.run});
            const auto e = exact_trajectory(setup_of(s), s.run);
            for (std::size_t t = 0; t < s.run.grads.size(); ++t)
              for (std::size_t k : {1, 2})
                checker.expect_within(R(results[k].theta[t][0]), R(results[0].theta[t][0]), 2 * e[t].bounds[0].theta,
                                      at(t, 0, k == 1 ? "theta among other elements" : "theta alone"));
          }};
}

Property permutation_equivariance() {
  return {.id = "permutation-equivariance", .claim = "permuting the elements permutes the trajectory the same way", .body = [](Checker& checker) {
            const Scenario s = *gen::scenario(checker.context().shape());
            const std::size_t n = s.run.theta0.size();
            std::vector<std::size_t> order(n);
            std::iota(order.begin(), order.end(), 0);
            for (std::size_t i = n; i-- > 1;) std::swap(order[i], order[*rc::gen::inRange<std::size_t>(0, i + 1)]);
            Scenario permuted = s;
            for (std::size_t i = 0; i < n; ++i) {
              permuted.run.theta0[i] = s.run.theta0[order[i]];
              for (std::size_t t = 0; t < s.run.grads.size(); ++t) permuted.run.grads[t][i] = s.run.grads[t][order[i]];
            }
            const auto results = checker.run(setup_of(s), {s.run, permuted.run});
            const auto e = exact_trajectory(setup_of(s), s.run);
            for (std::size_t t = 0; t < s.run.grads.size(); ++t)
              for (std::size_t i = 0; i < n; ++i)
                checker.expect_within(R(results[1].theta[t][i]), R(results[0].theta[t][order[i]]),
                                      2 * e[t].bounds[order[i]].theta, at(t, i, "permuted theta"));
          }};
}

Property scale_invariance() {
  return {.id = "gradient-scale-invariance",
          .claim = "with weight_decay = 0, scaling the gradients and eps by 2^k (eps_root by 4^k) leaves the trajectory unchanged",
          .not_applicable = [](const PropertyContext& ctx) -> std::string {
            if (const std::string why = needs_free(ctx, "eps", "to scale it"); !why.empty()) return why;
            // eps_root scales by 4^k: held at 0 it stays 0, so only a nonzero held value stops the claim.
            if (is_held_nonzero(ctx, "eps_root")) return "needs eps_root free to scale it, and " + ctx.why_held("eps_root");
            return needs_zero_weight_decay(ctx);
          },
          .body = [](Checker& checker) {
            const Scenario s = *gen::scenario(zero_decay_shape(checker.context()));
            const int k = *gen::uniform(-8, 9);
            Scenario scaled = s;
            scaled.spec.hyper.eps = scale_decimal(s.spec.hyper.eps, k);
            scaled.spec.hyper.eps_root = scale_decimal(s.spec.hyper.eps_root, 2 * k);
            // Under "storage" arithmetic a scaled eps the format flushes to 0 is the
            // eps pitfall (0/0 at a zero gradient), not this claim: no such scale.
            if (setup_of(s).rules().rounds_every_operation())
              RC_PRE(round_to_format(parse_decimal<double>(scaled.spec.hyper.eps), s.dtype) != 0);
            for (auto& step : scaled.run.grads)
              for (double& g : step) {
                g = std::ldexp(g, k);
                RC_PRE(representable(g, s.dtype));  // exactly scaled, within range
              }
            const RunResult a = checker.run(s), b = checker.run(scaled);
            const auto ea = exact_trajectory(setup_of(s), s.run), eb = exact_trajectory(setup_of(scaled), scaled.run);
            for (std::size_t t = 0; t < s.run.grads.size(); ++t)
              for (std::size_t i = 0; i < s.run.theta0.size(); ++i)
                checker.expect_within(R(b.theta[t][i]), R(a.theta[t][i]), ea[t].bounds[i].theta + eb[t].bounds[i].theta,
                                      at(t, i, "theta with g, eps scaled by 2^" + std::to_string(k)));
          }};
}

}  // namespace

std::vector<Property> invariance_properties() {
  return {lr_linearity(), translation_invariance(), reflection_symmetry(), elementwise_independence(),
          permutation_equivariance(), scale_invariance()};
}

}  // namespace adamconf::detail
