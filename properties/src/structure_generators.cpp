#include "adamconf/structure_generators.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "adamconf/float_format.hpp"

namespace adamconf {
namespace gen {

namespace {

/// gen::float_in drawn by `rng`: a value of `dtype` with |x| in [2^min_exp, 2^(max_exp+1)), either sign.
double seeded_float(std::mt19937_64& rng, const FloatFormat& dtype, int min_exp, int max_exp) {
  const std::uint64_t fraction = rng() & ((std::uint64_t{1} << (dtype.precision - 1)) - 1);
  const int exponent = min_exp + static_cast<int>(rng() % static_cast<std::uint64_t>(max_exp - min_exp + 1));
  return float_from(dtype, (rng() & 1) != 0, fraction, exponent);
}
double seeded_float(std::mt19937_64& rng, const FloatFormat& dtype, ExponentRange r) {
  return seeded_float(rng, dtype, r.min, r.max);
}

/// The entry of a weighted table that a draw of `rng` picks, as RapidCheck's
/// weightedElement picks one: a number below the weights' sum, then the entry
/// whose cumulative weight passes it.
template <class Entry, std::size_t N>
const Entry& weighted_pick(std::mt19937_64& rng, const Entry (&table)[N]) {
  std::uint64_t total = 0;
  for (const Entry& e : table) total += static_cast<std::uint64_t>(e.weight);
  std::uint64_t k = rng() % total;
  for (const Entry& e : table) {
    if (k < static_cast<std::uint64_t>(e.weight)) return e;
    k -= static_cast<std::uint64_t>(e.weight);
  }
  return table[N - 1];
}

/// gen::grad's regime mix (kGradientRegimes), drawn by `rng`.
double seeded_gradient(std::mt19937_64& rng, const FloatFormat& dtype, double eps) {
  const GradientRegime regime = weighted_pick(rng, kGradientRegimes).regime;
  if (regime == GradientRegime::zero) return 0.0;
  if (regime == GradientRegime::power_of_two) return kPowerOfTwoGradients[rng() % std::size(kPowerOfTwoGradients)];
  return seeded_float(rng, dtype, regime_exponents(regime, dtype, eps));
}

/// The decimal text of 1 - 2^-k, exactly: (10^k - 5^k) / 10^k.
std::string one_minus_power_of_two(int k) {
  unsigned __int128 ten = 1, five = 1;
  for (int i = 0; i < k; ++i) {
    ten *= 10;
    five *= 5;
  }
  unsigned __int128 n = ten - five;
  std::string digits;
  while (n > 0) {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(n % 10)));
    n /= 10;
  }
  while (static_cast<int>(digits.size()) < k) digits.insert(digits.begin(), '0');
  return "0." + digits;
}

/// Hyperparameters for parameter group g > 0: a fresh draw, kept where it differs from group 0.
ParameterGroup group_overrides(const Preset& preset, const ScenarioShape& shape, const Hyperparameters& base) {
  const Hyperparameters h = *hyperparameters(preset, shape);
  ParameterGroup group;
  for (const char* name : {"lr", "weight_decay", "eps", "beta1", "beta2"})
    if (preset.exposes(name) && !shape.pinned.count(name) && h.get(name) != base.get(name) &&
        *rc::gen::weightedElement<int>({{1, 0}, {1, 1}}))
      group.hyperparameters[name] = h.get(name);
  // Overrides mixed from two draws may decay faster than either: then take h's lr and wd together.
  Hyperparameters mixed = base;
  for (const auto& [name, value] : group.hyperparameters) mixed.get(name) = value;
  if (decay_product(preset.convention, mixed) > 1)
    for (const char* name : {"lr", "weight_decay"})
      if (preset.exposes(name) && !shape.pinned.count(name)) group.hyperparameters[name] = h.get(name);
  return group;
}

Scenario base_scenario(const ScenarioShape& shape) {
  const Preset& preset = preset_by_name(shape.preset);
  Scenario s;
  s.dtype = shape.dtype;
  s.spec = OptimizerSpec{.preset = preset.name, .options = shape.options, .hyper = *hyperparameters(preset, shape), .convention = preset.resolve(shape.options)};
  return s;
}

}  // namespace

