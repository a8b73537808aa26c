// The property suite inside your own GoogleTest binary: one GoogleTest test
// per property (and per option the implementation offers, as `adamconf check`
// runs them), against an in-process C++ implementation.
//
//   #include <adamconf/gtest_properties.hpp>
//   ADAMCONF_PROPERTY_TESTS(MyAdamW, std::make_shared<MyAdamW>(),
//                           adamconf::gtest::Suite{.preset = "pytorch-adamw", .dtype = "float32"});
//
// gives tests MyAdamW.trajectory_agrees_with_reference, ... A failure's
// message has the claim, the failing value, the shrunk inputs and the line that
// replays it (ADAMCONF_SEED=... binary --gtest_filter=...). A property that does
// not apply is skipped (GTEST_SKIP) with its reason. GoogleTest's own sharding
// (GTEST_TOTAL_SHARDS, GTEST_SHARD_INDEX; ctest, bazel) splits the tests.
// ADAMCONF_SEED and ADAMCONF_CASES in the environment override the seed and
// the number of cases.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "adamconf/implementation.hpp"

namespace adamconf::gtest {

struct Suite {
  std::string preset;              ///< convention to check against (`adamconf presets`)
  std::string dtype = "float32";   ///< float32 or float64
  bool amsgrad = false;            ///< check with AMSGrad on (the preset must offer it)
  bool maximize = false;
  std::uint64_t seed = 1;          ///< RapidCheck seed (ADAMCONF_SEED overrides)
  int cases = 100;                 ///< cases per property (ADAMCONF_CASES overrides)
  std::map<std::string, std::string> pinned{};  ///< hyperparameters fixed ("weight_decay" -> "0")
  std::vector<std::string> skip{};  ///< property ids left out
  /// Also run the agreement properties with each option the implementation
  /// offers (amsgrad, maximize), as `adamconf check` does.
  bool option_variants = true;
};

/// Registers the tests under GoogleTest suite `suite_name`; returns how many.
/// Call before RUN_ALL_TESTS (ADAMCONF_PROPERTY_TESTS does it at static
/// initialization). Throws std::invalid_argument for an unknown preset,
/// dtype, option or property id.
int register_property_tests(const std::string& suite_name, std::shared_ptr<Implementation> implementation,
                            const Suite& suite);

/// GoogleTest's name of a property's test: "trajectory-agrees-with-reference"
/// -> "trajectory_agrees_with_reference" ('-' starts a negative pattern in --gtest_filter).
std::string test_name(const std::string& property_id, const std::string& variant = "");

}  // namespace adamconf::gtest

#define ADAMCONF_PROPERTY_TESTS_CAT_(a, b) a##b
#define ADAMCONF_PROPERTY_TESTS_CAT(a, b) ADAMCONF_PROPERTY_TESTS_CAT_(a, b)
/// Registers the property tests of suite SuiteName at static initialization.
#define ADAMCONF_PROPERTY_TESTS(SuiteName, implementation, suite)                                      \
  [[maybe_unused]] static const int ADAMCONF_PROPERTY_TESTS_CAT(adamconf_property_tests_, SuiteName) = \
      ::adamconf::gtest::register_property_tests(#SuiteName, implementation, suite)
