#include "adamconf/generators.hpp"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <stdexcept>

#include "adamconf/judge.hpp"
#include "adamconf/float_format.hpp"

#include <variant>

namespace adamconf {

double largest_gradient(const FloatFormat& dtype) {
  if (dtype.max_exponent == 15) return 128;  // float16: g^2 stays below 65504
  return dtype.precision == 53 ? 1e150 : 1e18;  // float32 and bfloat16 share an exponent range
}

double decay_product(const Convention& c, const Hyperparameters& h) {
  const double wd = parse_decimal<double>(h.weight_decay);
  const double lr_max = 2 * parse_decimal<double>(h.lr);  // gen::lr_schedule reaches 2 lr
  double largest = 0;
  for (const auto& t : c.chain)
    if (const std::optional<DecayScale> s = decay_multiplier(t))
      largest = std::max(largest, wd * (*s == DecayScale::learning_rate ? lr_max : *s == DecayScale::schedule ? 2.0 : 1.0));
  return largest;
}

std::string why_not_judged(const OptimizerSpec& spec, const std::map<std::string, std::string>& pinned,
                           const FloatFormat& dtype) {
  const Preset& preset = preset_by_name(spec.preset);
  // A value the generators never vary: pinned, or not a knob of the preset.
  auto fixed = [&](const std::string& name) { return pinned.count(name) || !preset.exposes(name); };
  const auto h = values_of<R>(spec.hyper);
  if (fixed("eps") && h.eps == 0 && !(fixed("eps_root") && h.eps_root > 0))
    return "eps = 0 with eps_root = 0 divides 0 by 0 wherever a gradient, or a moment, is 0: the exact value is "
           "undefined there, so no error bound exists; adamconf judges eps > 0 or eps_root > 0";
  for (const auto& name : Hyperparameters::names()) {
    if (!fixed(name)) continue;  // generated values are all small
    const double x = round_to_format(parse_decimal<R>(spec.hyper.get(name)), dtype);
    if (std::isinf(x))
      return name + " = " + spec.hyper.get(name) + " overflows " + dtype.name + ", the format the optimizer computes in";
  }
  // A decay factor 1 - s wd below -1 makes every run grow geometrically until
  // it overflows: nothing is left to compare.
  const double product = decay_product(spec.convention, spec.hyper) / 2;  // at the constant lr
  if (fixed("lr") && fixed("weight_decay") && product > 2)
    return "the decay factor 1 - s wd = " + std::to_string(1 - product) + " (s = lr, the schedule multiplier or 1) " +
           "makes every trajectory diverge: adamconf judges s wd <= 2";
  return "";
}

std::string scale_decimal(const std::string& decimal, int k) {
  // decimal = digits * 10^exponent10, digits a big integer (little-endian base 10)
  std::string mantissa = decimal;
  int exponent10 = 0;
  const auto e = mantissa.find_first_of("eE");
  if (e != std::string::npos) {
    exponent10 = std::stoi(mantissa.substr(e + 1));
    mantissa = mantissa.substr(0, e);
  }
  bool negative = false;
  if (!mantissa.empty() && (mantissa[0] == '-' || mantissa[0] == '+')) {
    negative = mantissa[0] == '-';
    mantissa = mantissa.substr(1);
  }
  std::vector<int> digits;
  for (auto it = mantissa.rbegin(); it != mantissa.rend(); ++it) {
    if (*it == '.') {
      exponent10 -= static_cast<int>(it - mantissa.rbegin());
      continue;
    }
    if (*it < '0' || *it > '9') throw std::invalid_argument("not a decimal: " + decimal);
    digits.push_back(*it - '0');
  }
  auto multiply = [&](int factor) {
    int carry = 0;
    for (int& d : digits) {
      const int x = d * factor + carry;
      d = x % 10;
      carry = x / 10;
    }
    while (carry) {
      digits.push_back(carry % 10);
      carry /= 10;
    }
  };
  for (int i = 0; i < std::abs(k); ++i) {
    if (k > 0) {
      multiply(2);
    } else {
      multiply(5);  // x/2 = 5x/10
      exponent10 -= 1;
    }
  }
  while (digits.size() > 1 && digits.back() == 0) digits.pop_back();
  std::string out = negative ? "-" : "";
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) out += static_cast<char>('0' + *it);
  return out + "e" + std::to_string(exponent10);
}