std::vector<std::vector<double>> seeded_gradients(std::uint64_t seed, const FloatFormat& dtype, double eps,
                                                  std::size_t steps, std::size_t n) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<double>> out(steps, std::vector<double>(n));
  // Each element follows one kind: random every step, constant, or sign flips.
  for (std::size_t i = 0; i < n; ++i) {
    const int kind = static_cast<int>(rng() % 4);
    const double constant = seeded_gradient(rng, dtype, eps);
    for (std::size_t t = 0; t < steps; ++t)
      out[t][i] = kind <= 1 ? seeded_gradient(rng, dtype, eps) : kind == 2 ? constant : (t % 2 ? -constant : constant);
  }
  return out;
}

std::vector<double> seeded_theta0(std::uint64_t seed, const FloatFormat& dtype, std::size_t n) {
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ull);
  std::vector<double> out(n);
  for (double& x : out) {
    const WeightedTheta& regime = weighted_pick(rng, kTheta0Regimes);  // theta0's mix (kTheta0Regimes)
    x = regime.zero ? 0.0 : seeded_float(rng, dtype, regime.exponents);
  }
  return out;
}

rc::Gen<std::size_t> small_tensor_size() {
  return rc::gen::weightedOneOf<std::size_t>({
      {2, rc::gen::just<std::size_t>(0)},
      {2, rc::gen::just<std::size_t>(1)},
      {6, uniform<std::size_t>(2, 18)},   // 4-, 8- and 16-wide loops leave every remainder
      {2, uniform<std::size_t>(18, 65)},
  });
}

rc::Gen<std::size_t> chunk_boundary_size() {
  return rc::gen::element<std::size_t>(65535, 65536, 65537, (1u << 17) + 3);
}

