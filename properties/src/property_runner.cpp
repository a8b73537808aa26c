// The runner of one property: RapidCheck's search and shrink, with adamconf's
// seeds, sizes, shards and budgets. It mirrors RapidCheck (the Debian package
// librapidcheck-dev 0~1033-08b5058, upstream commit 08b5058), whose own
// driver checks one property with one seed and prints to a stream; adamconf
// needs each case replayable alone (its own seed, its size from its index), a
// shard of the cases, a shrinking budget, and results as data. What is
// mirrored, from rapidcheck src/detail/Testing.cpp:
//   searchProperty   a case drawn at a size, retried with a fresh draw when
//                    it discards itself, the size growing by one every ten
//                    discards, at most maxDiscardRatio (10) discards per case;
//   shrinkTestCase   the first failing shrink replaces the case and its own
//                    shrinks are tried next, until none fails;
//   sizeFor          sizes spread evenly over 0..maxSize (100), except that a
//                    lone remaining case runs at the largest size, not at 0.
// It reaches into rc::detail (toProperty, CaseResult, CaseDescription) for
// these, as RapidCheck's own integrations do.
#include <rapidcheck.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <sstream>

#include "adamconf/hashing.hpp"
#include "adamconf/property.hpp"

namespace adamconf {

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

namespace {

using rc::detail::CaseDescription;
using rc::detail::CaseResult;
using FailingCase = rc::Shrinkable<CaseDescription>;

/// adamconf passes RapidCheck its seed and limits explicitly. RapidCheck still
/// loads its global configuration lazily (while shrinking, say) and announces
/// it on stderr; load it once, quietly.
void load_rapidcheck_configuration_quietly() {
  static const bool loaded = [] {
    std::ostringstream sink;
    std::streambuf* previous = std::cerr.rdbuf(sink.rdbuf());
    (void)rc::detail::configuration();
    std::cerr.rdbuf(previous);
    return true;
  }();
  (void)loaded;
}

/// The cases of a run with `n` cases that this shard takes.
std::vector<int> cases_in_shard(int n, const RunSettings& settings) {
  std::vector<int> mine;
  for (int i = 0; i < n; ++i)
    if (settings.shard.selects(settings.first_ordinal + static_cast<std::size_t>(i))) mine.push_back(i);
  return mine;
}

struct SearchedCase {
  CaseDescription description;
  std::optional<FailingCase> failing;  ///< set when the case failed
  int discards = 0;
};

/// searchProperty for one case: case `index` of `n` from its own seed at its
/// own size, a fresh draw when it discards itself (the size one larger every
/// ten discards), until it passes, fails, or spends the property's budget of
/// 10 discards per case.
SearchedCase search_case(const rc::detail::Property& body, const Property& property, const RunSettings& settings,
                         int index, int n) {
  rc::Random random(case_seed(settings.seed, property.id, index));
  SearchedCase c;
  for (;;) {
    auto shrinkable = body(random.split(), case_size(index, n) + c.discards / 10);
    c.description = shrinkable.value();
    if (c.description.result.type == CaseResult::Type::Success) return c;
    if (c.description.result.type == CaseResult::Type::Failure) {
      c.failing = std::move(shrinkable);
      return c;
    }
    if (++c.discards > 10 * n) return c;
  }
}

/// shrinkTestCase: the first failing shrink replaces the case and its own
/// shrinks are tried next. Every candidate reruns the implementation, so it
/// stops at kShrinkBudgetElementSteps sent after at least kMinShrinkTries
/// candidates, and says so.
void shrink_failure(FailingCase& failing, CaseDescription& description, const Checker& checker,
                    PropertyResult& result) {
  const std::size_t work_at_failure = checker.work();
  int tries = 0;
  auto shrinks = failing.shrinks();
  while (auto candidate = shrinks.next()) {
    if (tries >= kMinShrinkTries && checker.work() - work_at_failure > kShrinkBudgetElementSteps) {
      result.shrink_budget_spent = true;
      return;
    }
    ++tries;
    CaseDescription d = candidate->value();
    if (d.result.type == CaseResult::Type::Failure) {
      failing = std::move(*candidate);
      description = std::move(d);
      shrinks = failing.shrinks();
      ++result.shrinks;
    }
  }
}

/// Every draw of a case discarded itself: under values the user pinned (or
/// the implementation fixes) too few cases are judgeable, which is no failure
/// of the implementation; otherwise RapidCheck's "gave up".
void give_up(PropertyResult& result, const PropertyContext& ctx, int index, int discards) {
  const std::string why = std::to_string(discards) + " draws of case " + std::to_string(index) + " discarded";
  if (const auto held = ctx.held(); !held.empty()) {
    std::string pins;
    for (const auto& [name, value] : held) pins += (pins.empty() ? "" : " ") + name + "=" + value;
    result.status = PropertyResult::Status::skipped;
    result.reason = "too few cases it can judge under the held " + pins + " (" + why + ")";
  } else {
    result.status = PropertyResult::Status::failed;
    result.reason = "gave up: too many discarded cases (" + why + ")";
  }
}

/// A failing case: an adapter error (shown with the request it failed on,
/// unshrunk: shrinking it says nothing), or the failure with its shrunk inputs.
void report_failure(PropertyResult& result, const Checker& checker, const CaseDescription& description) {
  result.statistics = checker.statistics();
  result.trace = checker.trace();
  if (checker.adapter_failure()) {
    result.status = PropertyResult::Status::adapter_error;
    result.reason = *checker.adapter_failure();
    result.counterexample = checker.adapter_failure_inputs();
    result.adapter_refused = checker.adapter_refused();
    result.shrinks = 0;
    return;
  }
  result.status = PropertyResult::Status::failed;
  result.reason = description.result.description;
  std::ostringstream shown;
  if (description.example)
    for (const auto& [type, value] : description.example()) shown << value << "\n";
  result.counterexample = shown.str();
}

/// Every case passed: a pass, unless no value was compared (zero values
/// compared is no pass) or every value had a bound that allows any finite
/// value (nothing judged: skipped, never passed).
void report_passing_run(PropertyResult& result, const Checker& checker, const PropertyContext& ctx) {
  result.statistics = checker.statistics();
  result.trace = checker.trace();
  result.unjudged_reason = checker.unjudged_reason();
  if (result.statistics.count == 0) {
    result.status = PropertyResult::Status::failed;
    result.reason = "no value was compared in " + std::to_string(result.cases) + " cases";
  } else if (result.statistics.unbounded == result.statistics.count) {
    result.status = PropertyResult::Status::skipped;
    result.reason = "nothing judged: every one of the " + std::to_string(result.statistics.count) + " values compared " +
                    (checker.unjudged_reason().empty()
                         ? "had an error bound beyond " + std::string(ctx.values_format().name) +
                               "'s largest finite value (the accumulated bound outgrows the format)"
                         : "was " + checker.unjudged_reason());
  }
}

}  // namespace

PropertyResult run_property(const Property& property, const PropertyContext& ctx, const RunSettings& settings) {
  load_rapidcheck_configuration_quietly();
  PropertyResult result;
  result.id = property.id;
  result.claim = property.claim;
  result.seed = settings.seed;
  const auto start = std::chrono::steady_clock::now();
  auto finish = [&] {
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  };
  if (const std::string why_not = property.not_applicable ? property.not_applicable(ctx) : ""; !why_not.empty()) {
    result.status = PropertyResult::Status::skipped;
    result.reason = why_not;
    return result;
  }
  const int n = cases_of(property, settings.cases);
  const std::vector<int> mine = cases_in_shard(n, settings);
  if (mine.empty()) {
    result.status = PropertyResult::Status::skipped;
    result.reason = "none of its " + std::to_string(n) + " cases falls in shard " + settings.shard.text();
    return result;
  }
  Checker checker(ctx);
  checker.set_cases_in_run(n);
  const rc::detail::Property body = rc::detail::toProperty([&property, &checker] { property.body(checker); });
  for (const int i : mine) {
    SearchedCase c = search_case(body, property, settings, i, n);
    if (c.description.result.type == CaseResult::Type::Success) {
      result.case_indices.push_back(i);
      ++result.cases;
      continue;
    }
    if (!c.failing) {  // every draw discarded itself
      result.statistics = checker.statistics();
      give_up(result, ctx, i, c.discards);
      return finish();
    }
    result.case_indices.push_back(i);
    ++result.cases;
    if (property.shrink && !checker.adapter_failure()) shrink_failure(*c.failing, c.description, checker, result);
    report_failure(result, checker, c.description);
    return finish();
  }
  report_passing_run(result, checker, ctx);
  return finish();
}

}  // namespace adamconf