namespace {
/// A vector of values as hex floats, the first `shown` of them and how many more.
void show_values(const std::vector<double>& xs, std::ostream& os, std::size_t shown = 32) {
  os << "[";
  for (std::size_t i = 0; i < std::min(shown, xs.size()); ++i) os << (i ? ", " : "") << show_value(xs[i]);
  if (xs.size() > shown) os << ", ... " << xs.size() - shown << " more";
  os << "]";
}
}  // namespace

void showValue(const Hyperparameters& h, std::ostream& os) {
  for (const auto& name : Hyperparameters::names()) os << name << "=" << h.get(name) << " ";
}

void showValue(const Scenario& s, std::ostream& os) {
  os << s.spec.preset << " " << s.dtype.name;
  if (s.spec.options.amsgrad) os << " amsgrad";
  if (s.spec.options.maximize) os << " maximize";
  if (!s.spec.options.bias_correction) os << " no-bias-correction";
  os << "\n  ";
  showValue(s.spec.hyper, os);
  if (!s.run.tensors.empty()) {
    os << "\n  tensors (size/group) = [";
    for (std::size_t k = 0; k < s.run.tensors.size(); ++k)
      os << (k ? ", " : "") << s.run.tensors[k].size << "/" << s.run.tensors[k].group;
    os << "]";
  }
  for (std::size_t g = 0; g < s.run.groups.size(); ++g) {
    os << "\n  group " << g << ":";
    for (const auto& [name, value] : s.run.groups[g].hyperparameters) os << " " << name << "=" << value;
  }
  if (s.run.initial_state) os << "\n  from a state at step " << s.run.initial_state->step;
  os << "\n  theta0 = ";
  show_values(s.run.theta0, os);
  os << "\n  gradients (" << s.run.grads.size() << " steps x " << s.run.theta0.size() << " elements):";
  const std::size_t shown = std::min<std::size_t>(s.run.grads.size(), 40);
  for (std::size_t t = 0; t < shown; ++t) {
    os << "\n    step " << t + 1 << ": ";
    show_values(s.run.grads[t], os);
    if (!s.run.lrs.empty()) os << " lr=" << s.run.lrs[t];
    if (!s.run.grad_given.empty()) {
      os << " no gradient for tensors [";
      bool first = true;
      for (std::size_t k = 0; k < s.run.grad_given[t].size(); ++k)
        if (!s.run.grad_given[t][k]) {
          os << (first ? "" : ", ") << k;
          first = false;
        }
      os << "]";
    }
  }
  if (shown < s.run.grads.size()) os << "\n    ... " << s.run.grads.size() - shown << " more steps";
}

const std::vector<ValueGroup>& hyperparameter_values(const std::string& name) {
  static const std::map<std::string, std::vector<ValueGroup>> tables{
      {"lr", {{1, {"0.001", "0.01", "0.1", "0.5", "1", "0.0003", "0.0001", "0.05", "2.5"}}}},
      {"beta1", {{6, {"0.9", "0.95", "0.8", "0.85"}},
                 {2, {"0", "0.1", "0.01", "0.5"}},          // near 0
                 {2, {"0.99", "0.999", "0.9999"}}}},        // near 1
      {"beta2", {{6, {"0.999", "0.99", "0.98", "0.95"}},
                 {2, {"0.9999", "0.99999"}},                // near 1
                 {2, {"0", "0.1", "0.5", "0.8"}}}},         // near 0
      {"eps", {{1, {"1e-8", "1e-7", "1e-6", "0.001", "1e-12", "1e-16", "0.1"}}}},
      {"eps_root", {{1, {"0", "1e-8", "1e-16", "0.0001"}}}},
      {"weight_decay", {{1, {"0", "0.01", "0.1", "0.5", "0.0001", "0.05", "1"}}}},
  };
  return tables.at(name);
}

std::vector<std::string> all_values(const std::string& name) {
  std::vector<std::string> out;
  for (const ValueGroup& g : hyperparameter_values(name)) out.insert(out.end(), g.values.begin(), g.values.end());
  return out;
}

