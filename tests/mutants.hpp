// The mutant zoo: deliberately wrong optimizers, each the correct float
// implementation with one plausible bug, overriding one hook of FloatAdam.
// The property suite must catch every one of them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "adamconf/float_adam.hpp"

namespace adamconf::mutants {

// ---- bias correction and the step counter ----

template <class F>
struct NoBiasCorrection1 : FloatAdam<F> {
  typename FloatAdam<F>::Scalars scalars(std::int64_t t, F lr) override {
    auto s = FloatAdam<F>::scalars(t, lr);
    s.bc1 = 1;
    s.bc1_d = 1;
    return s;
  }
};

template <class F>
struct NoBiasCorrection2 : FloatAdam<F> {
  typename FloatAdam<F>::Scalars scalars(std::int64_t t, F lr) override {
    auto s = FloatAdam<F>::scalars(t, lr);
    s.bc2 = 1;
    s.bc2_d = 1;
    return s;
  }
};

template <class F>
struct BiasCorrectedWhereNone : FloatAdam<F> {  // MLX's bias_correction=False (its default) ignored
  Plan make_plan(const Convention& c) const override {
    Plan p = FloatAdam<F>::make_plan(c);
    p.bias_correction1 = p.bias_correction2 = true;
    return p;
  }
};

template <class F>
struct BiasCorrectionOffByOne : FloatAdam<F> {
  std::int64_t bias_correction_exponent(std::int64_t step) const override { return step + 1; }
};

template <class F>
struct StepCountedFromZero : FloatAdam<F> {  // beta^(t-1): 1 - beta^0 = 0 at the first step
  std::int64_t bias_correction_exponent(std::int64_t step) const override { return step - 1; }
};

template <class F>
struct StepCounterNotAdvanced : FloatAdam<F> {  // starts at 1 and stays there
  std::int64_t advance_step(std::int64_t) const override { return 1; }
};

// ---- epsilon ----

template <class F>
struct EpsInsideSqrt : FloatAdam<F> {
  F denominator(std::size_t, F v_used, const typename FloatAdam<F>::Scalars& s) override {
    return std::sqrt(v_used / s.bc2 + this->eps_);
  }
};

template <class F>
struct EpsSquaredInsideSqrt : FloatAdam<F> {  // sqrt(v_hat + eps^2): right only when one term dominates
  F denominator(std::size_t, F v_used, const typename FloatAdam<F>::Scalars& s) override {
    return std::sqrt(v_used / s.bc2 + this->eps_ * this->eps_);
  }
};

template <class F>
struct EpsHatWhereEpsDeclared : FloatAdam<F> {
  Plan make_plan(const Convention& c) const override {
    Plan p = plan_of(c);
    p.eps = EpsPlacement::before_bias_correction;
    return p;
  }
};

template <class F>
struct EpsOutsideWhereEpsHatDeclared : FloatAdam<F> {
  Plan make_plan(const Convention& c) const override {
    Plan p = plan_of(c);
    p.eps = EpsPlacement::after_bias_correction;
    return p;
  }
};

template <class F>
struct EpsHyperparameterIgnored : FloatAdam<F> {  // 1e-8 hard-coded
  F denominator(std::size_t i, F v_used, const typename FloatAdam<F>::Scalars& s) override {
    this->eps_ = static_cast<F>(1e-8);
    return FloatAdam<F>::denominator(i, v_used, s);
  }
};

template <class F>
struct SqrtOfBiasCorrection2Missing : FloatAdam<F> {  // sqrt(v)/bc2 + eps
  F denominator(std::size_t, F v_used, const typename FloatAdam<F>::Scalars& s) override {
    return std::sqrt(v_used) / s.bc2 + this->eps_;
  }
};

// ---- weight decay ----

template <class F>
struct DecayCoupledInsteadOfDecoupled : FloatAdam<F> {  // AdamW implemented as L2
  Plan make_plan(const Convention& c) const override {
    Plan p = plan_of(c);
    p.decay_before.reset();
    p.l2 = true;
    return p;
  }
  F add_l2(F g, F theta) const override { return g + this->lr_ * this->wd_ * theta; }
};

template <class F>
struct DecayNotScaledByLr : FloatAdam<F> {  // theta (1 - wd) where PyTorch has theta (1 - lr wd)
  F decay_multiplier(DecayScale, const typename FloatAdam<F>::Scalars&) const override { return F(1); }
};

template <class F>
struct DecayScaledByLrWhereItShouldNotBe : FloatAdam<F> {  // Loshchilov & Hutter with theta (1 - lr wd)
  F decay_multiplier(DecayScale, const typename FloatAdam<F>::Scalars& s) const override { return s.lr; }
};

template <class F>
struct DecayAppliedToUpdatedTheta : FloatAdam<F> {
  Plan make_plan(const Convention& c) const override {
    Plan p = plan_of(c);
    p.decay_after = p.decay_before;
    p.decay_before.reset();
    return p;
  }
};

template <class F>
struct DecayUsesBaseLrNotScheduled : FloatAdam<F> {  // ignores the learning-rate schedule in the decay
  F decay_multiplier(DecayScale scale, const typename FloatAdam<F>::Scalars& s) const override {
    return scale == DecayScale::learning_rate ? this->lr_ : FloatAdam<F>::decay_multiplier(scale, s);
  }
};

template <class F>
struct DecaySignFlipped : FloatAdam<F> {  // theta (1 + lr wd)
  F decay(F theta, DecayScale scale, const typename FloatAdam<F>::Scalars& s) const override {
    return theta * (F(1) + this->decay_multiplier(scale, s) * this->wd_);
  }
};

template <class F>
struct L2AddedToUpdateNotGradient : FloatAdam<F> {  // PyTorch Adam's wd as Optax's add_decayed_weights
  Plan make_plan(const Convention& c) const override {
    Plan p = plan_of(c);
    p.l2 = false;
    p.additive_decay = true;
    return p;
  }
};

template <class F>
struct MaximizeAppliedAfterL2 : FloatAdam<F> {  // -(g + wd theta): decay pushes the wrong way
  F incoming_gradient(F g) const override { return g; }
  F add_l2(F g, F theta) const override {
    const F sum = g + this->wd_ * theta;
    return this->plan_.negate ? -sum : sum;
  }
};

// ---- moments ----

template <class F>
struct BetasSwapped : FloatAdam<F> {
  void update_moments(F g, F& m, F& v) const override {
    m = this->b2_ * m + (F(1) - this->b2_) * g;
    v = this->b1_ * v + (F(1) - this->b1_) * (g * g);
  }
};

template <class F>
struct AbsGradientInsteadOfSquare : FloatAdam<F> {
  void update_moments(F g, F& m, F& v) const override {
    m = this->b1_ * m + (F(1) - this->b1_) * g;
    v = this->b2_ * v + (F(1) - this->b2_) * std::abs(g);
  }
};

template <class F>
struct MissingOneMinusBeta1 : FloatAdam<F> {  // m = b1 m + g
  void update_moments(F g, F& m, F& v) const override {
    m = this->b1_ * m + g;
    v = this->b2_ * v + (F(1) - this->b2_) * (g * g);
  }
};

template <class F>
F round_to_bfloat16(F x) {  // keep 8 significant bits, round to nearest even
  if (x == 0 || !std::isfinite(x)) return x;
  int e = 0;
  const F f = std::frexp(x, &e);
  return std::ldexp(std::nearbyint(std::ldexp(f, 8)), e - 8);
}

template <class F>
struct MomentsStoredInBfloat16 : FloatAdam<F> {  // a narrower state format than claimed
  void update_moments(F g, F& m, F& v) const override {
    FloatAdam<F>::update_moments(g, m, v);
    m = round_to_bfloat16(m);
    v = round_to_bfloat16(v);
  }
};

template <class F>
struct Beta2Ignored : FloatAdam<F> {  // 0.999 hard-coded
  void update_moments(F g, F& m, F& v) const override {
    const F b2 = static_cast<F>(0.999);
    m = this->b1_ * m + (F(1) - this->b1_) * g;
    v = b2 * v + (F(1) - b2) * (g * g);
  }
};

// ---- AMSGrad ----

template <class F>
struct AmsgradMaxOverVHatWhereRaw : FloatAdam<F> {
  Plan make_plan(const Convention& c) const override {
    Plan p = plan_of(c);
    if (p.amsgrad == AmsgradVariant::max_of_raw_v) p.amsgrad = AmsgradVariant::max_of_v_hat;
    return p;
  }
};

template <class F>
struct AmsgradMaxOverRawVWhereVHat : FloatAdam<F> {
  Plan make_plan(const Convention& c) const override {
    Plan p = plan_of(c);
    if (p.amsgrad == AmsgradVariant::max_of_v_hat) p.amsgrad = AmsgradVariant::max_of_raw_v;
    return p;
  }
};

template <class F>
struct AmsgradMaxNotStored : FloatAdam<F> {
  F second_moment_in_use(std::size_t i) override {
    if (this->plan_.amsgrad == AmsgradVariant::max_of_raw_v) return std::max(this->vmax_[i], this->v_[i]);
    return this->v_[i];
  }
};

template <class F>
struct AmsgradIgnored : FloatAdam<F> {
  Plan make_plan(const Convention& c) const override {
    Plan p = plan_of(c);
    p.amsgrad = AmsgradVariant::none;
    return p;
  }
  void import_state(const ImplementationState& s) override {
    ImplementationState t = s;
    t.vmax.clear();
    FloatAdam<F>::import_state(t);
  }
  ImplementationState export_state() const override {
    ImplementationState s = FloatAdam<F>::export_state();
    s.vmax = s.v;  // reports v as the maximum
    return s;
  }
};

// ---- maximize and state ----

/// burn's order, m (sqrt(bc2)/bc1) / (sqrt(v) + eps sqrt(bc2)), with eps left
/// unscaled: the denominator's eps is then eps / sqrt(bc2) after bias
/// correction, up to 32 times eps at step 1 with beta2 = 0.999.
template <class F>
struct EpsNotScaledBySqrtBc2 : FloatAdam<F> {
  F eps_scale(F) const override { return F(1); }
};

/// Debiased betas one step late (b_(t-1) at step t: the exponent off by one,
/// 0 at step 2 as at step 1): the moments restart from g at step 2.
template <class F>
struct DebiasedBetasOneStepLate : FloatAdam<F> {
  void debiased_betas(F beta, double beta_d, std::int64_t t, F& b, F& c) const override {
    FloatAdam<F>::debiased_betas(beta, beta_d, t - 1, b, c);
  }
};

/// HeavyBall's eps floor taken under the square root, sqrt(max(v_hat, eps)) =
/// max(sqrt(v_hat), sqrt(eps)): where sqrt(v_hat) < sqrt(eps) the denominator
/// is sqrt(eps) (1e-4 at eps = 1e-8), not max(sqrt(v_hat), eps).
template <class F>
struct EpsFloorUnderTheRoot : FloatAdam<F> {
  F with_eps(F root) const override {
    const F floor = sqrt_in(F(this->eps_));
    return root < floor ? floor : root;
  }
};

/// Under --scalars float32, lr_t and the bias corrections held in bfloat16
/// (an 8-bit significand where float32's 24 are allowed): lr 0.001 becomes
/// 0.00100708, 0.7% off, in float32 and float64 alike.
template <class F>
struct ScalarsHeldInBfloat16 : FloatAdam<F> {
  F held_in_float32(F x) const override { return round_to_bfloat16(x); }
};

/// Optax's mu_dtype misread: the whole first moment b1 m + (1 - b1) g
/// computed in m's bfloat16 before the update reads it (Optax adds (1 - b1) g
/// in float32 and rounds to bfloat16 only when it stores mu): the direction
/// is 2^-9 off where the convention allows float32's 2^-24.
template <class F>
struct MomentSumInMFormat : FloatAdam<F> {
  void update_moments(F g, F& m, F& v) const override {
    FloatAdam<F>::update_moments(g, m, v);
    if (this->m_in_) m = FloatAdam<F>::stored_value(m, this->m_in_);
  }
};

/// tinygrad's float32 direction beside float64 parameters, where the convention says
/// the direction is computed in the float64 arithmetic (no direction=in-format).
template <class F>
struct DirectionInMomentsFormatUnstated : FloatAdam<F> {
  void hold_hyperparameters() override { this->computed_in_.direction_in_format = true; }
};

/// b2 v in v's float32 beside float64 parameters, where the convention says b2 v is in the arithmetic.
template <class F>
struct SecondMomentDecayInFormatUnstated : FloatAdam<F> {
  void hold_hyperparameters() override { this->computed_in_.v_decay_in_format = true; }
};

/// tinygrad's float16 step (promoted: (1 - b1) g, g g, (1 - b2) g g, wd theta and lr u rounded to
/// float16) where the convention says float32 opmath, as tinygrad's bfloat16 entry states.
template <class F>
struct PromotedProductsUnstated : FloatAdam<F> {
  void hold_hyperparameters() override { this->promoted_ = true; }
};

template <class F>
struct MaximizeIgnored : FloatAdam<F> {
  F incoming_gradient(F g) const override { return g; }
};

template <class F>
struct StateLostOnResume : FloatAdam<F> {  // keeps the step count, drops the moments
  void import_state(const ImplementationState& s) override {
    ImplementationState t = s;
    std::fill(t.m.begin(), t.m.end(), 0.0);
    std::fill(t.v.begin(), t.v.end(), 0.0);
    FloatAdam<F>::import_state(t);
  }
};

template <class F>
struct StepCountLostOnResume : FloatAdam<F> {  // keeps the moments, restarts bias correction
  void import_state(const ImplementationState& s) override {
    ImplementationState t = s;
    t.step = 0;
    FloatAdam<F>::import_state(t);
  }
};

/// Issue 28's import paths: correct but for what they make of an imported state.
template <class F>
struct StateCastToBfloat16OnImport : FloatAdam<F> {  // m, v, vmax loaded through a bfloat16 tensor
  void import_state(const ImplementationState& s) override {
    ImplementationState t = s;
    for (auto* xs : {&t.m, &t.v, &t.vmax})
      for (double& x : *xs) x = round_to_format(x, bfloat16_format);
    FloatAdam<F>::import_state(t);
  }
};

/// A checkpoint written with 8 significant digits where a float32 needs 9
/// (FLT_DECIMAL_DIG): about 1 value in 200 comes back one ulp away, which the
/// one-step error bound allows and only the bit-for-bit round trip catches.
template <class F>
struct StateWrittenWith8DigitsOnImport : FloatAdam<F> {
  void import_state(const ImplementationState& s) override {
    ImplementationState t = s;
    for (auto* xs : {&t.m, &t.v, &t.vmax})
      for (double& x : *xs) {
        char text[32];
        std::snprintf(text, sizeof text, "%.8g", x);
        x = std::strtod(text, nullptr);
      }
    FloatAdam<F>::import_state(t);
  }
};

/// A count loaded through a float32 (a checkpoint format that keeps every
/// scalar as a float): 2^24 + 1 comes back 2^24, 2^31 - 1 comes back 2^31.
template <class F>
struct StepCountRoundedToFloat32OnImport : FloatAdam<F> {
  void import_state(const ImplementationState& s) override {
    ImplementationState t = s;
    t.step = static_cast<std::int64_t>(static_cast<float>(t.step));
    for (auto& k : t.tensor_steps) k = static_cast<std::int64_t>(static_cast<float>(k));
    FloatAdam<F>::import_state(t);
  }
};

template <class F>
struct AmsgradMaxDroppedOnImport : FloatAdam<F> {  // the AMSGrad maximum restarts from 0 on load
  void import_state(const ImplementationState& s) override {
    ImplementationState t = s;
    std::fill(t.vmax.begin(), t.vmax.end(), 0.0);
    FloatAdam<F>::import_state(t);
  }
};

// ---- step counters and time scales ----

template <class F>
struct CounterSaturatesAt255 : FloatAdam<F> {  // a uint8 counter that saturates
  std::int64_t advance_step(std::int64_t step) const override { return std::min<std::int64_t>(step + 1, 255); }
};

template <class F>
struct CounterStoredInFloat16 : FloatAdam<F> {  // 2048 + 1 rounds back to 2048 in float16
  std::int64_t advance_step(std::int64_t step) const override { return std::min<std::int64_t>(step + 1, 2048); }
};

template <class F>
struct CounterStoredInFloat32 : FloatAdam<F> {  // 2^24 + 1 rounds back to 2^24 in float32
  std::int64_t advance_step(std::int64_t step) const override {
    return static_cast<std::int64_t>(static_cast<float>(step) + 1.0f);
  }
};

template <class F>
struct BiasCorrectionCappedAt1000 : FloatAdam<F> {  // "after 1000 steps bias correction is 1 anyway"
  std::int64_t bias_correction_exponent(std::int64_t step) const override { return std::min<std::int64_t>(step, 1000); }
};

// ---- shapes: chunks, vector remainders, tensors without a gradient ----

template <class F>
struct StateStalePastChunk : FloatAdam<F> {  // m and v past element 65536 are never written back
  F step_element(std::size_t i, F g, const typename FloatAdam<F>::Scalars& s) override {
    const F m = this->m_[i], v = this->v_[i];
    const F theta = FloatAdam<F>::step_element(i, g, s);
    if (i >= 65536) {
      this->m_[i] = m;
      this->v_[i] = v;
    }
    return theta;
  }
};

template <class F>
struct VectorRemainderSkipped : FloatAdam<F> {  // an 8-wide loop that forgets the last n % 8 elements
  F step_element(std::size_t i, F g, const typename FloatAdam<F>::Scalars& s) override {
    if (i >= this->theta_.size() / 8 * 8) return this->theta_[i];
    return FloatAdam<F>::step_element(i, g, s);
  }
};

template <class F>
struct NoGradientAdvancesStep : FloatAdam<F> {  // a tensor without a gradient still counts the step
  void no_gradient() override { ++this->step_; }
};

template <class F>
struct NoGradientStillDecays : FloatAdam<F> {  // AdamW's decay applied to a tensor without a gradient
  void no_gradient() override {
    for (auto& theta : this->theta_) theta = theta * (F(1) - this->lr_ * this->wd_);
  }
};

/// A fused loop over the tensor list that stops at the first empty tensor.
struct StopsAtEmptyTensor : FloatImplementation {
  using FloatImplementation::FloatImplementation;
  bool steps_tensor(const RunCase& c, std::size_t t, std::size_t k) const override {
    const auto slices = slices_of(c);
    for (std::size_t j = 0; j < k; ++j)
      if (slices[j].size == 0) return false;
    return has_gradient(c, t, k);
  }
};

/// A request's cases after an empty one (no elements) are answered unchanged:
/// a loop over cases that stops at the first empty one (protocol /1's shape of
/// the stops-at-empty-tensor bug).
struct StopsAfterEmptyCase : FloatImplementation {
  using FloatImplementation::FloatImplementation;
  std::vector<RunResult> run(const Setup& setup, const std::vector<RunCase>& cases) override {
    std::vector<RunResult> out = FloatImplementation::run(setup, cases);
    bool after_empty = false;
    for (std::size_t k = 0; k < cases.size(); ++k) {
      if (after_empty)
        for (auto& theta : out[k].theta) theta = cases[k].theta0;
      after_empty = after_empty || cases[k].theta0.empty();
    }
    return out;
  }
};

/// Every tensor gets the first group's hyperparameters.
struct GroupsIgnored : FloatImplementation {
  using FloatImplementation::FloatImplementation;
  std::size_t group_of(const RunCase&, std::size_t) const override { return 0; }
};

/// Subnormals flushed to zero (FTZ and DAZ, as XLA computes on the CPU)
/// where the convention says gradual underflow: a legitimate convention
/// (--subnormals flushed), broken here because it is not the one claimed.
struct SubnormalsFlushedWhereGradual : FloatImplementation {
  using FloatImplementation::FloatImplementation;
  std::vector<RunResult> run(const Setup& setup, const std::vector<RunCase>& cases) override {
    const ScopedFlushSubnormals flush(true);
    return FloatImplementation::run(setup, cases);
  }
};

// ---- mixed precision (float32 opmath over a storage format: F = float, stored_in_ set) ----

/// x rounded to the engine's storage format (bfloat16 when it has none).
template <class F>
F in_storage(F x, const FloatFormat* f) {
  return static_cast<F>(round_stored(static_cast<double>(x), f ? *f : bfloat16_format));
}

template <class F>
struct HyperparametersHeldInStorageFormat : FloatAdam<F> {  // beta2 = 0.999 is 1 in bfloat16
  void hold_hyperparameters() override {
    for (F* h : {&this->lr_, &this->b1_, &this->b2_, &this->wd_}) *h = in_storage(*h, this->stored_in_);
    this->eps_ = in_storage(this->eps_, this->stored_in_);
  }
  // and 1 - beta formed from the held betas (1 - 1 = 0 for beta2 = 0.999)
  F complement_of(F held_beta, double, bool) const override { return F(F(1) - held_beta); }
};

template <class F>
struct Beta2RoundedToStorageFormat : FloatAdam<F> {  // only beta2: 0.999 and 0.9999 both become 1
  void hold_hyperparameters() override { this->b2_ = in_storage(this->b2_, this->stored_in_); }
  // and 1 - beta2 formed from it (0): v stays 0 under either
  F complement_of(F held_beta, double, bool) const override { return F(F(1) - held_beta); }
};

/// The complements 1 - beta and 1 - beta^t formed from the betas as a storage
/// format holds them (every scalar of a bfloat16 implementation in bfloat16),
/// where the convention never does (ScaleByAdam::complements_wide,
/// PyTorch's `value=1 - beta2`, `1 - beta2 ** step`): 0.999 is 1 in bfloat16,
/// and 1 - beta2 and 1 - beta2^t are 0.
template <class F>
struct ComplementsFromStorageBetas : FloatAdam<F> {
  typename FloatAdam<F>::Scalars scalars(std::int64_t t, F lr_t) override {
    auto s = FloatAdam<F>::scalars(t, lr_t);
    const F b1 = static_cast<F>(round_to_format(this->b1_d_, bfloat16_format));
    const F b2 = static_cast<F>(round_to_format(this->b2_d_, bfloat16_format));
    this->moment_c1_ = F(F(1) - b1);
    this->moment_c2_ = F(F(1) - b2);
    s.bc1 = F(F(1) - integer_power(b1, t));
    s.bc2 = F(F(1) - integer_power(b2, t));
    s.bc1_d = static_cast<double>(s.bc1);
    s.bc2_d = static_cast<double>(s.bc2);
    return s;
  }
};

template <class F>
struct EpsHeldInStorageFormat : FloatAdam<F> {  // float16 flushes eps = 1e-8 to 0: 0/0 at a zero gradient
  void hold_hyperparameters() override { this->eps_ = in_storage(this->eps_, this->stored_in_); }
};

template <class F>
struct StepCounterInBfloat16 : FloatAdam<F> {  // 256 + 1 rounds back to 256 in bfloat16
  std::int64_t advance_step(std::int64_t step) const override {
    return static_cast<std::int64_t>(round_to_format(static_cast<double>(step + 1), bfloat16_format));
  }
  void import_state(const ImplementationState& s) override {
    FloatAdam<F>::import_state(s);
    this->step_ = static_cast<std::int64_t>(round_to_format(static_cast<double>(this->step_), bfloat16_format));
  }
};

template <class F>
struct DecayFactorInStorageFormat : FloatAdam<F> {  // 1 - lr wd rounded to the storage format (1 - 1e-5 is 1)
  F decay(F theta, DecayScale scale, const typename FloatAdam<F>::Scalars& s) const override {
    const F factor = in_storage(F(F(1) - this->decay_multiplier(scale, s) * this->wd_), this->stored_in_);
    return theta * factor;
  }
};

// ---- state formats (m, v, vmax in formats of their own: TransformerEngine's exp_avg_dtype) ----

template <class F>
struct StatesInParameterFormat : FloatAdam<F> {  // zeros_like(p): the float32 states claimed are bfloat16 ones
  F step_element(std::size_t i, F g, const typename FloatAdam<F>::Scalars& s) override {
    const F theta = FloatAdam<F>::step_element(i, g, s);
    this->m_[i] = in_storage(this->m_[i], this->stored_in_);
    this->v_[i] = in_storage(this->v_[i], this->stored_in_);
    return theta;
  }
};

template <class F>
struct VarianceTruncatedToBfloat16 : FloatAdam<F> {  // a hand-written float-to-bfloat16 cast: the low bits dropped
  F step_element(std::size_t i, F g, const typename FloatAdam<F>::Scalars& s) override {
    const F theta = FloatAdam<F>::step_element(i, g, s);
    const double v = static_cast<double>(this->v_[i]);
    if (std::isfinite(v) && v != 0) {
      const double q = std::ldexp(1.0, quantum_exponent(v, bfloat16_format));
      this->v_[i] = static_cast<F>(std::trunc(v / q) * q);
    }
    return theta;
  }
};

// ---- master weights (F = float, no storing; the copy made by the multi-tensor loop) ----

/// The model copy made by dropping the low bits (round toward zero, a
/// hand-written float-to-bfloat16 cast) instead of rounding to nearest even.
struct CopyTruncated : FloatImplementation {
  using FloatImplementation::FloatImplementation;
  double model_copy(double master, const FloatFormat& copy) const override {
    if (!std::isfinite(master) || master == 0) return master;
    const double q = std::ldexp(1.0, quantum_exponent(master, copy));
    return std::trunc(master / q) * q;
  }
};

template <class F>
struct MasterHeldInBfloat16 : FloatAdam<F> {  // the "master" is the bfloat16 copy: each step rounds it
  F step_element(std::size_t i, F g, const typename FloatAdam<F>::Scalars& s) override {
    return in_storage(FloatAdam<F>::step_element(i, g, s), nullptr);
  }
};

template <class F>
struct MasterRebuiltFromCopyOnImport : FloatAdam<F> {  // on load the float32 master is the bfloat16 model copy
  void import_state(const ImplementationState& s) override {
    FloatAdam<F>::import_state(s);
    for (F& theta : this->theta_) theta = static_cast<F>(round_to_format(static_cast<double>(theta), bfloat16_format));
  }
};

// ---- stochastic rounding (F = float, stored_in_ set, theta rounded stochastically) ----

template <class F>
struct StochasticRoundingIsNearest : FloatAdam<F> {  // rounds theta to nearest: an update below half an ulp stalls
  float round_theta_stochastically(std::size_t, float y) const override { return round_float_to(y, *this->stored_in_); }
};

template <class F>
struct OneDrawPerStep : FloatAdam<F> {  // one random number for the whole tensor: every element rounds the same way
  float round_theta_stochastically(std::size_t, float y) const override {
    return round_stochastically(y, *this->stored_in_, rounding_bits(this->seed_, static_cast<std::uint64_t>(this->step_), 0));
  }
};

template <class F>
struct NoiseThenNearest : FloatAdam<F> {  // uniform noise of one ulp added, then rounded to nearest (not truncated)
  float round_theta_stochastically(std::size_t i, float y) const override {
    if (!std::isfinite(y) || y == 0) return y;
    const double q = std::ldexp(1.0, quantum_exponent(static_cast<double>(y), *this->stored_in_));
    const double noise = std::ldexp(static_cast<double>(rounding_bits(this->seed_, static_cast<std::uint64_t>(this->step_), i)), -32) * q;
    return round_float_to(static_cast<float>(y + std::copysign(noise, y)), *this->stored_in_);
  }
};

// ---- Kahan summation (F = float, stored_in_ set, theta and a compensation in the format) ----

template <class F>
struct KahanCompensationDropped : FloatAdam<F> {  // c is computed and stored but never added back
  F compensated_theta(std::size_t i) const override { return this->theta_[i]; }
};

/// storage-kahan (optimi's kahan_sum): the update applied to theta directly, the compensation left at 0.
template <class F>
struct StorageKahanUpdateUncompensated : FloatAdam<F> {
  F apply_update(std::size_t, F theta, F update) override { return theta + update; }
};

template <class F>
struct KahanCompensationLostOnImport : FloatAdam<F> {  // the compensation restarts from 0 on load
  void import_state(const ImplementationState& s) override {
    ImplementationState t = s;
    std::fill(t.compensation.begin(), t.compensation.end(), 0.0);
    FloatAdam<F>::import_state(t);
  }
};

template <class F>
struct KahanCompensationSignFlipped : FloatAdam<F> {  // c = theta - x: the remainder subtracted instead of kept
  float compensation_of(float x, float theta) const override {
    return std::isfinite(x) ? round_float_to(theta - x, *this->stored_in_) : 0.0f;
  }
};

/// Not a bug in itself: the compensation kept in float32 whatever the
/// convention says (torchdistx AnyPrecisionAdamW's default
/// compensation_buffer_dtype beside bfloat16 parameters): correct under
/// --compensation-format float32, a broken promise under theta's format.
template <class F>
struct CompensationKeptInFloat32 : FloatAdam<F> {
  float compensation_of(float x, float theta) const override { return std::isfinite(x) ? x - theta : 0.0f; }
};

// ---- quantized states (bitsandbytes' 8-bit) ----

/// Codes by truncation: the largest code at or below x / scale, not the nearest.
template <class F>
struct QuantizedCodesTruncated : FloatAdam<F> {
  int code_of(const OrderedMap& order, float normed) const override {
    const auto above = std::upper_bound(order.values.begin(), order.values.end(), normed);
    return order.codes[above == order.values.begin() ? 0 : static_cast<std::size_t>(above - order.values.begin()) - 1];
  }
};

/// Each block's scale taken from the moments before this step's update (the stale absmax).
template <class F>
struct QuantizedScaleBeforeUpdate : FloatAdam<F> {
  float block_scale(const std::vector<F>& before, const std::vector<F>&, std::size_t first, std::size_t last) const override {
    return FloatAdam<F>::block_scale(before, before, first, last);
  }
};

/// Beside bfloat16 parameters, each moment rounded to bfloat16 (its small tensors' format) before its
/// code is chosen: codes of a rounded copy, not of the float32 moment (torchao quantizes the float32 one).
template <class F>
struct QuantizedCodesOfRoundedMoments : FloatAdam<F> {
  F quantizer_input(F x) const override { return this->stored_value(x, this->stored_in_); }
};

/// Blocks of 2048 where the format documents 256.
template <class F>
struct QuantizedBlocksOf2048 : FloatAdam<F> {
  std::size_t block_of(const QuantizedFormat&) const override { return 2048; }
};

/// Tensors below the format's min_size quantized too (the threshold ignored).
template <class F>
struct QuantizedThresholdIgnored : FloatAdam<F> {
  bool quantizes_tensor(const QuantizedFormat&, std::size_t) const override { return true; }
};

/// v quantized on the signed map (half its codes negative, so half the resolution).
template <class F>
struct QuantizedSignedMapForV : FloatAdam<F> {
  std::vector<float> map_of(const QuantizedFormat&) const override {
    return dynamic_map(true, 7, 8, LinspaceRounding::fused);
  }
};

/// A partial last block left out: no scale for it, its elements kept in float32.
template <class F>
struct QuantizedPartialBlockDropped : FloatAdam<F> {
  std::size_t blocks_of(std::size_t n, std::size_t block) const override { return n / block; }
};

/// A mutant and where its bug shows: the preset and options it is checked with.
struct Mutant {
  std::string name;
  std::string bug;
  std::function<std::unique_ptr<Implementation>()> make;
  std::string preset;
  PresetOptions options;
};

template <template <class> class Engine>
std::function<std::unique_ptr<Implementation>()> factory(const std::string& name) {
  return [name] { return std::make_unique<FloatImplementationOf<Engine>>(name); };
}

/// A mixed-precision mutant: checked in `dtype` under `precision`.
struct PrecisionMutant {
  Mutant mutant;
  FloatFormat dtype;
  Precision precision;
};

/// The bugs of low-precision optimizers (issue: mixed precision), each
/// against the precision convention it breaks.
inline std::vector<PrecisionMutant> precision_zoo() {
  PresetOptions opmath{}, master{}, stochastic{}, kahan{}, float32_states{}, bfloat16_variance{};
  float32_states.state_formats = {.m = "float32", .v = "float32", .vmax = "float32"};
  bfloat16_variance.state_formats.v = "bfloat16";
  PresetOptions optax_mu_dtype{};  // Optax's mu_dtype=bfloat16 beside float32 parameters
  optax_mu_dtype.state_formats = {.m = "bfloat16", .m_decay_in_format = true};
  // tinygrad's float32 moments beside float64 parameters, each convention with one choice left out
  PresetOptions tinygrad_direction_in_float64{}, tinygrad_v_decay_in_float64{};
  tinygrad_direction_in_float64.state_formats = {
      .m = "float32", .v = "float32", .m_decay_in_format = true, .v_decay_in_format = true};
  tinygrad_v_decay_in_float64.state_formats = {.m = "float32", .v = "float32", .m_decay_in_format = true};
  PresetOptions torchao_states{};  // torchao's 8-bit states, as its preset names them
  torchao_states.state_formats = preset_by_name("torchao-adamw8bit").state_formats;
  PresetOptions tinygrad_weak_opmath{};  // tinygrad's bfloat16 entry: float32 opmath and moments, weak-dtype scalars
  tinygrad_weak_opmath.state_formats = {.m = "float32", .v = "float32"};
  tinygrad_weak_opmath.scalars = Scalars::weak_dtype;
  kahan.precision = Precision::kahan_summation;
  PresetOptions storage_kahan{};
  storage_kahan.precision = Precision::storage_kahan;
  opmath.precision = Precision::float32_opmath;
  master.precision = Precision::master_weights;
  stochastic.precision = Precision::stochastic_rounding;
  return {
      {{"hyperparameters-held-in-bfloat16", "lr, betas, eps and wd rounded to bfloat16 (0.999 becomes 1)",
        factory<HyperparametersHeldInStorageFormat>("m"), "pytorch-adamw", opmath},
       bfloat16_format, Precision::float32_opmath},
      {{"beta2-rounded-to-one", "beta2 held in bfloat16: 0.999 and 0.9999 are both 1",
        factory<Beta2RoundedToStorageFormat>("m"), "pytorch-adam", opmath},
       bfloat16_format, Precision::float32_opmath},
      {{"complements-from-storage-betas", "1 - beta and 1 - beta^t from betas held in bfloat16 (0.999 is 1: both are 0) "
        "where PyTorch forms them in double",
        factory<ComplementsFromStorageBetas>("m"), "pytorch-adamw", PresetOptions{}},
       bfloat16_format, Precision::storage},
      {{"eps-flushed-in-float16", "eps held in float16: 1e-8 is 0, and a zero gradient gives 0/0",
        factory<EpsHeldInStorageFormat>("m"), "pytorch-adamw", opmath},
       float16_format, Precision::float32_opmath},
      {{"step-counter-in-bfloat16", "the step count held in bfloat16 stops at 256", factory<StepCounterInBfloat16>("m"),
        "pytorch-adamw", opmath},
       bfloat16_format, Precision::float32_opmath},
      {{"decay-factor-in-bfloat16", "1 - lr wd rounded to bfloat16: a small decay is lost",
        factory<DecayFactorInStorageFormat>("m"), "pytorch-adamw", opmath},
       bfloat16_format, Precision::float32_opmath},
      {{"master-copy-truncated", "the bfloat16 model copy drops the master's low bits instead of rounding to nearest even",
        [] { return std::make_unique<CopyTruncated>("m"); }, "pytorch-adamw", master},
       bfloat16_format, Precision::master_weights},
      {{"master-held-in-bfloat16", "the float32 master is rounded to bfloat16 every step (no real master)",
        factory<MasterHeldInBfloat16>("m"), "pytorch-adam", master},
       bfloat16_format, Precision::master_weights},
      {{"stochastic-rounding-is-nearest", "theta rounded to nearest: an update below half an ulp stalls",
        factory<StochasticRoundingIsNearest>("m"), "pytorch-adamw", stochastic},
       bfloat16_format, Precision::stochastic_rounding},
      {{"stochastic-rounding-one-draw-per-step", "one random number per tensor and step: every element rounds alike",
        factory<OneDrawPerStep>("m"), "pytorch-adamw", stochastic},
       bfloat16_format, Precision::stochastic_rounding},
      {{"stochastic-rounding-noise-then-nearest", "one ulp of noise added, then rounded to nearest instead of truncated",
        factory<NoiseThenNearest>("m"), "pytorch-adam", stochastic},
       float16_format, Precision::stochastic_rounding},
      {{"states-in-parameter-format", "float32 states claimed, bfloat16 ones kept (zeros_like(p))",
        factory<StatesInParameterFormat>("m"), "pytorch-adamw", float32_states},
       bfloat16_format, Precision::float32_opmath},
      {{"moment-sum-in-m-format", "Optax's mu_dtype read as b1 m + (1 - b1) g rounded to bfloat16 before the update uses it",
        factory<MomentSumInMFormat>("m"), "optax-adamw", optax_mu_dtype},
       float32_format, Precision::storage},
      {{"direction-in-float32-unstated", "the direction m_hat/(sqrt(v_hat) + eps) computed in the float32 moments' "
        "format beside float64 parameters (tinygrad's default) where the convention computes it in float64",
        factory<DirectionInMomentsFormatUnstated>("m"), "tinygrad-adamw", tinygrad_direction_in_float64},
       float64_format, Precision::storage},
      {{"variance-decay-in-float32-unstated", "b2 v computed in v's float32 beside float64 parameters where the "
        "convention computes it in float64",
        factory<SecondMomentDecayInFormatUnstated>("m"), "tinygrad-adam", tinygrad_v_decay_in_float64},
       float64_format, Precision::storage},
      {{"promoted-products-unstated", "tinygrad's float16 products (1 - b1) g, g g, (1 - b2) g g, wd theta and lr u "
        "rounded to float16 where the convention (float32-opmath, weak-dtype) computes them in float32",
        factory<PromotedProductsUnstated>("m"), "tinygrad-adamw", tinygrad_weak_opmath},
       float16_format, Precision::float32_opmath},
      // bitsandbytes' 8-bit states (the preset's own formats: m and v quantized from 4096 elements)
      {{"quantized-codes-truncated", "codes by truncation, the code at or below x / scale, not the nearest",
        factory<QuantizedCodesTruncated>("m"), "bitsandbytes-adamw8bit", PresetOptions{}},
       float32_format, Precision::storage},
      {{"quantized-codes-of-rounded-moments", "beside bfloat16 parameters, each code chosen for the moment rounded "
        "to bfloat16 (its small tensors' format), not for the float32 moment",
        factory<QuantizedCodesOfRoundedMoments>("m"), "torchao-adamw8bit", torchao_states},
       bfloat16_format, Precision::float32_opmath},
      {{"quantized-scale-before-update", "each block's absmax taken before the step's update",
        factory<QuantizedScaleBeforeUpdate>("m"), "bitsandbytes-adamw8bit", PresetOptions{}},
       float32_format, Precision::storage},
      {{"quantized-blocks-of-2048", "blocks of 2048 where 256 is documented", factory<QuantizedBlocksOf2048>("m"),
        "bitsandbytes-adamw8bit", PresetOptions{}},
       float32_format, Precision::storage},
      {{"quantized-threshold-ignored", "tensors below 4096 elements quantized too", factory<QuantizedThresholdIgnored>("m"),
        "bitsandbytes-adamw8bit", PresetOptions{}},
       float32_format, Precision::storage},
      {{"quantized-signed-map-for-v", "v quantized on the signed map", factory<QuantizedSignedMapForV>("m"),
        "bitsandbytes-adamw8bit", PresetOptions{}},
       float32_format, Precision::storage},
      {{"quantized-partial-block-dropped", "a tensor's partial last block left unquantized, without a scale",
        factory<QuantizedPartialBlockDropped>("m"), "bitsandbytes-adamw8bit", PresetOptions{}},
       float32_format, Precision::storage},
      {{"variance-truncated-to-bfloat16", "v stored in bfloat16 by dropping its low bits, not to nearest even",
        factory<VarianceTruncatedToBfloat16>("m"), "pytorch-adam", bfloat16_variance},
       float32_format, Precision::storage},
      {{"kahan-compensation-dropped", "the compensation is stored but never added back: plain bfloat16 rounding",
        factory<KahanCompensationDropped>("m"), "pytorch-adamw", kahan},
       bfloat16_format, Precision::kahan_summation},
      {{"kahan-compensation-lost-on-import", "an imported compensation is dropped: theta + c loses c on resume",
        factory<KahanCompensationLostOnImport>("m"), "pytorch-adamw", kahan},
       bfloat16_format, Precision::kahan_summation},
      {{"master-rebuilt-from-copy-on-import", "an imported master is rounded to the bfloat16 copy on load",
        factory<MasterRebuiltFromCopyOnImport>("m"), "pytorch-adamw", master},
       bfloat16_format, Precision::master_weights},
      {{"kahan-compensation-sign-flipped", "the compensation holds theta - x instead of x - theta",
        factory<KahanCompensationSignFlipped>("m"), "pytorch-adam", kahan},
       float16_format, Precision::kahan_summation},
      {{"storage-kahan-update-uncompensated", "optimi's kahan_sum claimed, the update added to theta directly "
        "(the compensation stays 0): plain bfloat16 steps",
        factory<StorageKahanUpdateUncompensated>("m"), "optimi-adam", storage_kahan},
       bfloat16_format, Precision::storage_kahan},
  };
}

inline std::vector<Mutant> zoo() {
  const PresetOptions plain{}, amsgrad{.amsgrad = true}, maximize{.maximize = true};
  return {
      {"no-bias-correction-1", "m is not bias-corrected", factory<NoBiasCorrection1>("m"), "kingma-ba", plain},
      {"no-bias-correction-2", "v is not bias-corrected", factory<NoBiasCorrection2>("m"), "kingma-ba", plain},
      {"bias-corrected-where-none", "bias correction where the convention has none (MLX's default)",
       factory<BiasCorrectedWhereNone>("m"), "mlx-adamw", plain},
      {"bias-correction-off-by-one", "bias correction uses beta^(t+1)", factory<BiasCorrectionOffByOne>("m"),
       "pytorch-adam", plain},
      {"step-counted-from-zero", "bias correction uses beta^(t-1)", factory<StepCountedFromZero>("m"),
       "pytorch-adamw", plain},
      {"step-counter-not-advanced", "the step count stays at 1", factory<StepCounterNotAdvanced>("m"),
       "pytorch-adam", plain},
      {"eps-inside-sqrt", "sqrt(v_hat + eps) where eps is declared outside", factory<EpsInsideSqrt>("m"),
       "kingma-ba", plain},
      {"eps-squared-inside-sqrt", "sqrt(v_hat + eps^2) instead of sqrt(v_hat) + eps",
       factory<EpsSquaredInsideSqrt>("m"), "optax-adam", plain},
      {"eps-hat-where-eps-declared", "eps added before bias correction in an Algorithm 1 preset",
       factory<EpsHatWhereEpsDeclared>("m"), "pytorch-adam", plain},
      {"eps-outside-where-eps-hat-declared", "eps added after bias correction in an eps-hat preset",
       factory<EpsOutsideWhereEpsHatDeclared>("m"), "keras-adam", plain},
      {"eps-hyperparameter-ignored", "eps hard-coded to 1e-8", factory<EpsHyperparameterIgnored>("m"), "tfjs-adam",
       plain},
      {"sqrt-of-bias-correction-2-missing", "sqrt(v)/bc2 instead of sqrt(v)/sqrt(bc2)",
       factory<SqrtOfBiasCorrection2Missing>("m"), "pytorch-adam", plain},
      {"decay-coupled-instead-of-decoupled", "AdamW's decay fed through the gradient",
       factory<DecayCoupledInsteadOfDecoupled>("m"), "pytorch-adamw", plain},
      {"decay-not-scaled-by-lr", "theta (1 - wd) where the convention has theta (1 - lr wd)",
       factory<DecayNotScaledByLr>("m"), "pytorch-adamw", plain},
      {"decay-scaled-by-lr-where-it-should-not-be", "theta (1 - lr wd) where the convention has theta (1 - wd)",
       factory<DecayScaledByLrWhereItShouldNotBe>("m"), "loshchilov-hutter-adamw", plain},
      {"decay-applied-to-updated-theta", "decay after the update instead of before",
       factory<DecayAppliedToUpdatedTheta>("m"), "pytorch-adamw", plain},
      {"decay-uses-base-lr", "the decay ignores the learning-rate schedule", factory<DecayUsesBaseLrNotScheduled>("m"),
       "pytorch-adamw", plain},
      {"decay-sign-flipped", "theta (1 + lr wd)", factory<DecaySignFlipped>("m"), "keras-adamw", plain},
      {"l2-added-to-update-not-gradient", "PyTorch Adam's weight decay added to the update",
       factory<L2AddedToUpdateNotGradient>("m"), "pytorch-adam", plain},
      {"maximize-applied-after-l2", "maximize negates g + wd theta", factory<MaximizeAppliedAfterL2>("m"),
       "pytorch-adam", maximize},
      {"betas-swapped", "m decays with beta2, v with beta1", factory<BetasSwapped>("m"), "kingma-ba", plain},
      {"abs-gradient-instead-of-square", "v accumulates |g|", factory<AbsGradientInsteadOfSquare>("m"),
       "kingma-ba-eps-hat", plain},
      {"missing-one-minus-beta1", "m = b1 m + g", factory<MissingOneMinusBeta1>("m"), "dlib-adam", plain},
      {"moments-stored-in-bfloat16", "m and v rounded to 8 significant bits", factory<MomentsStoredInBfloat16>("m"),
       "pytorch-adamw", plain},
      {"beta2-ignored", "beta2 hard-coded to 0.999", factory<Beta2Ignored>("m"), "huggingface-adamw", plain},
      {"amsgrad-max-over-v-hat-where-raw", "AMSGrad over v_hat in a raw-v convention",
       factory<AmsgradMaxOverVHatWhereRaw>("m"), "pytorch-adam", amsgrad},
      {"amsgrad-max-over-raw-v-where-v-hat", "AMSGrad over raw v in Optax's v_hat convention",
       factory<AmsgradMaxOverRawVWhereVHat>("m"), "optax-amsgrad", plain},
      {"amsgrad-max-not-stored", "the AMSGrad maximum is computed but not kept", factory<AmsgradMaxNotStored>("m"),
       "pytorch-adamw", amsgrad},
      {"amsgrad-ignored", "the amsgrad flag does nothing", factory<AmsgradIgnored>("m"), "keras-adam", amsgrad},
      {"eps-not-scaled-by-sqrt-bc2", "burn's order with eps not multiplied by sqrt(bc2)",
       factory<EpsNotScaledBySqrtBc2>("m"), "burn-adam", plain},
      {"debiased-betas-one-step-late", "optimi's debiased betas with the exponent one step late",
       factory<DebiasedBetasOneStepLate>("m"), "optimi-adamw", plain},
      {"eps-floor-under-the-root", "HeavyBall's eps floor applied to v_hat, sqrt(max(v_hat, eps))",
       factory<EpsFloorUnderTheRoot>("m"), "heavyball-adamw", plain},
      {"scalars-held-in-bfloat16", "under --scalars float32, lr and the bias corrections held in bfloat16",
       factory<ScalarsHeldInBfloat16>("m"), "mlx-adam", PresetOptions{.scalars = Scalars::float32}},
      {"maximize-ignored", "the maximize flag does nothing", factory<MaximizeIgnored>("m"), "pytorch-adamw",
       maximize},
      {"state-lost-on-resume", "importing state drops m and v", factory<StateLostOnResume>("m"), "pytorch-adam",
       plain},
      {"state-cast-to-bfloat16-on-import", "m, v and vmax loaded through bfloat16",
       factory<StateCastToBfloat16OnImport>("m"), "pytorch-adamw", plain},
      {"state-written-with-8-digits-on-import", "m, v and vmax loaded from 8 significant digits (a float32 needs 9)",
       factory<StateWrittenWith8DigitsOnImport>("m"), "pytorch-adamw", plain},
      {"amsgrad-max-dropped-on-import", "the AMSGrad maximum restarts from 0 on load",
       factory<AmsgradMaxDroppedOnImport>("m"), "pytorch-adam", amsgrad},
      {"step-count-rounded-to-float32-on-import", "an imported count goes through a float32 (2^24 + 1 -> 2^24)",
       factory<StepCountRoundedToFloat32OnImport>("m"), "optax-adamw", plain},
      {"step-count-lost-on-resume", "importing state restarts the step count", factory<StepCountLostOnResume>("m"),
       "optax-adamw", plain},
      {"counter-saturates-at-255", "the step count is a saturating uint8", factory<CounterSaturatesAt255>("m"),
       "pytorch-adam", plain},
      {"counter-stored-in-float16", "the step count stops at 2048", factory<CounterStoredInFloat16>("m"),
       "pytorch-adamw", plain},
      {"counter-stored-in-float32", "the step count stops at 2^24", factory<CounterStoredInFloat32>("m"),
       "optax-adamw", plain},
      {"bias-correction-capped-at-1000", "bias correction uses min(t, 1000)", factory<BiasCorrectionCappedAt1000>("m"),
       "pytorch-adamw", plain},
      {"state-stale-past-chunk", "m and v past element 65536 are not written back", factory<StateStalePastChunk>("m"),
       "pytorch-adamw", plain},
      {"vector-remainder-skipped", "the last n % 8 elements of a tensor are not updated",
       factory<VectorRemainderSkipped>("m"), "pytorch-adamw", plain},
      {"no-gradient-advances-step", "a tensor without a gradient still counts the step",
       factory<NoGradientAdvancesStep>("m"), "pytorch-adam", plain},
      {"no-gradient-still-decays", "AdamW's decay applied to a tensor without a gradient",
       factory<NoGradientStillDecays>("m"), "pytorch-adamw", plain},
      {"stops-at-empty-tensor", "the fused loop stops at the first empty tensor",
       [] { return std::make_unique<StopsAtEmptyTensor>("m"); }, "pytorch-adamw", plain},
      {"groups-ignored", "every tensor gets the first group's hyperparameters",
       [] { return std::make_unique<GroupsIgnored>("m"); }, "pytorch-adamw", plain},
      {"subnormals-flushed-where-gradual", "results below the smallest normal flushed to 0, subnormal operands read as 0",
       [] { return std::make_unique<SubnormalsFlushedWhereGradual>("m"); }, "optax-adam", plain},
  };
}

}  // namespace adamconf::mutants

namespace adamconf {
/// It is a bfloat16 implementation: it runs in bfloat16 arithmetic under storage.
template <>
inline constexpr bool runs_in_storage_arithmetic<mutants::ComplementsFromStorageBetas> = true;
}  // namespace adamconf

namespace adamconf {
/// optimi's kahan_sum runs in bfloat16 arithmetic (storage-kahan).
template <>
inline constexpr bool runs_in_storage_arithmetic<mutants::StorageKahanUpdateUncompensated> = true;
}  // namespace adamconf
