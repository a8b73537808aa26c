// The running error bound of docs/error-model.md: an observer of the
// reference's transforms that computes, from the exact values of the case at
// hand, how far any correct implementation in the target format may be from
// them. Each formula below cites its line in the document.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include <cfenv>
#include <cfloat>
#include <stdexcept>

#include "adamconf/bound_arithmetic.hpp"
#include "adamconf/float_format.hpp"
#include "adamconf/precision_rules.hpp"
#include "adamconf/reference_adam.hpp"

namespace adamconf {

/// |x| to 53 bits, rounded away from zero (`away`) or toward it, as
/// mpfr_get_d does, but read straight from the significand's top limb where
/// the result is a normal double (x = 0.1b...b * 2^e, MSB first): the top 53
/// bits, plus one unit where away and any lower bit is set. The scaling by
/// 2^(e-53) is exact. mpfr_get_d elsewhere (and on limbs other than 64 bits).
inline double magnitude_to_double(mpfr_srcptr p, bool away) {
  if (mpfr_zero_p(p)) return 0.0;
  if constexpr (GMP_NUMB_BITS == 64) {
    const mpfr_exp_t e = mpfr_get_exp(p);
    if (mpfr_regular_p(p) && e >= -960 && e <= 1023) {
      const std::size_t limbs = (mpfr_get_prec(p) + 63) / 64;
      const mp_limb_t top = p->_mpfr_d[limbs - 1];
      std::uint64_t mant = top >> 11;
      bool rest = (top & 0x7FF) != 0;
      for (std::size_t i = 0; i + 1 < limbs && !rest; ++i) rest = p->_mpfr_d[i] != 0;
      if (away && rest) mant += 1;  // 2^53 at most: still exact as a double
      const double scale = std::bit_cast<double>(static_cast<std::uint64_t>(e - 53 + 1023) << 52);
      return static_cast<double>(mant) * scale;
    }
  }
  return std::fabs(mpfr_get_d(p, away ? MPFR_RNDA : MPFR_RNDZ));
}


/// Error bounds of one element's state after a step.
template <class Bound>
struct ElementBounds {
  Bound theta = 0, m = 0, v = 0, vmax = 0;
  /// kahan-summation: the bound on theta + compensation (theta's own is half
  /// an ulp of the storage format wider); 0 under every other precision.
  Bound compensated = 0;
};

/// Whether all four bounds are finite. A hardware-type bound that overflowed
/// would only be weaker than the MPFR one, so its caller redoes the work in
/// MPFR; an MPFR bound is taken as it is.
template <class Bound>
bool all_finite(const ElementBounds<Bound>& b) {
  if constexpr (is_directed_v<Bound>) {
    const Bound top(std::numeric_limits<scalar_of_t<Bound>>::max());  // every lane of a batch
    return all(b.theta <= top) && all(b.m <= top) && all(b.v <= top) && all(b.vmax <= top) && all(b.compensated <= top);
  } else {
    return true;
  }
}

/// Real: the exact values' type (the reference's). Bound: the type the bound
/// is evaluated and stored in, Real itself, double or long double
/// (bound_arithmetic.hpp: every operation rounded outward, so such a bound is
/// never below the formula's exact value). Per-step scalars are computed in
/// Real and rounded up once.
///
/// Real = Enclosure<Bound> is the fast exact path (docs/error-model.md, "The
/// fast exact path"): each exact value is an interval. Every formula below is
/// increasing in the magnitudes it reads as Up (up(x)) and decreasing in those
/// it reads as Down (down(x)), and every branch on an exact value is a
/// comparison an enclosure answers only where it is certain. So reading each
/// interval's largest magnitude as Up and its least as Down gives a bound at
/// least the one the MPFR reference's values give (Lower = false), and the
/// opposite reading (Lower = true) one at most that: an enclosure of the
/// allowed error.
template <class Real, class Bound = Real, bool Lower = false>
class ErrorModel {
  static_assert(!Lower || is_enclosure_v<Real>, "a lower reading is of enclosures");
  using U = Up<Bound, Lower>;  // the lower reading rounds every operation the other way
  using D = Down<Bound, Lower>;

 public:
  /// `rules`: the format the implementation stores its values in, and what
  /// its precision convention makes of it (the arithmetic's format, where
  /// each value is stored, stochastic rounding, a Kahan compensation).
  ErrorModel(const PrecisionRules& rules, const HyperValues<Real>& hyper, std::size_t elements)
      : target_(rules.arithmetic()),
        storage_(rules.reported()), h_(hyper), bounds_(elements), grad_error_(elements), update_error_(elements),
        underflow_error_(elements), input_grad_error_(elements, U{0}) {
    using std::ldexp;
    if constexpr (is_directed_v<Bound>) {
      static_assert(std::numeric_limits<Bound>::radix == 2 && std::numeric_limits<Bound>::has_denorm == std::denorm_present,
                    "an outward-rounded bound needs binary arithmetic with subnormals");
      static_assert(!std::is_same_v<Bound, double> || FLT_EVAL_METHOD == 0,
                    "a double bound needs double arithmetic without excess precision");
      // Round to nearest, and (x87) the full significand: 1 + 2^(1-p) must not round to 1.
      volatile scalar_of_t<Bound> one = 1;
      if (std::fegetround() != FE_TONEAREST || one + spacing_v<Bound> == one)
        throw std::logic_error("the error bound in hardware floating point needs round-to-nearest at full precision");
    }
    // Every operation rounds to target_, the arithmetic's format (the storage
    // format itself, or float32 opmath); storing rounds to storage_ once more.
    u_ = U::exact(ldexp(Bound(1), -target_.precision));
    reference_u_ = U::exact(ldexp(Bound(1), 10 - significand_bits<Real>()));
    // eta: the absolute error of a rounding into the subnormal range, the
    // smallest subnormal; "Flushed subnormals": a result below the smallest
    // normal may be 0 instead, an error below the smallest normal itself.
    flush_ = rules.flushes_subnormals();
    const int eta_exponent = flush_ ? target_.min_exponent : target_.min_exponent - target_.precision + 1;
    eta_ = U::exact(ldexp(Bound(1), eta_exponent));
    eta_exact_ = ldexp(Real(1), eta_exponent);
    smallest_normal_ = U::exact(ldexp(Bound(1), target_.min_exponent));
    u_exact_ = ldexp(Real(1), -target_.precision);
    // "Scalars in float32": a scalar may be held, and beta^t and 1 - beta^t
    // computed, in float32 (u = 2^-24, eta = 2^-149) where the arithmetic is wider.
    scalars32_ = rules.scalars_in_float32() && target_.precision > float32_format.precision;
    scalar_u_exact_ = scalars32_ ? ldexp(Real(1), -float32_format.precision) : u_exact_;
    scalar_eta_exact_ = scalars32_ ? ldexp(Real(1), float32_format.min_exponent -
                                                        (flush_ ? 0 : float32_format.precision - 1))
                                   : eta_exact_;
    storage_u_ = U::exact(ldexp(Bound(1), -storage_.precision));
    // Stochastic rounding stores theta as either neighbour of the float32
    // value y: |stored - y| < ulp_S(y) <= 2 u_S |y| (below the normal range,
    // less than the subnormal spacing, which eta_S covers).
    theta_store_ = store_rule(storage_, rules.stochastic_rounding());
    m_store_ = store_rule(rules.format_of(Quantity::m), false);
    m_decay_in_format_ = rules.m_decay_in_format() && m_store_.rounds;
    if (m_decay_in_format_) m_format_ = &rules.format_of(Quantity::m);
    v_store_ = store_rule(rules.format_of(Quantity::v), false);
    v_decay_in_format_ = rules.v_decay_in_format() && v_store_.rounds;
    if (v_decay_in_format_) v_format_ = &rules.format_of(Quantity::v);
    // "Direction in the moments' format": the direction's part of the model,
    // run by a model whose arithmetic is the moments' format (its u, eta,
    // largest value, eps held in it), told every step's scalars.
    if (rules.direction_in_format() && m_store_.rounds)
      direction_model_ = std::make_shared<ErrorModel>(
          PrecisionRules(rules.format_of(Quantity::m), Precision::storage, StateFormats{},
                         rules.flushes_subnormals() ? Subnormals::flushed : Subnormals::gradual,
                         rules.scalars_in_float32() ? Scalars::float32 : Scalars::working),
          hyper, 0);
    vmax_store_ = store_rule(rules.format_of(Quantity::vmax), false);
    compensation_store_ = store_rule(rules.format_of(Quantity::compensation), false);
    kahan_ = rules.kahan_summation();
    // "Compensated storage": theta alone is the compensated value rounded to S once more.
    compensated_storage_ = rules.compensated_storage();
    if (compensated_storage_) {
      theta_store_.rounds = true;
      compensation_bound_.assign(elements, U{0});
    }
    quantized_ = rules.any_quantized();
    // "Promoted products": the products among the dtype's values rounded to it (its u, eta, largest value).
    promoted_ = rules.promoted();
    if (promoted_) dtype_ops_ = store_rule(storage_, false);
    float32_u_ = U::exact(ldexp(Bound(1), -24));
    double_u_ = U::exact(ldexp(Bound(1), -53));
    storage_eta_ = U::exact(ldexp(Bound(1), storage_.min_exponent - (flush_ ? 0 : storage_.precision - 1)));
    storage_overflow_ = Bound(storage_.largest_finite());
    largest_ = Bound(target_.largest_finite());  // below the threshold largest + ulp/2: conservative
    c1_ = Real(1) - h_.beta1;
    c2_ = Real(1) - h_.beta2;
    b1_ = up(h_.beta1);
    b2_ = up(h_.beta2);
    c1u_ = up(c1_);
    c2u_ = up(c2_);
    wd_ = up(h_.weight_decay);
    d_lr_ = representation_error(h_.lr);
    d_b1_ = up(representation_error(h_.beta1));
    d_b2_ = up(representation_error(h_.beta2));
    d_c1_ = up(complement_representation_error(h_.beta1));
    d_c2_ = up(complement_representation_error(h_.beta2));
    d_eps_ = up(representation_error(h_.eps));
    d_eps_root_ = up(representation_error(h_.eps_root));
    d_wd_ = up(representation_error(h_.weight_decay));
    // "Scalars in float32", weak-dtype: 1 - beta1, 1 - beta2 and wd held in the storage format S too.
    if (rules.weak_scalars_in_dtype()) {
      using std::abs;
      d_c1_ = max(d_c1_, held_error(c1_, storage_));
      d_c2_ = max(d_c2_, held_error(c2_, storage_));
      d_wd_ = max(d_wd_, held_error(h_.weight_decay, storage_));
    }
    // The largest magnitudes of the held scalars: an error E(x) is multiplied
    // by the implementation's h~, not by h (second order in float32; not in
    // bfloat16, where 1 - 0.99 is held as 0.01171875).
    b1h_ = b1_ + d_b1_;
    b2h_ = b2_ + d_b2_;
    c1h_ = c1u_ + d_c1_;
    c2h_ = c2u_ + d_c2_;
    wdh_ = wd_ + d_wd_;
    b1f_ = factor_of(h_.beta1);
    b2f_ = factor_of(h_.beta2);
    c1f_ = factor_of(c1_);
    c2f_ = factor_of(c2_);
    wdf_ = factor_of(h_.weight_decay);
    gamma3_ = gamma(3);
    gamma4_ = gamma(4);
  }