ExponentRange regime_exponents(GradientRegime r, const FloatFormat& dtype, double eps) {
  switch (r) {
    case GradientRegime::near_eps: return near_eps_exponents(dtype, eps);
    case GradientRegime::tiny: return tiny_exponents(dtype);
    case GradientRegime::huge: return huge_exponents(dtype);
    default: return typical_exponents();
  }
}

ExponentRange typical_exponents() { return {-10, 4}; }
ExponentRange tiny_exponents(const FloatFormat& dtype) {
  if (dtype.max_exponent == 15) return {-26, -15};  // float16: subnormals from 2^-24
  return dtype.precision == 53 ? ExponentRange{-1060, -300} : ExponentRange{-140, -40};
}
ExponentRange huge_exponents(const FloatFormat& dtype) {
  if (dtype.max_exponent == 15) return {4, 6};  // float16: below largest_gradient's 2^7
  return dtype.precision == 53 ? ExponentRange{200, 497} : ExponentRange{40, 58};
}
ExponentRange near_eps_exponents(const FloatFormat& dtype, double eps) {
  if (!(eps > 0)) return typical_exponents();
  const int e = static_cast<int>(std::floor(std::log2(eps)));
  // An eps below the format's tiny range (1e-16 in float16) leaves its low end there: never an empty range.
  const int low = std::max(e - 3, tiny_exponents(dtype).min);
  return {low, std::max(e + 3, low)};
}

double float_from(const FloatFormat& dtype, bool negative, std::uint64_t fraction, int exponent) {
  const int p = dtype.precision;
  exponent = std::min(exponent, dtype.max_exponent);  // finite in every format (float16's 65504)
  const double significand = static_cast<double>((std::uint64_t{1} << (p - 1)) | fraction);
  double x = std::ldexp(significand, exponent - (p - 1));
  if (p == 24) x = static_cast<float>(x);  // rounds a float32 subnormal
  else if (p < 24) x = round_to_format(x, dtype);  // and a bfloat16 or float16 one
  return negative ? -x : x;
}

