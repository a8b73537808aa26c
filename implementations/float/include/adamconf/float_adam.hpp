// Correct float32/float64 implementations of every preset, written the way
// real optimizers are: one loop over elements, arithmetic in the target
// format, each source's own order of operations (Numerics). They are the
// implementations adamconf must pass, and the base the mutant zoo perverts:
// every step of the algorithm is a virtual hook a mutant can override.
#pragma once

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <optional>
#include <string>
#include <vector>
#include <type_traits>

#include "adamconf/implementation.hpp"
#include "adamconf/nearest_code.hpp"
#include "adamconf/quantized_format.hpp"
#include "adamconf/real.hpp"
#include "adamconf/storage_float.hpp"

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

namespace adamconf {

/// How an implementation orders the arithmetic. All choices are correct.
struct Numerics {
  enum class Power {
    pow_double,       ///< 1 - beta**t in double (PyTorch, HF: Python floats)
    pow_target,       ///< std::pow in the target format (Keras, Optax, dlib, ONNX numpy)
    binary_target,    ///< binary powering in the target format
    running_product,  ///< beta^t kept as a running product in the target format (TF.js, DeepSpeed)
  };
  enum class Moments {
    mul_add,  ///< b*m + (1-b)*g
    fma,      ///< fma(b, m, (1-b)*g), and fma in the L2 term
    lerp,     ///< m + (1-b)*(g - m) (PyTorch main, Keras)
  };
  enum class Denominator {
    sqrt_of_ratio,   ///< sqrt(v/bc2) + eps
    ratio_of_sqrts,  ///< sqrt(v)/sqrt(bc2) + eps (PyTorch)
    /// sqrt(v) + eps sqrt(bc2), the numerator m sqrt(bc2)/bc1 (bitsandbytes, burn's Adam)
    eps_scaled_by_sqrt_bc2,
  };
  enum class Step {
    direction_then_lr,   ///< -lr * ((m/bc1)/denom)
    step_size_first,     ///< -(lr/bc1) * m / denom (PyTorch addcdiv)
  };
  enum class Decay {
    multiply,  ///< theta * (1 - s*wd) (PyTorch)
    subtract,  ///< theta - theta*wd*s (Keras)
  };
  std::string name;
  Power power = Power::pow_target;
  Moments moments = Moments::mul_add;
  Denominator denominator = Denominator::sqrt_of_ratio;
  Step step = Step::direction_then_lr;
  Decay decay = Decay::multiply;
};

/// How the preset's source orders its arithmetic.
Numerics source_numerics(const std::string& preset);
/// Correct re-orderings every implementation of a preset may use: pow vs
/// running product, sqrt(v)/sqrt(bc2) vs sqrt(v/bc2), fma, lerp.
std::vector<Numerics> numerics_variants();

/// The convention as a float implementation reads it.
struct Plan {
  bool negate = false;
  bool l2 = false;
  std::optional<DecayScale> decay_before;
  std::optional<DecayScale> decay_after;
  bool additive_decay = false;
  EpsPlacement eps = EpsPlacement::after_bias_correction;
  bool bias_correction1 = true;
  bool bias_correction2 = true;
  AmsgradVariant amsgrad = AmsgradVariant::none;
  StepCounter counter = StepCounter::integer;
  /// ScaleByAdam::debiased_moments: per-step betas b_t, no bias correction after.
  bool debiased_moments = false;
  /// ScaleByAdam::eps_floor: u = m_hat / max(sqrt(v_hat), eps).
  bool eps_floor = false;
  /// ScaleByAdam::reciprocal_product: u = m ((1/bc1) (1/D)) (tinygrad).
  bool reciprocal_product = false;
  /// Scalars::float32: lr_t and the bias corrections held in float32 (Keras' lr, tinygrad's beta^t).
  bool scalars_in_float32 = false;
  /// Scalars::weak_dtype: 1 - beta1, 1 - beta2 and wd held in the stored format besides (tinygrad).
  bool weak_scalars_in_dtype = false;
};
Plan plan_of(const Convention& convention);

/// How theta is rounded to the storage format under float32 opmath.
enum class ThetaRounding {
  nearest,     ///< to nearest even, like m, v and vmax (float32-opmath)
  stochastic,  ///< up or down in proportion (stochastic-rounding: round_stochastically)
  kahan,       ///< to nearest, the remainder kept in a compensation in the format (kahan-summation)
};

/// Subnormals::flushed on this thread while it lives: x86 SSE's
/// flush-to-zero (MXCSR bit 15: a result below the smallest normal becomes 0)
/// and denormals-are-zero (bit 6: a subnormal operand is read as 0), as XLA
/// sets them around each computation on the CPU. Throws std::invalid_argument
/// where the target has no such control.
class ScopedFlushSubnormals {
 public:
  explicit ScopedFlushSubnormals(bool on) {
    if (!on) return;
#if defined(__SSE2__)
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | 0x8040u);
    active_ = true;
#else
    throw std::invalid_argument("builtin:float flushes subnormals only on x86 (SSE's MXCSR)");
#endif
  }
  ~ScopedFlushSubnormals() {
#if defined(__SSE2__)
    if (active_) _mm_setcsr(saved_);
#endif
  }
  ScopedFlushSubnormals(const ScopedFlushSubnormals&) = delete;
  ScopedFlushSubnormals& operator=(const ScopedFlushSubnormals&) = delete;

 private:
  unsigned saved_ = 0;
  bool active_ = false;
};

