// The reference Adam/AdamW: runs a Convention's chain of transforms exactly
// (to the precision of Real) and records every intermediate of every step.
//
// Generic over Real: ReferenceReal (MPFR, 257 bits) is the reference; float and
// double instantiations are naive float implementations of the same math, used
// by the tests to compare precisions.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "adamconf/convention.hpp"
#include "adamconf/enclosure.hpp"
#include "adamconf/hyperparameters.hpp"

namespace adamconf {

/// Optimizer state: what an implementation must carry from one step to the next.
template <class Real>
struct OptimizerState {
  std::int64_t step = 0;  ///< steps taken; the next step is step + 1
  std::vector<Real> m;    ///< first moment
  std::vector<Real> v;    ///< second moment
  std::vector<Real> vmax; ///< AMSGrad running max (of raw v or of v_hat, by the convention); empty without AMSGrad
};

/// Everything one element went through in one step.
template <class Real>
struct ElementRecord {
  Real theta_in;   ///< parameter before the step
  Real grad;       ///< gradient as the moments read it (after negate_gradient / add_l2_to_gradient)
  Real m;          ///< first moment after the step
  Real v;          ///< second moment after the step
  Real vmax;       ///< AMSGrad running max after the step (0 without AMSGrad)
  Real m_hat;      ///< m / bc1
  Real v_hat;      ///< the second moment the denominator uses, bias-corrected: v/bc2, vmax/bc2 or max(v_hat)
  Real denom;      ///< sqrt(v_hat + eps_root) + eps; for eps-hat sqrt(v + eps_root) + eps
  Real direction;  ///< u after scale_by_adam: m_hat/denom, or sqrt(bc2)/bc1 * m/denom for eps-hat
  Real update;     ///< u as applied by apply_update (-lr_t * ...)
  Real theta;      ///< parameter after the step
};

/// Scalars shared by all elements of one step.
template <class Real>
struct StepScalars {
  std::int64_t t = 0;     ///< this step's number, 1 for the first
  Real lr;                ///< lr_t
  Real schedule;          ///< eta_t = lr_t / lr (1 when lr = 0)
  Real beta1_power;       ///< beta1^t
  Real beta2_power;       ///< beta2^t
  Real bias_correction1;  ///< 1 - beta1^t, or 1 when the convention has no bias correction 1
  Real bias_correction2;  ///< 1 - beta2^t, or 1
  bool bias_corrected1 = true;  ///< whether bias_correction1 is 1 - beta1^t (else the constant 1)
  bool bias_corrected2 = true;
  /// ScaleByAdam::debiased_moments: the moments are held bias-corrected and
  /// this step's betas are b_t = beta (1 - beta^(t-1)) / (1 - beta^t); the
  /// bias corrections are then 1.
  bool debiased = false;
  /// ScaleByLearningRate::warmup_ratio: lr_t is recomputed as lr t / t (the same number, rounded twice more).
  bool lr_warmup_ratio = false;
  /// ScaleByAdam::complements_wide: 1 - beta, beta^t and 1 - beta^t never from a storage-format beta.
  bool complements_wide = false;
  Real moment_beta1;  ///< the beta the first moment is updated with: beta1, or b1_t when debiased
  Real moment_beta2;  ///< likewise for the second moment
};

template <class Real>
struct StepRecord {
  StepScalars<Real> scalars;
  std::vector<ElementRecord<Real>> elements;
  /// Enclosures only: the elements whose step asked a decision the enclosure
  /// could not make (enclosure.hpp); their records and state are not to be used.
  std::vector<std::size_t> undecided;
};

/// The Adam-specific values scale_by_adam reports to an observer.
template <class Real>
struct AdamElement {
  Real grad, m_prev, v_prev, vmax_prev;  // inputs
  Real m, v, vmax;                       // new state
  Real v_used;                           // v or the raw-v max (before bias correction)
  Real m_hat, v_hat, denom, direction;
};

/// An observer is told the exact inputs and outputs of every transform; the
/// error model is one. This one ignores everything.
template <class Real>
struct NoObserver {
  void begin_step(const StepScalars<Real>&) {}
  /// An element's step begins: its theta and the gradient it was given.
  void begin_element(std::size_t, const Real& /*theta*/, const Real& /*grad*/) {}
  void add_l2_to_gradient(std::size_t, const Real& /*theta*/, const Real& /*g_in*/, const Real& /*g_out*/) {}
  void decay_weights(std::size_t, const DecayWeights&, const Real& /*s*/, const Real& /*theta_in*/,
                     const Real& /*factor*/, const Real& /*theta_out*/) {}
  void scale_by_adam(std::size_t, const ScaleByAdam&, const AdamElement<Real>&) {}
  void add_decayed_weights(std::size_t, const Real& /*theta*/, const Real& /*u_in*/, const Real& /*u_out*/) {}
  void scale_by_learning_rate(std::size_t, const Real& /*u_in*/, const Real& /*u_out*/) {}
  void apply_update(std::size_t, const Real& /*theta_in*/, const Real& /*u*/, const Real& /*theta_out*/) {}
  /// The element's new theta, m, v and vmax are stored (the end of its step).
  void end_element(std::size_t, const ElementRecord<Real>&) {}
};

/// Tells two observers (two error models, two readings of one) what the reference did.
template <class Real, class A, class B>
struct BothObservers {
  A& a;
  B& b;
  void begin_step(const StepScalars<Real>& s) { a.begin_step(s), b.begin_step(s); }
  void begin_element(std::size_t i, const Real& theta, const Real& g) { a.begin_element(i, theta, g), b.begin_element(i, theta, g); }
  void add_l2_to_gradient(std::size_t i, const Real& theta, const Real& g_in, const Real& g_out) {
    a.add_l2_to_gradient(i, theta, g_in, g_out), b.add_l2_to_gradient(i, theta, g_in, g_out);
  }
  void decay_weights(std::size_t i, const DecayWeights& d, const Real& s, const Real& theta_in, const Real& factor,
                     const Real& theta_out) {
    a.decay_weights(i, d, s, theta_in, factor, theta_out), b.decay_weights(i, d, s, theta_in, factor, theta_out);
  }
  void scale_by_adam(std::size_t i, const ScaleByAdam& adam, const AdamElement<Real>& e) {
    a.scale_by_adam(i, adam, e), b.scale_by_adam(i, adam, e);
  }
  void add_decayed_weights(std::size_t i, const Real& theta, const Real& u_in, const Real& u_out) {
    a.add_decayed_weights(i, theta, u_in, u_out), b.add_decayed_weights(i, theta, u_in, u_out);
  }
  void scale_by_learning_rate(std::size_t i, const Real& u_in, const Real& u_out) {
    a.scale_by_learning_rate(i, u_in, u_out), b.scale_by_learning_rate(i, u_in, u_out);
  }
  void apply_update(std::size_t i, const Real& theta_in, const Real& u, const Real& theta_out) {
    a.apply_update(i, theta_in, u, theta_out), b.apply_update(i, theta_in, u, theta_out);
  }
  void end_element(std::size_t i, const ElementRecord<Real>& e) { a.end_element(i, e), b.end_element(i, e); }
};

template <class Real>
class ReferenceAdam {
 public:
  /// Starts from theta0 and `state` (zero moments at step 0 by default).
  /// Throws std::invalid_argument when the convention is ill formed or the
  /// state's sizes do not match theta0.
  ReferenceAdam(Convention convention, HyperValues<Real> hyper, std::vector<Real> theta0,
                std::optional<OptimizerState<Real>> state = std::nullopt)
      : convention_(std::move(convention)), hyper_(std::move(hyper)), theta_(std::move(theta0)) {
    convention_.validate();
    const auto& adam = convention_.adam();
    if (adam.amsgrad == AmsgradVariant::max_of_v_hat &&
        adam.eps_placement == EpsPlacement::before_bias_correction)
      throw std::invalid_argument("AMSGrad over v_hat needs eps after bias correction");
    const std::size_t n = theta_.size();
    if (state) {
      state_ = std::move(*state);
      const bool amsgrad = adam.amsgrad != AmsgradVariant::none;
      if (state_.m.size() != n || state_.v.size() != n || (amsgrad && state_.vmax.size() != n))
        throw std::invalid_argument("optimizer state has " + std::to_string(state_.m.size()) +
                                    " moments for " + std::to_string(n) + " parameters");
      if (state_.step < 0) throw std::invalid_argument("optimizer state has a negative step count");
      state_.step = held_count(adam.counter, state_.step);  // as the implementation's counter holds it
      if (!amsgrad) state_.vmax.clear();
    } else {
      state_.m.assign(n, Real(0));
      state_.v.assign(n, Real(0));
      if (adam.amsgrad != AmsgradVariant::none) state_.vmax.assign(n, Real(0));
    }
  }

