// The main properties: agreement with the exact reference within the error
// bound, over whole trajectories and one step at a time from the
// implementation's own state.
#include <algorithm>

#include "adamconf/exact_run.hpp"
#include "adamconf/fast_step.hpp"
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
                 const std::vector<TensorSlice>& slices, const std::string& how) {
  // Each state tensor compared in the format it is stored in (a state format of its own where given).
  const FloatFormat &fm = checker.context().format_of(Quantity::m), &fv = checker.context().format_of(Quantity::v),
                    &fvmax = checker.context().format_of(Quantity::vmax);
  // An AMSGrad state must carry its maximum: one not stored (or not exported) is a bug, not a skip.
  if (amsgrad && s.vmax.size() != s.m.size())
    checker.fail("step " + std::to_string(t + 1) + how + ": the exported state has " + std::to_string(s.vmax.size()) +
                 " AMSGrad maxima for " + std::to_string(s.m.size()) + " elements");
  // A tensor whose state the format quantizes (tensors of its min_size and more) is judged by its codes and scales.
  const PrecisionRules rules = checker.context().rules();
  std::vector<bool> m_quantized(s.m.size(), false), v_quantized(s.m.size(), false);
  for (std::size_t k = 0; k < slices.size(); ++k)
    for (const auto& [q, which, flags, name] :
         {std::tuple{Quantity::m, &s.m_quantized, &m_quantized, "m"}, std::tuple{Quantity::v, &s.v_quantized, &v_quantized, "v"}}) {
      const std::optional<QuantizedFormat>& f = rules.quantized(q);
      if (!f || !f->quantizes(slices[k].size)) continue;
      if (which->size() <= k || (*which)[k].empty())
        checker.fail("step " + std::to_string(t + 1) + how + ": tensor " + std::to_string(k) + " has " +
                     std::to_string(slices[k].size) + " elements, which " + f->name + " stores quantized, but its state has no " +
                     name + "_codes and " + name + "_scales");
      std::vector<R> exact_values, bounds;
      for (std::size_t i = slices[k].offset; i < slices[k].offset + slices[k].size; ++i) {
        exact_values.push_back(q == Quantity::m ? exact.record.elements[i].m : exact.record.elements[i].v);
        bounds.push_back(q == Quantity::m ? exact.bounds[i].m : exact.bounds[i].v);
        (*flags)[i] = true;
      }
      check_quantized_tensor(checker, name, *f, (*which)[k], q == Quantity::m ? s.m : s.v, exact_values, bounds, slices, k, t,
                             how);
    }
  for (std::size_t i = 0; i < s.m.size(); ++i) {
    const auto& e = exact.record.elements[i];
    const auto& b = exact.bounds[i];
    if (!m_quantized[i]) checker.expect_close(s.m[i], e.m, b.m, [&] { return at_tensor(slices, t, i, "m" + how); }, fm);
    if (!v_quantized[i]) checker.expect_close(s.v[i], e.v, b.v, [&] { return at_tensor(slices, t, i, "v" + how); }, fv);
    if (amsgrad)
      checker.expect_close(s.vmax[i], e.vmax, b.vmax, [&] { return at_tensor(slices, t, i, "vmax" + how); }, fvmax);
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

namespace {

/// The fast exact path over one step (fast_step.hpp): where it certifies every
/// value of the step and none of them may be worse than the worst value the
/// checker has seen (whose description is then still an exact one), they are
/// counted as passed and true is returned; else the caller judges the step in MPFR.
bool certify_step(Checker& checker, const Setup& setup, const RunCase& one, const std::vector<double>& theta_after,
                  const ImplementationState& after) {
  const PrecisionRules rules = setup.rules();
  const bool amsgrad = setup.spec.convention.adam().amsgrad != AmsgradVariant::none;
  const std::size_t n = one.theta0.size();
  if (!FastStep::takes(setup) || theta_after.size() != n || after.m.size() != n || after.v.size() != n ||
      (amsgrad && after.vmax.size() != n) || (rules.kahan_summation() && after.compensation.size() != n))
    return false;
  std::optional<FastStep> fast;
  try {
    fast.emplace(setup, one);
  } catch (const Undecided&) {
    return false;
  }
  struct Value {
    Certificate certificate;
    double observed;
  };
  std::vector<Value> values;
  const double worst = checker.statistics().worst.empty() ? -1.0 : checker.statistics().worst_ratio;
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::tuple<Quantity, double, bool>> judged{
        {Quantity::theta, theta_after[i], true}, {Quantity::m, after.m[i], true}, {Quantity::v, after.v[i], true}};
    if (amsgrad) judged.emplace_back(Quantity::vmax, after.vmax[i], true);
    if (rules.kahan_summation()) judged.emplace_back(Quantity::theta_plus_compensation, theta_after[i] + after.compensation[i], false);
    for (const auto& [q, observed, output] : judged) {
      // As judge_step and check_state judge them: theta (and theta + c) in the values' format, each state in its own.
      const FloatFormat& f = q == Quantity::theta || !output ? checker.context().values_format() : checker.context().format_of(q);
      const std::optional<Certificate> c = fast->certify(i, q, observed, f, output);
      if (!c || c->ratio > worst) return false;  // uncertain, or possibly the new worst: described in MPFR
      values.push_back({*c, observed});
    }
  }
  for (const Value& v : values)
    checker.record_certified(v.certificate.ratio, v.certificate.error_ulps, v.certificate.exact_zero, v.observed,
                             v.certificate.unbounded);
  return true;
}

}  // namespace

void judge_step(Checker& checker, const Scenario& s, const RunCase& c, std::size_t t, const std::vector<double>& theta,
                const ImplementationState& state, const std::vector<double>& theta_after,
                const ImplementationState& state_after, const std::string& how, std::size_t shown_step) {
  const bool amsgrad = s.spec.convention.adam().amsgrad != AmsgradVariant::none;
  const auto slices = slices_of(c);
  const auto expected = advanced_steps(c, state, t, s.spec.convention.adam().counter);
  auto check_counts = [&] {
    for (std::size_t k = 0; k < expected.size(); ++k) {
      const std::int64_t got = state_after.step_of(k);
      checker.expect_true(got == expected[k], "step " + std::to_string(shown_step + 1) + how + ": the exported step count" +
                                                  (slices.size() > 1 ? " of tensor " + std::to_string(k) : "") + " is " +
                                                  std::to_string(got) + ", expected " + std::to_string(expected[k]));
    }
  };
  if (checker.context().fast_path && certify_step(checker, setup_of(s), single_step_case(c, theta, state, t), theta_after, state_after)) {
    check_counts();
    return;
  }
  const ExactStep exact = exact_single_step(setup_of(s), c, theta, state, t);
  for (std::size_t i = 0; i < theta.size(); ++i)
    checker.expect_close(theta_after[i], exact.record.elements[i].theta, exact.bounds[i].theta,
                         [&] { return at_tensor(slices, shown_step, i, "theta" + how); });
  check_state(checker, state_after, exact, shown_step, amsgrad, slices, how);
  if (setup_of(s).rules().kahan_summation())  // Kahan: theta + c within the compensated bound
    for (std::size_t i = 0; i < theta.size(); ++i)
      checker.expect_close(theta_after[i] + state_after.compensation.at(i), exact.record.elements[i].theta,
                           exact.bounds[i].compensated,
                           [&] { return at_tensor(slices, shown_step, i, "theta + compensation" + how); },
                           checker.context().values_format(), false);
  check_counts();
}

/// A state as the implementation reported it, with one step count per tensor in a case of several.
ImplementationState per_tensor(ImplementationState state, std::size_t tensors) {
  if (tensors > 1 && state.tensor_steps.empty()) state.tensor_steps.assign(tensors, state.step);
  return state;
}

namespace {

/// A state exported after step k and imported back must be the state the
/// implementation held: the resumed step k + 1 then equals the uninterrupted
/// run's step k + 1 bit for bit (theta, its copy, every state field, the step
/// counts), whatever the error bound would allow. The protocol has no request
/// that imports without stepping, so the round trip is seen through that step.
/// Not under stochastic rounding (a resumed case draws roundings of its own),
/// nor where the hello states round_trip=within-bound (the state it imports is
/// not all it holds: TF.js's setWeights re-derives beta^t by pow).
void expect_import_lossless(Checker& checker, const Scenario& s, std::size_t k, const RunResult& uninterrupted,
                            const RunResult& resumed) {
  if (setup_of(s).rules().stochastic_rounding() || !checker.context().capabilities.bitwise_round_trip) return;
  const auto slices = slices_of(s.run);
  const std::string how = ", resumed from the state exported after step " + std::to_string(k);
  const std::string why = "the state exported after step " + std::to_string(k) + " did not survive its import bit for bit";
  auto same = [&](const std::vector<double>& a, const std::vector<double>& b, const std::string& what) {
    if (a.size() != b.size())
      checker.fail("step " + std::to_string(k + 1) + how + ": " + what + " has " + std::to_string(a.size()) +
                   " values, the uninterrupted run's " + std::to_string(b.size()) + ": " + why);
    for (std::size_t i = 0; i < a.size(); ++i)
      checker.expect_identical(a[i], b[i], [&] { return at_tensor(slices, k, i, what + how); }, "resumed",
                               "uninterrupted", why);
  };
  // The state first: a field that lost bits on import shows there, under its own name, before theta.
  const ImplementationState a = per_tensor(resumed.states.at(0), slices.size());
  const ImplementationState b = per_tensor(uninterrupted.states.at(k), slices.size());
  same(a.m, b.m, "m");
  same(a.v, b.v, "v");
  same(a.vmax, b.vmax, "vmax");
  same(a.compensation, b.compensation, "compensation");
  for (std::size_t t = 0; t < slices.size(); ++t)
    checker.expect_true(a.step_of(t) == b.step_of(t),
                        "step " + std::to_string(k + 1) + how + ": the exported step count" +
                            (slices.size() > 1 ? " of tensor " + std::to_string(t) : "") + " is " +
                            std::to_string(a.step_of(t)) + ", the uninterrupted run's " + std::to_string(b.step_of(t)) +
                            ": " + why);
  same(resumed.theta.at(0), uninterrupted.theta.at(k), "theta");
  if (!uninterrupted.theta_copy.empty()) same(resumed.theta_copy.at(0), uninterrupted.theta_copy.at(k), "theta_copy");
}

}  // namespace

void check_each_step(Checker& checker, Scenario s) {
  s.run.record_states = true;
  const RunResult r = checker.run(s);
  const bool amsgrad = s.spec.convention.adam().amsgrad != AmsgradVariant::none;
  const std::size_t tensors = slices_of(s.run).size();
  ImplementationState state = s.run.initial_state ? *s.run.initial_state : zero_state(s.run.theta0.size(), amsgrad);
  std::vector<double> theta = s.run.theta0;
  for (std::size_t t = 0; t < s.run.grads.size(); ++t) {
    if (!finite_state(theta, state)) break;  // overflowed within its bound: no exact step from there
    judge_step(checker, s, s.run, t, theta, state, r.theta[t], r.states[t], "", t);
    theta = r.theta[t];
    state = per_tensor(r.states[t], tensors);
  }
  // Every import path, as a matter of course (a state cast, a count reset, a
  // compensation or master rebuilt, an AMSGrad maximum dropped on load): the
  // case resumed from the implementation's own exported state after up to
  // three of its steps, one case each in one request, each resumed step
  // judged against the exact step from that state.
  const std::size_t steps = s.run.grads.size();
  if (steps < 2) return;
  std::vector<std::size_t> points;  // resume after step k (1-based), from theta[k - 1] and states[k - 1]
  for (int draw = 0; draw < 3; ++draw) {
    const std::size_t k = *gen::uniform<std::size_t>(1, steps - 1);
    if (std::find(points.begin(), points.end(), k) == points.end() && finite_state(r.theta[k - 1], r.states[k - 1]))
      points.push_back(k);
  }
  if (points.empty()) return;
  std::vector<RunCase> resumed;
  for (const std::size_t k : points) {
    RunCase c = s.run;
    c.theta0 = r.theta[k - 1];
    c.initial_state = per_tensor(r.states[k - 1], tensors);
    c.grads = {s.run.grads[k]};
    if (!s.run.lrs.empty()) c.lrs = {s.run.lrs[k]};
    if (!s.run.grad_given.empty()) c.grad_given = {s.run.grad_given[k]};
    c.rounding_seed = 0;  // its own, from its contents
    c.record_states = true;
    resumed.push_back(std::move(c));
  }
  const auto results = checker.run(setup_of(s), resumed);
  for (std::size_t j = 0; j < points.size(); ++j) expect_import_lossless(checker, s, points[j], r, results[j]);
  for (std::size_t j = 0; j < points.size(); ++j)
    judge_step(checker, s, resumed[j], 0, resumed[j].theta0, *resumed[j].initial_state, results[j].theta[0],
               results[j].states[0], ", resumed from the state exported after step " + std::to_string(points[j]),
               points[j]);
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
          .claim = "each step, taken from the implementation's own state (and resumed from that state exported and imported "
          "back, which changes no bit of the next step), agrees with the exact reference within one step's error bound",
          .not_applicable = [](const PropertyContext& ctx) -> std::string {
            return ctx.capabilities.state_io ? "" : "needs state read/write";
          },
          .body = [](Checker& checker) { check_each_step(checker, *gen::scenario(checker.context().shape())); },
          .runs_under_variants = true};
}

}  // namespace

std::vector<Property> agreement_properties() { return {trajectory_agrees(), each_step_agrees()}; }

}  // namespace adamconf::detail