/// How float32 arithmetic meets a storage format (FloatImplementationOf::run).
struct StoragePlan {
  const FloatFormat* stored_in = nullptr;  ///< theta and the state rounded to it after each step
  ThetaRounding theta = ThetaRounding::nearest;
  const FloatFormat* copy_in = nullptr;    ///< master weights: the model copy's format
  /// A state tensor's own format (Convention::state_formats), rounded to
  /// nearest after each step; nullptr: as theta (stored_in, or none).
  const FloatFormat *m_in = nullptr, *v_in = nullptr, *vmax_in = nullptr;
  /// kahan-summation's compensation in a format of its own; nullptr: as theta.
  const FloatFormat* compensation_in = nullptr;
  /// m and v blockwise-quantized (tensors of the format's min_size and more).
  std::optional<QuantizedFormat> m_quantized, v_quantized;
  /// storage-kahan: storage arithmetic with a Kahan compensation in F (optimi's kahan_sum).
  bool compensated_storage = false;
  /// promoted: float32 arithmetic with the dtype's products rounded to it (tinygrad over float16).
  bool promoted = false;
};

/// sqrt, fma and pow of F: std's for float and double, StorageFloat's own
/// (found by argument-dependent lookup) for a storage format's arithmetic.
template <class F>
F sqrt_in(F x) {
  using std::sqrt;
  return F(sqrt(x));
}
template <class F>
F fma_in(F a, F b, F c) {
  using std::fma;
  return F(fma(a, b, c));
}
template <class F>
F pow_in(F a, F b) {
  using std::pow;
  return F(pow(a, b));
}

/// One optimizer instance (one run case) in format F: float, double, or a
/// storage format's arithmetic (StorageFloat: every operation rounded to it).
/// With store_in(format), F = float is float32 opmath: each element's theta,
/// m, v and vmax are rounded to `format` once, at the end of its step.
template <class F>
class FloatAdam {
 public:
  virtual ~FloatAdam() = default;

  void init(const OptimizerSpec& spec, const Numerics& numerics, const std::vector<double>& theta0,
            const std::optional<ImplementationState>& state) {
    numerics_ = numerics;
    // A convention whose complements are never formed in a storage format: this one forms them in
    // double, as PyTorch's Python floats do (a float32 or float64 engine is within it either way).
    if (spec.convention.adam().complements_wide) numerics_.power = Numerics::Power::pow_double;
    plan_ = make_plan(spec.convention);
    computed_in_ = spec.convention.state_formats;
    lr_ = parse_in_format<F>(spec.hyper.lr);
    b1_ = parse_in_format<F>(spec.hyper.beta1);
    b2_ = parse_in_format<F>(spec.hyper.beta2);
    eps_ = parse_in_format<Eps>(spec.hyper.eps);
    eps_root_ = parse_in_format<F>(spec.hyper.eps_root);
    wd_ = parse_in_format<F>(spec.hyper.weight_decay);
    b1_d_ = parse_decimal<double>(spec.hyper.beta1);
    b2_d_ = parse_decimal<double>(spec.hyper.beta2);
    hold_hyperparameters();
    moment_b1_ = b1_;
    moment_b2_ = b2_;
    const bool wide = spec.convention.adam().complements_wide;
    moment_c1_ = complement_of(b1_, b1_d_, wide);
    moment_c2_ = complement_of(b2_, b2_d_, wide);
    if (plan_.weak_scalars_in_dtype && stored_in_) {  // tinygrad: weak Python floats take the parameters' dtype
      moment_c1_ = stored_value(moment_c1_, stored_in_);
      moment_c2_ = stored_value(moment_c2_, stored_in_);
      wd_ = stored_value(wd_, stored_in_);
    }
    const std::size_t n = theta0.size();
    theta_ = in_format(theta0);
    m_.assign(n, F(0));
    v_.assign(n, F(0));
    vmax_.assign(plan_.amsgrad == AmsgradVariant::none ? 0 : n, F(0));
    compensation_.assign(theta_rounding_ == ThetaRounding::kahan || compensated_storage_ ? n : 0, F(0));
    step_ = 0;
    if (state) import_state(*state);
    power1_ = power_after(b1_, step_);
    power2_ = power_after(b2_, step_);
  }

  /// beta^t as this engine holds it after t steps from the start: a running
  /// product is t roundings of p beta from 1, the value an uninterrupted run
  /// holds (so that a run resumed from an exported state continues it bit for
  /// bit); the loop ends at a fixed point (0, or a product that rounds back to itself).
  F power_after(F beta, std::int64_t t) const {
    if (numerics_.power != Numerics::Power::running_product) return integer_power(beta, t);
    F p = F(1);
    for (std::int64_t i = 0; i < t; ++i) {
      const F next = p * beta;
      if (next == p) break;
      p = next;
    }
    return p;
  }

  /// One step; `lr` is this step's decimal learning rate, or empty for the constant one.
  void step(const std::vector<double>& grad, const std::string& lr) {
    step_ = advance_step(step_);
    const std::int64_t t = bias_correction_exponent(step_);
    F lr_t = lr.empty() ? lr_ : parse_in_format<F>(lr);
    if (plan_.scalars_in_float32) lr_t = held_in_float32(lr_t);
    Scalars s = scalars(t, lr_t);
    if (plan_.scalars_in_float32) {  // 1 - beta^t in float32 (tinygrad's running products, MLX's power)
      s.bc1 = held_in_float32(s.bc1);
      s.bc2 = held_in_float32(s.bc2);
      s.bc1_d = s.bc1;
      s.bc2_d = s.bc2;
    }
    if (plan_.debiased_moments) {
      debiased_betas(b1_, b1_d_, t, moment_b1_, moment_c1_);
      debiased_betas(b2_, b2_d_, t, moment_b2_, moment_c2_);
    }
    if (m_quantized_) m_before_ = m_;
    if (v_quantized_) v_before_ = v_;
    for (std::size_t i = 0; i < theta_.size(); ++i) {
      if (theta_rounding_ == ThetaRounding::kahan) theta_[i] = compensated_theta(i);  // Kahan: the step starts from theta + c
      theta_[i] = step_element(i, static_cast<F>(grad[i]), s);
      if (stored_in_ || m_in_ || v_in_ || vmax_in_) store(i);
    }
    if (m_quantized_) quantize(*m_quantized_, m_map_, m_order_, m_before_, m_, m_codes_);
    if (v_quantized_) quantize(*v_quantized_, v_map_, v_order_, v_before_, v_, v_codes_);
  }

