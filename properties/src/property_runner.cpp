#include <rapidcheck.h>

#include <chrono>
#include <cmath>
#include <algorithm>
#include <cstring>
#include <iostream>
#include <sstream>

#include "adamconf/property.hpp"

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

ScenarioShape PropertyContext::shape() const {
  ScenarioShape s;
  s.preset = preset;
  s.options = options;
  s.dtype = dtype;
  s.pinned = pinned;
  s.lr_schedule = capabilities.lr_schedule;
  return s;
}

namespace {
// RapidCheck's default listener prints a "reproduce" banner when the process
// exits; adamconf reports failures itself, with the seed to replay them.
struct SilentListener : rc::detail::TestListener {
  void onTestCaseFinished(const rc::detail::CaseDescription&) override {}
  void onShrinkTried(const rc::detail::CaseDescription&, bool) override {}
  void onTestFinished(const rc::detail::TestMetadata&, const rc::detail::TestResult&) override {}
};

// Thrown through RapidCheck to end a case with exactly this description.
[[noreturn]] void fail_case(const std::string& message) {
  throw rc::detail::CaseResult(rc::detail::CaseResult::Type::Failure, message);
}

}  // namespace

void Checker::fail(const std::string& message) { fail_case(message); }

std::vector<RunResult> Checker::run(const Setup& setup, const std::vector<RunCase>& cases) {
  if (adapter_failure_) fail_case(*adapter_failure_);
  std::vector<RunResult> results;
  try {
    results = ctx_.implementation->run(setup, cases);
    validate_results(cases, results);
  } catch (const ImplementationError& e) {
    adapter_failure_ = std::string("adapter failure: ") + e.what();
    std::ostringstream inputs;
    for (const RunCase& c : cases) {
      showValue(Scenario{setup.spec, setup.dtype, c}, inputs);
      inputs << "\n";
    }
    adapter_failure_inputs_ = inputs.str();
    fail_case(*adapter_failure_);
  }
  return results;
}

RunResult Checker::run(const Scenario& s) { return run(Setup{s.spec, s.dtype}, {s.run}).front(); }

void Checker::expect_close(double observed, const R& exact, const R& allowed, const std::string& where) {
  expect_close(observed, exact, allowed, [&] { return where; });
}

void Checker::expect_close(double observed, const R& exact, const R& allowed,
                           const std::function<std::string()>& where) {
  const Comparison c = compare(observed, exact, allowed, ctx_.dtype);
  // Described (decimal text of the exact value) only when it is the worst so far or fails.
  const bool worst = c.ratio > stats_.worst_ratio || stats_.worst.empty();
  if (worst || !c.pass) {
    const std::string w = where();
    if (worst) stats_.add(c, w, ctx_.dtype);
    else stats_.add_value(c.error_ulps);
    if (!c.pass) fail_case(w + " => " + c.describe(ctx_.dtype));
  } else {
    stats_.add_value(c.error_ulps);
  }
}

void Checker::expect_within(const R& observed, const R& expected, const R& allowed, const std::string& where) {
  const R error = abs(observed - expected);
  const R ulp = ulp_at(expected, ctx_.dtype);
  const double error_ulps = static_cast<double>(error / ulp);
  const double ratio = error == 0 ? 0.0 : allowed == 0 ? INFINITY : static_cast<double>(error / allowed);
  const std::string text = where + " => " + to_decimal(observed, 17) + "  expected " + to_decimal(expected, 17) +
                           ": error " + to_decimal(R(error_ulps), 3) + " ulps, allowed " +
                           to_decimal(R(static_cast<double>(allowed / ulp)), 3) + " ulps";
  stats_.add(error_ulps, ratio, text);
  if (isnan(observed) || error > allowed) fail_case(text);
}

void Checker::expect_at_most(const R& value, const R& limit, const std::string& where) {
  const double ratio = limit == 0 ? (value == 0 ? 0.0 : INFINITY) : static_cast<double>(value / limit);
  const std::string text = where + " => " + to_decimal(value, 17) + ", limit " + to_decimal(limit, 17);
  stats_.add(0.0, ratio, text);
  if (isnan(value) || value > limit) fail_case(text + ": above the limit");
}

void Checker::record(const Verification& v) {
  stats_.merge(v.statistics);
  if (v.failure) fail_case(*v.failure);
}

void Checker::expect_true(bool holds, const std::string& failure) {
  ++stats_.count;
  if (!holds) fail_case(failure);
}

