#include "adamconf/convention.hpp"

#include <stdexcept>
#include <utility>

namespace adamconf {

namespace {
template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;
}  // namespace

std::string to_string(EpsPlacement p) {
  switch (p) {
    case EpsPlacement::after_bias_correction: return "after_bias_correction";
    case EpsPlacement::before_bias_correction: return "before_bias_correction";
  }
  return "?";
}

std::string to_string(StepCounter c) { return c == StepCounter::float32 ? "float32" : "integer"; }

StepCounter step_counter_by_name(const std::string& name, const std::string& where) {
  if (name == "integer") return StepCounter::integer;
  if (name == "float32") return StepCounter::float32;
  throw std::invalid_argument(where + " '" + name.substr(0, 40) + "': expected integer or float32");
}

std::string to_string(Precision p) {
  switch (p) {
    case Precision::storage: return "storage";
    case Precision::float32_opmath: return "float32-opmath";
    case Precision::master_weights: return "master-weights";
    case Precision::stochastic_rounding: return "stochastic-rounding";
    case Precision::kahan_summation: return "kahan-summation";
  }
  return "storage";
}

Precision precision_by_name(const std::string& name, const std::string& where) {
  for (Precision p : {Precision::storage, Precision::float32_opmath, Precision::master_weights,
                      Precision::stochastic_rounding, Precision::kahan_summation})
    if (name == to_string(p)) return p;
  throw std::invalid_argument(where + " '" + name.substr(0, 40) +
                              "': expected storage, float32-opmath, master-weights, stochastic-rounding or kahan-summation");
}

const FloatFormat& reported_format(const FloatFormat& dtype, Precision p) {
  return p == Precision::master_weights && is_storage_format(dtype) ? float32_format : dtype;
}

const FloatFormat& arithmetic_format(const FloatFormat& dtype, Precision p) {
  return computes_in_float32(p) && is_storage_format(dtype) ? float32_format : dtype;
}

std::string state_format_name(const std::string& name, const std::string& where) {
  if (!known_format(name))
    throw std::invalid_argument(where + " '" + name.substr(0, 40) + "': expected bfloat16, float16, float32 or float64");
  return name;
}

std::string describe(const StateFormats& s) {
  std::string out;
  for (const char* what : StateFormats::names)
    if (const std::string& format = *s.of(what); !format.empty()) out += (out.empty() ? "" : ", ") + std::string(what) + "=" + format;
  return out;
}

const FloatFormat& stored_format(const FloatFormat& dtype, const Convention& c, std::string_view what) {
  return stored_format(dtype, c.precision, c.state_formats, what);
}

const FloatFormat& stored_format(const FloatFormat& dtype, Precision p, const StateFormats& s, std::string_view what) {
  const std::string* name = s.of(what);
  if (!name || name->empty()) return reported_format(dtype, p);
  return *known_format(state_format_name(*name, std::string(what) + " format"));  // throws for an unknown name
}

void validate_state_formats(const FloatFormat& dtype, const Convention& c) {
  const FloatFormat& arithmetic = arithmetic_format(dtype, c.precision);
  for (const char* what : StateFormats::names) {
    const FloatFormat& f = stored_format(dtype, c, what);  // throws for an unknown name
    if (f.precision > arithmetic.precision)
      throw std::invalid_argument(std::string(what) + " in " + f.name + " is wider than the " + arithmetic.name +
                                  " arithmetic of " + dtype.name + " under precision " + to_string(c.precision) +
                                  ": not modelled" +
                                  (is_storage_format(dtype) && c.precision == Precision::storage
                                       ? " (a state wider than " + std::string(dtype.name) +
                                             " needs float32 arithmetic: --precision float32-opmath, "
                                             "stochastic-rounding, kahan-summation or master-weights)"
                                       : std::string(" (a state is stored no wider than the arithmetic it is computed in)")));
  }
}

std::int64_t held_count(StepCounter c, std::int64_t count) {
  // int64 -> float rounds to nearest even (the default rounding mode), exactly as torch.tensor(float(n)) does.
  return c == StepCounter::float32 ? static_cast<std::int64_t>(static_cast<float>(count)) : count;
}

std::int64_t advance_count(StepCounter c, std::int64_t count) {
  if (c == StepCounter::integer) return count + 1;
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

std::string describe(const Transform& t) {
  return std::visit(
      Overloaded{
          [](const NegateGradient&) -> std::string { return "negate_gradient"; },
          [](const AddL2ToGradient&) -> std::string { return "add_l2_to_gradient"; },
          [](const DecayWeights& d) -> std::string {
            return "decay_weights(scale=" + to_string(d.scale) + ")";
          },
          [](const ScaleByAdam& a) -> std::string {
            std::string s = "scale_by_adam(eps=" + to_string(a.eps_placement);
            if (a.counter != StepCounter::integer) s += ", counter=" + to_string(a.counter);
            if (!a.bias_correction1) s += ", no_bias_correction1";
            if (!a.bias_correction2) s += ", no_bias_correction2";
            if (a.amsgrad != AmsgradVariant::none) s += ", amsgrad=" + to_string(a.amsgrad);
            return s + ")";
          },
          [](const AddDecayedWeights&) -> std::string { return "add_decayed_weights"; },
          [](const ScaleByLearningRate&) -> std::string { return "scale_by_learning_rate"; },
          [](const ApplyUpdate&) -> std::string { return "apply_update"; },
      },
      t);
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
  return s;
}

bool Convention::uses_weight_decay() const {
  for (const auto& t : chain)
    if (std::holds_alternative<AddL2ToGradient>(t) || std::holds_alternative<DecayWeights>(t) ||
        std::holds_alternative<AddDecayedWeights>(t))
      return true;
  return false;
}

void Convention::validate() const {
  // Phases: 0 gradient transforms, 1 after scale_by_adam, 2 after
  // scale_by_learning_rate, 3 after apply_update.
  int phase = 0;
  auto fail = [&](const Transform& t) {
    throw std::invalid_argument("ill-formed convention chain: " + adamconf::describe(t) +
                                " out of place in " + describe());
  };
  for (const auto& t : chain) {
    std::visit(Overloaded{
                   [&](const NegateGradient&) { if (phase != 0) fail(t); },
                   [&](const AddL2ToGradient&) { if (phase != 0) fail(t); },
                   [&](const DecayWeights&) { if (phase != 0 && phase != 3) fail(t); },
                   [&](const ScaleByAdam&) { if (phase != 0) fail(t); phase = 1; },
                   [&](const AddDecayedWeights&) { if (phase != 1) fail(t); },
                   [&](const ScaleByLearningRate&) { if (phase != 1) fail(t); phase = 2; },
                   [&](const ApplyUpdate&) { if (phase != 2) fail(t); phase = 3; },
               },
               t);
  }
  if (phase != 3) throw std::invalid_argument("incomplete convention chain: " + describe());
}

}  // namespace adamconf