  /// m and v kept blockwise-quantized (QuantizedFormat; nullopt: in F) where the
  /// format quantizes a tensor of this size (call after init).
  void quantize_states_in(const std::optional<QuantizedFormat>& m, const std::optional<QuantizedFormat>& v) {
    if (m && quantizes_tensor(*m, theta_.size())) m_quantized_ = &*m, m_map_ = map_of(*m), m_order_ = ordered(m_map_);
    if (v && quantizes_tensor(*v, theta_.size())) v_quantized_ = &*v, v_map_ = map_of(*v), v_order_ = ordered(v_map_);
  }

  /// Float32 opmath for the storage format `format` (F = float): theta and
  /// the state are held in `format`, each step computed in float; theta
  /// rounded as `theta` says, stochastically from `seed`'s random bits.
  void store_in(const FloatFormat& format, ThetaRounding theta = ThetaRounding::nearest, std::uint64_t seed = 0) {
    stored_in_ = &format;
    theta_rounding_ = theta;
    seed_ = seed;
  }
  /// Each state tensor stored in a format of its own (nullptr: as theta),
  /// rounded to nearest even after each step from the arithmetic's value.
  void store_states_in(const FloatFormat* m, const FloatFormat* v, const FloatFormat* vmax,
                       const FloatFormat* compensation = nullptr) {
    m_in_ = m;
    v_in_ = v;
    vmax_in_ = vmax;
    compensation_in_ = compensation;
  }

  /// storage-kahan: a compensation beside the storage arithmetic (call before init).
  void compensate_in_storage() { compensated_storage_ = true; }
  /// Precision::promoted (call after store_in): the products among the dtype's values rounded to it.
  void promote_in_dtype() { promoted_ = true; }

  /// A step in which this tensor has no gradient (PyTorch's grad None): nothing changes.
  virtual void no_gradient() {}

  std::vector<double> theta() const { return {theta_.begin(), theta_.end()}; }

  virtual ImplementationState export_state() const {
    ImplementationState out{step_, {m_.begin(), m_.end()}, {v_.begin(), v_.end()}, {vmax_.begin(), vmax_.end()}, {},
                            {compensation_.begin(), compensation_.end()}};
    if (m_quantized_) out.m_quantized = {m_codes_};
    if (v_quantized_) out.v_quantized = {v_codes_};
    return out;
  }

 protected:
  struct Scalars {
    F lr;                // lr_t
    F schedule;          // lr_t / lr
    F bc1, bc2;          // bias corrections in F
    double bc1_d, bc2_d; // in double where the source computes them so
  };

  // ---- hooks a mutant overrides ----

  virtual Plan make_plan(const Convention& c) const { return plan_of(c); }
  /// The hyperparameters as parsed into F are what the implementation holds.
  virtual void hold_hyperparameters() {}
  /// 1 - beta as the moments weigh the gradient: from beta as this engine holds it, or, where the
  /// convention never forms it in a storage format (ScaleByAdam::complements_wide), in double from the
  /// hyperparameter (PyTorch's Python floats), then held in F.
  virtual F complement_of(F held_beta, double beta, bool wide) const {
    return wide ? static_cast<F>(1.0 - beta) : F(F(1) - held_beta);
  }
  /// Under Scalars::float32: lr_t and a bias correction as a float32 holds them.
  virtual F held_in_float32(F x) const { return static_cast<F>(static_cast<float>(x)); }
  /// The stored step count after a step.
  virtual std::int64_t advance_step(std::int64_t step) const { return advance_count(plan_.counter, step); }
  /// The exponent t in beta^t for the stored count `step`.
  virtual std::int64_t bias_correction_exponent(std::int64_t step) const { return step; }
  virtual F incoming_gradient(F g) const { return plan_.negate ? -g : g; }

  virtual void import_state(const ImplementationState& s) {
    // A float32 counter holds the imported count rounded (torch.tensor(float(step))).
    step_ = held_count(plan_.counter, s.step);
    m_ = in_format(s.m);
    v_ = in_format(s.v);
    if (!vmax_.empty()) vmax_ = in_format(s.vmax);
    if (!compensation_.empty() && !s.compensation.empty()) compensation_ = in_format(s.compensation);
  }

