#include "adamconf/presets.hpp"

#include <algorithm>
#include <stdexcept>

namespace adamconf {

namespace {

ScaleByAdam eps_after() { return ScaleByAdam{.eps_placement = EpsPlacement::after_bias_correction}; }
/// tinygrad's: eps after bias correction, the direction m (recip(bc1) recip(D)) (tensor.py Tensor.div multiplies
/// by a reciprocal, and on the CPU the two reciprocals are multiplied first).
ScaleByAdam tinygrad_direction() {
  ScaleByAdam a = eps_after();
  a.reciprocal_product = true;
  return a;
}
ScaleByAdam eps_hat() { return ScaleByAdam{.eps_placement = EpsPlacement::before_bias_correction}; }
/// eps after bias correction, written m (sqrt(bc2)/bc1)/(sqrt(v) + eps sqrt(bc2)).
ScaleByAdam eps_scaled_by_sqrt_bc2() {
  return ScaleByAdam{.eps_placement = EpsPlacement::after_bias_correction, .eps_scaled_by_sqrt_bc2 = true};
}
/// `adam` with 1 - beta and 1 - beta^t never formed from a beta held in a storage format
/// (ScaleByAdam::complements_wide): Python floats (PyTorch `1 - beta1 ** step`, transformers,
/// bitsandbytes' CPU ops), candle's f64 scales.
ScaleByAdam wide_complements(ScaleByAdam adam) {
  adam.complements_wide = true;
  return adam;
}
/// `adam` with the denominator's root taken by ATen's CPU `sqrt` (MKL VML, within one ulp:
/// ScaleByAdam::sqrt_within_one_ulp): the libraries whose eager CPU step calls `tensor.sqrt()`
/// or `torch._foreach_sqrt` (PyTorch's for-loop and foreach paths, transformers, torch-optimi,
/// HeavyBall and bitsandbytes where torch.compile is off or falls back, Keras on its torch backend).
ScaleByAdam aten_root(ScaleByAdam adam) {
  adam.sqrt_within_one_ulp = true;
  return adam;
}

std::vector<Preset> make_presets() {
  // Locals, not namespace-scope constants: presets() may be first called during
  // another file's static initialization (ADAMCONF_PROPERTY_TESTS registers its
  // tests then), before such constants of this file are constructed.
  const std::vector<std::string> kAdamHyper{"lr", "beta1", "beta2", "eps"};
  const std::vector<std::string> kAdamWdHyper{"lr", "beta1", "beta2", "eps", "weight_decay"};
  const std::vector<std::string> kOptaxHyper{"lr", "beta1", "beta2", "eps", "eps_root"};
  const std::vector<std::string> kOptaxWdHyper{"lr", "beta1", "beta2", "eps", "eps_root", "weight_decay"};
  std::vector<Preset> p;
  p.push_back({.name = "kingma-ba",
               .source = "Kingma & Ba, Adam: A Method for Stochastic Optimization (ICLR 2015), Algorithm 1",
               .summary = "the paper's algorithm: lr * m_hat / (sqrt(v_hat) + eps)",
               .convention = {.chain = {eps_after(), ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0"},
               .hyperparameters = kAdamHyper});
  p.push_back({.name = "kingma-ba-eps-hat",
               .source = "Kingma & Ba (ICLR 2015), end of section 2: alpha_t = alpha sqrt(1-b2^t)/(1-b1^t), "
               "theta -= alpha_t m/(sqrt(v) + eps_hat); as TF ApplyAdam, ensmallen",
               .summary = "eps added before bias correction (the paper's 'epsilon hat')",
               .convention = {.chain = {eps_hat(), ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0"},
               .hyperparameters = kAdamHyper});
  p.push_back({.name = "pytorch-adam",
               .source = "PyTorch 1.13 torch/optim/adam.py _single_tensor_adam: grad += wd*param; "
               "denom = sqrt(v)/sqrt(bc2) + eps; param -= lr/bc1 * m/denom",
               .summary = "L2 weight decay through the gradient; eps after bias correction",
               .convention = {.chain = {AddL2ToGradient{}, aten_root(wide_complements(eps_after())), ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0"},
               .hyperparameters = kAdamWdHyper,
               .amsgrad = AmsgradVariant::max_of_raw_v,
               .offers_maximize = true});
  p.push_back({.name = "pytorch-adamw",
               .source = "PyTorch 1.13 torch/optim/adamw.py _single_tensor_adamw: param *= 1 - lr*wd, then Adam",
               .summary = "decoupled decay theta*(1 - lr*wd) before the Adam step",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::learning_rate}, aten_root(wide_complements(eps_after())), ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0.01"},
               .hyperparameters = kAdamWdHyper,
               .amsgrad = AmsgradVariant::max_of_raw_v,
               .offers_maximize = true});
  p.push_back({.name = "loshchilov-hutter-adamw",
               .source = "Loshchilov & Hutter, Decoupled Weight Decay Regularization (ICLR 2019), Algorithm 2 line 12: "
               "theta -= eta_t (alpha m_hat/(sqrt(v_hat)+eps) + lambda theta); as ../shared/seeds/adamw-math-example.md",
               .summary = "decoupled decay theta*(1 - eta_t*wd), scaled by the schedule multiplier, not by lr",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::schedule}, eps_after(), ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0.01"},
               .hyperparameters = kAdamWdHyper});
  p.push_back({.name = "keras-adam",
               .source = "Keras 3 keras/optimizers/adam.py: alpha = lr sqrt(1-b2^t)/(1-b1^t), "
               "var -= m alpha/(sqrt(v) + eps); base optimizer decay var -= var*wd*lr first",
               .summary = "eps-hat; decoupled decay theta*(1 - lr*wd); eps 1e-7",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::learning_rate}, aten_root(eps_hat()), ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-7", .weight_decay = "0"},
               .hyperparameters = kAdamWdHyper,
               .amsgrad = AmsgradVariant::max_of_raw_v});
  p.push_back({.name = "keras-adamw",
               .source = "Keras 3 keras/optimizers/adamw.py (Adam with weight_decay=0.004)",
               .summary = "as keras-adam with weight decay 0.004",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::learning_rate}, aten_root(eps_hat()), ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-7", .weight_decay = "0.004"},
               .hyperparameters = kAdamWdHyper,
               .amsgrad = AmsgradVariant::max_of_raw_v});
  p.push_back({.name = "optax-adam",
               .source = "Optax optax/_src/transform.py scale_by_adam: mu_hat/(sqrt(nu_hat + eps_root) + eps); "
               "alias.py adam = chain(scale_by_adam, scale_by_learning_rate)",
               .summary = "eps after bias correction and eps_root inside the square root",
               .convention = {.chain = {eps_after(), ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0"},
               .hyperparameters = kOptaxHyper});
  p.push_back({.name = "optax-adamw",
               .source = "Optax alias.py adamw = chain(scale_by_adam, add_decayed_weights(wd), scale_by_learning_rate): "
               "theta -= lr (u + wd theta)",
               .summary = "decay added to the update before lr scaling; wd 1e-4",
               .convention = {.chain = {eps_after(), AddDecayedWeights{}, ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0.0001"},
               .hyperparameters = kOptaxWdHyper});
  const ScaleByAdam optax_amsgrad{.eps_placement = EpsPlacement::after_bias_correction,
                                  .amsgrad = AmsgradVariant::max_of_v_hat};
  p.push_back({.name = "optax-amsgrad",
               .source = "Optax transform.py scale_by_amsgrad: nu_max = max(nu_max, nu_hat); mu_hat/(sqrt(nu_max + eps_root) + eps)",
               .summary = "AMSGrad over the bias-corrected second moment",
               .convention = {.chain = {optax_amsgrad, ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0"},
               .hyperparameters = kOptaxHyper});
  p.push_back({.name = "tfjs-adam",
               .source = "TensorFlow.js tfjs-core src/optimizers/adam_optimizer.ts: m_hat/(sqrt(v_hat) + eps), "
               "eps = backend epsilon 1e-7 for float32",
               .summary = "Algorithm 1 with eps 1e-7",
               .convention = {.chain = {eps_after(), ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-7", .weight_decay = "0"},
               .hyperparameters = kAdamHyper});
  p.push_back({.name = "onnx-adam",
               .source = "ONNX ai.onnx.preview.training Adam-1: G += norm_coefficient X; "
               "R_adjusted = R sqrt(1-beta^T)/(1-alpha^T) if T > 0; X -= R_adjusted V/(sqrt(H) + eps) "
               "(T is this update's 1-based count; T = 0 is bias_correction=false)",
               .summary = "eps-hat with L2 norm_coefficient; eps 1e-6",
               .convention = {.chain = {AddL2ToGradient{}, eps_hat(), ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-6", .weight_decay = "0"},
               .hyperparameters = kAdamWdHyper,
               .offers_bias_correction_switch = true});
  p.push_back({.name = "onnx-adam-post-decay",
               .source = "ONNX ai.onnx.preview.training Adam-1 with norm_coefficient_post: X_final = (1 - norm_coefficient_post) X_new",
               .summary = "eps-hat; the new theta is multiplied by (1 - wd), not scaled by lr",
               .convention = {.chain = {eps_hat(), ScaleByLearningRate{}, ApplyUpdate{}, DecayWeights{.scale = DecayScale::none}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-6", .weight_decay = "0"},
               .hyperparameters = kAdamWdHyper,
               .offers_bias_correction_switch = true});
  p.push_back({.name = "dlib-adam",
               .source = "dlib 19.24 dlib/cuda/cpu_dlib.cpp compute_adam_update: g = wd*p + grad; "
               "alpha = lr sqrt(1-b2^t)/(1-b1^t); s = -alpha m/(sqrt(v) + 1e-8); adam(wd=0.0005), trainer lr 0.01",
               .summary = "eps-hat, eps fixed at 1e-8, L2 through the gradient",
               .convention = {.chain = {AddL2ToGradient{}, eps_hat(), ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.01", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0.0005"},
               .hyperparameters = {"lr", "beta1", "beta2", "weight_decay"}});
  p.push_back({.name = "sklearn-adam",
               .source = "scikit-learn sklearn/neural_network/_stochastic_optimizers.py AdamOptimizer: "
               "lr_t = lr sqrt(1-b2^t)/(1-b1^t); update = -lr_t m/(sqrt(v) + eps); the MLP adds alpha*coef to "
               "the gradient (alpha=1e-4, per sample)",
               .summary = "eps-hat with L2 through the gradient (the MLP's alpha)",
               .convention = {.chain = {AddL2ToGradient{}, eps_hat(), ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0.0001"},
               .hyperparameters = kAdamWdHyper});
  p.push_back({.name = "huggingface-adamw",
               .source = "HuggingFace transformers <= 4.x transformers/optimization.py AdamW: step_size = lr sqrt(bc2)/bc1; "
               "p -= step_size m/(sqrt(v) + eps); then p -= lr*wd*p (on the updated p); correct_bias flag",
               .summary = "eps-hat; decay of the updated theta by (1 - lr*wd); eps 1e-6",
               .convention = {.chain = {aten_root(wide_complements(eps_hat())), ScaleByLearningRate{}, ApplyUpdate{}, DecayWeights{.scale = DecayScale::learning_rate}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-6", .weight_decay = "0"},
               .hyperparameters = kAdamWdHyper,
               .offers_bias_correction_switch = true});
  // ---- the 2026 libraries (../shared/conventions-survey-2026.md; read in the installed packages of
  // adapters/requirements.txt) ----
  const ScaleByAdam no_bias_correction{.bias_correction1 = false, .bias_correction2 = false};
  p.push_back({.name = "mlx-adam",
               .source = "MLX 0.32 python/mlx/optimizers/optimizers.py Adam.apply_single (bias_correction=False, the "
                         "default): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p - lr m/(sqrt(v) + eps)",
               .summary = "no bias correction (MLX's default); eps 1e-8",
               .convention = {.chain = {no_bias_correction, ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0"},
               .hyperparameters = kAdamHyper});
  p.push_back({.name = "mlx-adamw",
               .source = "MLX 0.32 optimizers.py AdamW.apply_single: Adam.apply_single(g, p (1 - lr wd)); bias_correction=False "
                         "by default",
               .summary = "decoupled decay theta*(1 - lr*wd) first; no bias correction (MLX's default); wd 0.01",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::learning_rate}, no_bias_correction,
                                        ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0.01"},
               .hyperparameters = kAdamWdHyper});
  p.push_back({.name = "mlx-adam-bias-corrected",
               .source = "MLX 0.32 optimizers.py Adam.apply_single with bias_correction=True: c1 = lr/(1-b1^t), "
                         "c2 = rsqrt(1-b2^t); p - c1 m/(sqrt(v) c2 + eps)",
               .summary = "MLX Adam with bias_correction=True: eps after bias correction",
               .convention = {.chain = {eps_after(), ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0"},
               .hyperparameters = kAdamHyper});
  p.push_back({.name = "mlx-adamw-bias-corrected",
               .source = "MLX 0.32 optimizers.py AdamW with bias_correction=True: p (1 - lr wd), then Adam with bias correction",
               .summary = "MLX AdamW with bias_correction=True: decay first, eps after bias correction; wd 0.01",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::learning_rate}, eps_after(), ScaleByLearningRate{},
                                        ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0.01"},
               .hyperparameters = kAdamWdHyper});
  p.push_back({.name = "tinygrad-adam",
               .source = "tinygrad 0.14 tinygrad/nn/optim.py Adam = LAMB(adam=True): b1_t *= b1 (float32 running "
                         "products); m_hat = m/(1-b1_t); v_hat = v/(1-b2_t); p -= lr m_hat/(sqrt(v_hat) + eps)",
               .summary = "Algorithm 1, beta^t as float32 running products; eps 1e-8",
               .convention = {.chain = {tinygrad_direction(), ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0"},
               .hyperparameters = kAdamHyper});
  p.push_back({.name = "tinygrad-adamw",
               .source = "tinygrad 0.14 nn/optim.py AdamW = LAMB(adam=True, weight_decay=wd): up = m_hat/(sqrt(v_hat) + eps) "
                         "+ wd p; p -= lr up (the decay in the update, of the old p, as Optax's add_decayed_weights)",
               .summary = "decay added to the update before lr scaling; wd 0.01",
               .convention = {.chain = {tinygrad_direction(), AddDecayedWeights{}, ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0.01"},
               .hyperparameters = kAdamWdHyper});
  p.push_back({.name = "bitsandbytes-adam",
               .source = "bitsandbytes 0.50 bitsandbytes/backends/cpu/ops.py _optimizer_update_32bit_cpu (optimizer \"adam\"): "
                         "m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p *= 1 - lr wd if wd > 0; "
                         "p += -lr c2/c1 m/(sqrt(v) + eps c2), c2 = sqrt(1-b2^t): the decay is decoupled in Adam too",
               .summary = "decoupled decay theta*(1 - lr*wd) before the update; eps scaled by sqrt(bc2)",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::learning_rate}, aten_root(wide_complements(eps_scaled_by_sqrt_bc2())), ScaleByLearningRate{},
                                        ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0"},
               .hyperparameters = kAdamWdHyper});
  p.push_back({.name = "bitsandbytes-adamw",
               .source = "bitsandbytes 0.50 optim/adam.py AdamW (as bitsandbytes-adam, weight_decay=1e-2), "
                         "backends/cpu/ops.py _optimizer_update_32bit_cpu",
               .summary = "as bitsandbytes-adam with weight decay 0.01",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::learning_rate}, aten_root(wide_complements(eps_scaled_by_sqrt_bc2())), ScaleByLearningRate{},
                                        ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0.01"},
               .hyperparameters = kAdamWdHyper});
  // bitsandbytes' 8-bit optimizers: the 32-bit conventions above, m and v blockwise-quantized.
  const StateFormats bnb8{.m = "bnb-dynamic8-signed", .v = "bnb-dynamic8-unsigned"};
  p.push_back({.name = "bitsandbytes-adam8bit",
               .source = "bitsandbytes 0.50.2 optim/adam.py Adam8bit (optim_bits=8; \"adam\", decay decoupled as in "
                         "bitsandbytes-adam), backends/cpu/ops.py _optimizer_update_8bit_blockwise_cpu: m, v dequantized, "
                         "updated in float32, quantized again (tensors below min_8bit_size 4096: the 32-bit kernel)",
               .summary = "as bitsandbytes-adam, m and v 8-bit blockwise-quantized (dynamic maps, blocks of 256, from 4096 elements)",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::learning_rate}, aten_root(wide_complements(eps_scaled_by_sqrt_bc2())), ScaleByLearningRate{},
                                        ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0"},
               .hyperparameters = kAdamWdHyper,
               .state_formats = bnb8});
  p.push_back({.name = "bitsandbytes-adamw8bit",
               .source = "bitsandbytes 0.50.2 optim/adamw.py AdamW8bit (as bitsandbytes-adam8bit, weight_decay=1e-2)",
               .summary = "as bitsandbytes-adamw, m and v 8-bit blockwise-quantized (dynamic maps, blocks of 256, from 4096 elements)",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::learning_rate}, aten_root(wide_complements(eps_scaled_by_sqrt_bc2())), ScaleByLearningRate{},
                                        ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0.01"},
               .hyperparameters = kAdamWdHyper,
               .state_formats = bnb8});
  p.push_back({.name = "candle-adamw",
               .source = "candle-nn 0.11 candle-nn/src/optim.rs AdamW::step: m_hat = m (1/(1-b1^t)), v_hat = v (1/(1-b2^t)) "
                         "(scales in f64); theta (1 - lr wd) - lr m_hat/(sqrt(v_hat) + eps)",
               .summary = "decoupled decay theta*(1 - lr*wd) on the old theta; eps after bias correction; wd 0.01",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::learning_rate}, wide_complements(eps_after()), ScaleByLearningRate{},
                                        ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0.01"},
               .hyperparameters = kAdamWdHyper});
  p.push_back({.name = "burn-adam",
               .source = "burn 0.22 crates/burn-optim/src/optim/adam.rs: L2 penalty theta + g; m (sqrt(bc2)/bc1)/(sqrt(v) + "
                         "eps sqrt(bc2)), 1 - beta in f32; eps 1e-5",
               .summary = "L2 through the gradient; eps scaled by sqrt(bc2) (after bias correction); eps 1e-5",
               .convention = {.chain = {AddL2ToGradient{}, eps_scaled_by_sqrt_bc2(), ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-5", .weight_decay = "0"},
               .hyperparameters = kAdamWdHyper});
  p.push_back({.name = "burn-adamw",
               .source = "burn 0.22 crates/burn-optim/src/optim/adamw.rs: theta (1 - lr wd), then - lr (m/bc1)/(sqrt(v/bc2) "
                         "+ eps); eps 1e-5, wd 1e-4",
               .summary = "decoupled decay theta*(1 - lr*wd) first; v divided before the square root; eps 1e-5",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::learning_rate}, eps_after(), ScaleByLearningRate{},
                                        ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-5", .weight_decay = "0.0001"},
               .hyperparameters = kAdamWdHyper});
  // torch-optimi 0.3.3: the moments held bias-corrected, updated with debiased betas.
  const ScaleByAdam debiased{.debiased_moments = true, .sqrt_within_one_ulp = true};
  p.push_back({.name = "optimi-adam",
               .source = "torch-optimi 0.3.3 optimi/adam.py:263-265 beta_hat = debias_beta(beta, step) (utils.py:36 "
                         "(beta**step - beta)/(beta**step - 1)); :377 grad += wd p; :380-381 m.lerp_(g, 1 - beta1_hat), "
                         "v.mul_(beta2_hat).addcmul_(g, g, 1 - beta2_hat); :396 p.addcdiv_(m, sqrt(v) + eps, -lr)",
               .summary = "moments held bias-corrected (debiased betas), L2 decay; eps 1e-6",
               .convention = {.chain = {AddL2ToGradient{}, debiased, ScaleByLearningRate{}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.99", .eps = "1e-6", .weight_decay = "0"},
               .hyperparameters = kAdamWdHyper});
  p.push_back({.name = "optimi-adamw",
               .source = "torch-optimi 0.3.3 optimi/adamw.py (decouple_wd): adam.py:273 wd' = 1 - lr wd, :375 p.mul_(wd'); "
                         "then the debiased moments of optimi-adam; wd 1e-2, eps 1e-6",
               .summary = "decoupled decay theta*(1 - lr*wd) first; moments held bias-corrected (debiased betas); eps 1e-6",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::learning_rate}, debiased, ScaleByLearningRate{},
                                        ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.99", .eps = "1e-6", .weight_decay = "0.01"},
               .hyperparameters = kAdamWdHyper});
  p.push_back({.name = "optimi-adamw-decoupled-lr",
               .source = "torch-optimi 0.3.3 optimi/adamw.py with decouple_lr=True: adam.py:271 wd' = 1 - (lr/max_lr) wd, "
                         ":375 p.mul_(wd'); optimizer.py:21 max_lr = lr by default",
               .summary = "fully decoupled decay theta*(1 - (lr_t/lr)*wd), scaled by the schedule only; moments held "
                          "bias-corrected (debiased betas); eps 1e-6",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::schedule}, debiased, ScaleByLearningRate{},
                                        ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.99", .eps = "1e-6", .weight_decay = "0.01"},
               .hyperparameters = kAdamWdHyper});
  // HeavyBall 3.2: debiased moments as optimi's, eps as a floor, decay and update in one expression.
  p.push_back({.name = "heavyball-adamw",
               .source = "HeavyBall 3.2.1 heavyball/__init__.py:44 AdamW (fns=update_by_adam); utils.py:340 beta_debias "
                         "1 - (1 - beta)/(-expm1(step log1p(beta - 1))); :1899 _lerp x (1 - a) + y a, a = 1 - beta_hat; "
                         ":420 eps_sqrt sqrt(v).clamp(min=eps); :2446 p (1 - wd lr) + u (-lr); chainable.py:2594 lr t / t",
               .summary = "decoupled decay theta*(1 - lr*wd); moments held bias-corrected (debiased betas); "
                          "eps as a floor: m_hat/max(sqrt(v_hat), eps); lr 0.0025, betas (0.9, 0.99), wd 0",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::learning_rate},
                                        ScaleByAdam{.eps_floor = true, .debiased_moments = true, .sqrt_within_one_ulp = true},
                                        ScaleByLearningRate{.warmup_ratio = true}, ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.0025", .beta1 = "0.9", .beta2 = "0.99", .eps = "1e-8", .weight_decay = "0"},
               .hyperparameters = kAdamWdHyper});
  p.push_back({.name = "torchao-adamw",
               .source = "torchao 0.18 torchao/optim/adam.py single_param_adam (_AdamW, 32-bit states), in float32: :183 "
                         "p - lr wd p; :187-188 bc = 1 - beta**step (step a float32 tensor, :124); :191-192 m, v by lerp; "
                         ":200-204 p - lr (m/bc1)/(sqrt(v)/sqrt(bc2) + eps); lr a float32 tensor (:59)",
               .summary = "decoupled decay theta - lr*wd*theta first; eps after bias correction; lerp moments; wd 0.01",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::learning_rate}, eps_after(), ScaleByLearningRate{},
                                        ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0.01"},
               .hyperparameters = kAdamWdHyper,
               .amsgrad = AmsgradVariant::max_of_raw_v});
  p.push_back({.name = "torchao-adamw8bit",
               .source = "torchao 0.18 torchao/optim/adam.py AdamW8bit (_AdamBase with OptimState8bit states, block_size 256): "
                         "single_param_adam as torchao-adamw on the dequantized states, which are quantized again "
                         "(subclass_8bit.py; tensors below 4096 elements or not of whole blocks keep float32 states)",
               .summary = "as torchao-adamw, m and v 8-bit blockwise-quantized (dynamic maps, whole blocks of 256, from 4096 elements)",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::learning_rate}, eps_after(), ScaleByLearningRate{},
                                        ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0.01"},
               .hyperparameters = kAdamWdHyper,
               .state_formats = {.m = "torchao-dynamic8-signed", .v = "torchao-dynamic8-unsigned"}});
  p.push_back({.name = "torchao-adamw4bit",
               .source = "torchao 0.18 torchao/optim/adam.py AdamW4bit (_AdamBase with OptimState4bit states, block_size 128): "
                         "single_param_adam as torchao-adamw on the dequantized states, quantized again to 4 bits "
                         "(subclass_4bit.py; tensors below 4096 elements or not of whole blocks keep float32 states)",
               .summary = "as torchao-adamw, m on a 4-bit dynamic map and v on a 4-bit linear map without zero, blocks of 128",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::learning_rate}, eps_after(), ScaleByLearningRate{},
                                        ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0.01"},
               .hyperparameters = kAdamWdHyper,
               .state_formats = {.m = "torchao-dynamic4-signed", .v = "torchao-linear4-unsigned"}});
  p.push_back({.name = "torchao-adamw-fp8",
               .source = "torchao 0.18 torchao/optim/adam.py AdamWFp8 (_AdamBase with OptimStateFp8 states, block_size 256): "
                         "single_param_adam as torchao-adamw on the dequantized states; subclass_fp8.py quantize_fp8 "
                         "(float8_e4m3fn codes, scale amax.clip(1e-12) / 448)",
               .summary = "as torchao-adamw, m and v as float8_e4m3fn codes with a scale of absmax/448 per block of 256",
               .convention = {.chain = {DecayWeights{.scale = DecayScale::learning_rate}, eps_after(), ScaleByLearningRate{},
                                        ApplyUpdate{}}},
               .defaults = Hyperparameters{.lr = "0.001", .beta1 = "0.9", .beta2 = "0.999", .eps = "1e-8", .weight_decay = "0.01"},
               .hyperparameters = kAdamWdHyper,
               .state_formats = {.m = "torchao-fp8-e4m3", .v = "torchao-fp8-e4m3"}});
  for (const auto& preset : p) preset.convention.validate();
  return p;
}

}  // namespace

bool Preset::exposes(const std::string& h) const {
  return std::find(hyperparameters.begin(), hyperparameters.end(), h) != hyperparameters.end();
}

Convention Preset::resolve(const PresetOptions& options) const {
  Convention c = convention;
  if (options.amsgrad) {
    if (amsgrad == AmsgradVariant::none && c.adam().amsgrad == AmsgradVariant::none)
      throw std::invalid_argument("preset " + name + " has no amsgrad option");
    if (amsgrad != AmsgradVariant::none) c.adam().amsgrad = amsgrad;
  }
  if (options.maximize) {
    if (!offers_maximize) throw std::invalid_argument("preset " + name + " has no maximize option");
    c.chain.insert(c.chain.begin(), NegateGradient{});
  }
  if (!options.bias_correction) {
    if (!offers_bias_correction_switch)
      throw std::invalid_argument("preset " + name + " has no bias_correction option");
    c.adam().bias_correction1 = false;
    c.adam().bias_correction2 = false;
  }
  c.adam().counter = options.step_counter;
  c.precision = options.precision;
  // The options' formats, or where they name none the preset's own (bitsandbytes' 8-bit states).
  c.state_formats = options.state_formats.any() || options.state_formats.any_decay_or_direction() ? options.state_formats
                                                                                                 : state_formats;
  c.subnormals = options.subnormals;
  c.scalars = options.scalars;
  return c;
}

const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = make_presets();
  return all;
}

const Preset& preset_by_name(const std::string& name) {
  for (const auto& p : presets())
    if (p.name == name) return p;
  std::string known;
  for (const auto& p : presets()) known += (known.empty() ? "" : " ") + p.name;
  throw std::invalid_argument("unknown preset '" + name + "' (known: " + known + ")");
}

OptimizerSpec make_spec(const std::string& preset_name, const PresetOptions& options,
                        const std::map<std::string, std::string>& overrides) {
  const Preset& preset = preset_by_name(preset_name);
  OptimizerSpec spec{.preset = preset.name, .options = options, .hyper = preset.defaults, .convention = preset.resolve(options)};
  for (const auto& [name, value] : overrides) {
    (void)spec.hyper.get(name);  // throws for an unknown name
    if (!preset.exposes(name)) {
      std::string known;
      for (const auto& h : preset.hyperparameters) known += (known.empty() ? "" : " ") + h;
      throw std::invalid_argument("preset " + preset.name + " has no hyperparameter " + name +
                                  " (it has: " + known + ")");
    }
    spec.hyper.get(name) = value;
  }
  spec.hyper.validate();
  return spec;
}

}  // namespace adamconf
