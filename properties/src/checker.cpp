// The checker: what a property case judges its values through (the one
// judge, judge.hpp), and the context a property runs in.
#include <rapidcheck.h>

#include <chrono>
#include <cmath>
#include <algorithm>
#include <cstring>
#include <iostream>
#include <optional>
#include <sstream>

#include "adamconf/exact_run.hpp"
#include "adamconf/property.hpp"
#include "property_helpers.hpp"

namespace adamconf {

PropertyContext PropertyContext::for_implementation(Implementation& implementation, std::string preset,
                                                    PresetOptions options, const FloatFormat& dtype) {
  PropertyContext ctx;
  ctx.implementation = &implementation;
  ctx.capabilities = implementation.capabilities();
  ctx.preset = std::move(preset);
  ctx.options = options;
  ctx.dtype = dtype;
  return ctx;
}

std::map<std::string, std::string> PropertyContext::held() const {
  std::map<std::string, std::string> out = pinned;
  const Preset& p = preset_info();
  for (const std::string& name : Hyperparameters::names()) {
    if (out.count(name)) continue;
    if (const auto f = capabilities.fixed.find(name); f != capabilities.fixed.end())
      out[name] = f->second;
    else if (!capabilities.takes(name))
      out[name] = p.defaults.get(name);
  }
  return out;
}

std::string PropertyContext::why_held(const std::string& name) const {
  if (pinned.count(name)) return "it is pinned";
  if (const auto f = capabilities.fixed.find(name); f != capabilities.fixed.end())
    return "the implementation fixes it at " + f->second;
  if (!capabilities.takes(name)) return "the implementation does not take it (its hello does not list " + name + ")";
  return "";
}

ScenarioShape PropertyContext::shape() const {
  ScenarioShape s;
  s.preset = preset;
  s.options = options;
  s.dtype = dtype;
  s.pinned = held();
  s.lr_schedule = capabilities.lr_schedule;
  s.one_tensor = !capabilities.tensors;
  return s;
}

namespace {
// Thrown through RapidCheck to end a case with exactly this description.
[[noreturn]] void fail_case(const std::string& message) {
  throw rc::detail::CaseResult(rc::detail::CaseResult::Type::Failure, message);
}

}  // namespace

void Checker::fail(const std::string& message) { fail_case(message); }

std::vector<RunResult> Checker::run(const Setup& setup, const std::vector<RunCase>& given) {
  if (adapter_failure_) fail_case(*adapter_failure_);
  // Seeded copies only under stochastic rounding: elsewhere the cases go as given (no copy of a 2^20-element case).
  const PrecisionRules rules = setup.rules();
  std::vector<RunCase> seeded;
  if (rules.stochastic_rounding()) seeded = with_rounding_seeds(setup, given);
  const std::vector<RunCase>& cases = seeded.empty() ? given : seeded;
  std::vector<RunResult> results;
  for (const RunCase& c : cases) work_ += c.theta0.size() * std::max<std::size_t>(1, c.grads.size());
  try {
    results = ctx_.implementation->run(setup, cases);
    validate_answer(setup, cases, results);
  } catch (const ImplementationError& e) {
    adapter_failure_ = std::string("adapter failure: ") + e.what();
    adapter_refused_ = dynamic_cast<const ImplementationRefusal*>(&e) != nullptr;
    std::ostringstream inputs;
    for (const RunCase& c : cases) {
      showValue(Scenario{setup.spec, setup.dtype, c}, inputs);
      inputs << "\n";
    }
    adapter_failure_inputs_ = inputs.str();
    fail_case(*adapter_failure_);
  }
  for (std::size_t k = 0; k < results.size(); ++k) {
    if (rules.master_weights()) expect_copies_round_master(results[k], setup.dtype, slices_of(cases[k]));
    if (rules.kahan_summation())
      expect_compensations_stored_in(results[k], rules.format_of(Quantity::compensation), slices_of(cases[k]));
  }
  return results;
}

void Checker::expect_copies_round_master(const RunResult& r, const FloatFormat& storage,
                                         const std::vector<TensorSlice>& slices) {
  for (std::size_t t = 0; t < r.theta.size(); ++t)
    for (std::size_t i = 0; i < r.theta[t].size(); ++i) {
      const double master = r.theta[t][i], copy = r.theta_copy[t][i];
      const double expected = round_stored(master, storage);
      const bool same = std::isnan(expected) ? std::isnan(copy)
                                             : copy == expected && std::signbit(copy) == std::signbit(expected);
      ++recorder_.statistics().count;  // bitwise equality: no ratio, as expect_identical
      if (same) continue;
      fail_case(detail::at_tensor(slices, t, i, "theta_copy") + " => " + hex_float_short(copy) + "  expected " +
                hex_float_short(expected) + ": the master " + hex_float_short(master) + " rounded to nearest even in " +
                storage.name + " (the copy must equal it bit for bit)");
    }
}

void Checker::expect_compensations_stored_in(const RunResult& r, const FloatFormat& format,
                                             const std::vector<TensorSlice>& slices) {
  for (std::size_t t = 0; t < r.states.size(); ++t)
    for (std::size_t i = 0; i < r.states[t].compensation.size(); ++i) {
      const double c = r.states[t].compensation[i];
      ++recorder_.statistics().count;  // a value of its format or not: no ratio
      if (holds(format, c)) continue;
      fail_case(detail::at_tensor(slices, t, i, "compensation") + " => " + hex_float_short(c) + " (not a " + format.name +
                " value): the convention keeps the Kahan compensation in " + format.name +
                " (--compensation-format names another)");
    }
}

RunResult Checker::run(const Scenario& s) { return run(Setup{s.spec, s.dtype}, {s.run}).front(); }

void Checker::expect_close(double observed, const R& exact, const R& allowed, const std::string& where) {
  expect_close(observed, exact, allowed, [&] { return where; });
}

void Checker::expect_close(double observed, const R& exact, const R& allowed,
                           const std::function<std::string()>& where) {
  expect_close(observed, exact, allowed, where, ctx_.values_format());
}

void Checker::expect_close(double observed, const R& exact, const R& allowed,
                           const std::function<std::string()>& where, const FloatFormat& format, bool output) {
  const Judged j = recorder_.record(observed, exact, allowed, format, where, output);
  if (!j.pass()) fail_case(j.description);
}

void Checker::expect_within(const R& observed, const R& expected, const R& allowed, const std::string& where) {
  if (isnan(allowed) || isnan(expected) || allowed >= R(ctx_.values_format().largest_finite())) {
    // No bound within the format (both runs may overflow: inf - inf; an exact value computed
    // from a state holding inf): compared, nothing judged. A NaN of either
    // run is still judged where its own value is compared with a finite bound.
    recorder_.statistics().add_unjudged();
    return;
  }
  const R error = abs(observed - expected);
  const R ulp = ulp_at(expected, ctx_.values_format());
  const double error_ulps = static_cast<double>(error / ulp);
  const double ratio = error == 0 ? 0.0 : allowed == 0 ? INFINITY : static_cast<double>(error / allowed);
  const std::string text = where + " => " + to_decimal(observed, 17) + "  expected " + to_decimal(expected, 17) +
                           ": error " + to_decimal(R(error_ulps), 3) + " ulps, allowed " +
                           to_decimal(R(static_cast<double>(allowed / ulp)), 3) + " ulps";
  recorder_.statistics().add_bound(ratio, text);  // a difference or a norm: its ulps are no ulps of an output
  if (isnan(observed) || error > allowed) fail_case(text);
}

void Checker::expect_at_most(const R& value, const R& limit, const std::string& where) {
  if (isinf(limit)) {  // no limit: compared, nothing judged
    recorder_.statistics().add_unjudged();
    return;
  }
  const double ratio = limit == 0 ? (value == 0 ? 0.0 : INFINITY) : static_cast<double>(value / limit);
  const std::string text = where + " => " + to_decimal(value, 17) + ", limit " + to_decimal(limit, 17);
  recorder_.statistics().add_bound(ratio, text);
  if (isnan(value) || value > limit) fail_case(text + ": above the limit");
}

void Checker::record(const Verification& v) {
  // The trajectory to plot: the failing one, or else the worst so far.
  if (v.element && (v.failure || !trace_ || v.element->ratio > trace_->ratio)) trace_ = v.element;
  recorder_.statistics().merge(v.statistics);
  if (v.failure) fail_case(*v.failure);
}

void Checker::note_unjudged(const std::string& reason) {
  recorder_.statistics().add_unjudged();
  unjudged_reason_ = reason;
}

void Checker::expect_true(bool holds, const std::string& failure) {
  ++recorder_.statistics().count;
  if (!holds) fail_case(failure);
}

void Checker::expect_code_in(int code, bool accepted, int lowest, int highest, const std::function<std::string()>& where) {
  ++recorder_.statistics().count;
  if (accepted) return;
  fail_case(where() + " => code " + std::to_string(code) + "  expected code " + std::to_string(lowest) +
            (highest != lowest ? ".." + std::to_string(highest) : ""));
}

void Checker::expect_identical(double a, double b, const std::string& where) {
  expect_identical(a, b, [&] { return where; }, "first", "second", "not bitwise identical");
}

void Checker::expect_identical(double a, double b, const std::function<std::string()>& where, const std::string& a_name,
                               const std::string& b_name, const std::string& why) {
  const bool same = (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
  ++recorder_.statistics().count;
  if (!same) fail_case(where() + " => " + a_name + " " + show_value(a) + "  " + b_name + " " + show_value(b) + ": " + why);
}

}  // namespace adamconf