  /// bitsandbytes' blockwise quantization, as it means to (csrc/common.cpp
  /// quantize_block): each block's scale its largest |x|, each element the
  /// nearest code to fl32(x / scale), ties to the lower code; x then holds
  /// the value read back, fl32(map[code] * scale), which the next step uses.
  /// `before`: the values before this step's update.
  void quantize(const QuantizedFormat& f, const std::vector<float>& map, const OrderedMap& order,
                const std::vector<F>& before, std::vector<F>& x, QuantizedTensor& q) const {
    const std::size_t n = x.size(), block = block_of(f), blocks = blocks_of(n, block);
    q.codes.assign(n, 0);
    q.scales.assign(blocks, 0.0);
    for (std::size_t b = 0; b < blocks; ++b) {
      const std::size_t first = b * block, last = std::min(n, first + block);
      const float scale = f.scale_of(block_scale(before, x, first, last));
      q.scales[b] = scale;
      for (std::size_t i = first; i < last; ++i) {
        const float normed = scale == 0 ? 0.0f : static_cast<float>(quantizer_input(x[i])) / scale;
        q.codes[i] = code_of(order, normed);
        x[i] = static_cast<F>(dequantized(map, q.codes[i], scale));
      }
    }
  }
  // ---- hooks of the quantizer a mutant overrides ----
  /// The largest |x| of the block [first, last) after the update.
  virtual float block_scale(const std::vector<F>& /*before*/, const std::vector<F>& after, std::size_t first,
                            std::size_t last) const {
    float scale = 0;
    for (std::size_t i = first; i < last; ++i) scale = std::max(scale, std::fabs(static_cast<float>(after[i])));
    return scale;
  }
  /// The nearest code to a normalized value (ties to the lower code).
  /// `order`: the map's codes by value (an fp8 map's codes are bit patterns).
  virtual int code_of(const OrderedMap& order, float normed) const {
    return order.codes[static_cast<std::size_t>(nearest_codes(order.values, normed).lowest)];
  }
  virtual std::size_t block_of(const QuantizedFormat& f) const { return f.block; }
  /// The value an element's code is chosen for: the moment as computed (float32).
  virtual F quantizer_input(F x) const { return x; }
  /// Blocks of a tensor of n elements: the last one partial.
  virtual std::size_t blocks_of(std::size_t n, std::size_t block) const { return (n + block - 1) / block; }
  /// Whether a tensor of n elements is kept quantized: from the format's min_size.
  virtual bool quantizes_tensor(const QuantizedFormat& f, std::size_t n) const { return f.quantizes(n); }
  virtual std::vector<float> map_of(const QuantizedFormat& f) const { return f.map(LinspaceRounding::fused); }

  /// beta^t for bias correction, as the numerics say.
  virtual F beta_power(F beta, F& running, std::int64_t t) const {
    switch (numerics_.power) {
      case Numerics::Power::pow_target: return pow_in(beta, static_cast<F>(t));
      case Numerics::Power::binary_target: return integer_power(beta, t);
      case Numerics::Power::running_product: return running = running * beta;
      case Numerics::Power::pow_double: break;
    }
    return static_cast<F>(std::pow(static_cast<double>(beta), static_cast<double>(t)));
  }

  virtual Scalars scalars(std::int64_t t, F lr_t) {
    Scalars s;
    s.lr = lr_t;
    s.schedule = lr_ == F(0) ? F(1) : F(lr_t / lr_);
    if (numerics_.power == Numerics::Power::pow_double) {
      // Python: bias_correction = 1 - beta ** step, in double
      s.bc1_d = plan_.bias_correction1 ? 1 - std::pow(b1_d_, static_cast<double>(t)) : 1.0;
      s.bc2_d = plan_.bias_correction2 ? 1 - std::pow(b2_d_, static_cast<double>(t)) : 1.0;
      s.bc1 = static_cast<F>(s.bc1_d);
      s.bc2 = static_cast<F>(s.bc2_d);
    } else {
      const F p1 = beta_power(b1_, power1_, t);
      const F p2 = beta_power(b2_, power2_, t);
      s.bc1 = plan_.bias_correction1 ? F(F(1) - p1) : F(1);
      s.bc2 = plan_.bias_correction2 ? F(F(1) - p2) : F(1);
      s.bc1_d = s.bc1;
      s.bc2_d = s.bc2;
    }
    return s;
  }

  /// The debiased betas of step t (ScaleByAdam::debiased_moments) and their
  /// complements: as optimi in double, b = (beta^t - beta)/(beta^t - 1), c = 1 - b
  /// (optimi/utils.py debias_beta), where the numerics compute powers in
  /// double; otherwise as HeavyBall in F, c = (1 - beta)/(1 - beta^t), b = 1 - c
  /// (heavyball/utils.py beta_debias, 1 - beta^t as -expm1(t log1p(beta - 1))),
  /// then the weights its _lerp forms, c = 1 - b and b = 1 - c (utils.py
  /// _lerp, _compilable_stochastic_lerp_: x (1 - a) + y a, a = 1 - b). 0 and 1 at step 1.
  virtual void debiased_betas(F beta, double beta_d, std::int64_t t, F& b, F& c) const {
    if (t <= 1) {
      b = F(0);
      c = F(1);
    } else if (numerics_.power == Numerics::Power::pow_double) {
      const double p = std::pow(beta_d, static_cast<double>(t));
      const double b_d = (p - beta_d) / (p - 1);
      b = static_cast<F>(b_d);
      c = static_cast<F>(1 - b_d);
    } else {
      F one_minus_power = F(F(1) - integer_power(beta, t));
      if constexpr (std::is_floating_point_v<F>)  // HeavyBall: -expm1(t log1p(beta - 1)) of tensors
        one_minus_power = F(-std::expm1(F(F(t) * F(std::log1p(F(beta - F(1)))))));
      c = F(F(1) - beta) / one_minus_power;
      b = F(1) - c;
      c = F(1) - b;  // _lerp weighs the gradient by 1 - b and the moment by 1 - (1 - b)
      b = F(1) - c;
    }
  }

