// Each preset against its source: the update loop of the implementation it
// names, transcribed here line by line (independently of the chain of
// transforms), must give the same trajectory. And every preset is told apart
// from every other on at least one input.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <set>

#include "adamconf/float_format.hpp"
#include "adamconf/presets.hpp"
#include "adamconf/reference_adam.hpp"

namespace adamconf {
namespace {

using Stream = std::vector<R>;  // one element's gradients, step by step

/// One element's trajectory by the source's own loop; returns theta per step.
using SourceLoop = std::function<std::vector<R>(const HyperValues<R>&, R theta, const Stream&, const PresetOptions&)>;

// Kingma & Ba Algorithm 1 (and TF.js, Optax with eps_root, PyTorch written as
// the paper): m_hat/(sqrt(v_hat + eps_root) + eps).
std::vector<R> algorithm1(const HyperValues<R>& h, R theta, const Stream& grads, const PresetOptions&) {
  std::vector<R> out;
  R m = 0, v = 0;
  for (std::size_t t = 1; t <= grads.size(); ++t) {
    const R g = grads[t - 1];
    m = h.beta1 * m + (1 - h.beta1) * g;
    v = h.beta2 * v + (1 - h.beta2) * g * g;
    const R m_hat = m / (1 - pow(h.beta1, t)), v_hat = v / (1 - pow(h.beta2, t));
    theta = theta - h.lr * m_hat / (sqrt(v_hat + h.eps_root) + h.eps);
    out.push_back(theta);
  }
  return out;
}

// Kingma & Ba section 2 / TF ApplyAdam / sklearn / dlib / ONNX: eps-hat, with
// optional L2 (g += wd theta) and ONNX's post-update (1 - wd) on the new theta,
// and ONNX T = 0 (no bias correction) as bias_correction = false.
std::vector<R> eps_hat_loop(const HyperValues<R>& h, R theta, const Stream& grads, const PresetOptions& o,
                            bool l2, bool post_decay_unscaled, bool post_decay_lr) {
  std::vector<R> out;
  R m = 0, v = 0;
  for (std::size_t t = 1; t <= grads.size(); ++t) {
    R g = grads[t - 1];
    if (l2) g = g + h.weight_decay * theta;
    m = h.beta1 * m + (1 - h.beta1) * g;
    v = h.beta2 * v + (1 - h.beta2) * g * g;
    const R alpha = o.bias_correction ? R(h.lr * sqrt(1 - pow(h.beta2, t)) / (1 - pow(h.beta1, t))) : h.lr;
    theta = theta - alpha * m / (sqrt(v) + h.eps);
    if (post_decay_unscaled) theta = (1 - h.weight_decay) * theta;     // ONNX norm_coefficient_post
    if (post_decay_lr) theta = theta - h.lr * h.weight_decay * theta;  // HF: p.add_(p, alpha=-lr*wd)
    out.push_back(theta);
  }
  return out;
}

// PyTorch 1.13 _single_tensor_adam / _single_tensor_adamw.
std::vector<R> pytorch_loop(const HyperValues<R>& h, R theta, const Stream& grads, const PresetOptions& o, bool adamw) {
  std::vector<R> out;
  R m = 0, v = 0, vmax = 0;
  for (std::size_t t = 1; t <= grads.size(); ++t) {
    R g = o.maximize ? R(-grads[t - 1]) : grads[t - 1];
    if (adamw) theta = theta * (1 - h.lr * h.weight_decay);  // param.mul_(1 - lr * weight_decay)
    else g = g + h.weight_decay * theta;                       // grad = grad.add(param, alpha=weight_decay)
    m = h.beta1 * m + (1 - h.beta1) * g;
    v = h.beta2 * v + (1 - h.beta2) * g * g;
    const R bc1 = 1 - pow(h.beta1, t), bc2 = 1 - pow(h.beta2, t);
    R denom;
    if (o.amsgrad) {
      vmax = std::max(vmax, v);  // torch.maximum(max_exp_avg_sqs[i], exp_avg_sq, out=max_exp_avg_sqs[i])
      denom = sqrt(vmax) / sqrt(bc2) + h.eps;
    } else {
      denom = sqrt(v) / sqrt(bc2) + h.eps;
    }
    theta = theta - h.lr / bc1 * (m / denom);  // param.addcdiv_(exp_avg, denom, value=-step_size)
    out.push_back(theta);
  }
  return out;
}

// Loshchilov & Hutter Algorithm 2 with a constant schedule multiplier eta = 1.
std::vector<R> loshchilov_hutter_loop(const HyperValues<R>& h, R theta, const Stream& grads, const PresetOptions&) {
  std::vector<R> out;
  R m = 0, v = 0;
  for (std::size_t t = 1; t <= grads.size(); ++t) {
    const R g = grads[t - 1];
    m = h.beta1 * m + (1 - h.beta1) * g;
    v = h.beta2 * v + (1 - h.beta2) * g * g;
    const R m_hat = m / (1 - pow(h.beta1, t)), v_hat = v / (1 - pow(h.beta2, t));
    theta = theta - (h.lr * m_hat / (sqrt(v_hat) + h.eps) + h.weight_decay * theta);  // line 12, eta_t = 1
    out.push_back(theta);
  }
  return out;
}

// Keras 3 Adam: decay first (var -= var*wd*lr), m += (g - m)(1 - b1), alpha =
// lr sqrt(1 - b2^t)/(1 - b1^t), amsgrad v_hat = max(v_hat, v), var -= m alpha/(sqrt(v) + eps).
std::vector<R> keras_loop(const HyperValues<R>& h, R theta, const Stream& grads, const PresetOptions& o) {
  std::vector<R> out;
  R m = 0, v = 0, v_hat = 0;
  for (std::size_t t = 1; t <= grads.size(); ++t) {
    const R g = grads[t - 1];
    theta = theta - theta * h.weight_decay * h.lr;
    const R alpha = h.lr * sqrt(1 - pow(h.beta2, t)) / (1 - pow(h.beta1, t));
    m = m + (g - m) * (1 - h.beta1);
    v = v + (g * g - v) * (1 - h.beta2);
    R vv = v;
    if (o.amsgrad) {
      v_hat = std::max(v_hat, v);
      vv = v_hat;
    }
    theta = theta - m * alpha / (sqrt(vv) + h.eps);
    out.push_back(theta);
  }
  return out;
}

// Optax: chain(scale_by_adam | scale_by_amsgrad, [add_decayed_weights], scale_by_learning_rate).
std::vector<R> optax_loop(const HyperValues<R>& h, R theta, const Stream& grads, const PresetOptions&,
                          bool decayed_weights, bool amsgrad) {
  std::vector<R> out;
  R mu = 0, nu = 0, nu_max = 0;
  for (std::size_t t = 1; t <= grads.size(); ++t) {
    const R g = grads[t - 1];
    mu = (1 - h.beta1) * g + h.beta1 * mu;  // update_moment
    nu = (1 - h.beta2) * g * g + h.beta2 * nu;
    const R mu_hat = mu / (1 - pow(h.beta1, t));
    R nu_hat = nu / (1 - pow(h.beta2, t));
    if (amsgrad) {
      nu_max = std::max(nu_max, nu_hat);
      nu_hat = nu_max;
    }
    R u = mu_hat / (sqrt(nu_hat + h.eps_root) + h.eps);
    if (decayed_weights) u = u + h.weight_decay * theta;
    theta = theta + (-h.lr * u);
    out.push_back(theta);
  }
  return out;
}

// MLX 0.32 optimizers.py Adam.apply_single (:537-549), AdamW.apply_single
// (:600-603: p (1 - lr wd) passed into Adam). Without bias correction (the
// default) p - lr m/(sqrt(v) + eps); with it c1 = lr/(1-b1^t), c2 = rsqrt(1-b2^t),
// p - c1 m/(sqrt(v) c2 + eps).
std::vector<R> mlx_loop(const HyperValues<R>& h, R theta, const Stream& grads, const PresetOptions&, bool adamw,
                        bool bias_correction) {
  std::vector<R> out;
  R m = 0, v = 0;
  for (std::size_t t = 1; t <= grads.size(); ++t) {
    const R g = grads[t - 1];
    if (adamw) theta = theta * (1 - h.lr * h.weight_decay);
    m = h.beta1 * m + (1 - h.beta1) * g;
    v = h.beta2 * v + (1 - h.beta2) * g * g;
    if (bias_correction) {
      const R c1 = h.lr / (1 - pow(h.beta1, t)), c2 = 1 / sqrt(1 - pow(h.beta2, t));
      theta = theta - c1 * m / (sqrt(v) * c2 + h.eps);
    } else {
      theta = theta - h.lr * m / (sqrt(v) + h.eps);
    }
    out.push_back(theta);
  }
  return out;
}

// tinygrad 0.14 nn/optim.py LAMB(adam=True) (:157-178): b1_t *= b1; m_hat =
// m/(1-b1_t); v_hat = v/(1-b2_t); up = m_hat/(sqrt(v_hat) + eps) + wd p;
// p -= lr up. (The running products are float32 tensors in tinygrad; the
// rounding of a float32 beta^t is not part of the preset: see its source.)
std::vector<R> tinygrad_loop(const HyperValues<R>& h, R theta, const Stream& grads, const PresetOptions&) {
  std::vector<R> out;
  R m = 0, v = 0, b1_t = 1, b2_t = 1;
  for (std::size_t t = 1; t <= grads.size(); ++t) {
    const R g = grads[t - 1];
    b1_t = b1_t * h.beta1;
    b2_t = b2_t * h.beta2;
    m = h.beta1 * m + (1 - h.beta1) * g;
    v = h.beta2 * v + (1 - h.beta2) * (g * g);
    const R up = (m / (1 - b1_t)) / (sqrt(v / (1 - b2_t)) + h.eps) + h.weight_decay * theta;
    theta = theta - h.lr * up;
    out.push_back(theta);
  }
  return out;
}

// bitsandbytes 0.50 backends/cpu/ops.py _optimizer_update_32bit_cpu, "adam"
// (Adam and AdamW alike): p *= 1 - lr wd when wd > 0; c1 = 1 - b1^t,
// c2 = sqrt(1 - b2^t); p += -lr c2/c1 m/(sqrt(v) + eps c2).
std::vector<R> bitsandbytes_loop(const HyperValues<R>& h, R theta, const Stream& grads, const PresetOptions&) {
  std::vector<R> out;
  R m = 0, v = 0;
  for (std::size_t t = 1; t <= grads.size(); ++t) {
    const R g = grads[t - 1];
    m = h.beta1 * m + (1 - h.beta1) * g;
    v = h.beta2 * v + (1 - h.beta2) * g * g;
    if (h.weight_decay > 0) theta = theta * (1 - h.lr * h.weight_decay);
    const R c1 = 1 - pow(h.beta1, t), c2 = sqrt(1 - pow(h.beta2, t));
    theta = theta + (-h.lr * c2 / c1) * (m / (sqrt(v) + h.eps * c2));
    out.push_back(theta);
  }
  return out;
}

// candle-nn 0.11 optim.rs AdamW::step: m_hat = m (1/(1-b1^t)), v_hat = v
// (1/(1-b2^t)); theta (1 - lr wd) - lr m_hat/(sqrt(v_hat) + eps), both of the
// old theta.
std::vector<R> candle_loop(const HyperValues<R>& h, R theta, const Stream& grads, const PresetOptions&) {
  std::vector<R> out;
  R m = 0, v = 0;
  for (std::size_t t = 1; t <= grads.size(); ++t) {
    const R g = grads[t - 1];
    const R scale_m = 1 / (1 - pow(h.beta1, t)), scale_v = 1 / (1 - pow(h.beta2, t));
    m = m * h.beta1 + g * (1 - h.beta1);
    v = v * h.beta2 + g * g * (1 - h.beta2);
    const R m_hat = m * scale_m, v_hat = v * scale_v;
    theta = theta * (1 - h.lr * h.weight_decay) - h.lr * m_hat / (sqrt(v_hat) + h.eps);
    out.push_back(theta);
  }
  return out;
}

// burn 0.22 crates/burn-optim/src/optim/adam.rs (L2: g + wd theta; update
// m (sqrt(bc2)/bc1)/(sqrt(v) + eps sqrt(bc2))) and adamw.rs (theta (1 - lr wd)
// first; (m/bc1)/(sqrt(v/bc2) + eps)); theta - lr update.
std::vector<R> burn_loop(const HyperValues<R>& h, R theta, const Stream& grads, const PresetOptions&, bool adamw) {
  std::vector<R> out;
  R m = 0, v = 0;
  for (std::size_t t = 1; t <= grads.size(); ++t) {
    R g = grads[t - 1];
    if (!adamw) g = g + h.weight_decay * theta;
    if (adamw) theta = theta * (1 - h.lr * h.weight_decay);
    m = m * h.beta1 + g * (1 - h.beta1);
    v = v * h.beta2 + g * g * (1 - h.beta2);
    const R bc1 = 1 - pow(h.beta1, t), bc2 = 1 - pow(h.beta2, t);
    const R update = adamw ? R((m / bc1) / (sqrt(v / bc2) + h.eps))
                           : R(m * (sqrt(bc2) / bc1) / (sqrt(v) + h.eps * sqrt(bc2)));
    theta = theta - h.lr * update;
    out.push_back(theta);
  }
  return out;
}

// torch-optimi 0.3.3 optimi/adam.py adam() (:263-273) and _single_param_adam
// (:373-396): beta_hat = (beta**t - beta)/(beta**t - 1) (utils.py:36); L2
// grad += wd p, or decoupled p *= 1 - lr wd, or (decouple_lr) p *= 1 - (lr/max_lr)
// wd with max_lr = lr; m.lerp_(g, 1 - beta1_hat); v = beta2_hat v + (1 - beta2_hat)
// g g; p.addcdiv_(m, sqrt(v) + eps, -lr). The state holds the bias-corrected moments.
enum class OptimiDecay { l2, decoupled, decoupled_lr };
std::vector<R> optimi_loop(const HyperValues<R>& h, R theta, const Stream& grads, const PresetOptions&, OptimiDecay decay) {
  std::vector<R> out;
  R m = 0, v = 0;
  const auto debias_beta = [](const R& beta, std::size_t t) { return (pow(beta, t) - beta) / (pow(beta, t) - 1); };
  for (std::size_t t = 1; t <= grads.size(); ++t) {
    R g = grads[t - 1];
    const R beta1_hat = debias_beta(h.beta1, t), beta2_hat = debias_beta(h.beta2, t);
    if (decay == OptimiDecay::l2) g = g + h.weight_decay * theta;
    if (decay == OptimiDecay::decoupled) theta = theta * (1 - h.lr * h.weight_decay);
    if (decay == OptimiDecay::decoupled_lr) theta = theta * (1 - (h.lr / h.lr) * h.weight_decay);
    m = m + (1 - beta1_hat) * (g - m);  // lerp
    v = beta2_hat * v + (1 - beta2_hat) * g * g;
    theta = theta + (-h.lr) * m / (sqrt(v) + h.eps);
    out.push_back(theta);
  }
  return out;
}

// HeavyBall 3.2.1 heavyball/utils.py _fused_compilable_adam_ (:1978-1999):
// beta_hat = 1 - (1 - beta)/(1 - beta^t) (beta_debias, :340); _lerp (:1899) and
// _compilable_stochastic_lerp_ (:1086): x (1 - a) + y a with a = 1 - beta_hat, for
// m with g and v with g g; denom = sqrt(v).clamp(min=eps) (eps_sqrt, :420);
// _compilable_update_ (:2430): p (1 - wd lr) + (m/denom)(-lr), lr = base_lr t / t
// (chainable.py:2594). The state holds the bias-corrected moments.
std::vector<R> heavyball_loop(const HyperValues<R>& h, R theta, const Stream& grads, const PresetOptions&) {
  std::vector<R> out;
  R m = 0, v = 0;
  const auto beta_debias = [](const R& beta, std::size_t t) { return 1 - (1 - beta) / (1 - pow(beta, t)); };
  for (std::size_t t = 1; t <= grads.size(); ++t) {
    const R g = grads[t - 1];
    const R a1 = 1 - beta_debias(h.beta1, t), a2 = 1 - beta_debias(h.beta2, t);
    m = m * (1 - a1) + g * a1;
    v = v * (1 - a2) + (g * g) * a2;
    const R denom = std::max(R(sqrt(v)), h.eps);
    const R lr = h.lr * R(t) / R(t);
    theta = theta * (1 - h.weight_decay * lr) + (m / denom) * (-lr);
    out.push_back(theta);
  }
  return out;
}

// torchao 0.18 torchao/optim/adam.py single_param_adam (:179-204), IS_ADAMW:
// p - lr wd p; bc = 1 - beta**step; m, v by lerp; AMSGrad max of raw v;
// p - lr (m/bc1)/(sqrt(v)/sqrt(bc2) + eps).
std::vector<R> torchao_loop(const HyperValues<R>& h, R theta, const Stream& grads, const PresetOptions& o) {
  std::vector<R> out;
  R m = 0, v = 0, vmax = 0;
  for (std::size_t t = 1; t <= grads.size(); ++t) {
    const R g = grads[t - 1];
    theta = theta - h.lr * h.weight_decay * theta;
    const R bc1 = 1 - pow(h.beta1, t), bc2 = 1 - pow(h.beta2, t);
    m = m + (1 - h.beta1) * (g - m);
    v = v + (1 - h.beta2) * (g * g - v);
    if (o.amsgrad) vmax = std::max(vmax, v);
    const R denom = sqrt(o.amsgrad ? vmax : v) / sqrt(bc2) + h.eps;
    theta = theta - h.lr * (m / bc1) / denom;
    out.push_back(theta);
  }
  return out;
}

const std::map<std::string, SourceLoop>& source_loops() {
  using namespace std::placeholders;
  static const std::map<std::string, SourceLoop> loops{
      {"kingma-ba", algorithm1},
      {"tfjs-adam", algorithm1},
      {"kingma-ba-eps-hat", [](auto& h, R th, auto& g, auto& o) { return eps_hat_loop(h, th, g, o, false, false, false); }},
      {"onnx-adam", [](auto& h, R th, auto& g, auto& o) { return eps_hat_loop(h, th, g, o, true, false, false); }},
      {"onnx-adam-post-decay", [](auto& h, R th, auto& g, auto& o) { return eps_hat_loop(h, th, g, o, false, true, false); }},
      {"dlib-adam", [](auto& h, R th, auto& g, auto& o) { return eps_hat_loop(h, th, g, o, true, false, false); }},
      {"sklearn-adam", [](auto& h, R th, auto& g, auto& o) { return eps_hat_loop(h, th, g, o, true, false, false); }},
      {"huggingface-adamw", [](auto& h, R th, auto& g, auto& o) { return eps_hat_loop(h, th, g, o, false, false, true); }},
      {"pytorch-adam", [](auto& h, R th, auto& g, auto& o) { return pytorch_loop(h, th, g, o, false); }},
      {"pytorch-adamw", [](auto& h, R th, auto& g, auto& o) { return pytorch_loop(h, th, g, o, true); }},
      {"loshchilov-hutter-adamw", loshchilov_hutter_loop},
      {"keras-adam", keras_loop},
      {"keras-adamw", keras_loop},
      {"optax-adam", [](auto& h, R th, auto& g, auto& o) { return optax_loop(h, th, g, o, false, false); }},
      {"optax-adamw", [](auto& h, R th, auto& g, auto& o) { return optax_loop(h, th, g, o, true, false); }},
      {"optax-amsgrad", [](auto& h, R th, auto& g, auto& o) { return optax_loop(h, th, g, o, false, true); }},
      {"mlx-adam", [](auto& h, R th, auto& g, auto& o) { return mlx_loop(h, th, g, o, false, false); }},
      {"mlx-adamw", [](auto& h, R th, auto& g, auto& o) { return mlx_loop(h, th, g, o, true, false); }},
      {"mlx-adam-bias-corrected", [](auto& h, R th, auto& g, auto& o) { return mlx_loop(h, th, g, o, false, true); }},
      {"mlx-adamw-bias-corrected", [](auto& h, R th, auto& g, auto& o) { return mlx_loop(h, th, g, o, true, true); }},
      {"tinygrad-adam", tinygrad_loop},
      {"tinygrad-adamw", tinygrad_loop},
      {"bitsandbytes-adam", bitsandbytes_loop},
      {"bitsandbytes-adamw", bitsandbytes_loop},
      {"candle-adamw", candle_loop},
      {"burn-adam", [](auto& h, R th, auto& g, auto& o) { return burn_loop(h, th, g, o, false); }},
      {"burn-adamw", [](auto& h, R th, auto& g, auto& o) { return burn_loop(h, th, g, o, true); }},
      {"optimi-adam", [](auto& h, R th, auto& g, auto& o) { return optimi_loop(h, th, g, o, OptimiDecay::l2); }},
      {"optimi-adamw", [](auto& h, R th, auto& g, auto& o) { return optimi_loop(h, th, g, o, OptimiDecay::decoupled); }},
      {"optimi-adamw-decoupled-lr",
       [](auto& h, R th, auto& g, auto& o) { return optimi_loop(h, th, g, o, OptimiDecay::decoupled_lr); }},
      {"torchao-adamw", torchao_loop},
      {"heavyball-adamw", heavyball_loop},
      {"bitsandbytes-adam8bit", bitsandbytes_loop},  // below 4096 elements: the 32-bit kernel
      {"bitsandbytes-adamw8bit", bitsandbytes_loop},
      {"torchao-adamw8bit", torchao_loop},  // below 4096 elements (or not whole blocks): float32 states
      {"torchao-adamw4bit", torchao_loop},
      {"torchao-adamw-fp8", torchao_loop},
  };
  return loops;
}

/// A gradient stream with sign flips, a magnitude drop (so AMSGrad's max
/// matters) and values near eps.
std::vector<Stream> probe_streams() {
  return {
      {R("0.3"), R("-1.2"), R("0.05"), R("2.5"), R("-0.001"), R("0.0002"), R("-0.7")},
      {R("1e-7"), R("3e-8"), R("-2e-7"), R("1e-9"), R("5e-8"), R("-1e-8"), R("2e-8")},
      {R("4"), R("0.01"), R("0.01"), R("-0.02"), R("0.005"), R("0"), R("0.001")},
  };
}
const std::vector<R> kTheta0{R("0.5"), R("-1.25"), R("2")};

/// Every exposed hyperparameter set away from its default, so that each one
/// the preset reads changes the trajectory.
std::map<std::string, std::string> probe_overrides(const Preset& p) {
  const std::map<std::string, std::string> probe{{"lr", "0.05"}, {"beta1", "0.8"}, {"beta2", "0.95"},
                                                 {"eps", "1e-6"}, {"eps_root", "1e-7"}, {"weight_decay", "0.2"}};
  std::map<std::string, std::string> out;
  for (const auto& h : p.hyperparameters) out[h] = probe.at(h);
  return out;
}

std::vector<PresetOptions> options_of(const Preset& p) {
  std::vector<PresetOptions> out{{}};
  if (p.amsgrad != AmsgradVariant::none) out.push_back({true, false, true});
  if (p.offers_maximize) out.push_back({false, true, true});
  if (p.amsgrad != AmsgradVariant::none && p.offers_maximize) out.push_back({true, true, true});
  if (p.offers_bias_correction_switch) out.push_back({false, false, false});
  return out;
}

std::vector<std::vector<R>> run_chain(const OptimizerSpec& spec, const std::vector<Stream>& streams) {
  ReferenceAdam<R> reference(spec.convention, values_of<R>(spec.hyper), kTheta0);
  std::vector<std::vector<R>> theta(kTheta0.size());
  for (std::size_t t = 0; t < streams[0].size(); ++t) {
    std::vector<R> g;
    for (const auto& s : streams) g.push_back(s[t]);
    const auto rec = reference.step(g);
    for (std::size_t i = 0; i < g.size(); ++i) theta[i].push_back(rec.elements[i].theta);
  }
  return theta;
}

TEST(Presets, EveryPresetHasASourceLoop) {
  for (const auto& p : presets()) EXPECT_TRUE(source_loops().count(p.name)) << p.name;
  EXPECT_EQ(source_loops().size(), presets().size());
}

TEST(Presets, ChainEqualsTheSourceLoopForEveryOptionAndBothHyperparameterSets) {
  const R tolerance = pow(R(2), -240);  // 257-bit arithmetic in two orders, 7 steps
  int runs = 0;
  for (const auto& preset : presets()) {
    for (const auto& options : options_of(preset)) {
      for (const auto& overrides : {std::map<std::string, std::string>{}, probe_overrides(preset)}) {
        const OptimizerSpec spec = make_spec(preset.name, options, overrides);
        const auto hyper = values_of<R>(spec.hyper);
        const auto chain = run_chain(spec, probe_streams());
        for (std::size_t i = 0; i < kTheta0.size(); ++i) {
          const auto source = source_loops().at(preset.name)(hyper, kTheta0[i], probe_streams()[i], options);
          for (std::size_t t = 0; t < source.size(); ++t)
            ASSERT_LE(abs(chain[i][t] - source[t]), tolerance * (1 + abs(source[t])))
                << preset.name << " amsgrad=" << options.amsgrad << " maximize=" << options.maximize
                << " bias_correction=" << options.bias_correction << " element " << i << " step " << t + 1
                << ": chain " << chain[i][t].str(20) << " source " << source[t].str(20);
        }
        ++runs;
      }
    }
  }
  std::cout << "  " << presets().size() << " presets, " << runs << " option/hyperparameter combinations agree with their sources\n";
}

/// Whether two trajectories differ by more than 1e-9 relative anywhere.
bool differ(const std::vector<std::vector<R>>& a, const std::vector<std::vector<R>>& b) {
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t t = 0; t < a[i].size(); ++t)
      if (abs(a[i][t] - b[i][t]) > R("1e-9") * (abs(a[i][t]) + abs(b[i][t]))) return true;
  return false;
}

// Presets that are one arithmetic in exact numbers and differ only in how
// their library rounds (the order of its operations, which the error model
// bounds): each names its library, so a user types the one they run. Within a
// group every pair agrees on every probe; every other pair is told apart.
const std::vector<std::set<std::string>>& same_exact_arithmetic() {
  static const std::vector<std::set<std::string>> groups{
      // Algorithm 1: MLX with bias_correction=True scales by c1 = lr/(1-b1^t) and
      // c2 = rsqrt(1-b2^t); tinygrad divides by running products of beta.
      {"kingma-ba", "mlx-adam-bias-corrected", "tinygrad-adam"},
      // Decoupled decay scaled by lr with eps after bias correction: tinygrad
      // adds wd theta to the update before lr (theta - lr(u + wd theta) =
      // theta(1 - lr wd) - lr u); bitsandbytes scales eps by sqrt(bc2)
      // (c2/c1 m/(sqrt(v) + eps c2) = m_hat/(sqrt(v_hat) + eps)).
      // torchao: theta - lr wd theta and lerp moments, the same numbers.
      // bitsandbytes' 8-bit presets: their quantized states change nothing below 4096 elements, and
      // the probes' tensors are smaller.
      {"pytorch-adamw", "tinygrad-adamw", "mlx-adamw-bias-corrected", "bitsandbytes-adamw", "candle-adamw",
       "torchao-adamw", "bitsandbytes-adamw8bit", "torchao-adamw8bit", "torchao-adamw4bit", "torchao-adamw-fp8"},
      {"bitsandbytes-adam", "bitsandbytes-adam8bit"},
  };
  return groups;
}

bool in_one_group(const std::string& a, const std::string& b) {
  for (const auto& group : same_exact_arithmetic())
    if (group.count(a) && group.count(b)) return true;
  return false;
}

TEST(Presets, EveryPresetIsToldApartFromEveryOtherOnSomeInput) {
  // Inputs: each preset at its defaults, and each preset with every exposed
  // hyperparameter at a common probe value; options off and each one on.
  struct Run {
    std::string label;
    std::vector<std::vector<R>> defaults, probed;
  };
  std::map<std::string, std::vector<Run>> runs;
  for (const auto& p : presets())
    for (const auto& o : options_of(p)) {
      const std::string label = p.name + (o.amsgrad ? "+amsgrad" : "") + (o.maximize ? "+maximize" : "") +
                                (o.bias_correction ? "" : "-bias_correction");
      runs[p.name].push_back({label, run_chain(make_spec(p.name, o), probe_streams()),
                              run_chain(make_spec(p.name, o, probe_overrides(p)), probe_streams())});
    }
  int pairs = 0;
  for (const auto& a : presets())
    for (const auto& b : presets()) {
      if (a.name >= b.name) continue;
      // Compare the base configurations (options off).
      const Run& ra = runs[a.name].front();
      const Run& rb = runs[b.name].front();
      const bool by_defaults = differ(ra.defaults, rb.defaults);
      const bool by_probe = differ(ra.probed, rb.probed);
      if (in_one_group(a.name, b.name)) {
        EXPECT_FALSE(by_probe) << a.name << " and " << b.name << " are listed as one arithmetic but differ";
        continue;
      }
      EXPECT_TRUE(by_defaults || by_probe) << a.name << " and " << b.name << " agree on every input";
      ++pairs;
    }
  // And each option changes its preset's trajectory.
  for (const auto& [name, list] : runs)
    for (std::size_t k = 1; k < list.size(); ++k)
      EXPECT_TRUE(differ(list[0].probed, list[k].probed)) << list[k].label << " equals " << list[0].label;
  std::cout << "  " << pairs << " preset pairs told apart\n";
}

// PyTorch 1.12+'s state['step'] is a float32 tensor: step_t += 1 rounds, so
// from 2^24 - 1 the counts are 2^24, 2^24, ... and an imported 2^24 + 1 is
// 2^24; an integer count goes on. The bias correction follows the count.
TEST(Presets, AFloat32StepCounterStopsAt2To24AndAnIntegerOneDoesNot) {
  const std::int64_t two24 = std::int64_t(1) << 24;
  EXPECT_EQ(advance_count(StepCounter::float32, two24 - 1), two24);
  EXPECT_EQ(advance_count(StepCounter::float32, two24), two24);
  EXPECT_EQ(held_count(StepCounter::float32, two24 + 1), two24);
  EXPECT_EQ(held_count(StepCounter::float32, two24 + 3), two24 + 4);  // to nearest even
  EXPECT_EQ(advance_count(StepCounter::integer, two24), two24 + 1);
  // int32 (Optax's safe_increment): counts to 2^31 - 1 and stays there.
  EXPECT_EQ(advance_count(StepCounter::int32, kInt32CountLimit - 1), kInt32CountLimit);
  EXPECT_EQ(advance_count(StepCounter::int32, kInt32CountLimit), kInt32CountLimit);
  EXPECT_EQ(step_counter_by_name("int32", "x"), StepCounter::int32);
  EXPECT_EQ(to_string(StepCounter::int32), "int32");
  for (const StepCounter counter : {StepCounter::integer, StepCounter::float32}) {
    PresetOptions options;
    options.step_counter = counter;
    const OptimizerSpec spec = make_spec("pytorch-adam", options, {{"beta1", "0.9999999"}, {"beta2", "0.9999999"}});
    EXPECT_EQ(spec.convention.adam().counter, counter);
    OptimizerState<R> start{two24 - 1, {R(0)}, {R(0)}, {}};
    ReferenceAdam<R> reference(spec.convention, values_of<R>(spec.hyper), {R(1)}, start);
    std::vector<std::int64_t> ts;
    for (int k = 0; k < 3; ++k) ts.push_back(reference.step({R(1)}).scalars.t);
    const std::vector<std::int64_t> expected = counter == StepCounter::integer
                                                   ? std::vector<std::int64_t>{two24, two24 + 1, two24 + 2}
                                                   : std::vector<std::int64_t>{two24, two24, two24};
    EXPECT_EQ(ts, expected) << to_string(counter);
    EXPECT_EQ(reference.state().step, expected.back());
  }
  EXPECT_THROW(step_counter_by_name("bf16", "--step-counter"), std::invalid_argument);
}

// The storage formats round as bfloat16 and IEEE binary16 do, the pitfalls
// of issue 10 among them: beta2 = 0.999 is 1 in bfloat16 (0.9999 in float16), eps = 1e-8 is 0 in
// float16 (below half its smallest subnormal, 2^-25), 65504 is float16's largest.
TEST(Presets, StorageFormatsRoundAsBfloat16AndFloat16Do) {
  EXPECT_EQ(round_to_format(0.999, bfloat16_format), 1.0);
  EXPECT_EQ(round_to_format(0.9, bfloat16_format), 0.8984375);
  EXPECT_EQ(round_to_format(0.9999, float16_format), 1.0);  // beta2 -> 1: v never forgets
  EXPECT_EQ(round_to_format(1e-8, float16_format), 0.0);
  EXPECT_EQ(round_to_format(std::ldexp(1.0, -24), float16_format), std::ldexp(1.0, -24));
  EXPECT_EQ(float16_format.largest_finite(), 65504.0);
  EXPECT_TRUE(std::isinf(round_to_format(65520.0, float16_format)));  // the round-to-nearest overflow threshold
  EXPECT_EQ(round_to_format(65519.0, float16_format), 65504.0);
  EXPECT_EQ(bfloat16_format.largest_finite(), std::ldexp(255.0, 120));
  EXPECT_EQ(round_to_format(1.0 + std::ldexp(1.0, -8), bfloat16_format), 1.0);  // a tie to even
  EXPECT_EQ(round_to_format(1.0 + 3 * std::ldexp(1.0, -8), bfloat16_format), 1.0 + std::ldexp(1.0, -6));
  for (const char* name : {"float32", "float64", "bfloat16", "float16"}) EXPECT_TRUE(format_by_name(name)) << name;
  EXPECT_FALSE(format_by_name("bf16"));
}

// round_to_format of a double takes the hardware's conversion for float32 (within its normal range) and
// float64; it must round exactly as the same algorithm in MPFR does: ties to even, the edges of the normal
// range, the overflow threshold (largest + ulp/2 is inf, just below it the largest), float32's subnormals.
TEST(Presets, DoublesRoundToFloat32AndFloat64AsInMpfr) {
  const double largest32 = float32_format.largest_finite(), half_ulp32 = std::ldexp(1.0, 127 - 24);
  EXPECT_EQ(largest32, static_cast<double>(std::numeric_limits<float>::max()));
  EXPECT_EQ(float64_format.largest_finite(), std::numeric_limits<double>::max());
  std::vector<double> xs = {1.0 + std::ldexp(1.0, -24), 1.0 + 3 * std::ldexp(1.0, -24), 0.1, -0.1, 1e-8, 0.999,
                            std::ldexp(1.0, -126), std::nextafter(std::ldexp(1.0, -126), 0.0), std::ldexp(1.5, -140),
                            std::ldexp(1.0, -150), std::ldexp(1.0, -149), largest32, largest32 + half_ulp32,
                            std::nextafter(largest32 + half_ulp32, 0.0), -(largest32 + half_ulp32), std::ldexp(1.0, 129),
                            std::ldexp(1.0, 200), std::numeric_limits<double>::max(), std::numeric_limits<double>::denorm_min()};
  std::uint64_t state = 12345;
  for (int k = 0; k < 20000; ++k) {  // random bit patterns over float32's range and beyond
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const double x = std::ldexp(1.0 + static_cast<double>(state >> 12) * 0x1p-52, static_cast<int>(state % 320) - 170);
    xs.push_back(k % 2 ? x : -x);
  }
  for (const double x : xs)
    for (const FloatFormat& f : {float32_format, float64_format}) {
      const double fast = round_to_format(x, f), exact = round_to_format(R(x), f);
      EXPECT_TRUE(fast == exact || (std::isnan(fast) && std::isnan(exact))) << f.name << " " << std::hexfloat << x << ": " << fast
                                                                            << " against MPFR's " << exact;
    }
}

TEST(Presets, UnknownNamesAndOptionsGiveOneLineErrors) {
  EXPECT_THROW(preset_by_name("pytorch_adam"), std::invalid_argument);
  try {
    make_spec("kingma-ba", {}, {{"weight_decay", "0.1"}});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "preset kingma-ba has no hyperparameter weight_decay (it has: lr beta1 beta2 eps)");
  }
  try {
    make_spec("pytorch-adam", {}, {{"beta2", "nan"}});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "hyperparameter beta2: 'nan' is not a finite decimal number");
  }
  try {
    make_spec("pytorch-adam", {}, {{"beta1", "1"}});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "hyperparameter beta1 = 1 is outside [0, 1)");
  }
  EXPECT_THROW(make_spec("keras-adam", {false, true, true}), std::invalid_argument);  // no maximize in Keras
  EXPECT_THROW(make_spec("kingma-ba", {true, false, true}), std::invalid_argument);   // no amsgrad flag
}

}  // namespace
}  // namespace adamconf