rc::Gen<Scenario> structured_scenario(const ScenarioShape& shape, StructureClass kind) {
  return rc::gen::exec([shape, kind] {
    Scenario s = base_scenario(shape);
    const Preset& preset = preset_by_name(shape.preset);
    std::vector<std::size_t> sizes;
    std::size_t steps = 1;
    if (kind == StructureClass::mixed) {
      const bool many = *uniform(0, 4) == 0;
      const int n = many ? *uniform(100, 131) : *uniform(1, 9);
      for (int k = 0; k < n; ++k) sizes.push_back(*small_tensor_size());
      steps = static_cast<std::size_t>(*uniform(1, many ? 5 : 13));
    } else if (kind == StructureClass::quantized || kind == StructureClass::quantized_trajectory) {
      // bitsandbytes' min_8bit_size 4096 and blocks of 256: below, at and above the size, a partial
      // last block, whole blocks above the size (torchao quantizes only those), and one case in four
      // a tensor of 1025 blocks (the last of one element).
      std::vector<std::size_t> all{4095, 4096, 4097, 4096 + *uniform<std::size_t>(2, 256), 4352};  // 4352: 17 whole blocks
      if (kind == StructureClass::quantized && *uniform(0, 4) == 0) all.push_back((1u << 18) + 1);
      if (shape.one_tensor) sizes.push_back(all[*uniform<std::size_t>(0, all.size())]);
      else sizes = all;
      steps = static_cast<std::size_t>(*uniform(2, 5));
    } else if (shape.one_tensor) {
      // Protocol /1: one tensor past the first chunk; one case in three holds >= 2^20 elements.
      const bool huge = *uniform(0, 3) == 0;
      sizes.push_back(huge ? (1u << 20) + *uniform<std::size_t>(0, 17) : *rc::gen::element<std::size_t>(65537, (1u << 17) + 3));
      steps = static_cast<std::size_t>(*uniform(2, 4));
    } else {
      // Chunk boundaries among small tensors; one case in three holds >= 2^20 elements.
      const bool huge = *uniform(0, 3) == 0;
      const int n = *uniform(1, 4);
      for (int k = 0; k < n; ++k) {
        sizes.push_back(*small_tensor_size());
        sizes.push_back(*chunk_boundary_size());
      }
      // Always one tensor past the first chunk, so that every case reaches element 65536.
      sizes.push_back(*rc::gen::element<std::size_t>(65537, (1u << 17) + 3));
      if (huge) {
        std::size_t total = 0;
        for (auto x : sizes) total += x;
        if (total < (1u << 20)) sizes.push_back((1u << 20) - total + *uniform<std::size_t>(0, 17));
      }
      steps = static_cast<std::size_t>(*uniform(2, 4));
    }
    std::size_t total = 0;
    for (auto x : sizes) total += x;
    const int groups =
        kind == StructureClass::mixed && !shape.one_tensor ? *rc::gen::weightedElement<int>({{2, 1}, {2, 2}, {1, 3}}) : 1;
    for (std::size_t k = 0; k < sizes.size(); ++k)
      s.run.tensors.push_back({sizes[k], groups == 1 ? 0u : static_cast<std::size_t>(*uniform(0, groups))});
    if (groups > 1) {
      s.run.groups.resize(static_cast<std::size_t>(groups));
      for (int g = 1; g < groups; ++g) s.run.groups[g] = group_overrides(preset, shape, s.spec.hyper);
    }
    const auto seed = *rc::gen::arbitrary<std::uint64_t>();
    s.run.theta0 = seeded_theta0(seed, shape.dtype, total);
    s.run.grads = seeded_gradients(seed, shape.dtype, parse_decimal<double>(s.spec.hyper.eps), steps, total);
    if (kind == StructureClass::mixed && !shape.one_tensor && *uniform(0, 3) > 0) {
      // No-grad steps: a tensor skipped now and then, and one never given a gradient.
      s.run.grad_given.assign(steps, std::vector<bool>(sizes.size(), true));
      std::mt19937_64 rng(seed + 1);
      const std::size_t never = rng() % sizes.size();
      for (std::size_t t = 0; t < steps; ++t)
        for (std::size_t k = 0; k < sizes.size(); ++k) s.run.grad_given[t][k] = k != never && rng() % 4 != 0;
      if (*uniform(0, 2) == 0) s.run.grad_given[0][never] = true;  // sometimes it has one, at the first step only
    }
    if (groups == 1 && shape.lr_schedule) s.run.lrs = *lr_schedule(s.spec.hyper.lr, static_cast<int>(steps));
    if (shape.one_tensor && kind != StructureClass::mixed) s.run.tensors.clear();  // a case of one tensor
    return s;
  });
}

rc::Gen<std::int64_t> large_step_count() {
  return rc::gen::oneOf(rc::gen::map(uniform<std::int64_t>(253, 259), [](std::int64_t t) { return t; }),
                        uniform<std::int64_t>(2045, 2051),
                        uniform<std::int64_t>((std::int64_t{1} << 24) - 2, (std::int64_t{1} << 24) + 2),
                        rc::gen::element<std::int64_t>(1000000, 999999, 1048575));
}

