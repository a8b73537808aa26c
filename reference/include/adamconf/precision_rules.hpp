// What a precision convention means for the values of one format: which
// format each operation rounds to, which format each stored quantity is held
// and compared in, and what the convention adds to theta (a float32 master
// beside its copy, stochastic rounding, a Kahan compensation). The one answer
// the error model, the verifier, the answer checks, the generators, the float
// implementation and the reports all ask.
//
// Over float32 and float64 every precision convention is the format's own
// arithmetic; the conventions differ only over a storage format narrower than
// float32 (bfloat16, float16):
//
//   precision            arithmetic  theta held and compared in    adds
//   storage              dtype       dtype                         -
//   float32-opmath       float32     dtype (rounded once, stored)  -
//   master-weights       float32     float32 (the master)          a dtype copy, bit for bit
//   stochastic-rounding  float32     dtype (either neighbour)      a rounding seed per case
//   kahan-summation      float32     dtype                         a compensation in dtype
//   storage-kahan        dtype       dtype                         a compensation in dtype
//   promoted             float32     dtype (the dtype's subtraction)  the dtype's products rounded to it
//
// m, v, vmax and the Kahan compensation are held in theta's format unless a
// format of their own is given (StateFormats), never wider than the arithmetic.
// A blockwise-quantized state format's tensors below its size keep the state in
// float32 or theta's format (QuantizedFormat::small_in_dtype): format_of names it.
#pragma once

#include <array>
#include <cstdint>

#include "adamconf/convention.hpp"
#include "adamconf/quantized_format.hpp"

namespace adamconf {

class PrecisionRules {
 public:
  /// The rules of `precision` over `dtype` (bfloat16, float16, float32,
  /// float64), m, v and vmax in `states` where given. Throws
  /// std::invalid_argument for a state format that names no format.
  explicit PrecisionRules(const FloatFormat& dtype, Precision precision = Precision::storage, const StateFormats& states = {},
                          Subnormals subnormals = Subnormals::gradual, Scalars scalars = Scalars::working);
  PrecisionRules(const FloatFormat& dtype, const Convention& c)
      : PrecisionRules(dtype, c.precision, c.state_formats, c.subnormals, c.scalars) {}

  /// The format asked for: theta's storage format (its copy's, under master weights).
  const FloatFormat& dtype() const { return *dtype_; }
  Precision precision() const { return precision_; }
  /// Whether the precision convention applies: dtype is narrower than float32.
  bool narrow() const { return is_storage_format(*dtype_); }
  /// Every operation rounded to the storage format (storage over a narrow dtype).
  bool rounds_every_operation() const {
    return narrow() && (precision_ == Precision::storage || precision_ == Precision::storage_kahan);
  }
  /// A float32 master theta and state, and the dtype copy of theta beside them.
  bool master_weights() const { return narrow() && precision_ == Precision::master_weights; }
  /// theta rounded to the dtype stochastically; each case carries a rounding seed.
  bool stochastic_rounding() const { return narrow() && precision_ == Precision::stochastic_rounding; }
  /// theta and a Kahan compensation in the dtype; the states carry the compensation.
  bool kahan_summation() const {
    return narrow() && (precision_ == Precision::kahan_summation || precision_ == Precision::storage_kahan);
  }
  /// storage-kahan: a Kahan compensation beside storage arithmetic (optimi's kahan_sum).
  bool compensated_storage() const { return narrow() && precision_ == Precision::storage_kahan; }
  /// promoted: the products among the dtype's tensors and weak scalars, lr u
  /// and theta - lr u rounded to the dtype, the rest in float32 (tinygrad over float16).
  bool promoted() const { return narrow() && precision_ == Precision::promoted; }
  /// StateFormats::m_decay_in_format: b1 m' computed in m's own format (Optax's mu_dtype).
  bool m_decay_in_format() const { return m_decay_in_format_; }
  /// StateFormats::v_decay_in_format: b2 v' computed in v's own format (tinygrad's float32 v beside float64).
  bool v_decay_in_format() const { return v_decay_in_format_; }
  /// StateFormats::direction_in_format: the direction computed in the moments' format (m's, which is v's).
  bool direction_in_format() const { return direction_in_format_; }
  /// Whether a result below the smallest normal may be flushed to 0 and a
  /// subnormal operand read as 0 (Subnormals::flushed).
  bool flushes_subnormals() const { return subnormals_ == Subnormals::flushed; }
  /// Whether the implementation may hold its scalars in float32 (Scalars::float32).
  bool scalars_in_float32() const { return scalars_ == Scalars::float32 || scalars_ == Scalars::weak_dtype; }
  /// Scalars::weak_dtype: 1 - beta1, 1 - beta2 and wd held in the dtype (a storage format) besides.
  bool weak_scalars_in_dtype() const { return scalars_ == Scalars::weak_dtype && narrow(); }
  /// The format each operation rounds to.
  const FloatFormat& arithmetic() const { return *arithmetic_; }
  /// The format theta, and a state without a format of its own, is held and compared in.
  const FloatFormat& reported() const { return *reported_; }
  /// The format quantity q is stored and compared in.
  const FloatFormat& format_of(Quantity q) const;
  /// The blockwise-quantized format stored value q is kept in (tensors of its
  /// min_size and more), where its format names one; nullopt otherwise.
  const std::optional<QuantizedFormat>& quantized(Quantity q) const;
  /// The format quantity q of a tensor of `elements` is read and judged in: a
  /// quantized state reads back as fl32(map[code] * scale), float32 whatever
  /// format a smaller tensor keeps; format_of(q) otherwise.
  const FloatFormat& read_back_format(Quantity q, std::uint64_t elements) const;
  /// Whether any state is quantized.
  bool any_quantized() const { return quantized_[0] || quantized_[1]; }
  /// Throws std::invalid_argument in one line unless every state format is
  /// no wider than the arithmetic (a float32 m computed in bfloat16
  /// arithmetic would be modelled as bfloat16's, a bound too loose to judge
  /// it by; that convention is not modelled), and a compensation format is
  /// given only where there is a compensation (kahan-summation).
  void validate_state_formats() const;

 private:
  const FloatFormat* dtype_;
  Precision precision_;
  const FloatFormat* arithmetic_;
  const FloatFormat* reported_;
  std::array<const FloatFormat*, 4> states_;  ///< kStoredFormats: m, v, vmax, compensation
  std::array<std::optional<QuantizedFormat>, 4> quantized_{};  ///< the same, where quantized
  bool m_decay_in_format_ = false;            ///< StateFormats::m_decay_in_format
  bool v_decay_in_format_ = false;            ///< StateFormats::v_decay_in_format
  bool direction_in_format_ = false;          ///< StateFormats::direction_in_format
  bool compensation_given_ = false;
  Subnormals subnormals_ = Subnormals::gradual;
  Scalars scalars_ = Scalars::working;
};

}  // namespace adamconf