  const Convention& convention() const { return convention_; }
  const HyperValues<Real>& hyper() const { return hyper_; }
  const std::vector<Real>& theta() const { return theta_; }
  const OptimizerState<Real>& state() const { return state_; }

  /// One step with gradient `grad` and learning rate `lr` (the constant lr when absent).
  template <class Observer = NoObserver<Real>>
  StepRecord<Real> step(const std::vector<Real>& grad, const std::optional<Real>& lr = std::nullopt,
                        Observer&& observer = Observer{}) {
    StepRecord<Real> record;
    step_into(record, grad, lr, observer);
    return record;
  }

  /// step() writing into `record`, whose storage is reused from call to call.
  template <class Observer = NoObserver<Real>>
  void step_into(StepRecord<Real>& record, const std::vector<Real>& grad, const std::optional<Real>& lr = std::nullopt,
                 Observer&& observer = Observer{}) {
    if (grad.size() != theta_.size())
      throw std::invalid_argument("gradient has " + std::to_string(grad.size()) + " elements, parameters have " +
                                  std::to_string(theta_.size()));
    const std::int64_t t = advance_count(convention_.adam().counter, state_.step);
    record.scalars = scalars_for(t, lr.value_or(hyper_.lr));
    prepare_step(record.scalars);
    observer.begin_step(record.scalars);
    record.elements.resize(theta_.size());
    record.undecided.clear();
    for (std::size_t i = 0; i < theta_.size(); ++i) {
      if constexpr (is_enclosure_v<Real>) {
        try {
          step_element(i, grad[i], record.elements[i], observer);
        } catch (const Undecided&) {
          record.undecided.push_back(i);  // decided in MPFR by the caller
        }
      } else {
        step_element(i, grad[i], record.elements[i], observer);
      }
    }
    state_.step = t;
  }

