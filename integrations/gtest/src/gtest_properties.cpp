#include "adamconf/gtest_properties.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <stdexcept>

#include "adamconf/property.hpp"

namespace adamconf::gtest {

namespace {

/// A number from the environment, or `fallback`; a malformed one is an error naming the variable.
std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  try {
    std::size_t used = 0;
    const unsigned long long x = std::stoull(text, &used);
    if (used == std::string(text).size()) return x;
  } catch (const std::exception&) {
  }
  throw std::invalid_argument(std::string(name) + "=" + text + ": expected a nonnegative integer");
}

std::string this_program() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "the test binary";
}

class PropertyTest : public ::testing::Test {
 public:
  PropertyTest(const Property& property, PropertyContext ctx, RunSettings settings, std::string variant,
               std::shared_ptr<Implementation> implementation, std::string filter)
      : property_(property), ctx_(std::move(ctx)), settings_(settings), variant_(std::move(variant)),
        implementation_(std::move(implementation)), filter_(std::move(filter)) {}

  void TestBody() override {
    ctx_.implementation = implementation_.get();
    const PropertyResult r = run_property(property_, ctx_, settings_);
    const std::string replay = "replay: ADAMCONF_SEED=" + std::to_string(settings_.seed) +
                               " ADAMCONF_CASES=" + std::to_string(settings_.cases) + " " + this_program() +
                               " --gtest_filter=" + filter_;
    switch (r.status) {
      case PropertyResult::Status::passed:
        RecordProperty("cases", r.cases);
        RecordProperty("worst_fraction_of_allowed", std::to_string(r.statistics.worst_ratio));
        return;
      case PropertyResult::Status::skipped:
        GTEST_SKIP() << r.reason;
      case PropertyResult::Status::adapter_error:
        ADD_FAILURE() << property_.id << (variant_.empty() ? "" : " [" + variant_ + "]") << ": the implementation failed on case "
                      << r.cases << "\n" << r.reason << "\nthe request:\n" << r.counterexample << replay;
        return;
      case PropertyResult::Status::failed:
        ADD_FAILURE() << property_.id << (variant_.empty() ? "" : " [" + variant_ + "]") << " failed after " << r.cases
                      << " cases, shrunk " << r.shrinks << " times\nclaim: " << r.claim << "\n" << r.reason
                      << "\ninputs:\n" << r.counterexample << "RapidCheck seed " << r.seed << "; " << replay;
        return;
    }
  }

 private:
  const Property& property_;
  PropertyContext ctx_;
  RunSettings settings_;
  std::string variant_;
  std::shared_ptr<Implementation> implementation_;
  std::string filter_;
};

}  // namespace

std::string test_name(const std::string& property_id, const std::string& variant) {
  std::string name = property_id + (variant.empty() ? "" : "-" + variant);
  for (char& c : name)
    if (c == '-') c = '_';
  return name;
}

int register_property_tests(const std::string& suite_name, std::shared_ptr<Implementation> implementation,
                            const Suite& suite) {
  if (!implementation) throw std::invalid_argument("adamconf::gtest: no implementation for suite " + suite_name);
  const auto dtype = format_by_name(suite.dtype);
  if (!dtype) throw std::invalid_argument("adamconf::gtest: dtype " + suite.dtype + ": expected float32 or float64");
  const PresetOptions given{suite.amsgrad, suite.maximize, true};
  (void)make_spec(suite.preset, given, suite.pinned);  // validates the preset, its options and the pins
  RunSettings settings;
  settings.seed = env_number("ADAMCONF_SEED", suite.seed);
  settings.cases = static_cast<int>(env_number("ADAMCONF_CASES", static_cast<std::uint64_t>(suite.cases)));
  if (settings.cases < 1) throw std::invalid_argument("adamconf::gtest: at least one case per property");
  for (const auto& id : suite.skip) (void)property_by_id(id);  // an unknown id is an error
  PropertyContext ctx = PropertyContext::for_implementation(*implementation, suite.preset, given, *dtype);
  ctx.pinned = suite.pinned;
  if (!ctx.capabilities.supports_preset(suite.preset)) ctx.capabilities.presets.push_back(suite.preset);
  std::vector<OptionVariant> variants = option_variants(suite.preset, given, ctx.capabilities);
  if (!suite.option_variants) variants.resize(1);
  int registered = 0;
  const std::string file = __FILE__;
  for (const OptionVariant& variant : variants)
    for (const Property& p : all_properties()) {
      if (std::find(suite.skip.begin(), suite.skip.end(), p.id) != suite.skip.end()) continue;
      if (!variant.name.empty() && !p.runs_under_variants) continue;
      PropertyContext vctx = ctx;
      vctx.options = variant.options;
      const std::string name = test_name(p.id, variant.name);
      const std::string filter = suite_name + "." + name;
      ::testing::RegisterTest(suite_name.c_str(), name.c_str(), nullptr, nullptr, file.c_str(), __LINE__,
                              [&p, vctx, settings, variant, implementation, filter]() -> ::testing::Test* {
                                return new PropertyTest(p, vctx, settings, variant.name, implementation, filter);
                              });
      ++registered;
    }
  return registered;
}

}  // namespace adamconf::gtest