  virtual void update_moments(F g, F& m, F& v) const {
    const F b1 = moment_b1_, b2 = moment_b2_;  // beta, or this step's debiased beta
    const F c1 = moment_c1_, c2 = moment_c2_;
    if (promoted_) {  // tinygrad over float16: (1 - b1) g, g g and (1 - b2) (g g) in the dtype, the sums in F
      m = b1 * m + in_dtype(c1 * g);
      v = b2 * v + in_dtype(c2 * in_dtype(g * g));
      return;
    }
    const bool m_own = computed_in_.m_decay_in_format && m_in_, v_own = computed_in_.v_decay_in_format && v_in_;
    if (m_own || v_own) {
      // Optax's mu_dtype, tinygrad's float32 moments: decay * state in the state's format (the
      // decay rounded to it), + (1 - decay) g in F
      // (IEEE addition is commutative: decayed + c g is b m + c g where nothing is in a format of its own)
      const auto decayed = [](F b, F x, bool own, const FloatFormat* in) {
        return own ? stored_value(F(stored_value(b, in) * x), in) : F(b * x);
      };
      m = F(decayed(b1, m, m_own, m_in_) + c1 * g);
      v = F(decayed(b2, v, v_own, v_in_) + c2 * (g * g));
      return;
    }
    switch (numerics_.moments) {
      case Numerics::Moments::mul_add:
        m = b1 * m + c1 * g;
        v = b2 * v + c2 * (g * g);
        break;
      case Numerics::Moments::fma:
        m = fma_in(b1, m, c1 * g);
        v = fma_in(b2, v, c2 * (g * g));
        break;
      case Numerics::Moments::lerp:
        m = m + c1 * (g - m);
        v = v + c2 * (g * g - v);
        break;
    }
  }

  virtual F decay_multiplier(DecayScale scale, const Scalars& s) const {
    switch (scale) {
      case DecayScale::learning_rate: return s.lr;
      case DecayScale::schedule: return s.schedule;
      case DecayScale::none: return F(1);
    }
    return F(1);
  }

  virtual F decay(F theta, DecayScale scale, const Scalars& s) const {
    const F mult = decay_multiplier(scale, s);
    if (numerics_.decay == Numerics::Decay::subtract) return theta - theta * wd_ * mult;
    return theta * (F(1) - mult * wd_);
  }

  virtual F add_l2(F g, F theta) const {
    if (promoted_) return in_dtype(g + in_dtype(wd_ * theta));
    return numerics_.moments == Numerics::Moments::fma ? fma_in(wd_, theta, g) : F(g + wd_ * theta);
  }

  /// The denominator for eps after bias correction, from the second moment in use.
  virtual F denominator(std::size_t i, F v_used, const Scalars& s) {
    if (plan_.amsgrad == AmsgradVariant::max_of_v_hat || numerics_.denominator == Numerics::Denominator::sqrt_of_ratio ||
        eps_root_ != F(0)) {
      F v_hat = v_used / s.bc2;
      if (plan_.amsgrad == AmsgradVariant::max_of_v_hat) v_hat = vmax_[i] = std::max(vmax_[i], v_hat);
      return with_eps(root(F(v_hat + eps_root_)));
    }
    const F sqrt_bc2 = numerics_.power == Numerics::Power::pow_double ? static_cast<F>(std::sqrt(s.bc2_d))
                                                                     : sqrt_in(s.bc2);
    return with_eps(root(v_used) / sqrt_bc2);
  }

  /// The denominator's square root of the second moment (not the scalar sqrt(bc2)): correctly rounded.
  virtual F root(F x) const { return sqrt_in(x); }

  /// eps applied to the denominator's square root: root + eps, or max(root, eps) (ScaleByAdam::eps_floor).
  virtual F with_eps(F v_root) const {
    if (!plan_.eps_floor) return v_root + eps_;
    return v_root < eps_ ? F(eps_) : v_root;
  }

  /// What eps is multiplied by in the eps-scaled-by-sqrt(bc2) order (burn's Adam, bitsandbytes): sqrt(bc2).
  virtual F eps_scale(F sqrt_bc2) const { return sqrt_bc2; }

  /// The denominator for eps-hat: sqrt(v) + eps.
  virtual F denominator_eps_hat(F v_used) const { return root(F(v_used + eps_root_)) + eps_; }

  /// The second moment the denominator uses, updating the raw AMSGrad max.
  virtual F second_moment_in_use(std::size_t i) {
    if (plan_.amsgrad == AmsgradVariant::max_of_raw_v) return vmax_[i] = std::max(vmax_[i], v_[i]);
    return v_[i];
  }