  /// A tensor whose m or v (q) a blockwise-quantized format stores as codes: the
  /// bound of that state is the arithmetic's, before quantization, which the
  /// quantized judge takes as its tolerance ("Quantized states"); the float
  /// format its small tensors keep (format_of) does not round it.
  void store_as_computed(Quantity q) {
    if (q == Quantity::m) m_store_.rounds = false;
    if (q == Quantity::v) v_store_.rounds = false;
  }

  /// A quantized state between two steps of a trajectory ("Quantized states
  /// across steps"): the next step reads the value a correct quantizer stored,
  /// within `error` of the exact one, whatever the arithmetic's error was.
  void set_stored_error(Quantity q, std::size_t i, const Real& error) {
    (q == Quantity::m ? bounds_[i].m : bounds_[i].v) = up(error).x;
  }

  /// Bounds after the last step.
  const std::vector<ElementBounds<Bound>>& bounds() const { return bounds_; }
  /// The next step starts from state known exactly (an implementation's own
  /// state, read back): all accumulated errors are dropped.
  void forget_errors() {
    for (auto& b : bounds_) b = {};
  }
  /// The next step's gradient for element i is known only to within `error`
  /// (it was computed, e.g. g + wd*theta rounded to the target format).
  void set_input_gradient_error(std::size_t i, const Real& error) { input_grad_error_[i] = up(error); }

  /// The formats an implementation may hold a scalar in (a hyperparameter, a
  /// bias correction): the target's or float64; for a storage format narrower
  /// than float32 (bfloat16, float16) also float32. This is the precision
  /// convention "every operation in the storage type": PyTorch 1.13's CPU
  /// kernels for bfloat16 compute each operation in float32 and round its
  /// result to bfloat16, but take some scalar operands in float32 (add_'s
  /// alpha) and others rounded to bfloat16 first (mul_(beta1): 0.9 becomes
  /// 0.8984375; a division by the bias correction), so both are charged.
  /// Under float32 opmath the arithmetic's format is float32 and the scalars
  /// are float32 or float64 (PyTorch's fused kernel takes float lr, betas, eps;
  /// its bias corrections are computed in opmath): a hyperparameter rounded to
  /// the storage format is an error there.
  std::array<FloatFormat, 3> scalar_formats() const {
    return {target_, is_storage_format(target_) || scalars32_ ? float32_format : target_, float64_format};
  }

  /// |h - fl_F(h)| maximised over the scalar formats F: the error of an
  /// implementation holding h in either.
  Real representation_error(const Real& h) const {
    using std::abs;
    using std::max;
    Real worst = 0;
    for (const FloatFormat& f : scalar_formats()) {
      const Real held(round_to_format(h, f));  // an enclosure's: the interval of its reals' roundings
      // A nonzero scalar flushed to zero (eps = 1e-8 in float16) is no
      // representation of it but the pitfall itself: not allowed.
      if (held == 0 && h != 0) continue;
      worst = max(worst, abs(h - Real(held)));
    }
    return worst;
  }

  // ---- observer interface (see NoObserver) ----

  void begin_step(const StepScalars<Real>& s) {
    using std::abs;
    s_ = s;
    if (direction_model_) direction_model_->begin_step(s);
    // Kahan: the step starts from s = theta + c, whose error is the compensated bound.
    if (kahan_)
      for (auto& b : bounds_) b.theta = b.compensated;
    Real d_lr_t = representation_error(s.lr);
    // "Scalars of step t": HeavyBall's lr t / t in the scalar arithmetic, two roundings more
    if (s.lr_warmup_ratio) d_lr_t += 2 * scalar_u_exact_ / (1 - 2 * scalar_u_exact_) * (abs(s.lr) + d_lr_t);
    d_lr_t_ = up(d_lr_t);
    Real e_schedule = h_.lr == 0 ? Real(0) : Real(s.schedule * (d_lr_t / abs(s.lr) + d_lr_ / h_.lr + u_exact_));
    if (s.lr == 0) e_schedule = 0;
    e_schedule_ = up(e_schedule);
    // "Hyperparameters": under a storage format, the complements 1 - beta never formed from a
    // storage-format beta (ScaleByAdam::complements_wide); the same every step, so taken once.
    if (s.complements_wide && !s.debiased && !complements_wide_ && is_storage_format(target_)) {
      complements_wide_ = true;
      d_c1_ = up(complement_wide_error(h_.beta1));
      d_c2_ = up(complement_wide_error(h_.beta2));
      c1h_ = c1u_ + d_c1_;
      c2h_ = c2u_ + d_c2_;
    }
    const Real e_bc1 =
        s.bias_corrected1 ? bias_correction_error(s.bias_correction1, h_.beta1, s.beta1_power, h_d(d_b1_), s.t) : Real(0);
    const Real e_bc2 =
        s.bias_corrected2 ? bias_correction_error(s.bias_correction2, h_.beta2, s.beta2_power, h_d(d_b2_), s.t) : Real(0);
    e_bc2_ = up(e_bc2);
    if (s.debiased) {
      set_moment_scalars(debiased_scalars(h_.beta1, s.moment_beta1, s.t), b1_, c1_, c1u_, d_b1_, d_c1_, b1h_, c1h_, b1f_, c1f_);
      set_moment_scalars(debiased_scalars(h_.beta2, s.moment_beta2, s.t), b2_, c2_, c2u_, d_b2_, d_c2_, b2h_, c2h_, b2f_, c2f_);
    }
    if (m_decay_in_format_) d_b1_in_m_ = held_error(s.moment_beta1, *m_format_);
    if (v_decay_in_format_) d_b2_in_v_ = held_error(s.moment_beta2, *v_format_);
    // A moment scalar whose error is unbounded (a debiased beta's 1 - beta^t within its error of 0:
    // HeavyBall's form with 0.999 held in bfloat16 is (1 - 1)/(1 - 1)) may be inf or NaN, and then
    // even an exactly zero moment term (0 * NaN) is not exact: nothing of the step is bounded.
    scalars_unbounded_ = !(d_b1_.is_finite() && d_c1_.is_finite() && d_b2_.is_finite() && d_c2_.is_finite());
    lr_ = up(s.lr);
    lrh_ = lr_ + d_lr_t_;
    lrf_ = factor_of(s.lr);
    bc1_low_ = down(s.bias_correction1);
    bc2_low_ = down(s.bias_correction2);
    bc2_ = up(s.bias_correction2);
    r_bc1_ = reciprocal_error(bc1_low_, up(e_bc1));
    r_sqrt_bc2_ = sqrt_relative_error(bc2_low_, e_bc2_);
    inverse_bc1_ = U::exact(1) / bc1_low_;
    eps_hat_scale_ = sqrt(bc2_) / bc1_low_;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
      grad_error_[i] = input_grad_error_[i];
      input_grad_error_[i] = U{0};
      update_error_[i] = U{0};
      underflow_error_[i] = U{0};
    }
  }