rc::Gen<Scenario> large_step_scenario(const ScenarioShape& shape) {
  return rc::gen::exec([shape] {
    Scenario s = base_scenario(shape);
    const Preset& preset = preset_by_name(shape.preset);
    const std::int64_t t0 = *large_step_count();
    const int k = static_cast<int>(std::lround(std::log2(static_cast<double>(t0))));
    for (const char* name : {"beta1", "beta2"})
      if (preset.exposes(name) && !shape.pinned.count(name))
        // 1 - 2^-k is exact in a format of p bits for k <= p (float32: 1 - 2^-25 rounds to 1, and bc = 0)
        s.spec.hyper.get(name) = one_minus_power_of_two(std::clamp(k + *uniform(-2, 2), 1, shape.dtype.precision));
    const std::size_t n = static_cast<std::size_t>(*uniform(1, 9));
    const std::size_t steps = static_cast<std::size_t>(*uniform(1, 7));
    const auto seed = *rc::gen::arbitrary<std::uint64_t>();
    std::mt19937_64 rng(seed);
    const double b1 = parse_decimal<double>(s.spec.hyper.beta1), b2 = parse_decimal<double>(s.spec.hyper.beta2);
    const double bc1 = 1 - std::pow(b1, static_cast<double>(t0)), bc2 = 1 - std::pow(b2, static_cast<double>(t0));
    auto in_format = [&](double x) { return round_to_format(x, shape.dtype); };
    // Each state tensor in its own format where it has one (bfloat16 m beside float32 theta: Optax's mu_dtype)
    const PrecisionRules rules(shape.dtype, shape.options.precision, shape.options.state_formats);
    auto in = [&](Quantity q, double x) { return round_stored(x, rules.format_of(q)); };
    ImplementationState state;
    state.step = t0;
    s.run.theta0.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      // A history of gradients near g: m ~ (1 - b1^t) g, v ~ (1 - b2^t) g^2.
      const double g = seeded_float(rng, shape.dtype, -8, 2);
      const double jitter = 1 + 0.25 * static_cast<double>(rng() % 5) / 4;
      state.m.push_back(in(Quantity::m, bc1 * g * jitter));
      state.v.push_back(in(Quantity::v, bc2 * g * g));
      // theta 0 (the update is all there is to see), of the order of lr, or typical.
      const int kind = static_cast<int>(rng() % 3);
      s.run.theta0[i] = kind == 0 ? 0.0 : kind == 1 ? in_format(parse_decimal<double>(s.spec.hyper.lr) * g)
                                                    : seeded_float(rng, shape.dtype, -4, 2);
    }
    const auto amsgrad = s.spec.convention.adam().amsgrad;
    if (amsgrad == AmsgradVariant::max_of_raw_v)
      for (double v : state.v) state.vmax.push_back(in(Quantity::vmax, v));
    if (amsgrad == AmsgradVariant::max_of_v_hat)
      for (double v : state.v) state.vmax.push_back(in(Quantity::vmax, v / bc2));
    s.run.initial_state = state;
    s.run.grads = seeded_gradients(seed, shape.dtype, parse_decimal<double>(s.spec.hyper.eps), steps, n);
    return s;
  });
}

rc::Gen<std::int64_t> boundary_step_count(StepCounter counter) {
  if (counter == StepCounter::int32) return rc::gen::element<std::int64_t>(1, kInt32CountLimit - 1);
  return rc::gen::element<std::int64_t>(1, (std::int64_t{1} << 31) - 1, std::int64_t{1} << 31,
                                        (std::int64_t{1} << 32) + 1, (std::int64_t{1} << 53) - 1);
}

