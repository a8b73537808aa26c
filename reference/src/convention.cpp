#include "adamconf/convention.hpp"
#include "adamconf/quantized_format.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace adamconf {

std::string to_string(EpsPlacement p) {
  switch (p) {
    case EpsPlacement::after_bias_correction: return "after_bias_correction";
    case EpsPlacement::before_bias_correction: return "before_bias_correction";
  }
  return "?";
}

std::string to_string(StepCounter c) {
  return c == StepCounter::float32 ? "float32" : c == StepCounter::int32 ? "int32" : "integer";
}

StepCounter step_counter_by_name(const std::string& name, const std::string& where) {
  if (name == "integer") return StepCounter::integer;
  if (name == "float32") return StepCounter::float32;
  if (name == "int32") return StepCounter::int32;
  throw std::invalid_argument(where + " '" + name.substr(0, 40) + "': expected integer, int32 or float32");
}

std::string to_string(Precision p) {
  switch (p) {
    case Precision::storage: return "storage";
    case Precision::float32_opmath: return "float32-opmath";
    case Precision::master_weights: return "master-weights";
    case Precision::stochastic_rounding: return "stochastic-rounding";
    case Precision::kahan_summation: return "kahan-summation";
    case Precision::storage_kahan: return "storage-kahan";
    case Precision::promoted: return "promoted";
  }
  return "storage";
}

std::string to_string(Subnormals s) { return s == Subnormals::flushed ? "flushed" : "gradual"; }

Subnormals subnormals_by_name(const std::string& name, const std::string& where) {
  if (name == "gradual") return Subnormals::gradual;
  if (name == "flushed") return Subnormals::flushed;
  throw std::invalid_argument(where + " '" + name.substr(0, 40) + "': expected gradual or flushed");
}

std::string to_string(Scalars s) {
  return s == Scalars::float32 ? "float32" : s == Scalars::weak_dtype ? "weak-dtype" : "working";
}

Scalars scalars_by_name(const std::string& name, const std::string& where) {
  if (name == "working") return Scalars::working;
  if (name == "float32") return Scalars::float32;
  if (name == "weak-dtype") return Scalars::weak_dtype;
  throw std::invalid_argument(where + " '" + name.substr(0, 40) + "': expected working, float32 or weak-dtype");
}

Precision precision_by_name(const std::string& name, const std::string& where) {
  for (Precision p : {Precision::storage, Precision::float32_opmath, Precision::master_weights,
                      Precision::stochastic_rounding, Precision::kahan_summation, Precision::storage_kahan,
                      Precision::promoted})
    if (name == to_string(p)) return p;
  throw std::invalid_argument(where + " '" + name.substr(0, 40) +
                              "': expected storage, float32-opmath, master-weights, stochastic-rounding, kahan-summation, "
                              "storage-kahan or promoted");
}

const char* name(Quantity q) {
  switch (q) {
    case Quantity::theta: return "theta";
    case Quantity::m: return "m";
    case Quantity::v: return "v";
    case Quantity::vmax: return "vmax";
    case Quantity::compensation: return "compensation";
    case Quantity::theta_plus_compensation: return "theta + compensation";
  }
  return "?";
}

std::optional<Quantity> quantity_by_name(std::string_view text) {
  for (const Quantity q : {Quantity::theta, Quantity::m, Quantity::v, Quantity::vmax, Quantity::compensation,
                           Quantity::theta_plus_compensation})
    if (text == name(q)) return q;
  return std::nullopt;
}

std::string state_format_name(const std::string& name, const std::string& where) {
  if (!known_format(name) && !quantized_format_by_name(name)) {
    std::string quantized;
    for (const std::string& q : quantized_format_names()) quantized += ", " + q;
    throw std::invalid_argument(where + " '" + name.substr(0, 40) + "': expected bfloat16, float16, float32, float64" +
                                quantized);
  }
  return name;
}

std::string describe(const StateFormats& s) {
  std::string out;
  for (const Quantity q : kStoredFormats)
    if (const std::string& format = *s.of(q); !format.empty()) out += (out.empty() ? "" : ", ") + std::string(name(q)) + "=" + format;
  if (s.m_decay_in_format) out += (out.empty() ? "" : ", ") + std::string("b1 m in m's format");
  if (s.v_decay_in_format) out += (out.empty() ? "" : ", ") + std::string("b2 v in v's format");
  if (s.direction_in_format) out += (out.empty() ? "" : ", ") + std::string("direction in the moments' format");
  return out;
}

std::int64_t held_count(StepCounter c, std::int64_t count) {
  // int64 -> float rounds to nearest even (the default rounding mode), exactly as torch.tensor(float(n)) does.
  if (c == StepCounter::int32) return std::min<std::int64_t>(count, kInt32CountLimit);
  return c == StepCounter::float32 ? static_cast<std::int64_t>(static_cast<float>(count)) : count;
}

std::int64_t advance_count(StepCounter c, std::int64_t count) {
  if (c == StepCounter::integer) return count + 1;
  if (c == StepCounter::int32) return std::min<std::int64_t>(count + 1, kInt32CountLimit);  // safe_increment
  const float t = static_cast<float>(count);
  return static_cast<std::int64_t>(static_cast<float>(t + 1.0f));  // fl32(t + 1): 2^24 + 1 rounds back to 2^24
}

std::string to_string(AmsgradVariant a) {
  switch (a) {
    case AmsgradVariant::none: return "none";
    case AmsgradVariant::max_of_raw_v: return "max_of_raw_v";
    case AmsgradVariant::max_of_v_hat: return "max_of_v_hat";
  }
  return "?";
}