  // "Flushed subnormals": an operand the implementation holds below the
  // smallest normal (its exact value within its error of that range) may be
  // read as 0, an error of at most the smallest normal: the step's gradient
  // and theta here, the moments in scale_by_adam.
  void begin_element(std::size_t i, const Real& theta, const Real& grad) {
    if (!flush_) return;
    grad_error_[i] = denormal_read(grad, grad_error_[i]);
    bounds_[i].theta = denormal_read(theta, U{bounds_[i].theta}).x;
  }

  // "L2": E(g') = E(g) + wd E(theta) + delta(wd)|theta| + rho(wd theta) + rho(g')
  void add_l2_to_gradient(std::size_t i, const Real& theta, const Real& g_in, const Real& g_out) {
    const U t = up(theta);
    const U e_operands = times(wdh_, U{bounds_[i].theta}) + d_wd_ * t;
    const U e_product = e_operands + product_error(wdf_, theta, wd_ * t, e_operands);
    grad_error_[i] = grad_error_[i] + e_product + sum_error(up(g_out), up(g_in), grad_error_[i], wd_ * t, e_product);
    // "Promoted products": wd theta and g + wd theta, both among the dtype's values, rounded to it too.
    if (promoted_)
      grad_error_[i] = grad_error_[i] + promoted_rounding(wdh_ * (t + U{bounds_[i].theta})) +
                       promoted_rounding(up(g_out) + grad_error_[i]);
    // "Compensated storage": wd theta reads theta alone, without c.
    if (compensated_storage_) grad_error_[i] = grad_error_[i] + wdh_ * compensation_bound_[i];
    // g + wd theta may overflow the arithmetic format (float16: theta near 65504): then it may be inf.
    if (up(g_out) + grad_error_[i] >= D::exact(largest_)) grad_error_[i] = U::infinite();
  }

  // "decay_weights": f = 1 - s wd, E(f) = s delta(wd) + wd E(s) + 2 rho(s wd) + rho(f);
  // E(theta') = |f| E(theta) + |theta| E(f) + rho(theta')
  void decay_weights(std::size_t i, const DecayWeights& d, const Real& s, const Real& theta_in,
                     const Real& factor, const Real& theta_out) {
    U e_s{0};
    if (d.scale == DecayScale::learning_rate) e_s = d_lr_t_;
    if (d.scale == DecayScale::schedule) e_s = e_schedule_;
    const U su = up(s);
    const U e_f = su * d_wd_ + wd_ * e_s + U::exact(2) * product_error(decay_factor(s), h_.weight_decay, su * wd_, su * d_wd_ + wd_ * e_s) + rho(up(factor));
    const U out = up(theta_out);
    // A theta that may be inf (its bound unbounded: an update that overflowed) times an exact 0
    // (1 - wd at wd = 1, ONNX's post-decay) is NaN in IEEE arithmetic, not 0: still unbounded.
    if (factor == 0 && !U{bounds_[i].theta}.is_finite()) return;
    // "Compensated storage": the decay multiplies theta alone, leaving c undecayed: |1 - f| |c| more.
    const U undecayed = compensated_storage_ ? up(Real(1) - factor) * compensation_bound_[i] : U{0};
    bounds_[i].theta = (times(up(factor) + e_f, U{bounds_[i].theta}) + times(up(theta_in), e_f) + rho(out) + undecayed +
                        reference_u_ * out).x;
  }

  // scale_by_adam, section by section of docs/error-model.md: "Moments" for m
  // and v (with "Overflow"), AMSGrad's maximum, "Bias correction, square root,
  // epsilon" and "The direction", "Underflow of intermediate products".
  void scale_by_adam(std::size_t i, const ScaleByAdam& adam, const AdamElement<Real>& e) {
    ElementBounds<Bound>& b = bounds_[i];
    if (scalars_unbounded_) {  // begin_step: a moment scalar may be inf or NaN, so nothing of the step is bounded
      b.m = b.v = b.vmax = U::infinite().x;
      update_error_[i] = U::infinite();
      underflow_error_[i] = U{0};
      return;
    }
    const U eg = grad_error_[i];
    if (flush_) {  // the moments read back as operands ("Flushed subnormals")
      b.m = denormal_read(e.m_prev, U{b.m}).x;
      b.v = denormal_read(e.v_prev, U{b.v}).x;
      b.vmax = denormal_read(e.vmax_prev, U{b.vmax}).x;
    }
    const U e_m = first_moment_error(e, eg, U{b.m});
    const U e_v = second_moment_error(e, eg, U{b.v});
    // AMSGrad's maximum of raw v is within the larger of the two errors.
    U e_vmax{b.vmax};
    U e_v_used = e_v;
    if (adam.amsgrad == AmsgradVariant::max_of_raw_v) {
      e_vmax = max(U{b.vmax}, e_v);
      e_v_used = e_vmax;
    }
    // "Direction in the moments' format": the direction reads the stored moments, in their format's arithmetic.
    const DirectionError d =
        direction_model_ ? direction_model_->direction_error(adam, e, U{stored_bound(e_v_used.x, e.v_used, v_store_)}, e_vmax)
                         : direction_error(adam, e, e_v_used, e_vmax);
    const U e_m_read = direction_model_ ? U{stored_bound(e_m.x, e.m, m_store_)} : e_m;
    const U direction_eta = direction_model_ ? max(eta_, direction_model_->eta_) : eta_;
    b.m = (e_m + reference_u_ * up(e.m)).x;
    b.v = (e_v + reference_u_ * up(e.v)).x;
    b.vmax = (e_vmax + reference_u_ * up(e.vmax)).x;
    // A denominator (D, bc1, sqrt(bc2)) whose error may reach it may be 0 in
    // the implementation: then even m = 0 gives 0/0, and nothing is bounded.
    update_error_[i] = !d.factor.is_finite()
                           ? U::infinite()
                           : times(up(e.direction), d.factor) + times(d.r_over_m * e_m_read, U::exact(1) + d.factor) +
                                 direction_eta;
    underflow_error_[i] = direction_model_ ? max(underflow_error(d.denom_low), direction_model_->underflow_error(d.denom_low))
                                           : underflow_error(d.denom_low);
  }

  // "add_decayed_weights": E(u') = E(u) + wd E(theta) + delta(wd)|theta| + rho(wd theta) + rho(u')
  void add_decayed_weights(std::size_t i, const Real& theta, const Real& u_in, const Real& u_out) {
    const U t = up(theta);
    const U e_operands = times(wdh_, U{bounds_[i].theta}) + d_wd_ * t;
    U e_product = e_operands + product_error(wdf_, theta, wd_ * t, e_operands);
    // "Promoted products": wd theta, a weak scalar times the dtype's theta, rounded to the dtype.
    if (promoted_) e_product = e_product + promoted_rounding(wdh_ * (t + U{bounds_[i].theta}));
    update_error_[i] =
        update_error_[i] + e_product + sum_error(up(u_out), up(u_in), update_error_[i], wd_ * t, e_product);
  }

  // "scale_by_lr": E(u') = lr E(u) + delta(lr_t)|u| + rho(u')
  void scale_by_learning_rate(std::size_t i, const Real& u_in, const Real& u_out) {
    const U u = up(u_in);
    const U e_operands = times(lrh_, update_error_[i]) + d_lr_t_ * u;
    update_error_[i] = e_operands + product_error(lrf_, u_in, lr_ * u, e_operands) +
                       underflow_error_[i];
    (void)u_out;
  }

  // "apply_update": E(theta') = E(theta) + E(u) + rho(theta')
  void apply_update(std::size_t i, const Real& theta_in, const Real& u, const Real& theta_out) {
    const U t{bounds_[i].theta};
    // "Promoted products": lr u cast to the dtype before the dtype's subtraction (its rounding: "Storing").
    if (promoted_) update_error_[i] = update_error_[i] + promoted_rounding(up(u) + update_error_[i]);
    const U out = up(theta_out);
    if (compensated_storage_) {
      // "Compensated storage": c1 = rn(c + u), theta' = rn(theta + c1), c' = rn(c1 + rn(theta - theta')):
      // theta' + c' = theta + c1 exactly where |c1| <= |theta| (Fast2Sum), and within the roundings of
      // the difference and of c' otherwise; only c1's rounding reaches the compensated value.
      const U c1 = compensation_bound_[i] + up(u) + update_error_[i];
      const U roundings = U::exact(2) * storage_u_ * c1 + U::exact(5) * storage_u_ * storage_u_ * (out + t) +
                          U::exact(3) * storage_eta_;
      bounds_[i].theta = (t + update_error_[i] + roundings + reference_u_ * out).x;
      // The new c is a rounding residual of theta' (before any decay after it, which leaves c alone):
      // |c'| <= 4 u_S |theta'| + 2 eta_S.
      compensation_bound_[i] = U::exact(4) * storage_u_ * (out + U{bounds_[i].theta}) + U::exact(2) * storage_eta_;
      return;
    }
    bounds_[i].theta = (t + update_error_[i] + sum_error(out, up(theta_in), t, up(u), update_error_[i]) +
                        reference_u_ * out).x;
  }