rc::Gen<Scenario> boundary_state_scenario(const ScenarioShape& shape) {
  return rc::gen::exec([shape] {
    Scenario s = base_scenario(shape);
    const std::size_t n = static_cast<std::size_t>(*uniform(1, 9));
    const std::size_t steps = static_cast<std::size_t>(*uniform(1, 4));
    std::int64_t t0 = *boundary_step_count(shape.options.step_counter);
    // An int32 counter's last step reaches 2^31 - 1 and no further: past it Optax
    // saturates, Keras wraps and TF.js counts on in a double.
    if (shape.options.step_counter == StepCounter::int32 && t0 > 1) t0 = kInt32CountLimit - static_cast<std::int64_t>(steps);
    const auto seed = *rc::gen::arbitrary<std::uint64_t>();
    std::mt19937_64 rng(seed);
    const PrecisionRules rules(shape.dtype, shape.options.precision, shape.options.state_formats);
    const FloatFormat &fm = rules.format_of(Quantity::m), &fv = rules.format_of(Quantity::v);
    // The next step's bias corrections, in double (they only size the top of the range, with a factor 8 to spare).
    const double b1 = parse_decimal<double>(s.spec.hyper.beta1), b2 = parse_decimal<double>(s.spec.hyper.beta2);
    const double t1 = static_cast<double>(t0) + 1;
    const double bc1 = 1 - std::pow(b1, t1), bc2 = 1 - std::pow(b2, t1);
    enum Kind { zero, smallest_subnormal, largest_subnormal, smallest_normal, top_of_range, ordinary };
    auto value = [&](Kind k, const FloatFormat& f, double top_value, double ordinary_value) {
      switch (k) {
        case zero: return 0.0;
        case smallest_subnormal: return f.smallest_subnormal();
        case largest_subnormal: return std::ldexp(1.0, f.min_exponent) - f.smallest_subnormal();
        case smallest_normal: return std::ldexp(1.0, f.min_exponent);
        case top_of_range: return top_value;
        case ordinary: return ordinary_value;
      }
      return 0.0;
    };
    // (m, v) pairs: m at the top only beside v at the top; an ordinary m beside an ordinary v.
    static constexpr Kind pairs[][2] = {
        {zero, zero},
        {zero, smallest_subnormal},
        {smallest_subnormal, smallest_subnormal},
        {largest_subnormal, smallest_normal},
        {smallest_normal, smallest_normal},
        {smallest_subnormal, top_of_range},
        {smallest_normal, top_of_range},
        {zero, top_of_range},
        {top_of_range, top_of_range},
        {ordinary, ordinary},
    };
    ImplementationState state;
    state.step = t0;
    s.run.theta0.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& pair = pairs[rng() % std::size(pairs)];
      // m at the top needs v to stay near the top through the next step (v' >= beta2 v): with beta2 < 1/2 a
      // small gradient leaves v' tiny, and m / (sqrt(v') + eps) overflows in the implementation's arithmetic
      // where the exact theta is finite (an intermediate overflow, which no bound covers).
      const Kind m_kind = pair[0] == top_of_range && b2 < 0.5 ? smallest_normal : pair[0];
      const double g = seeded_float(rng, shape.dtype, -8, 2);  // an ordinary history near g
      const double sign = (rng() & 1) ? -1.0 : 1.0;
      state.m.push_back(sign * value(m_kind, fm, round_to_format(fm.largest_finite() * bc1 / 8, fm), round_to_format(bc1 * g, fm)));
      state.v.push_back(value(pair[1], fv, round_to_format(fv.largest_finite() * bc2 / 8, fv), round_to_format(bc2 * g * g, fv)));
      s.run.theta0[i] = (rng() & 1) ? 0.0 : seeded_float(rng, shape.dtype, -4, 2);
    }
    const auto amsgrad = s.spec.convention.adam().amsgrad;
    const FloatFormat& fvmax = rules.format_of(Quantity::vmax);
    if (amsgrad == AmsgradVariant::max_of_raw_v)
      for (double v : state.v) state.vmax.push_back(round_to_format(v, fvmax));
    if (amsgrad == AmsgradVariant::max_of_v_hat)  // v_hat of the last step taken; bc2(t0) >= bc2(t0 + 1) / 2
      for (double v : state.v)
        state.vmax.push_back(round_to_format(v / (1 - std::pow(b2, static_cast<double>(t0))), fvmax));
    s.run.initial_state = state;
    s.run.grads = seeded_gradients(seed, shape.dtype, parse_decimal<double>(s.spec.hyper.eps), steps, n);
    return s;
  });
}

rc::Gen<Scenario> long_scenario(const ScenarioShape& shape) {
  return rc::gen::exec([shape] {
    Scenario s = base_scenario(shape);
    const Preset& preset = preset_by_name(shape.preset);
    // Betas whose bias correction still matters after thousands of steps.
    if (preset.exposes("beta2") && !shape.pinned.count("beta2"))
      s.spec.hyper.beta2 = *rc::gen::element<std::string>("0.999", "0.9999", "0.99999");
    if (preset.exposes("beta1") && !shape.pinned.count("beta1"))
      s.spec.hyper.beta1 = *rc::gen::element<std::string>("0.9", "0.99", "0.999");
    const std::size_t steps = static_cast<std::size_t>(*uniform(10000, 20001));
    const std::size_t n = static_cast<std::size_t>(*uniform(1, 4));
    const auto seed = *rc::gen::arbitrary<std::uint64_t>();
    std::mt19937_64 rng(seed);
    s.run.theta0 = seeded_theta0(seed, shape.dtype, n);
    // Typical gradients only: a long run of huge or tiny ones says nothing more.
    s.run.grads.assign(steps, std::vector<double>(n));
    for (auto& step : s.run.grads)
      for (double& g : step) g = seeded_float(rng, shape.dtype, -8, 2);
    return s;
  });
}

}  // namespace gen
}  // namespace adamconf
