// Named RapidCheck generators for the domain: hyperparameters as decimal text,
// gradients and parameters as values of the target format, and whole
// scenarios. They reach the regimes that hide bugs: |g| near eps, tiny and
// huge gradients, zeros, sign flips, dead-token coordinates, betas near 0 and
// near 1, early steps and long runs. (arbitrary<double>() reaches none of them.)
#pragma once

#include <rapidcheck.h>

#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "adamconf/implementation.hpp"

namespace adamconf {

/// Everything one property case runs: the optimizer and one trajectory.
struct Scenario {
  OptimizerSpec spec;
  FloatFormat dtype = float32_format;
  RunCase run;
};

/// How RapidCheck prints a scenario in a counterexample: hyperparameters,
/// theta0 and the gradient stream as hex floats, the learning rates.
void showValue(const Scenario& s, std::ostream& os);

/// How RapidCheck prints hyperparameters drawn on their own: "lr=0.001 beta1=0.9 ...".
void showValue(const Hyperparameters& h, std::ostream& os);

/// What a scenario generator may vary. Pinned hyperparameters are never
/// generated (users pin them with --set; properties pin e.g. weight_decay=0).
struct ScenarioShape {
  std::string preset;
  PresetOptions options;
  FloatFormat dtype = float32_format;
  std::map<std::string, std::string> pinned;
  int min_steps = 1;
  int max_steps = 0;          ///< 0: the default mix of early steps and long runs
  int max_elements = 8;
  bool lr_schedule = true;    ///< may generate a per-step learning rate
  bool zero_gradients = false;
  /// The implementation takes cases of one tensor only (protocol /1): a
  /// structured scenario has no groups and no steps without a gradient, and
  /// a large one is a single tensor.
  bool one_tensor = false;
};

/// An exponent range [min, max] of a regime of gradients: values with |x| in [2^min, 2^(max+1)).
struct ExponentRange {
  int min, max;
};

/// A group of values a hyperparameter is drawn among, with its weight.
struct ValueGroup {
  int weight;
  std::vector<std::string> values;  ///< decimal text
};
/// The values a generated hyperparameter (lr, beta1, beta2, eps, eps_root,
/// weight_decay) is drawn from: a group by weight, then a value of it. The
/// groups are the regimes that hide bugs (betas near 0 and near 1, eps from
/// 1e-16 to 0.1, lr up to 2.5); a re-draw (a decay that would diverge, an eps
/// the format flushes to 0) chooses among the same values.
const std::vector<ValueGroup>& hyperparameter_values(const std::string& name);
/// Every value of hyperparameter_values(name), in order.
std::vector<std::string> all_values(const std::string& name);

/// The regimes of a generated gradient (gen::grad, and the seeded streams of large cases).
enum class GradientRegime {
  typical,       ///< typical_exponents()
  near_eps,      ///< near_eps_exponents(): |g| ~ eps
  tiny,          ///< tiny_exponents(): down to the subnormals, g^2 underflows
  huge,          ///< huge_exponents(): up to largest_gradient
  zero,          ///< 0
  power_of_two,  ///< one of kPowerOfTwoGradients
};
struct WeightedRegime {
  int weight;
  GradientRegime regime;
};
/// gen::grad's mix of regimes, with their weights (of 76).
inline constexpr WeightedRegime kGradientRegimes[] = {
    {40, GradientRegime::typical}, {12, GradientRegime::near_eps}, {6, GradientRegime::tiny},
    {5, GradientRegime::huge},     {8, GradientRegime::zero},      {5, GradientRegime::power_of_two}};
inline constexpr double kPowerOfTwoGradients[] = {1.0, -1.0, 0.5, -2.0, 4.0};
/// The exponent range of a regime other than zero and power_of_two.
ExponentRange regime_exponents(GradientRegime r, const FloatFormat& dtype, double eps);

/// theta0's mix: typical (|theta| in [2^-4, 2^3)), zero, large ([2^8, 2^21)), small ([2^-30, 2^-9)).
struct WeightedTheta {
  int weight;
  bool zero;
  ExponentRange exponents;
};
inline constexpr WeightedTheta kTheta0Regimes[] = {
    {8, false, {-4, 2}}, {1, true, {0, 0}}, {1, false, {8, 20}}, {1, false, {-30, -10}}};
/// gen::grad's regimes: typical values; tiny ones (down to the subnormals and
/// values whose square underflows); huge ones (up to largest_gradient, so that
/// g^2 stays finite); eps-sized ones (within 2^+-3 of eps, typical when eps is 0).
ExponentRange typical_exponents();
ExponentRange tiny_exponents(const FloatFormat& dtype);
ExponentRange huge_exponents(const FloatFormat& dtype);
ExponentRange near_eps_exponents(const FloatFormat& dtype, double eps);

/// The value of `dtype` with this sign, fraction (p - 1 bits) and exponent: 1.fraction * 2^exponent,
/// rounded to float32 when that is the format (a float32 subnormal).
double float_from(const FloatFormat& dtype, bool negative, std::uint64_t fraction, int exponent);

namespace gen {

/// An integer uniform in [min, max) at every test size. RapidCheck's
/// inRange scales its range with the size, so early cases (and all of a short
/// run) never reached long runs: the longest of 3000 cases was 202 steps.
/// Shrinking still goes towards min.
template <class T>
rc::Gen<T> uniform(T min, T max) {
  return rc::gen::resize(rc::kNominalSize, rc::gen::inRange<T>(min, max));
}

rc::Gen<std::string> lr();
rc::Gen<std::string> beta1();
rc::Gen<std::string> beta2();
rc::Gen<std::string> eps();
rc::Gen<std::string> eps_root();
rc::Gen<std::string> weight_decay();
/// The preset's exposed hyperparameters generated, the others at their defaults, pinned ones kept.
rc::Gen<Hyperparameters> hyperparameters(const Preset& preset, const std::map<std::string, std::string>& pinned);
/// The same for a shape: its pinned values, and under the precision convention
/// "storage" no eps that the format flushes to 0 (float16 holds nothing below
/// 2^-25, so with eps = 1e-8 a denominator sqrt(0) + eps is 0 there and a zero
/// gradient divides 0 by 0: no bound exists, as for eps = 0).
rc::Gen<Hyperparameters> hyperparameters(const Preset& preset, const struct ScenarioShape& shape);

/// A value of `dtype` with |x| in [2^min_exp, 2^(max_exp+1)), either sign, any significand.
rc::Gen<double> float_in(const FloatFormat& dtype, int min_exp, int max_exp);
/// One gradient from a mix of regimes: typical, eps-sized (|g| ~ eps), tiny,
/// huge, zero, powers of two.
rc::Gen<double> grad(const FloatFormat& dtype, double eps);
/// A steps x elements gradient stream; each element follows its own kind:
/// random, constant, sign-flipping, dead-token (tiny with rare pushes), eps
/// regime, sparse spikes, decaying.
rc::Gen<std::vector<std::vector<double>>> grad_stream(const FloatFormat& dtype, double eps, int steps, int elements);
rc::Gen<std::vector<double>> theta0(const FloatFormat& dtype, int elements);
/// Mostly steps 1-10, sometimes 11-40, sometimes a long run of 100-300.
rc::Gen<int> step_count();
/// A per-step learning rate around `lr`: warmup, decay, or jumps (decimal text).
rc::Gen<std::vector<std::string>> lr_schedule(const std::string& lr, int steps);

rc::Gen<Scenario> scenario(const ScenarioShape& shape);

}  // namespace gen

/// The largest |g| generated for a format: g^2 and the moments stay finite
/// (1e18 for float32, 1e150 for float64).
double largest_gradient(const FloatFormat& dtype);

/// The largest s wd of a decay factor 1 - s wd the convention forms with
/// these hyperparameters, s = lr_t (up to 2 lr, as gen::lr_schedule draws),
/// the schedule multiplier (up to 2) or 1; 0 without decoupled decay.
double decay_product(const Convention& c, const Hyperparameters& h);

/// Why `check` cannot judge an optimizer with these hyperparameters in this
/// format ("" when it can): eps = eps_root = 0 (0/0, no exact value), a
/// hyperparameter that overflows the format, a decay factor that makes every
/// run diverge.
/// Only values the generators never vary count: `pinned` ones and those the preset does not expose.
std::string why_not_judged(const OptimizerSpec& spec, const std::map<std::string, std::string>& pinned,
                           const FloatFormat& dtype);

/// Decimal text times 2^k, exactly ("0.001", 3 -> "0.008"; "0.001", -1 -> "0.0005").
std::string scale_decimal(const std::string& decimal, int k);

}  // namespace adamconf