  virtual F step_element(std::size_t i, F g, const Scalars& s) {
    g = incoming_gradient(g);
    F theta = theta_[i];
    if (plan_.l2 && wd_ != F(0)) g = add_l2(g, theta);  // PyTorch: `if weight_decay != 0: grad = grad.add(param, ...)`
    if (plan_.decay_before) theta = decay(theta, *plan_.decay_before, s);
    update_moments(g, m_[i], v_[i]);
    const F v_used = second_moment_in_use(i);
    F update;
    // (the eps-scaled-by-sqrt(bc2) order and AMSGrad over v_hat keep F's arithmetic: within the bound too)
    if (computed_in_.direction_in_format && m_in_ && plan_.eps == EpsPlacement::after_bias_correction &&
        plan_.amsgrad != AmsgradVariant::max_of_v_hat &&
        numerics_.denominator != Numerics::Denominator::eps_scaled_by_sqrt_bc2) {
      F direction = direction_in_moments_format(m_[i], v_used, s);
      if (plan_.additive_decay) direction = direction + decay_term(theta);
      update = -(s.lr * direction);
    } else if (plan_.eps == EpsPlacement::after_bias_correction &&
        numerics_.denominator == Numerics::Denominator::eps_scaled_by_sqrt_bc2 && eps_root_ == F(0) &&
        plan_.amsgrad != AmsgradVariant::max_of_v_hat) {
      const bool in_double = numerics_.power == Numerics::Power::pow_double;
      const F sqrt_bc2 = in_double ? static_cast<F>(std::sqrt(s.bc2_d)) : sqrt_in(s.bc2);
      // eps c: the scalar eps (held as opmath holds it) times c, rounded to F like every operation
      const F eps_c = static_cast<F>(static_cast<Eps>(eps_) * static_cast<Eps>(eps_scale(sqrt_bc2)));
      const F denom = root(v_used) + eps_c;
      if (in_double) {  // bitsandbytes backends/cpu/ops.py: p += -(lr c2/c1) (m/(sqrt(v) + eps c2)), scalars in Python
        const F step_size = static_cast<F>(static_cast<double>(s.lr) * std::sqrt(s.bc2_d) / s.bc1_d);
        update = -step_size * (m_[i] / denom);
      } else {  // burn optim/adam.rs: m (sqrt(bc2)/bc1) / (sqrt(v) + eps sqrt(bc2)), then lr
        update = -(s.lr * (m_[i] * (sqrt_bc2 / s.bc1) / denom));
      }
    } else if (plan_.eps == EpsPlacement::after_bias_correction) {
      const F denom = denominator(i, v_used, s);
      if (numerics_.step == Numerics::Step::step_size_first && !plan_.additive_decay) {
        const F step_size = numerics_.power == Numerics::Power::pow_double
                                ? static_cast<F>(static_cast<double>(s.lr) / s.bc1_d)
                                : F(s.lr / s.bc1);
        update = (-step_size * m_[i]) / denom;  // addcdiv: value * t1 / t2
      } else {
        F direction = plan_.reciprocal_product ? F(m_[i] * F(F(F(1) / s.bc1) * F(F(1) / denom)))
                                               : F((m_[i] / s.bc1) / denom);
        if (plan_.additive_decay) direction = direction + decay_term(theta);
        update = -(s.lr * direction);
      }
    } else {
      // alpha = lr sqrt(bc2)/bc1, in double where the source's scalars are double
      const F alpha = numerics_.power == Numerics::Power::pow_double
                          ? static_cast<F>(static_cast<double>(s.lr) * std::sqrt(s.bc2_d) / s.bc1_d)
                          : F(s.lr * sqrt_in(s.bc2) / s.bc1);
      update = -(m_[i] * alpha / denominator_eps_hat(v_used));
      if (plan_.additive_decay) update = update - s.lr * decay_term(theta);
    }
    theta = apply_update(i, theta, update);
    if (plan_.decay_after) theta = decay(theta, *plan_.decay_after, s);
    return theta;
  }

  /// StateFormats::direction_in_format: m_hat/(sqrt(v_hat) + eps) with every
  /// operation rounded to the moments' format, from the moments as stored,
  /// the bias corrections, eps and eps_root held in it (tinygrad's float32 m and v
  /// beside float64 parameters). An operation on values of that format
  /// computed in F and rounded to it is the format's own (F has at least
  /// 2p + 2 bits: double for float32, float for bfloat16 and float16).
  F direction_in_moments_format(F m, F v, const Scalars& s) const {
    const auto r = [&](F x) { return stored_value(x, m_in_); };
    const F bc1 = r(s.bc1), bc2 = r(s.bc2), eps = r(F(eps_));
    const F v_hat = r(r(v) / bc2);
    const F v_root = r(root(eps_root_ != F(0) ? r(v_hat + r(eps_root_)) : v_hat));
    const F denom = plan_.eps_floor ? (v_root < eps ? eps : v_root) : r(v_root + eps);
    if (plan_.reciprocal_product) return r(r(m) * r(r(F(1) / bc1) * r(F(1) / denom)));
    return r(r(r(m) / bc1) / denom);
  }

  /// theta moved by the update: theta + u, or under storage-kahan (optimi's kahan_sum,
  /// optimi/adam.py _single_param_adam) c1 = c + u, theta' = theta + c1, c' = c1 + (theta - theta'),
  /// each operation in F.
  virtual F apply_update(std::size_t i, F theta, F update) {
    if (promoted_) return theta + in_dtype(update);  // (lr up).cast(t.dtype), then t - it (rounded when stored)
    if (!compensated_storage_) return theta + update;
    const F c1 = compensation_[i] + update;
    const F moved = theta + c1;
    compensation_[i] = c1 + F(theta - moved);
    return moved;
  }
  /// add_decayed_weights' wd theta: in F, or under promoted a product among the dtype's values.
  F decay_term(F theta) const { return promoted_ ? in_dtype(wd_ * theta) : F(wd_ * theta); }
  /// promoted: x rounded to the parameters' dtype (an operation among its values).
  F in_dtype(F x) const { return stored_value(x, stored_in_); }

  /// Values as F holds them (rounded to a storage format).
  static std::vector<F> in_format(const std::vector<double>& xs) {
    std::vector<F> out;
    out.reserve(xs.size());
    for (double x : xs) out.push_back(static_cast<F>(x));
    return out;
  }

  /// Kahan: the parameter a step starts from, theta + c in F (float32 opmath).
  virtual F compensated_theta(std::size_t i) const { return theta_[i] + compensation_[i]; }
  /// Kahan: the compensation stored beside theta = rn(x): rn(x - theta) in
  /// the compensation's format, the difference exact in float32 (theta is
  /// within half an ulp of x): in a float32 compensation, x - theta itself.
  virtual float compensation_of(float x, float theta) const {
    return std::isfinite(x) ? round_float_to(x - theta, compensation_in_ ? *compensation_in_ : *stored_in_) : 0.0f;
  }