void Checker::expect_identical(double a, double b, const std::string& where) {
  const bool same = (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
  ++stats_.count;
  if (!same) fail_case(where + " => first " + show_value(a) + "  second " + show_value(b) + ": not bitwise identical");
}

std::string to_string(PropertyResult::Status s) {
  switch (s) {
    case PropertyResult::Status::passed: return "pass";
    case PropertyResult::Status::failed: return "FAIL";
    case PropertyResult::Status::skipped: return "skip";
    case PropertyResult::Status::adapter_error: return "ERROR";
  }
  return "?";
}

const Property& property_by_id(const std::string& id) {
  for (const auto& p : all_properties())
    if (p.id == id) return p;
  std::string known;
  for (const auto& p : all_properties()) known += (known.empty() ? "" : " ") + p.id;
  throw std::invalid_argument("unknown property '" + id + "' (known: " + known + ")");
}

PropertyResult run_property(const Property& property, const PropertyContext& ctx, const RunSettings& settings) {
  // adamconf passes RapidCheck its seed and limits explicitly. RapidCheck still
  // loads its global configuration lazily (while shrinking, say) and announces
  // it on stderr; load it once here, quietly.
  static const bool configuration_loaded = [] {
    std::ostringstream sink;
    std::streambuf* previous = std::cerr.rdbuf(sink.rdbuf());
    (void)rc::detail::configuration();
    std::cerr.rdbuf(previous);
    return true;
  }();
  (void)configuration_loaded;
  PropertyResult result;
  result.id = property.id;
  result.claim = property.claim;
  result.seed = settings.seed;
  const auto start = std::chrono::steady_clock::now();
  const std::string why_not = property.not_applicable ? property.not_applicable(ctx) : "";
  if (!why_not.empty()) {
    result.status = PropertyResult::Status::skipped;
    result.reason = why_not;
    return result;
  }
  Checker checker(ctx);
  rc::detail::TestMetadata metadata;
  metadata.id = property.id;
  metadata.description = property.claim;
  rc::detail::TestParams params;
  params.seed = settings.seed;
  params.maxSuccess = property.cases_per_hundred >= 100
                         ? settings.cases
                         : std::max(2, settings.cases * property.cases_per_hundred / 100);
  params.maxSize = 100;
  params.maxDiscardRatio = 10;
  params.disableShrinking = !property.shrink;
  SilentListener listener;
  const auto outcome = rc::detail::checkProperty(
      rc::detail::toProperty([&property, &checker] { property.body(checker); }), metadata, params, listener);
  result.statistics = checker.statistics();
  if (outcome.template is<rc::detail::SuccessResult>()) {
    result.cases = outcome.template get<rc::detail::SuccessResult>().numSuccess;
    if (result.statistics.count == 0) {  // zero values compared is no pass
      result.status = PropertyResult::Status::failed;
      result.reason = "no value was compared in " + std::to_string(result.cases) + " cases";
    }
  } else if (outcome.template is<rc::detail::FailureResult>()) {
    const auto& failure = outcome.template get<rc::detail::FailureResult>();
    result.cases = failure.numSuccess + 1;
    result.shrinks = static_cast<int>(failure.reproduce.shrinkPath.size());
    result.status = checker.adapter_failure() ? PropertyResult::Status::adapter_error : PropertyResult::Status::failed;
    result.reason = failure.description;
    if (checker.adapter_failure()) {
      // Shrinking a case the adapter failed on says nothing: show what it was sent.
      result.reason = *checker.adapter_failure();
      result.counterexample = checker.adapter_failure_inputs();
      result.shrinks = 0;
    } else {
      std::ostringstream shown;
      for (const auto& [type, value] : failure.counterExample) shown << value << "\n";
      result.counterexample = shown.str();
    }
  } else if (outcome.template is<rc::detail::GaveUpResult>()) {
    const auto& gave_up = outcome.template get<rc::detail::GaveUpResult>();
    result.cases = gave_up.numSuccess;
    if (!ctx.pinned.empty()) {
      // Under the user's pins the property found too few cases it can
      // judge: that is no failure of the implementation.
      std::string pins;
      for (const auto& [name, value] : ctx.pinned) pins += (pins.empty() ? "" : " ") + name + "=" + value;
      result.status = PropertyResult::Status::skipped;
      result.reason = "too few cases it can judge under the pinned " + pins + " (" + gave_up.description + ")";
    } else {
      result.status = PropertyResult::Status::failed;
      result.reason = "gave up: too many discarded cases (" + gave_up.description + ")";
    }
  } else {
    result.status = PropertyResult::Status::failed;
    result.reason = "RapidCheck error: " + outcome.template get<rc::detail::Error>().description;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace adamconf
