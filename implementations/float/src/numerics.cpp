#include <variant>

#include "adamconf/float_adam.hpp"

namespace adamconf {

Numerics source_numerics(const std::string& preset) {
  using N = Numerics;
  Numerics n;
  n.name = "as " + preset;
  if (preset.rfind("pytorch-", 0) == 0) {
    // torch/optim/adam.py: bias corrections and step size in Python double;
    // denom = sqrt(v)/sqrt(bc2) + eps; param.addcdiv_(m, denom, value=-step_size)
    n.power = N::Power::pow_double;
    n.denominator = N::Denominator::ratio_of_sqrts;
    n.step = N::Step::step_size_first;
  } else if (preset.rfind("keras-", 0) == 0) {
    // keras/optimizers/adam.py: ops.power in the variable dtype, m += (g - m)(1 - b1),
    // base optimizer decay var -= var*wd*lr
    n.power = N::Power::pow_target;
    n.moments = N::Moments::lerp;
    n.decay = N::Decay::subtract;
  } else if (preset == "tfjs-adam" || preset.rfind("tinygrad-", 0) == 0) {
    // adam_optimizer.ts: accBeta1 = accBeta1 * beta1 (float32 variables); tinygrad nn/optim.py: b1_t *= b1
    n.power = N::Power::running_product;
  } else if (preset.rfind("bitsandbytes-", 0) == 0) {
    // backends/cpu/ops.py: c1, c2 and the step size in Python double; sqrt(v) + eps c2
    n.power = N::Power::pow_double;
    n.denominator = N::Denominator::eps_scaled_by_sqrt_bc2;
  } else if (preset == "burn-adam") {
    // burn-optim adam.rs: powers in f32; m (sqrt(bc2)/bc1)/(sqrt(v) + eps sqrt(bc2))
    n.power = N::Power::pow_target;
    n.denominator = N::Denominator::eps_scaled_by_sqrt_bc2;
  } else if (preset.rfind("torchao-adamw", 0) == 0) {
    // torchao/optim/adam.py: powers of a float32 step tensor, lerp moments, p - lr wd p, sqrt(v)/sqrt(bc2) + eps
    n.power = N::Power::pow_target;
    n.moments = N::Moments::lerp;
    n.denominator = N::Denominator::ratio_of_sqrts;
    n.decay = N::Decay::subtract;
  } else if (preset.rfind("optimi-", 0) == 0) {
    // optimi/adam.py: debiased betas in Python double; p.addcdiv_(m, sqrt(v) + eps, -lr)
    n.power = N::Power::pow_double;
    n.denominator = N::Denominator::ratio_of_sqrts;
    n.step = N::Step::step_size_first;
  } else if (preset.rfind("heavyball-", 0) == 0) {
    // heavyball/utils.py: debiased betas of float32 tensors (beta_debias); x (1 - a) + y a; m / max(sqrt(v), eps)
    n.power = N::Power::pow_target;
  } else if (preset == "huggingface-adamw" || preset == "sklearn-adam" || preset == "candle-adamw") {
    n.power = N::Power::pow_double;  // Python / numpy float64 scalars; candle's f64 scales
  } else {
    n.power = N::Power::pow_target;  // Optax, ONNX (numpy in dtype), dlib (std::pow on float), MLX, burn, the papers
  }
  return n;
}

std::vector<Numerics> numerics_variants() {
  using N = Numerics;
  std::vector<Numerics> v;
  v.push_back({"pow-in-double, sqrt(v)/sqrt(bc2), lr/bc1 first", N::Power::pow_double, N::Moments::mul_add,
               N::Denominator::ratio_of_sqrts, N::Step::step_size_first, N::Decay::multiply});
  v.push_back({"running product, sqrt(v/bc2)", N::Power::running_product, N::Moments::mul_add,
               N::Denominator::sqrt_of_ratio, N::Step::direction_then_lr, N::Decay::multiply});
  v.push_back({"running product, sqrt(v)/sqrt(bc2)", N::Power::running_product, N::Moments::mul_add,
               N::Denominator::ratio_of_sqrts, N::Step::direction_then_lr, N::Decay::subtract});
  v.push_back({"binary powering, fma moments", N::Power::binary_target, N::Moments::fma,
               N::Denominator::sqrt_of_ratio, N::Step::direction_then_lr, N::Decay::multiply});
  v.push_back({"pow in target, lerp moments, lr/bc1 first", N::Power::pow_target, N::Moments::lerp,
               N::Denominator::ratio_of_sqrts, N::Step::step_size_first, N::Decay::subtract});
  v.push_back({"pow in target, fma moments, sqrt(v)/sqrt(bc2)", N::Power::pow_target, N::Moments::fma,
               N::Denominator::ratio_of_sqrts, N::Step::direction_then_lr, N::Decay::multiply});
  return v;
}

Plan plan_of(const Convention& convention) {
  Plan p;
  p.scalars_in_float32 = convention.scalars == Scalars::float32 || convention.scalars == Scalars::weak_dtype;
  p.weak_scalars_in_dtype = convention.scalars == Scalars::weak_dtype;
  for (const auto& [transform, phase] : convention.with_phases()) {
    const Transform& t = *transform;
    if (std::holds_alternative<NegateGradient>(t)) p.negate = true;
    if (std::holds_alternative<AddL2ToGradient>(t)) p.l2 = true;
    if (std::holds_alternative<AddDecayedWeights>(t)) p.additive_decay = true;
    if (const auto* d = std::get_if<DecayWeights>(&t)) (phase == Phase::applied ? p.decay_after : p.decay_before) = d->scale;
    if (const auto* a = std::get_if<ScaleByAdam>(&t)) {
      p.eps = a->eps_placement;
      p.bias_correction1 = a->bias_correction1;
      p.bias_correction2 = a->bias_correction2;
      p.amsgrad = a->amsgrad;
      p.counter = a->counter;
      p.eps_floor = a->eps_floor;
      p.reciprocal_product = a->reciprocal_product;
      if (a->debiased_moments) {  // the moments are held bias-corrected: nothing to correct after
        p.debiased_moments = true;
        p.bias_correction1 = p.bias_correction2 = false;
      }
    }
  }
  return p;
}

}  // namespace adamconf