  /// Theta y of element i rounded stochastically to the storage format, from
  /// its own random bits for this step.
  virtual float round_theta_stochastically(std::size_t i, float y) const {
    return round_stochastically(y, *stored_in_, rounding_bits(seed_, static_cast<std::uint64_t>(step_), i));
  }

  /// Rounds element i's stored values to the storage format (float32 opmath)
  /// and each state tensor to its own format where it has one.
  void store(std::size_t i) {
    if constexpr (std::is_same_v<F, float>) {
      if (stored_in_) {
        const float x = theta_[i];
        theta_[i] = theta_rounding_ == ThetaRounding::stochastic ? round_theta_stochastically(i, x) : round_float_to(x, *stored_in_);
        if (theta_rounding_ == ThetaRounding::kahan) compensation_[i] = compensation_of(x, theta_[i]);
      }
    }
    // A quantized tensor's m and v stay as computed until quantize() stores them as codes.
    if (!m_quantized_) m_[i] = stored_value(m_[i], m_in_ ? m_in_ : stored_in_);
    if (!v_quantized_) v_[i] = stored_value(v_[i], v_in_ ? v_in_ : stored_in_);
    if (!vmax_.empty()) vmax_[i] = stored_value(vmax_[i], vmax_in_ ? vmax_in_ : stored_in_);
  }
  /// x rounded to nearest even in `format` (exact through double: F has at most 53 bits); x itself for none.
  static F stored_value(F x, const FloatFormat* format) {
    return format ? static_cast<F>(round_stored(static_cast<double>(x), *format)) : x;
  }

  const FloatFormat* stored_in_ = nullptr;
  const FloatFormat *m_in_ = nullptr, *v_in_ = nullptr, *vmax_in_ = nullptr;  // state formats of their own
  // The convention's in-format choices (b1 m in m_in_'s format, b2 v in v_in_'s, the direction in
  // m_in_'s); its formats themselves are m_in_, v_in_, vmax_in_.
  StateFormats computed_in_{};
  const FloatFormat* compensation_in_ = nullptr;  // the compensation's format, where not theta's
  bool compensated_storage_ = false;  // storage-kahan: c accumulates the update, theta moves by it
  bool promoted_ = false;  // promoted: the dtype's products, lr u and theta - lr u rounded to stored_in_
  ThetaRounding theta_rounding_ = ThetaRounding::nearest;
  std::uint64_t seed_ = 0;
  Numerics numerics_;
  Plan plan_;
  F lr_{}, b1_{}, b2_{}, eps_root_{}, wd_{};
  /// eps as a scalar operand: F, or float32 for a storage format (float16
  /// would flush eps = 1e-8 to 0, and a zero gradient would give 0/0).
  using Eps = typename opmath_scalar<F>::type;
  Eps eps_{};
  const QuantizedFormat* m_quantized_ = nullptr;
  const QuantizedFormat* v_quantized_ = nullptr;
  std::vector<float> m_map_, v_map_;
  OrderedMap m_order_, v_order_;
  std::vector<F> m_before_, v_before_;
  QuantizedTensor m_codes_, v_codes_;
  double b1_d_ = 0, b2_d_ = 0;
  /// The betas the moments use this step and their complements: b1_ and 1 - b1_, or the debiased ones.
  F moment_b1_{}, moment_b2_{}, moment_c1_{}, moment_c2_{};
  F power1_{}, power2_{};  // running products (Numerics::Power::running_product)
  std::int64_t step_ = 0;
  std::vector<F> theta_, m_, v_, vmax_;
  std::vector<F> compensation_;  // kahan-summation only
};

/// Whether engine E compiles with a StorageFloat as F (its code uses the
/// *_in helpers, not std:: math, and no mixed double arithmetic): FloatAdam
/// does; a mutant that does specialises this. Others run bfloat16 and float16
/// only as float32 opmath.
template <template <class> class E>
inline constexpr bool runs_in_storage_arithmetic = false;
template <>
inline constexpr bool runs_in_storage_arithmetic<FloatAdam> = true;

/// An Implementation running FloatAdam-like engines in float32 and float64:
/// `Engine` is a class template deriving FloatAdam (FloatAdam itself, or a mutant).
template <template <class> class Engine>
class FloatImplementationOf : public Implementation {
 public:
  /// `numerics`: one ordering for every preset, or each preset's source ordering when empty.
  explicit FloatImplementationOf(std::string name, std::optional<Numerics> numerics = std::nullopt)
      : name_(std::move(name)), numerics_(std::move(numerics)) {}

  std::string name() const override { return name_; }

  Capabilities capabilities() const override {
    Capabilities c;
    for (const auto& p : presets()) c.presets.push_back(p.name);
    c.dtypes = {"float32", "float64", "bfloat16", "float16"};
    c.options = {"amsgrad", "maximize", "bias_correction"};
    c.state_io = true;
    c.lr_schedule = true;
    c.tensors = true;
    return c;
  }