namespace gen {

namespace {
/// RapidCheck's weightedOneOf over a table built at run time (the same draws:
/// weightedOneOf is join(weightedElement)).
template <class T>
rc::Gen<T> weighted_one_of(std::vector<std::size_t> weights, std::vector<rc::Gen<T>> gens) {
  return rc::gen::join(rc::Gen<rc::Gen<T>>(rc::gen::detail::WeightedElementGen<rc::Gen<T>>(std::move(weights), std::move(gens))));
}

/// A hyperparameter's generator from its table: one group is a plain choice among its values.
rc::Gen<std::string> from_table(const std::vector<ValueGroup>& table) {
  if (table.size() == 1) return rc::gen::elementOf(table.front().values);
  std::vector<std::size_t> weights;
  std::vector<rc::Gen<std::string>> gens;
  for (const ValueGroup& g : table) {
    weights.push_back(static_cast<std::size_t>(g.weight));
    gens.push_back(rc::gen::elementOf(g.values));
  }
  return weighted_one_of(std::move(weights), std::move(gens));
}
}  // namespace

rc::Gen<std::string> lr() { return from_table(hyperparameter_values("lr")); }
rc::Gen<std::string> beta1() { return from_table(hyperparameter_values("beta1")); }
rc::Gen<std::string> beta2() { return from_table(hyperparameter_values("beta2")); }
rc::Gen<std::string> eps() { return from_table(hyperparameter_values("eps")); }
rc::Gen<std::string> eps_root() { return from_table(hyperparameter_values("eps_root")); }
rc::Gen<std::string> weight_decay() { return from_table(hyperparameter_values("weight_decay")); }

rc::Gen<Hyperparameters> hyperparameters(const Preset& preset, const std::map<std::string, std::string>& pinned) {
  return rc::gen::exec([preset, pinned] {
    Hyperparameters h = preset.defaults;
    const std::map<std::string, rc::Gen<std::string>> generators{
        {"lr", lr()}, {"beta1", beta1()}, {"beta2", beta2()}, {"eps", eps()},
        {"eps_root", eps_root()}, {"weight_decay", weight_decay()}};
    for (const auto& name : preset.hyperparameters)
      if (!pinned.count(name)) h.get(name) = *generators.at(name);
    for (const auto& [name, value] : pinned) h.get(name) = value;
    // No cases spent on runs that diverge: a decay factor 1 - s wd below 0
    // (lr 2.5 with wd 1 gives -1.5) grows theta geometrically until it
    // overflows. With the schedule's lr up to 2 lr, keep s wd <= 1 by
    // drawing weight_decay (or, if that is pinned, lr) again from the values that do.
    if (decay_product(preset.convention, h) > 1) {
      const bool wd_free = preset.exposes("weight_decay") && !pinned.count("weight_decay");
      const bool lr_free = preset.exposes("lr") && !pinned.count("lr");
      const std::string free = wd_free ? "weight_decay" : lr_free ? "lr" : "";
      if (!free.empty()) {
        std::vector<std::string> allowed;
        for (const auto& value : all_values(free)) {
          Hyperparameters candidate = h;
          candidate.get(free) = value;
          if (decay_product(preset.convention, candidate) <= 1) allowed.push_back(value);
        }
        if (!allowed.empty()) h.get(free) = *rc::gen::elementOf(allowed);
      }
    }
    return h;
  });
}

rc::Gen<Hyperparameters> hyperparameters(const Preset& preset, const ScenarioShape& shape) {
  return rc::gen::exec([preset, shape] {
    Hyperparameters h = *hyperparameters(preset, shape.pinned);
    const bool storage_ops = PrecisionRules(shape.dtype, shape.options.precision).rounds_every_operation();
    if (storage_ops && preset.exposes("eps") && !shape.pinned.count("eps") &&
        round_to_format(parse_decimal<double>(h.eps), shape.dtype) == 0) {
      std::vector<std::string> held;
      for (const std::string& e : all_values("eps"))
        if (round_to_format(parse_decimal<double>(e), shape.dtype) != 0) held.push_back(e);
      h.eps = *rc::gen::elementOf(held);
    }
    return h;
  });
}

rc::Gen<double> float_in(const FloatFormat& dtype, int min_exp, int max_exp) {
  const int p = dtype.precision;
  return rc::gen::apply([dtype](bool negative, std::uint64_t fraction,
                                int exponent) { return float_from(dtype, negative, fraction, exponent); },
                        rc::gen::arbitrary<bool>(), uniform<std::uint64_t>(0, std::uint64_t{1} << (p - 1)),
                        uniform(min_exp, max_exp + 1));
}

namespace {
rc::Gen<double> float_in(const FloatFormat& dtype, ExponentRange r) { return gen::float_in(dtype, r.min, r.max); }
rc::Gen<double> typical(const FloatFormat& dtype) { return float_in(dtype, typical_exponents()); }
}  // namespace

rc::Gen<double> grad(const FloatFormat& dtype, double eps) {
  std::vector<std::size_t> weights;
  std::vector<rc::Gen<double>> gens;
  for (const WeightedRegime& r : kGradientRegimes) {
    weights.push_back(static_cast<std::size_t>(r.weight));
    gens.push_back(r.regime == GradientRegime::zero ? rc::gen::just(0.0)
                   : r.regime == GradientRegime::power_of_two
                       ? rc::gen::elementOf(std::vector<double>(std::begin(kPowerOfTwoGradients), std::end(kPowerOfTwoGradients)))
                       : float_in(dtype, regime_exponents(r.regime, dtype, eps)));
  }
  return weighted_one_of(std::move(weights), std::move(gens));
}

rc::Gen<std::vector<std::vector<double>>> grad_stream(const FloatFormat& dtype, double eps, int steps, int elements) {
  return rc::gen::exec([dtype, eps, steps, elements] {
    std::vector<std::vector<double>> by_element;
    for (int i = 0; i < elements; ++i) {
      const int kind = *rc::gen::weightedElement<int>({{5, 0}, {2, 1}, {2, 2}, {2, 3}, {1, 4}, {1, 5}, {1, 6}});
      std::vector<double> g;
      switch (kind) {
        case 0:  // random: every step from the regime mix
          g = *rc::gen::container<std::vector<double>>(steps, grad(dtype, eps));
          break;
        case 1:  // constant
          g.assign(steps, *grad(dtype, eps));
          break;
        case 2: {  // sign flips with jittering magnitude
          const auto mags = *rc::gen::container<std::vector<double>>(steps, typical(dtype));
          for (int t = 0; t < steps; ++t) g.push_back((t % 2 ? -1 : 1) * std::abs(mags[t]));
          break;
        }
        case 3: {  // dead token: tiny gradients, a rare push
          const auto tiny = *rc::gen::container<std::vector<double>>(steps, float_in(dtype, -30, -14));
          const auto push = *rc::gen::container<std::vector<int>>(steps, rc::gen::weightedElement<int>({{7, 0}, {1, 1}}));
          const double p = *typical(dtype);
          for (int t = 0; t < steps; ++t) g.push_back(push[t] ? p : tiny[t]);
          break;
        }
        case 4:  // every step near eps
          g = *rc::gen::container<std::vector<double>>(steps, float_in(dtype, near_eps_exponents(dtype, eps)));
          break;
        case 5: {  // sparse spikes
          g = *rc::gen::container<std::vector<double>>(
              steps, rc::gen::weightedOneOf<double>({{5, rc::gen::just(0.0)}, {1, typical(dtype)}}));
          break;
        }
        default: {  // decaying by powers of two (exact until it underflows)
          double x = *typical(dtype);
          for (int t = 0; t < steps; ++t, x /= 2) g.push_back(round_to_format(x, dtype));
          break;
        }
      }
      by_element.push_back(std::move(g));
    }
    std::vector<std::vector<double>> by_step(steps, std::vector<double>(elements));
    for (int i = 0; i < elements; ++i)
      for (int t = 0; t < steps; ++t) by_step[t][i] = by_element[i][t];
    return by_step;
  });
}

rc::Gen<std::vector<double>> theta0(const FloatFormat& dtype, int elements) {
  std::vector<std::size_t> weights;
  std::vector<rc::Gen<double>> gens;
  for (const WeightedTheta& r : kTheta0Regimes) {
    weights.push_back(static_cast<std::size_t>(r.weight));
    gens.push_back(r.zero ? rc::gen::just(0.0) : float_in(dtype, r.exponents));
  }
  return rc::gen::container<std::vector<double>>(elements, weighted_one_of(std::move(weights), std::move(gens)));
}

rc::Gen<int> step_count() {
  // One uniform draw mapped to the mix (70% 1-10, 20% 11-40, 10% 100-300), so
  // that shrinking the draw towards 0 shrinks the run towards one step.
  return rc::gen::map(uniform(0, 1000), [](int k) {
    if (k < 700) return 1 + k / 70;
    if (k < 900) return 11 + (k - 700) * 30 / 200;
    return 100 + (k - 900) * 2;
  });
}

rc::Gen<std::vector<std::string>> lr_schedule(const std::string& lr, int steps) {
  return rc::gen::weightedOneOf<std::vector<std::string>>({
      {3, rc::gen::just(std::vector<std::string>{})},  // constant
      {1, rc::gen::map(rc::gen::container<std::vector<int>>(steps, rc::gen::inRange(-4, 2)),
                       [lr](const std::vector<int>& ks) {
                         std::vector<std::string> out;
                         for (int k : ks) out.push_back(scale_decimal(lr, k));
                         return out;
                       })},
  });
}

rc::Gen<Scenario> scenario(const ScenarioShape& shape) {
  return rc::gen::exec([shape] {
    const Preset& preset = preset_by_name(shape.preset);
    Scenario s;
    s.dtype = shape.dtype;
    const Hyperparameters h = *hyperparameters(preset, shape);
    s.spec = OptimizerSpec{.preset = preset.name, .options = shape.options, .hyper = h, .convention = preset.resolve(shape.options)};
    const int steps = shape.max_steps > 0 ? *uniform(shape.min_steps, shape.max_steps + 1)
                                          : std::max(shape.min_steps, *step_count());
    const int elements = *uniform(1, shape.max_elements + 1);
    s.run.theta0 = *theta0(shape.dtype, elements);
    if (shape.zero_gradients) {
      s.run.grads.assign(steps, std::vector<double>(elements, 0.0));
    } else {
      const double eps = parse_decimal<double>(h.eps);
      s.run.grads = *grad_stream(shape.dtype, eps, steps, elements);
    }
    if (shape.lr_schedule) s.run.lrs = *lr_schedule(h.lr, steps);
    return s;
  });
}

}  // namespace gen
}  // namespace adamconf
