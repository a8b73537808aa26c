// The catalogue of golden files: every preset x float32/float64 x scenario,
// with inputs from a deterministic generator (splitmix64, exact ldexp and one
// IEEE rounding to float32): the same bytes on every machine.
#include <cstdint>
#include <string>

#include "adamconf/golden.hpp"
#include "adamconf/precision_rules.hpp"
#include "adamconf/hashing.hpp"

namespace adamconf::golden {

namespace {

/// The splitmix64 sequence from `state`: a fixed, portable stream.
struct Rng {
  std::uint64_t state;
  std::uint64_t next() {
    const std::uint64_t z = splitmix64(state);
    state += 0x9e3779b97f4a7c15ULL;
    return z;
  }
  int range(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo + 1)); }
  bool coin() { return next() & 1; }
};

/// +-(1 + f) 2^e in the format, f a random fraction.
double value(Rng& rng, const FloatFormat& dtype, int e) {
  const double fraction = std::ldexp(static_cast<double>(rng.next() >> 11), -53);
  double x = std::ldexp(1.0 + fraction, e);
  if (dtype.precision == 24) x = static_cast<float>(x);
  else if (dtype.precision < 24) x = round_to_format(x, dtype);  // bfloat16, float16
  return rng.coin() ? -x : x;
}

int exponent_of(double x) {
  int e = 0;
  (void)std::frexp(x, &e);
  return e - 1;
}

struct Scenario {
  const char* name;
  const char* description;
  int elements, steps;
};

// The learning rate times k/8, exactly, as decimal text.
std::string scaled_lr(const std::string& lr, int k) {
  const R x = parse_decimal<R>(lr) * k / 8;
  std::string s = decimal(x, 20);
  // trim zeros of the mantissa: "1.25000000000000000000e-03" -> "1.25e-03"
  const auto e = s.find('e');
  std::string mantissa = s.substr(0, e), exponent = s.substr(e);
  if (mantissa.find('.') != std::string::npos) {
    while (mantissa.back() == '0') mantissa.pop_back();
    if (mantissa.back() == '.') mantissa.pop_back();
  }
  return mantissa + exponent;
}

GoldenSpec make(const Preset& preset, const FloatFormat& dtype, const Scenario& sc, const PresetOptions& options) {
  GoldenSpec g;
  g.preset = preset.name;
  g.options = options;
  g.dtype = dtype;
  g.scenario = sc.name;
  g.description = sc.description;
  g.seed = fnv1a(preset.name + "/" + dtype.name + "-" + sc.name);
  g.overrides["lr"] = "0.01";
  if (preset.exposes("weight_decay")) g.overrides["weight_decay"] = "0.01";
  // "Every operation in the storage format" with beta2 = 0.999: bfloat16 holds
  // it as 1 (1 - beta2 = 0: v may never move), and float16 computes 1 - beta2^2
  // = 0.002 only to within 50% (beta2^2 has an ulp of 2^-11): no finite bound.
  // 0.95 (bfloat16 0.94921875) keeps the bound finite.
  if (PrecisionRules(dtype, options.precision).rounds_every_operation()) g.overrides["beta2"] = "0.95";
  // float16 stores a v below 2^-25 as 0, and rounds a denominator sqrt(0) + 1e-8
  // to 0 or 2^-24: with eps = 1e-8 no bound exists; eps = 1e-4, the usual float16 advice.
  if (dtype.precision == float16_format.precision) g.overrides["eps"] = "1e-4";
  const Hyperparameters h = make_spec(preset.name, options, g.overrides).hyper;
  Rng rng{g.seed};
  const bool f32 = dtype.precision == 24;
  for (int i = 0; i < sc.elements; ++i) g.theta0.push_back(value(rng, dtype, rng.range(-3, 1)));
  const int eps_exp = exponent_of(parse_decimal<double>(h.eps));
  std::vector<int> scale(sc.elements);
  for (int& s : scale) s = rng.range(-6, 3);
  const std::string name = sc.name;
  for (int t = 0; t < sc.steps; ++t) {
    std::vector<double> g_t;
    for (int i = 0; i < sc.elements; ++i) {
      double x = 0;
      if (name == "eps-regime") {
        x = value(rng, dtype, eps_exp + rng.range(-4, 4));
      } else if (name == "tiny-huge") {
        switch ((t + i) % 4) {
          case 0: x = value(rng, dtype, f32 ? rng.range(-140, -100) : rng.range(-1070, -900)); break;
          case 1: x = value(rng, dtype, f32 ? rng.range(40, 58) : rng.range(200, 490)); break;
          case 2: x = 0; break;
          default: x = value(rng, dtype, rng.range(-4, 2));
        }
      } else if (name == "amsgrad") {
        x = value(rng, dtype, scale[i] + 2 - t / 2);  // magnitudes falling: the maximum matters
      } else if (name == "long") {
        x = value(rng, dtype, scale[i] + rng.range(-3, 3) - (t % 200) / 50);
      } else {
        x = value(rng, dtype, scale[i] + rng.range(-2, 2));
      }
      g_t.push_back(x);
    }
    g.grads.push_back(std::move(g_t));
  }
  if (name == "lr-schedule") {
    // warmup over 4 steps, then halving every 4 steps: lr * k/8
    const int ks[] = {2, 4, 6, 8, 8, 8, 4, 4, 4, 2, 2, 2};
    for (int t = 0; t < sc.steps; ++t) g.lrs.push_back(scaled_lr(h.lr, ks[t % 12]));
  }
  g.all_fields = name != "long";
  return g;
}