std::string to_string(DecayScale s) {
  switch (s) {
    case DecayScale::learning_rate: return "learning_rate";
    case DecayScale::schedule: return "schedule";
    case DecayScale::none: return "none";
  }
  return "?";
}

const TransformTraits& traits_of(const Transform& t) {
  return std::visit([](const auto& x) -> const TransformTraits& { return std::decay_t<decltype(x)>::traits; }, t);
}

std::optional<DecayScale> decay_multiplier(const Transform& t) {
  if (const auto* d = std::get_if<DecayWeights>(&t)) return d->scale;
  if (std::holds_alternative<AddDecayedWeights>(t)) return DecayScale::learning_rate;
  return std::nullopt;
}

std::string describe(const Transform& t) {
  std::string s = traits_of(t).name;
  if (const auto* d = std::get_if<DecayWeights>(&t)) return s + "(scale=" + to_string(d->scale) + ")";
  if (const auto* l = std::get_if<ScaleByLearningRate>(&t)) return l->warmup_ratio ? s + "(warmup_ratio)" : s;
  if (const auto* a = std::get_if<ScaleByAdam>(&t)) {
    s += "(eps=" + to_string(a->eps_placement);
    if (a->eps_scaled_by_sqrt_bc2) s += ", eps_scaled_by_sqrt_bc2";
    if (a->eps_floor) s += ", eps_floor";
    if (a->reciprocal_product) s += ", reciprocal_product";
    if (a->complements_wide) s += ", complements_wide";
    if (a->debiased_moments) s += ", debiased_moments";
    if (a->sqrt_within_one_ulp) s += ", sqrt_within_one_ulp";
    if (a->counter != StepCounter::integer) s += ", counter=" + to_string(a->counter);
    if (!a->bias_correction1) s += ", no_bias_correction1";
    if (!a->bias_correction2) s += ", no_bias_correction2";
    if (a->amsgrad != AmsgradVariant::none) s += ", amsgrad=" + to_string(a->amsgrad);
    return s + ")";
  }
  return s;
}

const ScaleByAdam& Convention::adam() const {
  for (const auto& t : chain)
    if (const auto* a = std::get_if<ScaleByAdam>(&t)) return *a;
  throw std::invalid_argument("convention has no scale_by_adam: " + describe());
}

ScaleByAdam& Convention::adam() {
  return const_cast<ScaleByAdam&>(static_cast<const Convention&>(*this).adam());
}

std::string Convention::describe() const {
  std::string s;
  for (const auto& t : chain) {
    if (!s.empty()) s += " -> ";
    s += adamconf::describe(t);
  }
  if (precision != Precision::storage) s += " in " + to_string(precision);
  if (state_formats.any()) s += " with " + adamconf::describe(state_formats);
  if (subnormals == Subnormals::flushed) s += " with subnormals flushed";
  if (scalars == Scalars::float32) s += " with scalars in float32";
  if (scalars == Scalars::weak_dtype) s += " with scalars in float32, 1 - beta and wd in the dtype";
  return s;
}

std::vector<std::pair<const Transform*, Phase>> Convention::with_phases() const {
  std::vector<std::pair<const Transform*, Phase>> out;
  unsigned phase = static_cast<unsigned>(Phase::gradient);
  for (const Transform& t : chain) {
    out.emplace_back(&t, static_cast<Phase>(phase));
    if (const unsigned opens = traits_of(t).opens) phase = opens;
  }
  return out;
}

bool Convention::has(DecayKind kind) const {
  return std::any_of(chain.begin(), chain.end(), [kind](const Transform& t) { return traits_of(t).decay == kind; });
}

bool Convention::uses_weight_decay() const { return has(DecayKind::l2) || has(DecayKind::decoupled); }

Convention Convention::without_decay() const {
  Convention out = *this;
  std::erase_if(out.chain, [](const Transform& t) { return traits_of(t).decay != DecayKind::none; });
  return out;
}

void Convention::validate() const {
  Phase end = Phase::gradient;  // the phase after the last transform
  for (const auto& [t, phase] : with_phases()) {
    const TransformTraits& traits = traits_of(*t);
    if (!(traits.stands_in & static_cast<unsigned>(phase)))
      throw std::invalid_argument("ill-formed convention chain: " + adamconf::describe(*t) + " out of place in " +
                                  describe());
    end = traits.opens ? static_cast<Phase>(traits.opens) : phase;
  }
  if (end != Phase::applied) throw std::invalid_argument("incomplete convention chain: " + describe());
  const ScaleByAdam& a = adam();
  if (a.debiased_moments && (a.amsgrad != AmsgradVariant::none || a.eps_placement != EpsPlacement::after_bias_correction))
    throw std::invalid_argument("debiased moments need eps after bias correction and no AMSGrad: " + describe());
  if (a.eps_floor && (a.eps_placement != EpsPlacement::after_bias_correction || a.eps_scaled_by_sqrt_bc2))
    throw std::invalid_argument("eps as a floor needs eps after bias correction, not scaled by sqrt(bc2): " + describe());
  if (a.reciprocal_product && (a.eps_placement != EpsPlacement::after_bias_correction || a.eps_scaled_by_sqrt_bc2))
    throw std::invalid_argument("the reciprocal product needs eps after bias correction, not scaled by sqrt(bc2): " +
                                describe());
}

}  // namespace adamconf