  // "Storing": a value stored in a format S narrower than the arithmetic's
  // (float32 opmath into bfloat16; a state format of its own) is the
  // computed one rounded to S: E' = E + u_S (|x| + E) + eta_S; theta rounded
  // stochastically: E' = E + 2 u_S (|x| + E) + eta_S. Zero with no error
  // stays exact. Each of theta, m, v, vmax has its own S. Elsewhere (master
  // weights, a format's own arithmetic) a stored value is the computed one.
  void end_element(std::size_t i, const ElementRecord<Real>& e) {
    ElementBounds<Bound>& b = bounds_[i];
    if (kahan_) b.compensated = compensated_bound(b.theta, e.theta);
    b.theta = stored_bound(b.theta, e.theta, theta_store_);
    b.m = stored_bound(b.m, e.m, m_store_);
    b.v = stored_bound(b.v, e.v, v_store_);
    b.vmax = stored_bound(b.vmax, e.vmax, vmax_store_);
  }

  /// Kahan, where a case starts from a compensation c0: the exact value is
  /// theta0 + c0, the implementation's first s = fl32(theta0 + c0) is within
  /// `formation` of it, and its theta alone (before any step) within |c0|
  /// more.
  void set_initial_theta_error(std::size_t i, const Real& formation, const Real& compensation) {
    using std::abs;
    bounds_[i].compensated = up(formation).x;
    bounds_[i].theta = (up(formation) + up(abs(compensation))).x;
    if (compensated_storage_) compensation_bound_[i] = up(abs(compensation));
  }

 private:
  // "Moments", first moment: the worst of the orderings b m' + c g (and fma)
  // and m' + c (g - m') (lerp), each sum's operands with their own errors
  // (sum_error: the implementation adds its values, not the exact ones).
  U first_moment_error(const AdamElement<Real>& e, const U& eg, const U& bm) const {
    const U g = up(e.grad), m_prev = up(e.m_prev), m = up(e.m);
    const Real g_minus_m = e.grad - e.m_prev;
    const U gm = up(g_minus_m);
    const U gm_c1 = c1u_ * gm;
    const U sum_gm = sum_error(gm, g, eg, m_prev, bm);  // g - m'
    const U e_difference_m = eg + bm + sum_gm;
    const U e_gm_c1 = times(c1h_, e_difference_m) + d_c1_ * gm;  // c1~ (g - m')~ against c1 (g - m')
    const U lerp_m = times(c1h_, sum_gm) + product_error(c1f_, g_minus_m, gm_c1, e_gm_c1) +
                     sum_error(m, m_prev, bm, gm_c1, e_gm_c1 + product_error(c1f_, g_minus_m, gm_c1, e_gm_c1));
    const U b1m = b1_ * m_prev, c1g = c1u_ * g;
    const U e_b1m = times(b1h_, bm) + d_b1_ * m_prev, e_c1g = times(c1h_, eg) + d_c1_ * g;
    const U standard_m = product_error(b1f_, e.m_prev, b1m, e_b1m) + product_error(c1f_, e.grad, c1g, e_c1g) +
                         sum_error(m, b1m, e_b1m + product_error(b1f_, e.m_prev, b1m, e_b1m),
                                   c1g, e_c1g + product_error(c1f_, e.grad, c1g, e_c1g));
    U e_m = times(b1h_, bm) + times(c1h_, eg) + hyperparameter_error(d_b1_, d_c1_, m_prev, g) + max(standard_m, lerp_m);
    // "Promoted products": (1 - b1) g rounded to the dtype before the float32 sum.
    if (promoted_) e_m = e_m + promoted_rounding(c1h_ * (g + eg));
    if (m_decay_in_format_) {
      // "Moments in m's format": b1 held in m's format S (|b1 - fl_S(b1)|) and b1 m'
      // rounded to S (u_S |b1~ m'~| + eta_S), charged on top of the arithmetic's rounding.
      e_m = e_m + decay_in_format_charge(d_b1_in_m_, b1h_, m_prev, bm, m_store_);
    }
    return e_m;
  }

  // "Moments", second moment: b v' + c (g g) or (c g) g, and the lerp
  // v' + c (g g - v'); "Overflow": where the implementation's g g may reach
  // the arithmetic format's largest finite value (|g| > 256 in float16
  // storage arithmetic), v may be inf, and nothing about it or the update is bounded.
  U second_moment_error(const AdamElement<Real>& e, const U& eg, const U& bv) const {
    const U g = up(e.grad), v_prev = up(e.v_prev), v = up(e.v);
    const Real g2_exact = e.grad * e.grad;
    const U g2 = up(g2_exact);
    const U e_g2 = times(U::exact(2) * g, eg) + times(eg, eg);
    const U rounding_g2{pick(equal_each(g2_exact, 0), ADAMCONF_BRANCH(Bound) { return Bound(0); },
                             ADAMCONF_BRANCH(Bound) { return rho(g2).x; })};  // g g, exact for g = 0
    const U c2g2 = c2u_ * g2;
    const U square = max(c2u_ * rounding_g2,
                         g * product_error(c2f_, e.grad, c2u_ * g, times(c2h_, eg) + d_c2_ * g));  // c2 (g g) or (c2 g) g
    const Real g2_minus_v = g2_exact - e.v_prev;
    const U g2v = up(g2_minus_v);
    const U g2v_c2 = c2u_ * g2v;
    const U sum_g2v = sum_error(g2v, g2, e_g2 + rounding_g2, v_prev, bv);
    const U e_difference_v = e_g2 + rounding_g2 + bv + sum_g2v;
    const U e_g2v_c2 = times(c2h_, e_difference_v) + d_c2_ * g2v;
    const U lerp_v = times(c2h_, rounding_g2 + sum_g2v) + product_error(c2f_, g2_minus_v, g2v_c2, e_g2v_c2) +
                     sum_error(v, v_prev, bv, g2v_c2, e_g2v_c2 + product_error(c2f_, g2_minus_v, g2v_c2, e_g2v_c2));
    const U b2v = b2_ * v_prev;
    const U e_b2v = times(b2h_, bv) + d_b2_ * v_prev, e_c2g2 = times(c2h_, e_g2 + rounding_g2) + d_c2_ * g2;
    const U standard_v =
        square + product_error(c2f_, g2_exact, c2g2, e_c2g2) + product_error(b2f_, e.v_prev, b2v, e_b2v) +
        sum_error(v, b2v, e_b2v + product_error(b2f_, e.v_prev, b2v, e_b2v), c2g2,
                  e_c2g2 + square + product_error(c2f_, g2_exact, c2g2, e_c2g2));
    U e_v = times(b2h_, bv) + times(c2h_, e_g2) + hyperparameter_error(d_b2_, d_c2_, v_prev, g2) +
                  max(standard_v, lerp_v);
    if ((g + eg) * (g + eg) >= D::exact(largest_)) return U::infinite();
    if (promoted_) {
      // "Promoted products": g g rounded to the dtype (inf from its largest value on), then
      // (1 - b2) (g g)~ rounded to it, before the float32 sum.
      const U square_reach = (g + eg) * (g + eg);
      if (square_reach.x >= dtype_ops_.overflow) return U::infinite();
      const U rounded_square = promoted_rounding(square_reach);
      e_v = e_v + times(c2h_, rounded_square) + promoted_rounding(c2h_ * (square_reach + rounded_square));
    }
    if (v_decay_in_format_) {
      // "Moments in their formats": b2 held in v's format and b2 v' rounded to it, as m's above.
      return e_v + decay_in_format_charge(d_b2_in_v_, b2h_, v_prev, bv, v_store_);
    }
    return e_v;
  }

  /// "The direction": u = m * F with F = 1/(bc1 D) (or sqrt(bc2)/(bc1 D) for
  /// eps-hat) known within relative error `factor` (F - 1 of the document),
  /// r_over_m = |F|, and the denominator D rounded down.
  struct DirectionError {
    U factor, r_over_m;
    D denom_low;
  };
  // "Bias correction, square root, epsilon": D = sqrt(v_hat + eps_root) + eps
  // (sqrt(v + eps_root) + eps for eps-hat); AMSGrad over v_hat takes its
  // maximum here, so e_vmax is updated.
  DirectionError direction_error(const ScaleByAdam& adam, const AdamElement<Real>& e, const U& e_v_used, U& e_vmax) const {
    if (!quantized_ || !adam.eps_scaled_by_sqrt_bc2) return direction_error_of(adam, e, e_v_used, e_vmax);
    // "Quantized states": bitsandbytes' 8-bit optimizers step a small tensor with the 32-bit
    // kernel (eps scaled by sqrt(bc2)) and a quantized one in PyTorch's order (sqrt(v)/sqrt(bc2)
    // + eps): both orders are charged, the larger of each term.
    ScaleByAdam plain = adam;
    plain.eps_scaled_by_sqrt_bc2 = false;
    U e_vmax_plain = e_vmax;
    const DirectionError a = direction_error_of(plain, e, e_v_used, e_vmax_plain);
    const DirectionError b = direction_error_of(adam, e, e_v_used, e_vmax);
    return {.factor = max(a.factor, b.factor), .r_over_m = max(a.r_over_m, b.r_over_m), .denom_low = b.denom_low.x < a.denom_low.x ? b.denom_low : a.denom_low};
  }

