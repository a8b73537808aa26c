// adamconf::gtest in use (tests/cli/gtest_integration.sh runs it): the
// property suite as GoogleTest tests, against the correct float
// implementation (must pass) and a mutant (must fail, with the claim, the
// RapidCheck seed and a replay line in the message).
#include <gtest/gtest.h>

#include "adamconf/gtest_properties.hpp"
#include "mutants.hpp"

namespace {
using adamconf::gtest::Suite;

ADAMCONF_PROPERTY_TESTS(CorrectFloat, std::make_shared<adamconf::FloatImplementation>("adamconf's float implementation"),
                        (Suite{.preset = "pytorch-adamw", .cases = 10, .skip = {"large-tensors-agree-with-reference"}}));
ADAMCONF_PROPERTY_TESTS(DecayNotScaledByLr,
                        std::make_shared<adamconf::FloatImplementationOf<adamconf::mutants::DecayNotScaledByLr>>("mutant"),
                        (Suite{.preset = "pytorch-adamw", .cases = 10, .skip = {"large-tensors-agree-with-reference"}}));
}  // namespace
