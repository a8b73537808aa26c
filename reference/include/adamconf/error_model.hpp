// The running error bound of docs/error-model.md: an observer of the
// reference's transforms that computes, from the exact values of the case at
// hand, how far any correct implementation in the target format may be from
// them. Each formula below cites its line in the document.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "adamconf/float_format.hpp"
#include "adamconf/reference_adam.hpp"

namespace adamconf {

/// Error bounds of one element's state after a step.
template <class Real>
struct ElementBounds {
  Real theta = 0, m = 0, v = 0, vmax = 0;
};

template <class Real>
class ErrorModel {
 public:
  ErrorModel(const FloatFormat& target, const HyperValues<Real>& hyper, std::size_t elements)
      : target_(target), h_(hyper), bounds_(elements), grad_error_(elements), update_error_(elements),
        underflow_error_(elements), input_grad_error_(elements) {
    using std::ldexp;
    u_ = ldexp(Real(1), -target.precision);
    reference_u_ = ldexp(Real(1), 10 - significand_bits<Real>());
    eta_ = ldexp(Real(1), target.min_exponent - target.precision + 1);
    c1_ = Real(1) - h_.beta1;
    c2_ = Real(1) - h_.beta2;
    d_lr_ = representation_error(h_.lr);
    d_b1_ = representation_error(h_.beta1);
    d_b2_ = representation_error(h_.beta2);
    d_c1_ = complement_representation_error(h_.beta1);
    d_c2_ = complement_representation_error(h_.beta2);
    d_eps_ = representation_error(h_.eps);
    d_eps_root_ = representation_error(h_.eps_root);
    d_wd_ = representation_error(h_.weight_decay);
  }

  /// Bounds after the last step.
  const std::vector<ElementBounds<Real>>& bounds() const { return bounds_; }
  /// The next step starts from state known exactly (an implementation's own
  /// state, read back): all accumulated errors are dropped.
  void forget_errors() {
    for (auto& b : bounds_) b = {};
  }
  /// The next step's gradient for element i is known only to within `error`
  /// (it was computed, e.g. g + wd*theta rounded to the target format).
  void set_input_gradient_error(std::size_t i, const Real& error) { input_grad_error_[i] = error; }

  /// |h - fl_F(h)| maximised over F in {target, float64}: the error of an
  /// implementation holding h in either format.
  Real representation_error(const Real& h) const {
    using std::abs;
    using std::max;
    return max(abs(h - Real(round_to_format(h, target_))), abs(h - Real(round_to_format(h, float64_format))));
  }

  // ---- observer interface (see NoObserver) ----

  void begin_step(const StepScalars<Real>& s) {
    using std::abs;
    s_ = s;
    d_lr_t_ = representation_error(s.lr);
    e_schedule_ = h_.lr == 0 ? Real(0) : Real(s.schedule * (d_lr_t_ / abs(s.lr) + d_lr_ / h_.lr + u_));
    if (s.lr == 0) e_schedule_ = 0;
    e_bc1_ = s.bias_corrected1 ? bias_correction_error(s.bias_correction1, h_.beta1, s.beta1_power, d_b1_, s.t) : Real(0);
    e_bc2_ = s.bias_corrected2 ? bias_correction_error(s.bias_correction2, h_.beta2, s.beta2_power, d_b2_, s.t) : Real(0);
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
      grad_error_[i] = input_grad_error_[i];
      input_grad_error_[i] = 0;
      update_error_[i] = 0;
      underflow_error_[i] = 0;
    }
  }

  // "L2": E(g') = E(g) + wd E(theta) + delta(wd)|theta| + rho(wd theta) + rho(g')
  void add_l2_to_gradient(std::size_t i, const Real& theta, const Real& g_in, const Real& g_out) {
    using std::abs;
    (void)g_out;
    const Real e_product = times(h_.weight_decay, bounds_[i].theta) + d_wd_ * abs(theta) +
                           product_error(h_.weight_decay, theta);
    grad_error_[i] += e_product + sum_error(g_in, grad_error_[i], h_.weight_decay * theta, e_product);
  }

  // "decay_weights": f = 1 - s wd, E(f) = s delta(wd) + wd E(s) + 2 rho(s wd) + rho(f);
  // E(theta') = |f| E(theta) + |theta| E(f) + rho(theta')
  void decay_weights(std::size_t i, const DecayWeights& d, const Real& s, const Real& theta_in,
                     const Real& factor, const Real& theta_out) {
    using std::abs;
    Real e_s = 0;
    if (d.scale == DecayScale::learning_rate) e_s = d_lr_t_;
    if (d.scale == DecayScale::schedule) e_s = e_schedule_;
    const Real e_f = abs(s) * d_wd_ + h_.weight_decay * e_s + 2 * product_error(s, h_.weight_decay) + rho(factor);
    bounds_[i].theta = times(abs(factor), bounds_[i].theta) + times(abs(theta_in), e_f) + rho(theta_out) +
                       reference_u_ * abs(theta_out);
  }