  DirectionError direction_error_of(const ScaleByAdam& adam, const AdamElement<Real>& e, const U& e_v_used, U& e_vmax) const {
    DirectionError d;
    d.denom_low = down(e.denom);
    if (adam.eps_scaled_by_sqrt_bc2 && adam.eps_placement == EpsPlacement::after_bias_correction &&
        adam.amsgrad != AmsgradVariant::max_of_v_hat && h_.eps_root == 0) {
      // "eps scaled by sqrt(bc2)": u = m (c/bc1) / (sqrt(v) + eps c), c = sqrt(bc2)
      // computed within r(sqrt bc2) and its own rounding. The denominator D' =
      // c D exactly (these libraries have no eps_root), so a lower bound of D'
      // is one of D times sqrt(bc2); the factor c/bc1 errs by r(sqrt bc2) and
      // r(1/bc1); five roundings: sqrt(bc2), c/bc1, m F, / D', lr u. D' is small
      // where bc2 is (3e-4 at beta2 = 0.99999, eps = 0.1): an intermediate m F
      // that rounds in the subnormal range is amplified by 1/D', which
      // underflow_error reads from denom_low.
      const U s = sqrt(up(e.v_used));
      const U e_s = sqrt_error(e.v_used, e_v_used) + root_rounding(adam) * s + eta_;
      const U c = sqrt(bc2_);
      const U e_c = c * (r_sqrt_bc2_ + u_);
      const U eps_c = up(h_.eps) * c;
      const U e_eps_c = d_eps_ * (c + e_c) + up(h_.eps) * e_c + rho(eps_c);
      d.denom_low = down(e.denom) * sqrt(bc2_low_);
      const U denom_up = up(e.denom) * c;
      const U e_d = e_s + e_eps_c + rho(denom_up);
      d.factor = compose(compose(compose(r_sqrt_bc2_, r_bc1_), reciprocal_error(d.denom_low, e_d)), gamma(5));
      d.r_over_m = eps_hat_scale_ / d.denom_low;
    } else if (adam.eps_placement == EpsPlacement::after_bias_correction) {
      U e_v_hat = quotient_error(up(e.v_used), e_v_used, bc2_low_, e_bc2_) + rho(up(e.v_hat));
      // "Overflow": v / bc2 may exceed the arithmetic's largest finite value
      // where sqrt(v)/sqrt(bc2) does not (v near 2^116, bc2 near 2e-4 in
      // float32): the implementation's v_hat may be inf and its update 0.
      if (up(e.v_hat) + e_v_hat >= D::exact(largest_)) e_v_hat = U::infinite();
      if (adam.amsgrad == AmsgradVariant::max_of_v_hat) {
        e_vmax = max(e_vmax, e_v_hat);
        e_v_hat = e_vmax;
      }
      const Real x_exact = e.v_hat + h_.eps_root;
      const U e_x = e_v_hat + d_eps_root_ + (h_.eps_root > 0 ? rho(up(x_exact)) : U{0});
      const U s = sqrt(up(x_exact));
      // sqrt(v_hat), or sqrt(v) / sqrt(bc2) with sqrt(bc2) rounded: the root and two roundings
      const U e_s = sqrt_error(x_exact, e_x) + (root_rounding(adam) + U::exact(2) * u_) * s + eta_;
      // eps as a floor: max(s, eps) errs by at most the larger of its operands' errors
      const U e_d = adam.eps_floor ? max(e_s, d_eps_) : e_s + d_eps_ + sum_error(up(e.denom), s, e_s, up(h_.eps), d_eps_);
      // four roundings where the reciprocals are multiplied first (ScaleByAdam::reciprocal_product)
      d.factor = compose(compose(r_bc1_, reciprocal_error(d.denom_low, e_d)), adam.reciprocal_product ? gamma4_ : gamma3_);
      d.r_over_m = inverse_bc1_ / d.denom_low;
    } else {
      const Real x_exact = e.v_used + h_.eps_root;
      const U e_x = e_v_used + d_eps_root_ + (h_.eps_root > 0 ? rho(up(x_exact)) : U{0});
      const U s = sqrt(up(x_exact));
      const U e_s = sqrt_error(x_exact, e_x) + (root_rounding(adam) + u_) * s + eta_;
      const U e_d = e_s + d_eps_ + sum_error(up(e.denom), s, e_s, up(h_.eps), d_eps_);
      d.factor = compose(compose(compose(r_sqrt_bc2_, r_bc1_), reciprocal_error(d.denom_low, e_d)), gamma4_);
      d.r_over_m = eps_hat_scale_ / d.denom_low;
    }
    return d;
  }

  /// The relative error of the denominator's square root: a correctly rounded
  /// root errs by u, one within one ulp (ScaleByAdam::sqrt_within_one_ulp) by
  /// 2u, an ulp being at most 2u of a normal value (a subnormal root's
  /// spacing is the eta charged beside it; no root of a nonnegative float is
  /// subnormal).
  U root_rounding(const ScaleByAdam& adam) const { return adam.sqrt_within_one_ulp ? U::exact(2) * u_ : u_; }

  // "Underflow of intermediate products": an intermediate of lr * m *
  // sqrt(bc2)/(bc1 D) (PyTorch's lr/bc1 * m, say) that rounds in the
  // subnormal range errs by eta absolutely, and the factors applied after it
  // can amplify that by at most the product of those above 1. Charged once
  // per possible intermediate (k = 3).
  U underflow_error(const D& denom_low) const {
    const U one = U::exact(1);
    return U::exact(3) * eta_ * max(one, lr_) * max(one, inverse_bc1_) * max(one, one / denom_low);
  }

  /// An operand x held within `error` of its exact value, read under
  /// flushed subnormals: 0 if the implementation's copy may be subnormal.
  U denormal_read(const Real& x, const U& error) const {
    const D low = down(x) - error;  // the least magnitude the implementation's copy may have
    // an exact zero stays exact (lane by lane: every choice here is per element)
    return U{pick(both(equal_each(x, 0), error.is_zero()), ADAMCONF_BRANCH(Bound) { return error.x; }, ADAMCONF_BRANCH(Bound) {
      return pick(low.x >= smallest_normal_.x, ADAMCONF_BRANCH(Bound) { return error.x; }, ADAMCONF_BRANCH(Bound) { return (error + eta_).x; });
    })};
  }

  /// How one tensor is stored: whether storing rounds at all (its format is
  /// narrower than the arithmetic's), and the format's unit roundoff (doubled
  /// for stochastic rounding), subnormal spacing and largest finite value.
  struct StoreRule {
    bool rounds = false;
    U u{0}, eta{0};
    Bound overflow = 0;
  };
  StoreRule store_rule(const FloatFormat& f, bool stochastic) const {
    using std::ldexp;
    StoreRule r;
    r.rounds = f.precision < target_.precision || f.min_exponent > target_.min_exponent ||
               f.max_exponent < target_.max_exponent;
    r.u = U::exact(ldexp(Bound(1), (stochastic ? 1 : 0) - f.precision));
    r.eta = U::exact(ldexp(Bound(1), f.min_exponent - (flush_ ? 0 : f.precision - 1)));
    r.overflow = Bound(f.largest_finite());
    return r;
  }

  /// |x - fl_f(x)|: the representation error of x held in format f, rounded up.
  U held_error(const Real& x, const FloatFormat& f) const {
    using std::abs;
    return up(Real(abs(x - Real(round_to_format(x, f)))));
  }

  /// "Moments in their formats": the decay b (held within b_held) of a state x' (within e) computed in the
  /// state's format S: b held in S (d_held |x'|) and b x' rounded to S (u_S |b~ x'~| + eta_S).
  U decay_in_format_charge(const U& d_held, const U& b_held, const U& x, const U& e, const StoreRule& s) const {
    return d_held * x + s.u * ((b_held + d_held) * (x + e)) + s.eta;
  }

  /// "Promoted products": the rounding to the dtype of a value of magnitude at most `reach`; a value
  /// that may reach the dtype's largest one may be inf (lr u cast to float16 from a float32 u): no bound.
  U promoted_rounding(const U& reach) const {
    if (reach.x >= dtype_ops_.overflow) return U::infinite();
    return dtype_ops_.u * reach + dtype_ops_.eta;
  }

  /// The bound on x (computed within `bound`) stored by rule `s`:
  /// E + u_S (|x| + E) + eta_S; an exact zero stays exact, and a value that
  /// may reach the overflow threshold may be stored as inf: no bound.
  Bound stored_bound(Bound bound, const Real& x, const StoreRule& s) const {
    if (!s.rounds) return bound;
    const U err{bound};
    const U reach = up(x) + err;
    return pick(both(equal_each(x, 0), err.is_zero()), ADAMCONF_BRANCH(Bound) { return bound; }, ADAMCONF_BRANCH(Bound) {
      return pick(reach.x >= s.overflow, ADAMCONF_BRANCH(Bound) { return U::infinite().x; },
                  ADAMCONF_BRANCH(Bound) { return (err + s.u * reach + s.eta).x; });
    });
  }