 private:
  StepScalars<Real> scalars_for(std::int64_t t, const Real& lr) const {
    const auto& adam = convention_.adam();
    StepScalars<Real> s;
    s.t = t;
    s.lr = lr;
    s.schedule = hyper_.lr == 0 ? Real(1) : Real(lr / hyper_.lr);
    s.beta1_power = integer_power(hyper_.beta1, t);
    s.beta2_power = integer_power(hyper_.beta2, t);
    s.complements_wide = adam.complements_wide;
    s.bias_corrected1 = adam.bias_correction1;
    s.bias_corrected2 = adam.bias_correction2;
    s.bias_correction1 = adam.bias_correction1 ? Real(Real(1) - s.beta1_power) : Real(1);
    s.bias_correction2 = adam.bias_correction2 ? Real(Real(1) - s.beta2_power) : Real(1);
    s.moment_beta1 = hyper_.beta1;
    s.moment_beta2 = hyper_.beta2;
    for (const auto& transform : convention_.chain)
      if (const auto* l = std::get_if<ScaleByLearningRate>(&transform)) s.lr_warmup_ratio = l->warmup_ratio;
    if (adam.debiased_moments) {
      s.debiased = true;
      s.bias_corrected1 = s.bias_corrected2 = false;
      s.bias_correction1 = s.bias_correction2 = Real(1);
      s.moment_beta1 = debiased_beta(hyper_.beta1, s.beta1_power, t);
      s.moment_beta2 = debiased_beta(hyper_.beta2, s.beta2_power, t);
    }
    return s;
  }

  /// b_t = beta (1 - beta^(t-1)) / (1 - beta^t), 0 at t = 1 (and for beta = 0).
  static Real debiased_beta(const Real& beta, const Real& beta_power, std::int64_t t) {
    if (t <= 1 || beta == 0) return Real(0);
    return Real(beta * (Real(1) - integer_power(beta, t - 1)) / (Real(1) - beta_power));
  }