  void scale_by_adam(std::size_t i, const ScaleByAdam& adam, const AdamElement<Real>& e) {
    using std::abs;
    using std::max;
    using std::sqrt;
    ElementBounds<Real>& b = bounds_[i];
    const Real& eg = grad_error_[i];
    const Real& b1 = h_.beta1;
    const Real& b2 = h_.beta2;
    // "Moments": the worst of the orderings b m' + c g (and fma) and m' + c (g - m') (lerp)
    const Real& m_prev = e.m_prev;
    const Real& g = e.grad;
    const Real g2 = g * g;
    // Each sum's operands carry their own errors (sum_error): the implementation adds its values, not these.
    const Real e_difference_m = eg + b.m + sum_error(g, eg, -m_prev, b.m);  // g - m'
    const Real lerp_m = times(c1_, sum_error(g, eg, -m_prev, b.m)) + product_error(c1_, g - m_prev) +
                        sum_error(m_prev, b.m, c1_ * (g - m_prev),
                                  times(c1_, e_difference_m) + d_c1_ * abs(g - m_prev) + product_error(c1_, g - m_prev));
    const Real standard_m = product_error(b1, m_prev) + product_error(c1_, g) +
                            sum_error(b1 * m_prev, times(b1, b.m) + d_b1_ * abs(m_prev) + product_error(b1, m_prev),
                                      c1_ * g, times(c1_, eg) + d_c1_ * abs(g) + product_error(c1_, g));
    const Real e_m = times(b1, b.m) + times(c1_, eg) + hyperparameter_error(d_b1_, d_c1_, abs(m_prev), abs(g)) +
                     max(standard_m, lerp_m);
    const Real e_g2 = times(2 * abs(g), eg) + times(eg, eg);
    const Real rounding_g2 = g2 == 0 ? Real(0) : rho(g2);  // g g, exact for g = 0
    const Real square = max(c2_ * rounding_g2, abs(g) * product_error(c2_, g));  // c2 (g g) or (c2 g) g
    const Real e_difference_v = e_g2 + rounding_g2 + b.v + sum_error(g2, e_g2 + rounding_g2, -e.v_prev, b.v);
    const Real lerp_v = times(c2_, rounding_g2 + sum_error(g2, e_g2 + rounding_g2, -e.v_prev, b.v)) +
                        product_error(c2_, g2 - e.v_prev) +
                        sum_error(e.v_prev, b.v, c2_ * (g2 - e.v_prev),
                                  times(c2_, e_difference_v) + d_c2_ * abs(g2 - e.v_prev) +
                                      product_error(c2_, g2 - e.v_prev));
    const Real standard_v =
        square + product_error(c2_, g2) + product_error(b2, e.v_prev) +
        sum_error(b2 * e.v_prev, times(b2, b.v) + d_b2_ * e.v_prev + product_error(b2, e.v_prev), c2_ * g2,
                  times(c2_, e_g2) + d_c2_ * g2 + square + product_error(c2_, g2));
    const Real e_v =
        times(b2, b.v) + times(c2_, e_g2) + hyperparameter_error(d_b2_, d_c2_, e.v_prev, g2) + max(standard_v, lerp_v);
    Real e_vmax = b.vmax;
    Real e_v_used = e_v;
    if (adam.amsgrad == AmsgradVariant::max_of_raw_v) {
      e_vmax = max(b.vmax, e_v);
      e_v_used = e_vmax;
    }
    const Real& bc1 = s_.bias_correction1;
    const Real& bc2 = s_.bias_correction2;
    Real factor;  // F - 1 of "The direction"
    Real r_over_m;
    if (adam.eps_placement == EpsPlacement::after_bias_correction) {
      Real e_v_hat = quotient_error(e.v_used, e_v_used, bc2, e_bc2_) + rho(e.v_hat);
      if (adam.amsgrad == AmsgradVariant::max_of_v_hat) {
        e_vmax = max(b.vmax, e_v_hat);
        e_v_hat = e_vmax;
      }
      const Real x = e.v_hat + h_.eps_root;
      const Real e_x = e_v_hat + d_eps_root_ + (h_.eps_root > 0 ? rho(x) : Real(0));
      const Real s = sqrt(x);
      const Real e_s = sqrt_error(x, e_x) + 3 * u_ * s + eta_;
      const Real e_d = e_s + d_eps_ + sum_error(s, e_s, h_.eps, d_eps_);
      factor = (1 + reciprocal_error(bc1, e_bc1_)) * (1 + reciprocal_error(e.denom, e_d)) * (1 + gamma(3)) - 1;
      r_over_m = 1 / (bc1 * e.denom);
    } else {
      const Real x = e.v_used + h_.eps_root;
      const Real e_x = e_v_used + d_eps_root_ + (h_.eps_root > 0 ? rho(x) : Real(0));
      const Real s = sqrt(x);
      const Real e_s = sqrt_error(x, e_x) + 2 * u_ * s + eta_;
      const Real e_d = e_s + d_eps_ + sum_error(s, e_s, h_.eps, d_eps_);
      factor = (1 + sqrt_relative_error(bc2, e_bc2_)) * (1 + reciprocal_error(bc1, e_bc1_)) *
                   (1 + reciprocal_error(e.denom, e_d)) * (1 + gamma(4)) - 1;
      r_over_m = sqrt(bc2) / (bc1 * e.denom);
    }
    b.m = e_m + reference_u_ * abs(e.m);
    b.v = e_v + reference_u_ * e.v;
    b.vmax = e_vmax + reference_u_ * e.vmax;
    update_error_[i] = times(abs(e.direction), factor) + times(r_over_m * e_m, 1 + factor) + eta_;
    // "Underflow of intermediate products": an intermediate of lr * m * sqrt(bc2)/(bc1 D)
    // (PyTorch's lr/bc1 * m, say) that rounds in the subnormal range errs by eta
    // absolutely, and the factors applied after it can amplify that by at most the
    // product of those above 1. Charged once per possible intermediate (k = 3).
    using std::max;
    underflow_error_[i] = 3 * eta_ * max(Real(1), abs(s_.lr)) * max(Real(1), 1 / bc1) * max(Real(1), 1 / e.denom);
  }

