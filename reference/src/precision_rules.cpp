#include "adamconf/precision_rules.hpp"

#include "adamconf/quantized_format.hpp"

#include <stdexcept>

namespace adamconf {

namespace {
/// The format's constant (float32_format, ...): the rules hand out references that outlive them.
const FloatFormat* canonical(const FloatFormat& f) {
  const FloatFormat* known = known_format(f.name);
  if (!known) throw std::logic_error(std::string("not a known format: ") + f.name);
  return known;
}
}  // namespace

PrecisionRules::PrecisionRules(const FloatFormat& dtype, Precision precision, const StateFormats& states,
                               Subnormals subnormals, Scalars scalars)
    : dtype_(canonical(dtype)), precision_(precision), subnormals_(subnormals), scalars_(scalars) {
  arithmetic_ = narrow() && precision != Precision::storage && precision != Precision::storage_kahan ? &float32_format
                                                                                                     : dtype_;
  reported_ = master_weights() ? &float32_format : dtype_;
  for (std::size_t k = 0; k < states_.size(); ++k) {
    const Quantity q = kStoredFormats[k];
    const std::string& given = *states.of(q);
    if (given.empty()) {
      states_[k] = reported_;
      continue;
    }
    state_format_name(given, std::string(name(q)) + " format");  // throws for an unknown name
    // A quantized state's dequantized elements are float32 values; a tensor it does not quantize keeps
    // the state in float32 (bitsandbytes), or in theta's format (torchao: QuantizedFormat::small_in_dtype).
    quantized_[k] = quantized_format_by_name(given);
    states_[k] = !quantized_[k]                 ? known_format(given)
                 : quantized_[k]->small_in_dtype ? reported_
                                                 : &float32_format;
  }
  compensation_given_ = !states.compensation.empty();
  m_decay_in_format_ = states.m_decay_in_format;
  v_decay_in_format_ = states.v_decay_in_format;
  direction_in_format_ = states.direction_in_format;
}

const std::optional<QuantizedFormat>& PrecisionRules::quantized(Quantity q) const {
  static const std::optional<QuantizedFormat> none;
  switch (q) {
    case Quantity::m: return quantized_[0];
    case Quantity::v: return quantized_[1];
    case Quantity::vmax: return quantized_[2];
    case Quantity::compensation: return quantized_[3];
    case Quantity::theta:
    case Quantity::theta_plus_compensation: break;
  }
  return none;
}

const FloatFormat& PrecisionRules::format_of(Quantity q) const {
  switch (q) {
    case Quantity::m: return *states_[0];
    case Quantity::v: return *states_[1];
    case Quantity::vmax: return *states_[2];
    case Quantity::compensation: return *states_[3];
    case Quantity::theta:
    case Quantity::theta_plus_compensation: break;
  }
  return *reported_;
}

const FloatFormat& PrecisionRules::read_back_format(Quantity q, std::uint64_t elements) const {
  const std::optional<QuantizedFormat>& f = quantized(q);
  return f && f->quantizes(elements) ? float32_format : format_of(q);
}

void PrecisionRules::validate_state_formats() const {
  if (m_decay_in_format_ && format_of(Quantity::m).precision >= arithmetic_->precision)
    throw std::invalid_argument(std::string("b1 m in m's format needs m in a format narrower than the ") +
                                arithmetic_->name + " arithmetic (m is " + format_of(Quantity::m).name +
                                "): Optax's mu_dtype=bfloat16 beside float32 parameters");
  if (v_decay_in_format_ && format_of(Quantity::v).precision >= arithmetic_->precision)
    throw std::invalid_argument(std::string("b2 v in v's format needs v in a format narrower than the ") +
                                arithmetic_->name + " arithmetic (v is " + format_of(Quantity::v).name +
                                "): tinygrad's float32 v beside float64 parameters");
  if (direction_in_format_ &&
      (format_of(Quantity::m).name != format_of(Quantity::v).name ||
       format_of(Quantity::m).precision >= arithmetic_->precision || any_quantized()))
    throw std::invalid_argument(std::string("the direction in the moments' format needs m and v in one float format "
                                            "narrower than the ") +
                                arithmetic_->name + " arithmetic (m is " + format_of(Quantity::m).name + ", v " +
                                format_of(Quantity::v).name + "): tinygrad's float32 m and v beside float64 parameters");
  if (compensation_given_ && !kahan_summation())
    throw std::invalid_argument(std::string("a compensation format (") + states_[3]->name +
                                ") applies only to --precision kahan-summation over bfloat16 or float16, not to " +
                                to_string(precision_) + " over " + dtype_->name);
  for (const Quantity q : kStoredFormats) {
    const FloatFormat& f = format_of(q);
    if (f.precision <= arithmetic_->precision) continue;
    throw std::invalid_argument(std::string(name(q)) + " in " + f.name + " is wider than the " + arithmetic_->name +
                                " arithmetic of " + dtype_->name + " under precision " + to_string(precision_) +
                                ": not modelled" +
                                (rounds_every_operation()
                                     ? " (a state wider than " + std::string(dtype_->name) +
                                           " needs float32 arithmetic: --precision float32-opmath, "
                                           "stochastic-rounding, kahan-summation or master-weights)"
                                     : std::string(" (a state is stored no wider than the arithmetic it is computed in)")));
  }
}

}  // namespace adamconf