/// The codes a before-state may hold: every code both builds of the map read
/// the same (so that an implementation's map gives the file's inputs), NaN
/// codes left out, and for v (never negative) only codes of values >= 0.
std::vector<int> usable_codes(const QuantizedFormat& f, bool nonnegative) {
  const std::vector<float> fused = f.map(LinspaceRounding::fused), separate = f.map(LinspaceRounding::separate);
  std::vector<int> out;
  for (std::size_t c = 0; c < fused.size(); ++c)
    if (fused[c] == separate[c] && fused[c] == fused[c] && (!nonnegative || fused[c] >= 0)) out.push_back(static_cast<int>(c));
  return out;
}

/// A quantized-steps file (FORMAT.md, "Quantized states") for a preset whose
/// m and v are quantized: one tensor the formats quantize, with a partial last
/// block where the format quantizes one, and three steps from given states.
GoldenSpec quantized_steps(const Preset& preset) {
  GoldenSpec g;
  g.preset = preset.name;
  g.dtype = float32_format;
  g.scenario = "quantized-steps";
  g.description = "one step from each of three given quantized states: the first step (every code and scale 0), "
                  "the second and the 1000th from random codes and scales";
  g.seed = fnv1a(preset.name + "/float32-quantized-steps");
  g.overrides["lr"] = "0.01";
  if (preset.exposes("weight_decay")) g.overrides["weight_decay"] = "0.01";
  const PrecisionRules rules(float32_format, make_spec(preset.name, {}, g.overrides).convention);
  const QuantizedFormat &fm = *rules.quantized(Quantity::m), &fv = *rules.quantized(Quantity::v);
  // bitsandbytes quantizes a partial last block (here of 129 elements); torchao only whole blocks.
  const std::size_t n = fm.min_size + (fm.whole_blocks_only ? fm.block : fm.block / 2 + 1);
  Rng rng{g.seed};
  std::vector<double> theta;
  for (std::size_t i = 0; i < n; ++i) theta.push_back(value(rng, float32_format, rng.range(-3, 1)));
  std::vector<int> scale(n);
  for (int& s : scale) s = rng.range(-6, 3);
  const auto gradient = [&] {
    std::vector<double> grad;
    for (std::size_t i = 0; i < n; ++i) grad.push_back(value(rng, float32_format, scale[i] + rng.range(-2, 2)));
    return grad;
  };
  const auto random_state = [&](const QuantizedFormat& f, bool nonnegative, int lo, int hi) {
    const std::vector<int> codes = usable_codes(f, nonnegative);
    QuantizedTensor q;
    for (std::size_t i = 0; i < n; ++i) q.codes.push_back(codes[static_cast<std::size_t>(rng.range(0, static_cast<int>(codes.size()) - 1))]);
    for (std::size_t b = 0; b < (n + f.block - 1) / f.block; ++b) q.scales.push_back(std::abs(value(rng, float32_format, rng.range(lo, hi))));
    return q;
  };
  const QuantizedTensor zero_m{.codes = std::vector<int>(n, 0), .scales = std::vector<double>((n + fm.block - 1) / fm.block, 0.0)};
  const QuantizedTensor zero_v{.codes = std::vector<int>(n, 0), .scales = std::vector<double>((n + fv.block - 1) / fv.block, 0.0)};
  g.quantized_steps.push_back({.t = 1, .theta = theta, .grad = gradient(), .m = zero_m, .v = zero_v});
  for (const int t : {2, 1000}) {
    std::vector<double> before;
    for (std::size_t i = 0; i < n; ++i) before.push_back(value(rng, float32_format, rng.range(-3, 1)));
    const std::vector<double> grad = gradient();
    const QuantizedTensor m = random_state(fm, false, -1, 4), v = random_state(fv, true, 2, 10);
    g.quantized_steps.push_back({.t = t, .theta = before, .grad = grad, .m = m, .v = v});
  }
  return g;
}

}  // namespace