  Real decay_multiplier(DecayScale scale, const StepScalars<Real>& s) const {
    switch (scale) {
      case DecayScale::learning_rate: return s.lr;
      case DecayScale::schedule: return s.schedule;
      case DecayScale::none: return Real(1);
    }
    return Real(1);
  }

  /// What every element of this step shares: the reciprocals of the bias
  /// corrections (elements multiply by them), eps-hat's sqrt(bc2)/bc1, -lr_t,
  /// and each decay_weights factor 1 - s wd.
  void prepare_step(const StepScalars<Real>& s) {
    using std::sqrt;
    inverse_bc1_ = Real(1) / s.bias_correction1;
    inverse_bc2_ = Real(1) / s.bias_correction2;
    eps_hat_factor_ = sqrt(s.bias_correction2) * inverse_bc1_;
    minus_lr_ = -s.lr;
    beta1_ = s.moment_beta1;
    beta2_ = s.moment_beta2;
    one_minus_beta1_ = Real(1) - beta1_;
    one_minus_beta2_ = Real(1) - beta2_;
    decay_multipliers_.clear();
    decay_factors_.clear();
    for (const Transform& transform : convention_.chain)
      if (const auto* decay = std::get_if<DecayWeights>(&transform)) {
        decay_multipliers_.push_back(decay_multiplier(decay->scale, s));
        decay_factors_.push_back(Real(1) - decay_multipliers_.back() * hyper_.weight_decay);
      }
  }

  static void negate(Real& x) {
    if constexpr (is_multiprecision_v<Real>) x.backend().negate();
    else x = -x;
  }

  /// One element through the chain, in place: the state and theta are updated
  /// and every intermediate is written straight into `rec`. Scratch values are
  /// members, so that no number is constructed per element (for MPFR that is
  /// most of the cost of a naive version). Copies only an observer needs are
  /// skipped when there is none.
  template <class Observer>
  void step_element(std::size_t i, const Real& grad_in, ElementRecord<Real>& rec, Observer& observer) {
    constexpr bool observed = !std::is_same_v<std::remove_cvref_t<Observer>, NoObserver<Real>>;
    Real& theta = theta_[i];
    rec.theta_in = theta;
    if constexpr (observed) observer.begin_element(i, theta, grad_in);
    Real& g = rec.grad;
    g = grad_in;
    Real& u = rec.update;
    u = 0;
    std::size_t decay_index = 0;
    for (const Transform& transform : convention_.chain) {
      if (std::holds_alternative<NegateGradient>(transform)) {
        negate(g);
      } else if (std::holds_alternative<AddL2ToGradient>(transform)) {
        if constexpr (observed) before_ = g;
        scratch_ = hyper_.weight_decay;
        scratch_ *= theta;
        g += scratch_;  // g + wd theta
        if constexpr (observed) observer.add_l2_to_gradient(i, theta, before_, g);
      } else if (const auto* decay = std::get_if<DecayWeights>(&transform)) {
        if constexpr (observed) before_ = theta;
        theta *= decay_factors_[decay_index];  // theta (1 - s wd)
        if constexpr (observed)
          observer.decay_weights(i, *decay, decay_multipliers_[decay_index], before_, decay_factors_[decay_index], theta);
        ++decay_index;
      } else if (const auto* adam = std::get_if<ScaleByAdam>(&transform)) {
        scale_by_adam(i, *adam, rec, observer);
        u = rec.direction;
      } else if (std::holds_alternative<AddDecayedWeights>(transform)) {
        if constexpr (observed) before_ = u;
        scratch_ = hyper_.weight_decay;
        scratch_ *= theta;
        u += scratch_;  // u + wd theta
        if constexpr (observed) observer.add_decayed_weights(i, theta, before_, u);
      } else if (std::holds_alternative<ScaleByLearningRate>(transform)) {
        if constexpr (observed) before_ = u;
        u *= minus_lr_;  // -lr_t u
        if constexpr (observed) observer.scale_by_learning_rate(i, before_, u);
      } else if (std::holds_alternative<ApplyUpdate>(transform)) {
        if constexpr (observed) before_ = theta;
        theta += u;
        if constexpr (observed) observer.apply_update(i, before_, u, theta);
      }
    }
    rec.theta = theta;
    if constexpr (observed) observer.end_element(i, rec);
  }

