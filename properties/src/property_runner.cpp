#include <rapidcheck.h>

#include <chrono>
#include <cmath>
#include <algorithm>
#include <cstring>
#include <iostream>
#include <optional>
#include <sstream>

#include "adamconf/hashing.hpp"
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
  std::vector<RunCase> seeded;
  if (needs_rounding_seeds(setup)) seeded = with_rounding_seeds(setup, given);
  const std::vector<RunCase>& cases = seeded.empty() ? given : seeded;
  const bool master = setup.spec.convention.precision == Precision::master_weights && is_storage_format(setup.dtype);
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
  if (master)
    for (std::size_t k = 0; k < results.size(); ++k) expect_copies_round_master(results[k], setup.dtype, slices_of(cases[k]));
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

void Checker::expect_identical(double a, double b, const std::string& where) {
  const bool same = (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
  ++recorder_.statistics().count;
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

Shard Shard::parse(const std::string& text) {
  const auto slash = text.find('/');
  Shard s;
  try {
    if (slash == std::string::npos) throw std::invalid_argument("");
    std::size_t used = 0;
    const int i = std::stoi(text.substr(0, slash), &used);
    if (used != slash) throw std::invalid_argument("");
    const std::string n_text = text.substr(slash + 1);
    const int n = std::stoi(n_text, &used);
    if (used != n_text.size() || n < 1 || i < 1 || i > n) throw std::invalid_argument("");
    s.index = i - 1;
    s.count = n;
  } catch (const std::exception&) {
    throw std::invalid_argument("--shard " + text + ": expected I/N with 1 <= I <= N (the I-th of N shards)");
  }
  return s;
}

std::vector<OptionVariant> option_variants(const std::string& preset_name, const PresetOptions& given,
                                           const Capabilities& capabilities) {
  // Every option the adapter offers is checked by default, not only when the
  // user thinks of --amsgrad: a max taken over the wrong quantity, or not
  // stored, passed a plain check before.
  std::vector<OptionVariant> variants{{"", given}};
  const Preset& preset = preset_by_name(preset_name);
  auto with = [&](auto change) {
    PresetOptions o = given;  // the numerics choices (counter, precision) stay as given
    change(o);
    return o;
  };
  if (!given.amsgrad && preset.amsgrad != AmsgradVariant::none && capabilities.supports_option("amsgrad"))
    variants.push_back({"amsgrad", with([](PresetOptions& o) { o.amsgrad = true; })});
  if (!given.maximize && preset.offers_maximize && capabilities.supports_option("maximize"))
    variants.push_back({"maximize", with([](PresetOptions& o) { o.maximize = true; })});
  if (given.bias_correction && preset.offers_bias_correction_switch && capabilities.supports_option("bias_correction"))
    variants.push_back({"no-bias-correction", with([](PresetOptions& o) { o.bias_correction = false; })});
  return variants;
}

bool runs_under_variants(const std::string& id) {
  return id == "trajectory-agrees-with-reference" || id == "each-step-agrees-with-reference" ||
         id == "resume-equals-uninterrupted" || id == "amsgrad-max-never-decreases";
}

int cases_of(const Property& property, int cases) {
  return property.cases_per_hundred >= 100 ? cases : std::max(2, cases * property.cases_per_hundred / 100);
}

std::uint64_t case_seed(std::uint64_t seed, const std::string& property_id, int index) {
  // The id's hash: the same property, the same cases.
  return splitmix64(splitmix64(seed) ^ splitmix64(fnv1a(property_id)) ^ splitmix64(static_cast<std::uint64_t>(index) + 1));
}

int case_size(int index, int cases) {
  // Sizes 0..100 evenly, the last case at 100; beyond 101 cases the ramp repeats.
  constexpr int sizes = 101;
  const int regular = cases / sizes * sizes;
  if (index < regular) return index % sizes;
  const int rest = cases - regular;
  return rest == 1 ? 100 : (index - regular) * 100 / (rest - 1);
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
  auto finish = [&] {
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  };
  const std::string why_not = property.not_applicable ? property.not_applicable(ctx) : "";
  if (!why_not.empty()) {
    result.status = PropertyResult::Status::skipped;
    result.reason = why_not;
    return result;
  }
  const int n = cases_of(property, settings.cases);
  std::vector<int> mine;
  for (int i = 0; i < n; ++i)
    if (settings.shard.selects(settings.first_ordinal + static_cast<std::size_t>(i))) mine.push_back(i);
  if (mine.empty()) {
    result.status = PropertyResult::Status::skipped;
    result.reason = "none of its " + std::to_string(n) + " cases falls in shard " + settings.shard.text();
    return result;
  }
  Checker checker(ctx);
  checker.set_cases_in_run(n);
  const rc::detail::Property body = rc::detail::toProperty([&property, &checker] { property.body(checker); });
  using rc::detail::CaseResult;
  for (const int i : mine) {
    // The search: case i from its own seed at its own size (retried with a
    // fresh draw when it discards itself, the whole property's budget of 10
    // discards per case, each ten growing the size by one, as RapidCheck does).
    rc::Random random(case_seed(settings.seed, property.id, i));
    std::optional<rc::Shrinkable<rc::detail::CaseDescription>> failing;
    rc::detail::CaseDescription description;
    int discards = 0;
    for (;;) {
      auto shrinkable = body(random.split(), case_size(i, n) + discards / 10);
      description = shrinkable.value();
      if (description.result.type == CaseResult::Type::Success) break;
      if (description.result.type == CaseResult::Type::Failure) {
        failing = std::move(shrinkable);
        break;
      }
      if (++discards > 10 * n) break;
    }
    result.case_indices.push_back(i);
    if (description.result.type == CaseResult::Type::Success) {
      ++result.cases;
      continue;
    }
    if (!failing) {  // gave up: every draw discarded itself
      result.case_indices.pop_back();
      result.statistics = checker.statistics();
      const std::string why = std::to_string(discards) + " draws of case " + std::to_string(i) + " discarded";
      if (const auto held = ctx.held(); !held.empty()) {
        // Under the user's pins (or the values the implementation fixes) the
        // property found too few cases it can judge: that is no failure of the implementation.
        std::string pins;
        for (const auto& [name, value] : held) pins += (pins.empty() ? "" : " ") + name + "=" + value;
        result.status = PropertyResult::Status::skipped;
        result.reason = "too few cases it can judge under the held " + pins + " (" + why + ")";
      } else {
        result.status = PropertyResult::Status::failed;
        result.reason = "gave up: too many discarded cases (" + why + ")";
      }
      return finish();
    }
    ++result.cases;
    // Shrinking (RapidCheck's: the first failing shrink replaces the case,
    // and its own shrinks are tried next), within the budget.
    if (property.shrink && !checker.adapter_failure()) {
      const std::size_t work_at_failure = checker.work();
      int tries = 0;
      auto shrinks = failing->shrinks();
      while (auto candidate = shrinks.next()) {
        if (tries >= kMinShrinkTries && checker.work() - work_at_failure > kShrinkBudgetElementSteps) {
          result.shrink_budget_spent = true;
          break;
        }
        ++tries;
        rc::detail::CaseDescription d = candidate->value();
        if (d.result.type == CaseResult::Type::Failure) {
          failing = std::move(*candidate);
          description = std::move(d);
          shrinks = failing->shrinks();
          ++result.shrinks;
        }
      }
    }
    result.statistics = checker.statistics();
    result.trace = checker.trace();
    result.status = checker.adapter_failure() ? PropertyResult::Status::adapter_error : PropertyResult::Status::failed;
    result.reason = description.result.description;
    if (checker.adapter_failure()) {
      // Shrinking a case the adapter failed on says nothing: show what it was sent.
      result.reason = *checker.adapter_failure();
      result.counterexample = checker.adapter_failure_inputs();
      result.adapter_refused = checker.adapter_refused();
      result.shrinks = 0;
    } else {
      std::ostringstream shown;
      if (description.example)
        for (const auto& [type, value] : description.example()) shown << value << "\n";
      result.counterexample = shown.str();
    }
    return finish();
  }
  result.statistics = checker.statistics();
  result.trace = checker.trace();
  result.unjudged_reason = checker.unjudged_reason();
  if (result.statistics.count == 0) {  // zero values compared is no pass
    result.status = PropertyResult::Status::failed;
    result.reason = "no value was compared in " + std::to_string(result.cases) + " cases";
  } else if (result.statistics.unbounded == result.statistics.count) {
    // Every bound allows any finite value (an accumulated bound of a long run
    // in a narrow format outgrows the format): nothing was judged, no pass.
    result.status = PropertyResult::Status::skipped;
    result.reason = "nothing judged: every one of the " + std::to_string(result.statistics.count) + " values compared " +
                    (checker.unjudged_reason().empty()
                         ? "had an error bound beyond " + std::string(ctx.values_format().name) +
                               "'s largest finite value (the accumulated bound outgrows the format)"
                         : "was " + checker.unjudged_reason());
  }
  return finish();
}

}  // namespace adamconf
