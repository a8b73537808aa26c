// Correct float implementations must pass every property: each preset with its
// source's order of operations (100 cases per property), and six re-orderings
// every implementation may use (pow vs running product, sqrt(v)/sqrt(bc2) vs
// sqrt(v/bc2), fma, lerp) on every preset (20 cases per property); a root
// within one ulp on the presets that allow one.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <iostream>
#include <limits>
#include <type_traits>

#include "adamconf/float_adam.hpp"
#include "adamconf/property.hpp"

namespace adamconf {
namespace {

struct Tally {
  int passed = 0, skipped = 0, failed = 0;
  double worst_ratio = 0;
  std::string worst;
};

/// The properties whose cases are large (millions of element-steps): the
/// sweeps over every preset leave them to the LargeCases test below.
bool large(const Property& p) { return p.cases_per_hundred < 100; }

Tally check_all(Implementation& impl, const std::string& preset, const PresetOptions& options, int cases,
                bool large_ones = false, std::vector<FloatFormat> formats = {float32_format, float64_format}) {
  Tally tally;
  for (const FloatFormat& dtype : formats) {
    const PropertyContext ctx = PropertyContext::for_implementation(impl, preset, options, dtype);
    for (const auto& p : all_properties()) {
      if (large(p) != large_ones) continue;
      const PropertyResult r = run_property(p, ctx, RunSettings{.seed = 20261122, .cases = cases});
      switch (r.status) {
        case PropertyResult::Status::passed: ++tally.passed; break;
        case PropertyResult::Status::skipped: ++tally.skipped; break;
        default:
          ++tally.failed;
          ADD_FAILURE() << impl.name() << " " << preset << " " << dtype.name << " " << to_string(options.precision) << " fails " << r.id << ": " << r.reason
                        << "\n" << r.counterexample << "seed " << r.seed;
      }
      if (r.statistics.worst_ratio > tally.worst_ratio) {
        tally.worst_ratio = r.statistics.worst_ratio;
        tally.worst = std::string(dtype.name) + " " + r.id + ": " + r.statistics.worst;
      }
    }
  }
  return tally;
}

std::vector<PresetOptions> options_to_check(const Preset& p) {
  std::vector<PresetOptions> out{{}};
  if (p.amsgrad != AmsgradVariant::none) out.push_back({.amsgrad = true});
  if (p.offers_maximize) out.push_back({.maximize = true});
  if (p.offers_bias_correction_switch) out.push_back({.bias_correction = false});
  return out;
}

/// The storage formats under every precision convention: FloatAdam over
/// StorageFloat (every operation rounded to bfloat16 or float16), over float
/// stored in the format once per step (float32 opmath), with float32 master
/// weights and a copy in the format, with theta rounded stochastically, and
/// with a Kahan compensation. 30 cases per property, the large classes left
/// out; the last three in one format per preset (bfloat16 for pytorch-adamw,
/// float16 for pytorch-adam); the false-alarm sweep runs more.
class StoragePrecision : public ::testing::TestWithParam<std::string> {};

TEST_P(StoragePrecision, PassesEveryPropertyInBfloat16AndFloat16UnderEveryConvention) {
  const Preset& preset = preset_by_name(GetParam());
  FloatImplementation impl("float (" + preset.name + " order)");
  const FloatFormat& one_format = preset.name == "pytorch-adamw" ? bfloat16_format : float16_format;
  for (const Precision precision : {Precision::storage, Precision::float32_opmath, Precision::master_weights,
                                    Precision::stochastic_rounding, Precision::kahan_summation}) {
    PresetOptions options;
    options.precision = precision;
    std::vector<FloatFormat> formats{bfloat16_format, float16_format};
    if (precision != Precision::storage && precision != Precision::float32_opmath) formats = {one_format};
    const Tally t = check_all(impl, preset.name, options, 30, false, formats);
    EXPECT_GT(t.passed, 20) << "most properties must run and pass, not skip";
    std::cout << "  " << preset.name << " " << to_string(precision) << ": " << t.passed << " pass, " << t.skipped
              << " skip, " << t.failed << " fail (" << formats.front().name << (formats.size() > 1 ? " + float16" : "")
              << "); worst observed/allowed " << t.worst_ratio << "\n      " << t.worst << "\n";
  }
}

/// tinygrad's presets over a narrow dtype with its float32 moments and weak-dtype scalars (lr and
/// beta^t in float32, 1 - beta1, 1 - beta2 and wd held in the dtype), under `precision`.
void expect_tinygrad_passes_every_property(Precision precision, const FloatFormat& dtype) {
  for (const char* preset : {"tinygrad-adam", "tinygrad-adamw"}) {
    FloatImplementation impl(std::string("float (") + preset + " order)");
    PresetOptions options;
    options.precision = precision;
    options.scalars = Scalars::weak_dtype;
    options.state_formats = {.m = "float32", .v = "float32"};
    const Tally t = check_all(impl, preset, options, 30, false, {dtype});
    EXPECT_GT(t.passed, 20) << "most properties must run and pass, not skip";
    std::cout << "  " << preset << " " << dtype.name << ", precision " << to_string(precision) << ": " << t.passed
              << " pass, " << t.skipped << " skip, " << t.failed << " fail; worst observed/allowed " << t.worst_ratio
              << "\n      " << t.worst << "\n";
  }
}

/// Scalars::weak_dtype, tinygrad over bfloat16: float32 opmath and moments (bfloat16 has no arithmetic
/// of its own on the CPU: the products with the weak scalars are float32).
TEST(WeakScalars, TinygradsBfloat16PassesEveryProperty) {
  expect_tinygrad_passes_every_property(Precision::float32_opmath, bfloat16_format);
}

/// Precision::promoted, tinygrad over float16: float32 moments and sums, the products among float16
/// values ((1 - b1) g, g g, (1 - b2) g g, wd theta) and lr u rounded to float16, theta - lr u in it.
TEST(PromotedPrecision, TinygradsFloat16PassesEveryProperty) {
  expect_tinygrad_passes_every_property(Precision::promoted, float16_format);
}

/// Blockwise-quantized states beside bfloat16 and float16 parameters under float32 opmath: a tensor
/// below the format's size keeps its state in the parameters' dtype (torchao's zeros_like(p)) or in
/// float32 (bitsandbytes), and a quantized tensor's codes are those of its float32 moments.
TEST(QuantizedStates, PassEveryPropertyBesideBfloat16AndFloat16Parameters) {
  for (const char* preset : {"torchao-adamw8bit", "torchao-adamw4bit", "torchao-adamw-fp8", "bitsandbytes-adamw8bit"}) {
    FloatImplementation impl(std::string("float (") + preset + " order)");
    PresetOptions options;
    options.precision = Precision::float32_opmath;
    options.state_formats = preset_by_name(preset).state_formats;
    const Tally t = check_all(impl, preset, options, 10, false, {bfloat16_format, float16_format});
    EXPECT_GT(t.passed, 40) << "most properties must run and pass, not skip";
    std::cout << "  " << preset << " bfloat16 + float16, float32-opmath: " << t.passed << " pass, " << t.skipped
              << " skip, " << t.failed << " fail; worst observed/allowed " << t.worst_ratio << "\n      " << t.worst
              << "\n";
  }
}

/// storage-kahan, optimi's kahan_sum: storage arithmetic with the update accumulated into a
/// compensation; in both formats, on optimi's presets (debiased betas, decay of theta alone) and PyTorch's.
TEST(StorageKahan, PassesEveryPropertyInBfloat16AndFloat16) {
  for (const char* preset : {"optimi-adam", "optimi-adamw", "pytorch-adamw"}) {
    FloatImplementation impl(std::string("float (") + preset + " order)");
    PresetOptions options;
    options.precision = Precision::storage_kahan;
    const Tally t = check_all(impl, preset, options, 30, false, {bfloat16_format, float16_format});
    EXPECT_GT(t.passed, 40) << "most properties must run and pass, not skip";
    std::cout << "  " << preset << " storage-kahan: " << t.passed << " pass, " << t.skipped << " skip, " << t.failed
              << " fail (bfloat16 + float16); worst observed/allowed " << t.worst_ratio << "\n      " << t.worst << "\n";
  }
}

INSTANTIATE_TEST_SUITE_P(Presets, StoragePrecision, ::testing::Values("pytorch-adamw", "pytorch-adam"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

/// State tensors in formats of their own (TransformerEngine's FusedAdam:
/// exp_avg_dtype, exp_avg_sq_dtype): float32 states beside bfloat16
/// parameters under float32 opmath; bfloat16 states beside a float32 master
/// of float16 parameters; a bfloat16 v (and vmax) beside float32 parameters;
/// a float32 Kahan compensation beside bfloat16 parameters; Optax's
/// mu_dtype=bfloat16 (b1 m in bfloat16) beside float32 parameters; tinygrad's
/// float32 moments and direction beside float64 parameters.
/// 30 cases per property, the large classes left out.
TEST(StateFormats, PassEveryPropertyWithEachStateTensorInItsOwnFormat) {
  struct Combination {
    std::string preset;
    FloatFormat dtype;
    Precision precision;
    StateFormats states;
  };
  const std::vector<Combination> combinations{
      {"pytorch-adamw", bfloat16_format, Precision::float32_opmath, {.m = "float32", .v = "float32", .vmax = "float32"}},
      {"pytorch-adam", float16_format, Precision::master_weights, {.m = "bfloat16", .v = "bfloat16", .vmax = "bfloat16"}},
      {"pytorch-adam", float32_format, Precision::storage, {.v = "bfloat16", .vmax = "bfloat16"}},
      // torchdistx AnyPrecisionAdamW's default: a float32 Kahan compensation beside bfloat16 parameters.
      {"pytorch-adamw", bfloat16_format, Precision::kahan_summation, {.compensation = "float32"}},
      // Optax's mu_dtype=bfloat16 beside float32 parameters: b1 mu in bfloat16, the sum in float32.
      {"optax-adamw", float32_format, Precision::storage, {.m = "bfloat16", .m_decay_in_format = true}},
      // tinygrad's default float32 m and v beside float64 parameters: b1 m and b2 v in float32, the
      // direction in float32 from the stored moments, the decay and lr in float64.
      {"tinygrad-adamw", float64_format, Precision::storage,
       {.m = "float32", .v = "float32", .m_decay_in_format = true, .v_decay_in_format = true, .direction_in_format = true}},
  };
  for (const Combination& c : combinations) {
    FloatImplementation impl("float (" + c.preset + " order)");
    PresetOptions options;
    options.precision = c.precision;
    options.state_formats = c.states;
    const Tally t = check_all(impl, c.preset, options, 30, false, {c.dtype});
    EXPECT_GT(t.passed, 20) << "most properties must run and pass, not skip";
    std::cout << "  " << c.preset << " " << c.dtype.name << " " << to_string(c.precision) << " with "
              << describe(c.states) << ": " << t.passed << " pass, " << t.skipped << " skip, " << t.failed
              << " fail; worst observed/allowed " << t.worst_ratio << "\n      " << t.worst << "\n";
  }
}

/// Subnormals flushed to zero (--subnormals flushed: XLA on the CPU): the
/// float implementation computing with x86's flush-to-zero and
/// denormals-are-zero passes every property in float32 and float64, with the
/// flushed results the convention allows judged as such.
TEST(Subnormals, FlushedPassesEveryPropertyInBothFormats) {
  FloatImplementation impl("float, subnormals flushed");
  for (const char* preset : {"optax-adamw", "pytorch-adam"}) {
    const Tally t = check_all(impl, preset, PresetOptions{.subnormals = Subnormals::flushed}, 30);
    EXPECT_GT(t.passed, 40) << "most properties must run and pass, not skip";
    std::cout << "  " << preset << " with subnormals flushed: " << t.passed << " pass, " << t.skipped << " skip, "
              << t.failed << " fail; worst observed/allowed " << t.worst_ratio << "\n      " << t.worst << "\n";
  }
}

/// A square root within one ulp, as MKL VML's (ATen's CPU sqrt) may be: of the two floats around
/// the exact root it takes the farther one, the worst such a root may do. It counts the roots it
/// moved, so that the test below cannot pass on roots that were all exact.
template <class F>
struct FartherRoot : FloatAdam<F> {
  static inline std::atomic<long> moved{0};
  F root(F x) const override {
    const F r = FloatAdam<F>::root(x);
    if constexpr (std::is_floating_point_v<F>) {
      if (!(x > 0) || !std::isfinite(r)) return r;
      const F residual = std::fma(r, r, -x);  // r^2 - x rounded once: its sign is exact
      if (residual == 0) return r;
      ++moved;
      return std::nextafter(r, residual < 0 ? std::numeric_limits<F>::infinity() : F(0));
    }
    return r;
  }
};

/// ScaleByAdam::sqrt_within_one_ulp: an implementation whose root errs by nearly an ulp passes every
/// property of the presets that say their libraries take such a root, one of each denominator the
/// error model distinguishes (sqrt(v)/sqrt(bc2) + eps, eps-hat, eps scaled by sqrt(bc2), eps as a floor).
TEST(RootWithinOneUlp, PassesEveryPropertyOfThePresetsThatAllowIt) {
  FartherRoot<float>::moved = 0;
  FartherRoot<double>::moved = 0;
  for (const char* preset : {"pytorch-adamw", "keras-adamw", "bitsandbytes-adamw", "heavyball-adamw"}) {
    ASSERT_TRUE(preset_by_name(preset).convention.adam().sqrt_within_one_ulp) << preset;
    FloatImplementationOf<FartherRoot> impl(std::string("float (") + preset + " order), root within one ulp");
    const Tally t = check_all(impl, preset, {}, 40);
    EXPECT_GT(t.passed, 40) << "most properties must run and pass, not skip";
    std::cout << "  " << preset << ": " << t.passed << " pass, " << t.skipped << " skip, " << t.failed
              << " fail (float32 + float64); worst observed/allowed " << t.worst_ratio << "\n      " << t.worst << "\n";
  }
  std::cout << "  roots moved to the farther float: " << FartherRoot<float>::moved << " float32, "
            << FartherRoot<double>::moved << " float64\n";
  EXPECT_GT(FartherRoot<float>::moved, 1000);
  EXPECT_GT(FartherRoot<double>::moved, 1000);
}

class SourceOrdering : public ::testing::TestWithParam<std::string> {};

TEST_P(SourceOrdering, PassesEveryPropertyWithEveryOption) {
  const Preset& preset = preset_by_name(GetParam());
  FloatImplementation impl("float (" + preset.name + " order)");
  for (const auto& options : options_to_check(preset)) {
    const Tally t = check_all(impl, preset.name, options, 100);
    std::cout << "  " << preset.name << (options.amsgrad ? " +amsgrad" : "") << (options.maximize ? " +maximize" : "")
              << (options.bias_correction ? "" : " -bias-correction") << ": " << t.passed << " pass, " << t.skipped
              << " skip, " << t.failed << " fail (float32 + float64); worst observed/allowed " << t.worst_ratio
              << "\n      " << t.worst << "\n";
  }
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& p : presets()) names.push_back(p.name);
  return names;
}

std::string test_name(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

INSTANTIATE_TEST_SUITE_P(Presets, SourceOrdering, ::testing::ValuesIn(preset_names()),
                         [](const auto& info) { return test_name(info.param); });

class Reordering : public ::testing::TestWithParam<Numerics> {};

TEST_P(Reordering, PassesEveryPropertyOnEveryPreset) {
  const Numerics& numerics = GetParam();
  FloatImplementation impl("float (" + numerics.name + ")", numerics);
  int passed = 0, skipped = 0;
  for (const auto& preset : presets()) {
    const Tally t = check_all(impl, preset.name, {}, 20);
    passed += t.passed;
    skipped += t.skipped;
  }
  std::cout << "  " << numerics.name << ": " << passed << " property runs pass, " << skipped << " skip, over "
            << presets().size() << " presets x 2 formats\n";
}

// The large case classes (chunk boundaries, >= 2^20 elements, 10^4-step
// trajectories) on presets of each family: decoupled decay with the lr
// (PyTorch) and eps-hat with a running product for beta^t (TF.js).
TEST(LargeCases, PassOnPresetsOfEveryFamily) {
  for (const char* name : {"pytorch-adamw", "tfjs-adam"}) {
    FloatImplementation impl(std::string("float (") + name + " order)");
    const Tally t = check_all(impl, name, {}, 100, true);
    EXPECT_GT(t.passed, 0) << name;
    std::cout << "  " << name << ": " << t.passed << " pass, " << t.skipped << " skip, " << t.failed
              << " fail (float32 + float64); worst observed/allowed " << t.worst_ratio << "\n      " << t.worst << "\n";
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, Reordering, ::testing::ValuesIn(numerics_variants()),
                         [](const auto& info) { return test_name(info.param.name); });

}  // namespace
}  // namespace adamconf