  // "add_decayed_weights": E(u') = E(u) + wd E(theta) + delta(wd)|theta| + rho(wd theta) + rho(u')
  void add_decayed_weights(std::size_t i, const Real& theta, const Real& u_in, const Real&) {
    using std::abs;
    const Real e_product = times(h_.weight_decay, bounds_[i].theta) + d_wd_ * abs(theta) +
                           product_error(h_.weight_decay, theta);
    update_error_[i] += e_product + sum_error(u_in, update_error_[i], h_.weight_decay * theta, e_product);
  }

  // "scale_by_lr": E(u') = lr E(u) + delta(lr_t)|u| + rho(u')
  void scale_by_learning_rate(std::size_t i, const Real& u_in, const Real& u_out) {
    using std::abs;
    update_error_[i] = times(abs(s_.lr), update_error_[i]) + d_lr_t_ * abs(u_in) + product_error(s_.lr, u_in) +
                       underflow_error_[i];
    (void)u_out;
  }

  // "apply_update": E(theta') = E(theta) + E(u) + rho(theta')
  void apply_update(std::size_t i, const Real& theta_in, const Real& u, const Real&) {
    bounds_[i].theta += update_error_[i] + sum_error(theta_in, bounds_[i].theta, u, update_error_[i]) +
                        reference_u_ * abs(theta_in + u);
  }

 private:
  static Real unbounded() { return std::numeric_limits<Real>::infinity(); }

  Real rho(const Real& y) const {
    using std::abs;
    return u_ * abs(y) + eta_;
  }
  Real gamma(int k) const { return k * u_ / (1 - k * u_); }

  /// "Sums": the implementation adds its own a~ and b~, within ea and eb of the
  /// exact a and b. The rounding of a~ + b~ errs by at most u|a~ + b~| + eta, and
  /// never by more than the smaller operand (both operands are candidates for the
  /// nearest): min(u(|a + b| + ea + eb) + eta, |a| + ea, |b| + eb). The errors ea
  /// and eb themselves are charged by the caller.
  Real sum_error(const Real& a, const Real& ea, const Real& b, const Real& eb) const {
    using std::abs;
    using std::min;
    return min(Real(rho(a + b) + times(u_, ea + eb)), min(Real(abs(a) + ea), Real(abs(b) + eb)));
  }