  // "Storing" under kahan-summation, with x the float32 result and E its bound:
  //   theta = rn_S(x): E(theta) is stored_bound's, as any stored value;
  //   c = rn_C(x - theta) in the compensation's format C, x - theta exact in
  //   float32 and at most u_S |x| + eta_S: theta + c is within
  //   r = u_C (u_S (|x| + E) + eta_S) + eta_C of x, and exactly x (r = 0)
  //   where C holds float32's values (a float32 compensation). The next
  //   step forms s = fl32(theta + c) (within u_32 |s|), and a checker adds
  //   theta + c in double (within u_64 |s|); both are charged here:
  //   E(theta + c) = E + r + (u_32 + u_64)(|x| + E + r).
  Bound compensated_bound(Bound bound, const Real& x) const {
    const U err{bound};
    const U reach = up(x) + err;
    const StoreRule& c = compensation_store_;
    return pick(both(equal_each(x, 0), err.is_zero()), ADAMCONF_BRANCH(Bound) { return Bound(0); }, ADAMCONF_BRANCH(Bound) {
      return pick(reach.x >= storage_overflow_, ADAMCONF_BRANCH(Bound) { return U::infinite().x; }, ADAMCONF_BRANCH(Bound) {
        const U r = c.rounds ? c.u * (storage_u_ * reach + storage_eta_) + c.eta : U{0};
        return (err + r + (float32_u_ + double_u_) * (reach + r)).x;
      });
    });
  }

  /// |x| rounded to Bound away from zero (up) or toward zero (down). A long
  /// double gets x's leading 53 bits so rounded and its exponent, exactly: it
  /// is within 2^-52 relative of |x|, on the right side.
  static Bound to_bound(const Real& x, bool away) {
    static_assert(is_multiprecision_v<Real>, "a hardware-type bound is for the MPFR reference");
    const mpfr_srcptr p = x.backend().data();
    if constexpr (std::is_same_v<Bound, long double>) {
      if (mpfr_zero_p(p)) return 0;
      const long exponent = mpfr_get_exp(p);
      if (exponent > -960 && exponent < 1023) return adamconf::magnitude_to_double(p, away);
      long e = 0;
      const double mant = std::fabs(mpfr_get_d_2exp(&e, p, away ? MPFR_RNDA : MPFR_RNDZ));
      return std::ldexp(static_cast<long double>(mant), static_cast<int>(std::clamp(e, -20000L, 20000L)));
    } else {
      return adamconf::magnitude_to_double(p, away);
    }
  }
  /// x >= 0 rounded to 53 bits away from zero or toward it, as to_bound reads an
  /// MPFR value into a long double: the upper reading is then never below it.
  static Bound to_53_bits(Bound x, bool away) {
    if constexpr (!std::is_same_v<Bound, long double>) {  // double, or lanes of double
      return x;
    } else {
      int e = 0;
      const Bound mantissa = std::frexp(x, &e);  // in [1/2, 1)
      const Bound scaled = std::ldexp(mantissa, 53);
      const Bound whole = away ? std::ceil(scaled) : std::floor(scaled);
      return std::ldexp(whole, e - 53);
    }
  }
  static U up(const Real& x) {
    if constexpr (is_enclosure_v<Real>) {
      static_assert(std::is_same_v<Real, Enclosure<Bound>>, "an enclosure's ends are bounds as they are");
      return U{Lower ? x.magnitude_low() : to_53_bits(x.magnitude_high(), true)};
    } else if constexpr (is_directed_v<Bound>) {
      return U{to_bound(x, true)};
    } else {
      using std::abs;
      return U{abs(x)};
    }
  }
  /// |x| rounded down, at most Bound's largest finite value.
  static D down(const Real& x) {
    if constexpr (is_enclosure_v<Real>) {
      using std::min;
      return D{min(Lower ? x.magnitude_high() : to_53_bits(x.magnitude_low(), false), Bound(std::numeric_limits<scalar_of_t<Bound>>::max()))};
    } else if constexpr (is_directed_v<Bound>) {
      return D{std::min(to_bound(x, false), std::numeric_limits<Bound>::max())};
    } else {
      using std::abs;
      return D{abs(x)};
    }
  }
  /// An Up as Real (exact: a double is a Real).
  static Real h_d(const U& x) { return Real(x.x); }

  U rho(const U& y) const { return u_ * y + eta_; }
  Real rho_exact(const Real& y) const {
    using std::abs;
    return u_exact_ * abs(y) + eta_exact_;
  }
  U gamma(int k) const {
    const U ku = U::exact(Bound(k)) * u_;
    return ku / (D::exact(1) - ku);
  }
  Real gamma_exact(std::int64_t k) const { return k * u_exact_ / (1 - k * u_exact_); }

  /// (1 + f)(1 + r) - 1 = f + r + f r, kept as a sum of positive terms (the
  /// product of (1 + r_i) minus 1 loses the small r_i to cancellation).
  static U compose(const U& f, const U& r) { return f + r + f * r; }

  /// "Sums": the implementation adds its own a~ and b~, within ea and eb of the
  /// exact a and b. The rounding of a~ + b~ errs by at most u|a~ + b~| + eta, and
  /// never by more than the smaller operand (both operands are candidates for the
  /// nearest): min(u(|a + b| + ea + eb) + eta, |a| + ea, |b| + eb). The errors ea
  /// and eb themselves are charged by the caller. sum = |a + b|, a = |a|, b = |b|.
  U sum_error(const U& sum, const U& a, const U& ea, const U& b, const U& eb) const {
    return min(rho(sum) + times(u_, ea + eb), min(a + ea, b + eb));
  }

  /// A factor h of "Products", with what product_error asks of it computed once.
  struct Factor {
    Real value;
    bool zero = true, power_of_two = false;
  };
  static Factor factor_of(const Real& h) {
    using std::abs;
    using std::frexp;
    Factor f{h, h == 0, false};
    int e = 0;
    if (!f.zero) f.power_of_two = abs(frexp(h, &e)) == Real(1) / 2;
    return f;
  }
  /// Whether a and b are the same number (an enclosure: the same interval, so the same Factor).
  static bool same_number(const Real& a, const Real& b) {
    if constexpr (is_enclosure_v<Real>) return a.lo == b.lo && a.hi == b.hi;
    else return a == b;
  }
  /// decay_weights' multiplier s (lr_t, the schedule or 1): one per step, so kept.
  const Factor& decay_factor(const Real& s) {
    if (!decay_factor_set_ || !same_number(decay_factor_.value, s)) {
      decay_factor_ = factor_of(s);
      decay_factor_set_ = true;
    }
    return decay_factor_;
  }

  /// "Products": the rounding of h * x, h a hyperparameter (or 1 - beta, a
  /// learning rate, a decay multiplier). Exact when h is 0 or a power of two
  /// (beta = 0, lr = 0.5), unless the product underflows: the implementation
  /// holds such an h exactly. x is a computed value, so its being a power of two
  /// in the reference says nothing about the implementation's copy of it.
  /// `product` is |h x| rounded up (0 exactly when h x is 0).
  /// `operand_error` bounds |h~ x~ - h x|, the implementation's own product
  /// (its held h and computed x) against the exact one: that product is what
  /// is rounded, so rho is of |h x| + operand_error. (In float32 the
  /// difference is second order; with bfloat16's held 0.99 = 0.98828125, 1 -
  /// beta1 is 17% off and the product's rounding with it.)
  U product_error(const Factor& h, const Real& x, const U& product, const U& operand_error = U{0}) const {
    using std::abs;
    if (h.zero) return U{0};
    // Lane by lane (lanes.hpp): an exactly zero product of exact operands is exact; a power of two
    // errs only below the normal range (eta where the product's bound is 0, its operands not exact).
    return U{pick(both(product.is_zero(), operand_error.is_zero()), ADAMCONF_BRANCH(Bound) { return Bound(0); },
                  ADAMCONF_BRANCH(Bound) {
                    if (!h.power_of_two) return rho(product + operand_error).x;
                    return pick(product.is_zero(), ADAMCONF_BRANCH(Bound) { return eta_.x; }, ADAMCONF_BRANCH(Bound) {
                      return pick(at_least(abs(Real(h.value * x)), ldexp(Real(1), target_.min_exponent)),
                                  ADAMCONF_BRANCH(Bound) { return Bound(0); }, ADAMCONF_BRANCH(Bound) { return eta_.x; });
                    });
                  })};
  }

  /// a * b where 0 * inf is 0: an exactly zero term has no error, however
  /// unbounded the factor it would be multiplied by.
  static U times(const U& a, const U& b) { return a * b; }

  /// "Moments", the hyperparameters' share: b x' + c y perturbs b and c
  /// separately; the lerp x' + c (y - x') perturbs c against both terms.
  static U hyperparameter_error(const U& d_b, const U& d_c, const U& x_prev, const U& y) {
    return max(d_b * x_prev + d_c * y, d_c * (x_prev + y));
  }