std::string GoldenSpec::name() const { return preset + "/" + dtype.name + "-" + scenario; }
std::string GoldenSpec::relative_path() const { return name() + ".json"; }

std::vector<GoldenSpec> catalogue() {
  const Scenario random{"random", "gradients of mixed scales and signs", 3, 12};
  const Scenario eps{"eps-regime", "|g| within 2^-4..2^5 of eps, where eps placement matters", 3, 12};
  const Scenario extremes{"tiny-huge", "tiny (subnormal or underflowing g^2), huge, zero and ordinary gradients", 3, 12};
  const Scenario schedule{"lr-schedule", "a learning rate changing every step: warmup over 4 steps, then halving every 3", 3, 12};
  const Scenario amsgrad{"amsgrad", "AMSGrad with falling gradient magnitudes, so the maximum matters", 3, 12};
  const Scenario maximize{"maximize", "maximize", 3, 12};
  const Scenario no_bc{"no-bias-correction", "bias correction off", 3, 12};
  const Scenario long_run{"long", "1000 steps of one element; theta, m, v at steps 1-10, every 50th and the last", 1, 1000};
  const Scenario opmath_random{"opmath-random", "gradients of mixed scales and signs, float32 opmath (fused kernels)", 3, 12};
  const Scenario float32_states_random{"float32-states-random",
                                       "gradients of mixed scales and signs, float32 opmath, m and v kept in float32", 3, 12};
  const Scenario master_random{"master-random",
                               "gradients of mixed scales and signs, float32 master weights (theta and the state in float32)", 3, 12};
  std::vector<GoldenSpec> out;
  // The storage formats, under both precision conventions, for PyTorch's two presets.
  for (const char* name : {"pytorch-adam", "pytorch-adamw"}) {
    const Preset& p = preset_by_name(name);
    for (const FloatFormat& dtype : {bfloat16_format, float16_format}) {
      out.push_back(make(p, dtype, random, {}));
      PresetOptions opmath;
      opmath.precision = Precision::float32_opmath;
      out.push_back(make(p, dtype, opmath_random, opmath));
    }
    // bfloat16 parameters with float32 states, and a float32 master with a bfloat16 model copy.
    PresetOptions float32_states;
    float32_states.precision = Precision::float32_opmath;
    float32_states.state_formats = {.m = "float32", .v = "float32", .vmax = "float32"};
    out.push_back(make(p, bfloat16_format, float32_states_random, float32_states));
    PresetOptions master;
    master.precision = Precision::master_weights;
    out.push_back(make(p, bfloat16_format, master_random, master));
  }
  for (const auto& p : presets()) {
    if (PrecisionRules(float32_format, p.resolve({})).any_quantized()) out.push_back(quantized_steps(p));
    for (const FloatFormat& dtype : {float32_format, float64_format}) {
      // A quantized state (bitsandbytes' 8-bit) is a float32 parameter's: no float64 files.
      if (dtype.precision != 24 && p.state_formats.any()) continue;
      for (const Scenario* sc : {&random, &eps, &extremes, &schedule, &long_run}) out.push_back(make(p, dtype, *sc, {}));
      if (p.amsgrad != AmsgradVariant::none) out.push_back(make(p, dtype, amsgrad, {true, false, true}));
      else if (p.convention.adam().amsgrad != AmsgradVariant::none) out.push_back(make(p, dtype, amsgrad, {}));
      if (p.offers_maximize) out.push_back(make(p, dtype, maximize, {false, true, true}));
      if (p.offers_bias_correction_switch) out.push_back(make(p, dtype, no_bc, {false, false, false}));
      if (p.name == "loshchilov-hutter-adamw") {
        // The AdamW document's example (shared/seeds/adamw-math-example.md), in this format.
        GoldenSpec d;
        d.preset = p.name;
        d.dtype = dtype;
        d.scenario = "document";
        d.description = "the 4-step example of shared/seeds/adamw-math-example.md";
        d.overrides = {{"lr", "0.1"}, {"weight_decay", "0.01"}};
        auto in = [&](double x) { return dtype.precision == 24 ? double(float(x)) : x; };
        d.theta0 = {0.5};
        for (double x : {0.2, 0.15, 0.25, 0.05}) d.grads.push_back({in(x)});
        out.push_back(d);
      }
    }
  }
  return out;
}

}  // namespace adamconf::golden