  template <class Observer>
  void scale_by_adam(std::size_t i, const ScaleByAdam& adam, ElementRecord<Real>& rec, Observer& observer) {
    using std::sqrt;
    constexpr bool observed = !std::is_same_v<std::remove_cvref_t<Observer>, NoObserver<Real>>;
    Real& m = state_.m[i];
    Real& v = state_.v[i];
    Real& vmax = state_.vmax.empty() ? zero_ : state_.vmax[i];
    if constexpr (observed) {
      adam_.m_prev = m;
      adam_.v_prev = v;
      adam_.vmax_prev = vmax;
    }
    const Real& g = rec.grad;
    // m_t = b1 m_{t-1} + (1 - b1) g_t ;  v_t = b2 v_{t-1} + (1 - b2) g_t^2  (Kingma & Ba Alg. 1)
    m *= beta1_;
    scratch_ = one_minus_beta1_;
    scratch_ *= g;
    m += scratch_;
    v *= beta2_;
    scratch_ = g;
    scratch_ *= g;
    scratch_ *= one_minus_beta2_;
    v += scratch_;
    rec.m = m;
    rec.v = v;
    const Real* v_used = &v;
    if (adam.amsgrad == AmsgradVariant::max_of_raw_v) {
      raise_to(vmax, v);  // vmax = v where v > vmax (Reddi et al.; PyTorch stores the raw max)
      v_used = &vmax;
    }
    rec.m_hat = m;
    rec.m_hat *= inverse_bc1_;
    rec.v_hat = *v_used;
    rec.v_hat *= inverse_bc2_;
    if (adam.amsgrad == AmsgradVariant::max_of_v_hat) {
      raise_to(vmax, rec.v_hat);  // Optax scale_by_amsgrad: max over nu_hat
      rec.v_hat = vmax;
    }
    rec.vmax = vmax;
    if (adam.eps_placement == EpsPlacement::after_bias_correction) {
      rec.denom = rec.v_hat;  // sqrt(v_hat + eps_root) + eps, or max(sqrt(...), eps)
      if (hyper_.eps_root != 0) rec.denom += hyper_.eps_root;
      rec.denom = sqrt(rec.denom);
      apply_eps(adam, rec.denom, hyper_.eps);
      rec.direction = rec.m_hat;
      rec.direction /= rec.denom;
    } else {
      // eps-hat: alpha_t = alpha sqrt(1 - b2^t)/(1 - b1^t); u = alpha_t m/(sqrt(v) + eps)
      rec.denom = *v_used;
      if (hyper_.eps_root != 0) rec.denom += hyper_.eps_root;
      rec.denom = sqrt(rec.denom);
      rec.denom += hyper_.eps;
      rec.direction = m;
      rec.direction *= eps_hat_factor_;
      rec.direction /= rec.denom;
    }
    if constexpr (observed) {
      adam_.grad = g;
      adam_.m = m;
      adam_.v = v;
      adam_.vmax = vmax;
      adam_.v_used = *v_used;
      adam_.m_hat = rec.m_hat;
      adam_.v_hat = rec.v_hat;
      adam_.denom = rec.denom;
      adam_.direction = rec.direction;
      observer.scale_by_adam(i, adam, adam_);
    }
  }

  Convention convention_;
  HyperValues<Real> hyper_;
  std::vector<Real> theta_;
  OptimizerState<Real> state_;
  // per step (prepare_step)
  Real inverse_bc1_, inverse_bc2_, eps_hat_factor_, minus_lr_;
  Real beta1_, beta2_, one_minus_beta1_, one_minus_beta2_;  // the moments' betas (StepScalars::moment_beta1)
  std::vector<Real> decay_multipliers_, decay_factors_;
  // scratch, reused for every element
  Real scratch_, before_, zero_{0};
  AdamElement<Real> adam_;
};

}  // namespace adamconf