  /// The scalar formats beta is held in to form 1 - beta and 1 - beta^t under
  /// ScaleByAdam::complements_wide: float32 and double, never a storage format.
  static constexpr std::array<const FloatFormat*, 2> kWideFormats{&float32_format, &float64_format};

  /// "Hyperparameters", under ScaleByAdam::complements_wide: 1 - beta formed
  /// from beta held in float32 or double (in that format), then held in any
  /// scalar format, or 1 - beta itself rounded; beta held in a storage format
  /// (0.999 is 1 in bfloat16) is not one of them.
  Real complement_wide_error(const Real& beta) const {
    using std::abs;
    using std::max;
    const Real c = Real(1) - beta;
    Real worst = 0;
    auto consider = [&](const Real& held) {
      if (held == 0 && c != 0) return;  // flushed to 0: no representation of it (as representation_error)
      worst = max(worst, abs(c - Real(held)));
    };
    for (const FloatFormat& f : scalar_formats()) {
      consider(Real(round_to_format(c, f)));
      for (const FloatFormat* wide : kWideFormats)
        consider(Real(round_to_format(
            Real(round_to_format(Real(1) - Real(round_to_format(beta, *wide)), *wide)), f)));
    }
    return worst;
  }

  /// "Hyperparameters": 1 - beta computed from a rounded beta or rounded itself.
  Real complement_representation_error(const Real& beta) const {
    using std::abs;
    using std::max;
    const Real c = Real(1) - beta;
    Real worst = 0;
    for (const FloatFormat& f : scalar_formats()) {
      worst = max(worst, abs(c - Real(round_to_format(c, f))));
      const Real from_rounded_beta = Real(1) - Real(round_to_format(beta, f));
      worst = max(worst, abs(c - Real(round_to_format(from_rounded_beta, f))));
    }
    return worst;
  }

  /// "Scalars of step t": E(beta^t) then E(bc) = E(beta^t) + rho(bc).
  /// Under ScaleByAdam::complements_wide and a storage format, beta is held and
  /// beta^t and 1 - beta^t are computed in float32 or double (float32's u and
  /// spacing, the larger), and bc is then held in a scalar format where it is
  /// used (rho(bc) there once more). Elsewhere the scalar formats are those already.
  Real bias_correction_error(const Real& bc, const Real& beta, const Real& power, const Real& d_beta,
                             std::int64_t t) const {
    if (s_.complements_wide && is_storage_format(target_)) {
      using std::abs;
      using std::max;
      Real d_beta_wide = 0;
      for (const FloatFormat* wide : kWideFormats) d_beta_wide = max(d_beta_wide, Real(abs(beta - Real(round_to_format(beta, *wide)))));
      const int flushed = flush_ ? 0 : float32_format.precision - 1;
      return bias_correction_error_in(bc, beta, power, d_beta_wide, t, ldexp(Real(1), -float32_format.precision),
                                      ldexp(Real(1), float32_format.min_exponent - flushed)) +
             scalar_u_exact_ * abs(bc) + scalar_eta_exact_;
    }
    return bias_correction_error_in(bc, beta, power, d_beta, t, scalar_u_exact_, scalar_eta_exact_);
  }
  /// The same in an arithmetic of unit roundoff scalar_u and subnormal spacing scalar_eta.
  Real bias_correction_error_in(const Real& bc, const Real& beta, const Real& power, const Real& d_beta,
                                std::int64_t t, const Real& unit, const Real& spacing) const {
    using std::abs;
    using std::min;
    // beta^1 = beta exactly however it is computed; later, pow is within 1 ulp (2u)
    // and a running product within t - 1 roundings.
    const std::int64_t k = t == 1 ? 0 : std::max<std::int64_t>(2, t - 1);
    const Real sensitivity = t == 1 ? Real(1) : Real(t * integer_power(beta, t - 1));
    const std::int64_t k_capped = std::min<std::int64_t>(k, 1 << 30);
    const Real gamma_k = k_capped * unit / (1 - k_capped * unit);
    Real e_power = sensitivity * d_beta + gamma_k * power + t * spacing;
    if (k * unit >= 1) e_power = 1;
    e_power = min(e_power, Real(1));
    if (t >= 2) e_power = min(e_power, power_ceiling(beta + d_beta, t));
    return e_power + unit * abs(bc) + spacing;
  }

  /// A beta the moments use and its complement, as an implementation holds them.
  struct MomentScalars {
    Real beta, complement;        // exact
    Real beta_error, complement_error;  // delta: the held values' distance from them
    bool exact = false;           // held exactly (0 and 1 at step 1)
  };

  /// "Debiased betas": b_t = beta (1 - beta^(t-1)) / (1 - beta^t) and c_t =
  /// 1 - b_t = (1 - beta) / (1 - beta^t), computed from a power p_t within
  /// E(beta^t) of "Scalars of step t", either as optimi does, b = (p_t - beta)/(p_t - 1) then c = 1 - b, in
  /// double (Python floats: p_t - beta cancels, losing log2(1/(1 - beta^(t-1)))
  /// bits, so this form is taken only in double), or as HeavyBall does, c =
  /// (1 - beta)/(1 - p_t) then b = 1 - c, in the scalar arithmetic; each then
  /// rounded once more to the arithmetic's format (u). The larger of the two
  /// errors is charged to each. At t = 1 both forms give b = 0, c = 1 exactly.
  MomentScalars debiased_scalars(const Real& beta, const Real& b, std::int64_t t) const {
    using std::abs;
    using std::max;
    MomentScalars out{.beta = b, .complement = Real(1) - b, .beta_error = 0, .complement_error = 0};
    if (beta == 0) {  // 0 and 1 at every step: 1 - beta^t = 1 however it is computed
      out.exact = true;
      return out;
    }
    const Real d_beta = representation_error(beta);
    const Real power = integer_power(beta, t);
    // At t = 1 optimi's form and pow give b = 0, c = 1 exactly; HeavyBall's -expm1(log1p(beta - 1)) need not
    const Real e_power = t <= 1 ? Real(0) : bias_correction_error(Real(1) - power, beta, power, d_beta, t);
    const Real denominator = Real(1) - power;  // |p_t - 1|
    // optimi, in double: N = beta - p_t, b = N / (1 - p_t), c = 1 - b
    const Real D = ldexp(Real(1), -53), DE = ldexp(Real(1), -1074);
    const Real d_beta_double = abs(beta - Real(round_to_format(beta, float64_format)));
    const Real e_power_double = bias_correction_error_in(Real(1) - power, beta, power, d_beta_double, t, D, DE);
    const Real numerator = beta - power;
    const Real b_optimi = t <= 1 ? Real(0) :
        Real(quotient_error(up(abs(numerator)), up(Real(e_power_double + d_beta_double + D * abs(numerator) + DE)),
                            down(denominator), up(Real(e_power_double + D * denominator)))
                 .x) +
        D * b + DE;
    const Real c_optimi = t <= 1 ? Real(0) : Real(b_optimi + D * out.complement + DE);
    // HeavyBall, in the scalar arithmetic (unit S): c = (1 - beta) / (1 - p_t), 1 - p_t from
    // pow or a product, or as -expm1(t log1p(beta - 1)); b = 1 - c; then its _lerp's weights
    // c = 1 - b (on the gradient) and b = 1 - c (on the moment), one rounding each
    const Real& S = scalar_u_exact_;
    const Real& E = scalar_eta_exact_;
    // At t = 1, c = (1 - beta~)/(1 - beta~) = 1 for any held beta~: only the arithmetic errs there
    // (1 - beta~ rounded, and the expm1 form), not beta's representation
    const Real one_minus = Real(1) - beta;
    const U e_denominator =
        up(max(Real(e_power + S * denominator), exp_log_power_error(beta, t <= 1 ? Real(0) : d_beta, t, denominator)));
    const U e_one_minus = up(t <= 1 ? Real(S * one_minus) : complement_representation_error(beta));
    const Real c_quotient =
        Real(quotient_error(up(one_minus), e_one_minus, down(denominator), e_denominator).x) + S * out.complement + E;
    const Real b_once = c_quotient + S * b + E;
    const Real c_heavyball = b_once + S * out.complement + E;
    const Real b_heavyball = c_heavyball + S * b + E;
    out.beta_error = max(b_optimi, b_heavyball) + u_exact_ * b + eta_exact_;
    out.complement_error = max(c_optimi, c_heavyball) + u_exact_ * out.complement + eta_exact_;
    return out;
  }