  /// float32 and float64 in their own arithmetic; bfloat16 and float16 in
  /// the precision convention the spec names: each operation rounded to the
  /// format (StorageFloat); float32 opmath stored in the format, theta to
  /// nearest or stochastically; or float32 master weights with a copy in the format.
  std::vector<RunResult> run(const Setup& setup, const std::vector<RunCase>& cases) override {
    const FloatFormat& f = setup.dtype;
    StoragePlan plan;
    // State tensors in formats of their own (TransformerEngine's exp_avg_dtype, exp_avg_sq_dtype).
    const Convention& c = setup.spec.convention;
    const PrecisionRules rules(f, c);
    const ScopedFlushSubnormals flush(rules.flushes_subnormals());
    if (!c.state_formats.m.empty()) plan.m_in = &rules.format_of(Quantity::m);
    if (!c.state_formats.v.empty()) plan.v_in = &rules.format_of(Quantity::v);
    if (!c.state_formats.vmax.empty()) plan.vmax_in = &rules.format_of(Quantity::vmax);
    if (!c.state_formats.compensation.empty()) plan.compensation_in = &rules.format_of(Quantity::compensation);
    plan.m_quantized = rules.quantized(Quantity::m);
    plan.v_quantized = rules.quantized(Quantity::v);
    if (!rules.narrow()) return f.precision == 24 ? run_in<float>(setup, cases, plan) : run_in<double>(setup, cases, plan);
    switch (c.precision) {
      case Precision::float32_opmath: plan.stored_in = &f; return run_in<float>(setup, cases, plan);
      case Precision::stochastic_rounding:
        plan.stored_in = &f, plan.theta = ThetaRounding::stochastic;
        return run_in<float>(setup, cases, plan);
      case Precision::kahan_summation:
        plan.stored_in = &f, plan.theta = ThetaRounding::kahan;
        return run_in<float>(setup, cases, plan);
      case Precision::master_weights: plan.copy_in = &f; return run_in<float>(setup, cases, plan);
      case Precision::storage_kahan: plan.compensated_storage = true; break;
      case Precision::promoted:
        plan.stored_in = &f, plan.promoted = true;
        return run_in<float>(setup, cases, plan);
      case Precision::storage: break;
    }
    if constexpr (runs_in_storage_arithmetic<Engine>) {
      if (f.precision == bfloat16_format.precision) return run_in<Bfloat16Arithmetic>(setup, cases, plan);
      return run_in<Float16Arithmetic>(setup, cases, plan);
    } else {
      throw std::invalid_argument(name_ + " runs " + f.name + " only as --precision float32-opmath");
    }
  }

 protected:
  /// One case: an engine per tensor (state per parameter, as in PyTorch),
  /// each with its group's hyperparameters; a tensor without a gradient this
  /// step is not touched. A mutant of the multi-tensor loop overrides this.
  template <class F>
  RunResult run_case(const Setup& setup, const Numerics& numerics, const RunCase& c, const StoragePlan& plan = {}) {
    validate_case(c);
    const auto slices = slices_of(c);
    std::vector<Engine<F>> engines(slices.size());
    for (std::size_t k = 0; k < slices.size(); ++k) {
      OptimizerSpec spec = setup.spec;
      spec.hyper = group_hyperparameters(setup.spec.hyper, c, group_of(c, k));
      std::optional<ImplementationState> state;
      if (c.initial_state) state = tensor_state(*c.initial_state, slices[k], k);
      // Each tensor's random bits from the case's seed and its index.
      if (plan.stored_in) engines[k].store_in(*plan.stored_in, plan.theta, splitmix64(c.rounding_seed + k));
      engines[k].store_states_in(plan.m_in, plan.v_in, plan.vmax_in, plan.compensation_in);
      if (plan.compensated_storage) engines[k].compensate_in_storage();
      if (plan.promoted) engines[k].promote_in_dtype();

      engines[k].init(spec, numerics, part_of(c.theta0, slices[k]), state);
      engines[k].quantize_states_in(plan.m_quantized, plan.v_quantized);  // bitsandbytes' 8-bit states
    }
    RunResult r;
    for (std::size_t t = 0; t < c.grads.size(); ++t) {
      std::vector<double> theta;
      theta.reserve(c.theta0.size());
      ImplementationState joined;
      for (std::size_t k = 0; k < slices.size(); ++k) {
        if (steps_tensor(c, t, k)) engines[k].step(part_of(c.grads[t], slices[k]), c.lrs.empty() ? std::string() : c.lrs[t]);
        else engines[k].no_gradient();
        const auto values = engines[k].theta();
        theta.insert(theta.end(), values.begin(), values.end());
        if (c.record_states) append_tensor_state(joined, engines[k].export_state());
      }
      if (plan.copy_in) {
        std::vector<double> copy;
        copy.reserve(theta.size());
        for (double master : theta) copy.push_back(model_copy(master, *plan.copy_in));
        r.theta_copy.push_back(std::move(copy));
      }
      r.theta.push_back(std::move(theta));
      if (c.record_states) {
        if (slices.size() == 1) joined.tensor_steps.clear();
        r.states.push_back(std::move(joined));
      }
    }
    return r;
  }

  // ---- hooks of the multi-tensor loop a mutant overrides ----
  /// Whether tensor k is stepped at step t: when it has a gradient.
  virtual bool steps_tensor(const RunCase& c, std::size_t t, std::size_t k) const { return has_gradient(c, t, k); }
  /// The parameter group whose hyperparameters tensor k uses: its own.
  virtual std::size_t group_of(const RunCase& c, std::size_t k) const { return slices_of(c)[k].group; }
  /// Master weights: the model's copy of a master value, rounded to nearest
  /// even (apex's model.copy_(master); torch's float-to-bfloat16 conversion).
  virtual double model_copy(double master, const FloatFormat& copy) const { return round_stored(master, copy); }

 private:
  template <class F>
  std::vector<RunResult> run_in(const Setup& setup, const std::vector<RunCase>& cases, const StoragePlan& plan = {}) {
    const Numerics numerics = numerics_ ? *numerics_ : source_numerics(setup.spec.preset);
    std::vector<RunResult> results;
    for (const RunCase& c : cases) results.push_back(run_case<F>(setup, numerics, c, plan));
    return results;
  }

  std::string name_;
  std::optional<Numerics> numerics_;
};

using FloatImplementation = FloatImplementationOf<FloatAdam>;

}  // namespace adamconf
