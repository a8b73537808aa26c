// One GoogleTest test per adamconf property, for MyAdamW in both formats:
// MyAdamW_float32.trajectory_agrees_with_reference, ...
#include <gtest/gtest.h>

#include <adamconf/gtest_properties.hpp>

#include "my_adamw.hpp"

ADAMCONF_PROPERTY_TESTS(MyAdamW_float32, std::make_shared<MyAdamW>(),
                        (adamconf::gtest::Suite{.preset = "pytorch-adamw", .dtype = "float32", .cases = 50}));
ADAMCONF_PROPERTY_TESTS(MyAdamW_float64, std::make_shared<MyAdamW>(),
                        (adamconf::gtest::Suite{.preset = "pytorch-adamw", .dtype = "float64", .cases = 50}));