  /// "Debiased betas", HeavyBall's 1 - beta^t = -expm1(x~), x~ = fl(fl(t) fl(log1p(fl(beta~ - 1))))
  /// (heavyball/utils.py beta_debias on tensors). beta~ - 1 rounds only below 1/2 (Sterbenz
  /// above), by at most S (1 - beta): charged with beta~'s own error through d(beta^t)/d beta =
  /// t beta^(t-1). log1p within 1 ulp (2S), t's conversion and the product one rounding each:
  /// x~ = x (1 + theta), |theta| <= gamma_4(S), so |e^x~ - e^x| <= |x| theta e^(-|x| (1 - theta))
  /// (mean value theorem, x = t log beta < 0); expm1 within 1 ulp adds 2S (1 - beta^t).
  /// `bc`: 1 - beta^t, exact.
  Real exp_log_power_error(const Real& beta, const Real& d_beta, std::int64_t t, const Real& bc) const {
    using std::abs;
    using std::exp;
    using std::log;
    using std::min;
    const Real& S = scalar_u_exact_;
    const Real d_subtraction = beta < Real(1) / 2 ? Real(S * (Real(1) - beta)) : Real(0);
    const Real sensitivity = t * integer_power(beta, t - 1);
    const Real x = abs(Real(t * log(beta)));
    const Real theta = 4 * S / (1 - 4 * S);
    const Real e = sensitivity * (d_beta + d_subtraction) + x * theta * exp(Real(-x * (1 - theta))) + 2 * S * bc +
                   scalar_eta_exact_;
    return min(e, Real(1));
  }

  /// The moment scalars of "Moments" set to those of this step.
  void set_moment_scalars(const MomentScalars& s, U& beta, Real& complement, U& complement_up, U& d_beta,
                          U& d_complement, U& beta_held, U& complement_held, Factor& beta_factor,
                          Factor& complement_factor) {
    beta = up(s.beta);
    complement = s.complement;
    complement_up = up(s.complement);
    d_beta = s.exact ? U{0} : up(s.beta_error);
    d_complement = s.exact ? U{0} : up(s.complement_error);
    beta_held = beta + d_beta;
    complement_held = complement_up + d_complement;
    // "Products": a computed scalar earns no exemption; 0 and 1 at step 1 are exact.
    beta_factor = s.exact ? factor_of(s.beta) : Factor{s.beta, false, false};
    complement_factor = s.exact ? factor_of(s.complement) : Factor{s.complement, false, false};
  }

  /// "Scalars of step t", for large t: beta^t and every computed power lie in
  /// [0, C], so they differ by at most C = (b (1 + u))^k (1 + 2u) + k eta with
  /// b = beta + delta(beta) and k = min(t / 2, 2^20). A running product never
  /// grows (fl(p b) <= p for b <= 1): after t steps it is at most its value
  /// after k, (b (1 + u))^k + k eta. pow within 1 ulp of b~^t~, t~ >= t / 2
  /// however t is rounded, is at most b^k (1 + 2u) + eta. Returns 1 where b (1 + u) >= 1.
  Real power_ceiling(const Real& beta_high, std::int64_t t) const {
    const Real c = beta_high * (1 + scalar_u_exact_);
    if (c >= 1) return Real(1);
    const std::int64_t k = std::min<std::int64_t>(t / 2, std::int64_t{1} << 20);
    return integer_power(c, k) * (1 + 2 * scalar_u_exact_) + k * scalar_eta_exact_;
  }

  /// "E(a/b)": rigorous for |a~ - a| <= ea, |b~ - b| <= eb, b > eb.
  static U quotient_error(const U& a, const U& ea, const D& b, const U& eb) {
    if (eb >= b) return U::infinite();
    const D gap = b - eb;
    return ea / gap + (a * eb / b) / gap;
  }

  /// r(1/b) = E(b)/(b - E(b)): the relative error of a reciprocal.
  static U reciprocal_error(const D& b, const U& eb) {
    if (eb >= b) return U::infinite();
    return eb / (b - eb);
  }

  /// r(sqrt b) = q/(1 + sqrt(1 - q)), q = E(b)/b: the relative error of a square root.
  static U sqrt_relative_error(const D& b, const U& eb) {
    const U q = eb / b;
    if (q >= D::exact(1)) return U::infinite();
    return q / (D::exact(1) + sqrt(D::exact(1) - q));
  }

  /// "E(sqrt x)": the worst |sqrt(x +- e) - sqrt(x)| over |e| <= E(x).
  static U sqrt_error(const Real& x, const U& ex) {
    const D xl = down(x);
    return U{pick(ex.is_zero(), ADAMCONF_BRANCH(Bound) { return Bound(0); }, ADAMCONF_BRANCH(Bound) {
      return pick(equal_each(x, 0), ADAMCONF_BRANCH(Bound) { return sqrt(ex).x; },
                  ADAMCONF_BRANCH(Bound) { return min(ex / (sqrt(xl) + sqrt(xl - ex)), sqrt(ex)).x; });
    })};
  }

  // Legend, in the notation of docs/error-model.md. A name ending in u (c1u_)
  // is the exact value rounded up into Bound; h (b1h_) is h + delta(h), the
  // largest magnitude an implementation's held copy of h may have; f (b1f_)
  // is a Factor of "Products" (zero, power of two); d_ (d_b1_) is delta(h),
  // h's representation error over the scalar formats; _low (bc1_low_) a
  // lower bound. b1 = beta1, b2 = beta2, c1 = 1 - beta1, c2 = 1 - beta2,
  // wd = weight decay, bc1 = 1 - beta1^t, bc2 = 1 - beta2^t.
  FloatFormat target_;   // F: the arithmetic's format, every operation rounds to it
  FloatFormat storage_;  // S: the format theta is stored in (float32 for a master)
  U storage_u_{0}, storage_eta_{0};  // u_S, eta_S
  StoreRule theta_store_, m_store_, v_store_, vmax_store_, compensation_store_;  // "Storing", per tensor
  bool quantized_ = false;  // "Quantized states": a quantized m or v
  bool m_decay_in_format_ = false;          // "Moments in m's format"
  const FloatFormat* m_format_ = nullptr;   // m's format, where b1 m' is computed in it
  U d_b1_in_m_{0};                          // |b1 - fl_S(b1)|, S m's format, this step
  bool v_decay_in_format_ = false;          // the same for v ("Moments in their formats")
  const FloatFormat* v_format_ = nullptr;
  U d_b2_in_v_{0};
  // "Direction in the moments' format": the model of the direction's arithmetic (shared: a model is copied)
  std::shared_ptr<ErrorModel> direction_model_;
  bool kahan_ = false;    // kahan-summation over a storage format: bounds_[i].compensated tracks theta + c
  bool compensated_storage_ = false;  // storage-kahan: "Compensated storage"
  bool promoted_ = false;  // promoted: "Promoted products"
  StoreRule dtype_ops_;    // promoted: the dtype's rounding of a product among its values
  std::vector<U> compensation_bound_;  // storage-kahan: |c| of each element, at most
  bool flush_ = false;    // subnormals flushed ("Flushed subnormals"): eta is the smallest normal
  bool scalars32_ = false;  // "Scalars in float32": scalars may be held in float32 where the arithmetic is wider
  Real scalar_u_exact_, scalar_eta_exact_;  // u and eta of the scalars' computation (float32's under scalars32_)
  U smallest_normal_{0};  // of the arithmetic's format
  U float32_u_{0}, double_u_{0};  // u_32, u_64: a Kahan sum's formation in float32 and a checker's in double
  Bound storage_overflow_ = 0;  // S's largest finite value
  Bound largest_ = 0;  // the arithmetic format's largest finite value
  HyperValues<Real> h_;  // the exact hyperparameters
  Factor b1f_, b2f_, c1f_, c2f_, wdf_, lrf_, decay_factor_;  // "Products" factors; lrf_ of lr_t, decay_factor_ of s
  bool decay_factor_set_ = false;
  Real c1_, c2_, eta_exact_, u_exact_, d_lr_;  // 1 - b1, 1 - b2, eta, u and delta(lr) exactly
  U u_, eta_, b1_, b2_, c1u_, c2u_, wd_;  // u, eta, and the hyperparameters rounded up
  U b1h_, b2h_, c1h_, c2h_, wdh_, lrh_;  // h + delta(h): the held scalars' largest magnitudes
  U reference_u_;  // the reference's own rounding, 2^(10 - p), charged on every stored value
  U d_b1_, d_b2_, d_c1_, d_c2_, d_eps_, d_eps_root_, d_wd_, gamma3_, gamma4_;  // delta(h); gamma_3, gamma_4
  StepScalars<Real> s_;  // this step's exact scalars
  bool scalars_unbounded_ = false;  // a moment scalar's error is unbounded this step (begin_step)
  bool complements_wide_ = false;  // d_c1_, d_c2_ taken under ScaleByAdam::complements_wide (begin_step)
  // Per step ("Scalars of step t"): delta(lr_t), E(eta_t) the schedule
  // multiplier's error, E(bc2), lr_t, bc2, r(1/bc1) and r(sqrt(bc2)) the
  // relative errors of a reciprocal and a square root, 1/bc1, sqrt(bc2)/bc1.
  U d_lr_t_, e_schedule_, e_bc2_, lr_, bc2_, r_bc1_, r_sqrt_bc2_, inverse_bc1_, eps_hat_scale_;
  D bc1_low_, bc2_low_;
  std::vector<ElementBounds<Bound>> bounds_;  // E(theta), E(m), E(v), E(vmax) after the last step
  // Per element within a step: E(g) as the moments read it, E(u) of the
  // update so far, the underflow charge, and a next step's given E(g).
  std::vector<U> grad_error_, update_error_, underflow_error_, input_grad_error_;
};

}  // namespace adamconf