  /// "Products": the rounding of h * x, h a hyperparameter (or 1 - beta, a
  /// learning rate, a decay multiplier). Exact when h is 0 or a power of two
  /// (beta = 0, lr = 0.5), unless the product underflows: the implementation
  /// holds such an h exactly. x is a computed value, so its being a power of two
  /// in the reference says nothing about the implementation's copy of it.
  Real product_error(const Real& h, const Real& x) const {
    using std::abs;
    using std::frexp;
    if (h == 0 || x == 0) return 0;
    int e = 0;
    if (abs(frexp(h, &e)) == Real(1) / 2) return abs(h * x) >= ldexp(Real(1), target_.min_exponent) ? Real(0) : eta_;
    return rho(h * x);
  }

  /// a * b where 0 * inf is 0: an exactly zero term has no error, however
  /// unbounded the factor it would be multiplied by.
  static Real times(const Real& a, const Real& b) { return a == 0 || b == 0 ? Real(0) : Real(a * b); }

  /// "Moments", the hyperparameters' share: b x' + c y perturbs b and c
  /// separately; the lerp x' + c (y - x') perturbs c against both terms.
  static Real hyperparameter_error(const Real& d_b, const Real& d_c, const Real& x_prev, const Real& y) {
    using std::max;
    return max(d_b * x_prev + d_c * y, d_c * (x_prev + y));
  }

  /// "Hyperparameters": 1 - beta computed from a rounded beta or rounded itself.
  Real complement_representation_error(const Real& beta) const {
    using std::abs;
    using std::max;
    const Real c = Real(1) - beta;
    Real worst = 0;
    for (const FloatFormat& f : {target_, float64_format}) {
      worst = max(worst, abs(c - Real(round_to_format(c, f))));
      const Real from_rounded_beta = Real(1) - Real(round_to_format(beta, f));
      worst = max(worst, abs(c - Real(round_to_format(from_rounded_beta, f))));
    }
    return worst;
  }

  /// "Scalars of step t": E(beta^t) then E(bc) = E(beta^t) + rho(bc).
  Real bias_correction_error(const Real& bc, const Real& beta, const Real& power, const Real& d_beta,
                             std::int64_t t) const {
    using std::min;
    // beta^1 = beta exactly however it is computed; later, pow is within 1 ulp (2u)
    // and a running product within t - 1 roundings.
    const std::int64_t k = t == 1 ? 0 : std::max<std::int64_t>(2, t - 1);
    const Real sensitivity = t == 1 ? Real(1) : Real(t * integer_power(beta, t - 1));
    Real e_power = sensitivity * d_beta + gamma(static_cast<int>(std::min<std::int64_t>(k, 1 << 30))) * power +
                   t * eta_;
    if (k * u_ >= 1) e_power = 1;
    e_power = min(e_power, Real(1));
    return e_power + rho(bc);
  }

  /// "E(a/b)": rigorous for |a~ - a| <= ea, |b~ - b| <= eb, b > eb.
  static Real quotient_error(const Real& a, const Real& ea, const Real& b, const Real& eb) {
    using std::abs;
    if (eb >= b) return unbounded();
    return ea / (b - eb) + abs(a) * eb / (b * (b - eb));
  }

  /// r(1/b) = E(b)/(b - E(b)): the relative error of a reciprocal.
  static Real reciprocal_error(const Real& b, const Real& eb) {
    if (eb >= b) return unbounded();
    return eb / (b - eb);
  }

  /// r(sqrt b) = q/(1 + sqrt(1 - q)), q = E(b)/b: the relative error of a square root.
  static Real sqrt_relative_error(const Real& b, const Real& eb) {
    using std::sqrt;
    const Real q = eb / b;
    if (q >= 1) return unbounded();
    return q / (1 + sqrt(1 - q));
  }

  /// "E(sqrt x)": the worst |sqrt(x +- e) - sqrt(x)| over |e| <= E(x).
  static Real sqrt_error(const Real& x, const Real& ex) {
    using std::max;
    using std::min;
    using std::sqrt;
    if (ex == 0) return 0;
    if (x == 0) return sqrt(ex);
    return min(ex / (sqrt(x) + sqrt(max(x - ex, Real(0)))), sqrt(ex));
  }

  FloatFormat target_;
  HyperValues<Real> h_;
  Real u_, eta_, c1_, c2_;
  Real reference_u_;  // the reference's own rounding, 2^(10 - p), charged on every stored value
  Real d_lr_, d_b1_, d_b2_, d_c1_, d_c2_, d_eps_, d_eps_root_, d_wd_;
  StepScalars<Real> s_;
  Real d_lr_t_, e_schedule_, e_bc1_, e_bc2_;
  std::vector<ElementBounds<Real>> bounds_;
  std::vector<Real> grad_error_, update_error_, underflow_error_, input_grad_error_;
};

}  // namespace adamconf
