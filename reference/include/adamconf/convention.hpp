// A convention is a chain of small transforms, in the manner of Optax
// (scale_by_adam, add_decayed_weights, scale_by_learning_rate): each transform
// does one thing to one element, and the conventions of real implementations
// differ only in which transforms they chain and in what order.
//
// Per element and step, the chain works on three values: the gradient g (read
// by the moments), the parameter theta, and the update u (built by
// scale_by_adam, finished by scale_by_learning_rate, added by apply_update).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "adamconf/float_format.hpp"

namespace adamconf {

/// Where epsilon enters the denominator.
enum class EpsPlacement {
  /// Kingma & Ba Algorithm 1: m_hat / (sqrt(v_hat + eps_root) + eps).
  /// (PyTorch's sqrt(v)/sqrt(bc2) + eps with step size lr/bc1 is the same number.)
  after_bias_correction,
  /// Kingma & Ba end of section 2, "epsilon hat": lr_t = lr*sqrt(bc2)/bc1 and
  /// u = lr_t * m / (sqrt(v) + eps), so eps is added before bias correction.
  before_bias_correction,
};

/// What AMSGrad takes the running maximum of.
enum class AmsgradVariant {
  none,
  max_of_raw_v,  ///< PyTorch, Keras, TF: vmax = max(vmax, v), then bias-corrected as v would be
  max_of_v_hat,  ///< Optax scale_by_amsgrad: nu_max = max(nu_max, v_hat)
};

/// The multiplier s in a decay theta*(1 - s*wd).
enum class DecayScale {
  learning_rate,  ///< s = lr_t (PyTorch AdamW, Keras, HF)
  schedule,       ///< s = eta_t = lr_t / lr, the schedule multiplier only (Loshchilov & Hutter Alg. 2)
  none,           ///< s = 1 (ONNX norm_coefficient_post)
};

/// Where in a chain a transform stands. A chain runs gradient transforms,
/// then scale_by_adam (which opens `update`), transforms of the update,
/// scale_by_learning_rate (which opens `scaled`), apply_update (which opens
/// `applied`), and transforms of the updated parameter.
enum class Phase : unsigned { gradient = 1, update = 2, scaled = 4, applied = 8 };
constexpr unsigned operator|(Phase a, Phase b) { return static_cast<unsigned>(a) | static_cast<unsigned>(b); }

/// Which weight decay a transform applies.
enum class DecayKind {
  none,
  l2,         ///< through the gradient, into the moments: g + wd theta
  decoupled,  ///< on the parameter or the update, past the moments
};

/// What every question asked of a chain needs to know of one of its
/// transforms (validation, descriptions, "does it decay", the generators'
/// decay factor, identify): one entry per transform, beside its definition.
struct TransformTraits {
  const char* name;          ///< as describe() and `adamconf presets` print it
  unsigned stands_in;        ///< the phases (a set of Phase) it may stand in
  unsigned opens = 0;        ///< the phase it opens (0: none; the chain stays in its phase)
  DecayKind decay = DecayKind::none;
  const char* math;          ///< what it does to one element, Optax-docstring style
};

/// maximize: g <- -g (PyTorch maximize=True), before any decay term is added.
struct NegateGradient {
  static constexpr TransformTraits traits{
      .name = "negate_gradient", .stands_in = static_cast<unsigned>(Phase::gradient), .math = "g <- -g"};
  friend bool operator==(const NegateGradient&, const NegateGradient&) = default;
};
/// L2 regularisation through the gradient: g <- g + wd*theta (PyTorch Adam, dlib, sklearn, ONNX).
struct AddL2ToGradient {
  static constexpr TransformTraits traits{.name = "add_l2_to_gradient",
                                          .stands_in = static_cast<unsigned>(Phase::gradient),
                                          .decay = DecayKind::l2,
                                          .math = "g <- g + wd theta"};
  friend bool operator==(const AddL2ToGradient&, const AddL2ToGradient&) = default;
};
/// Multiplicative decay of the parameter: theta <- theta*(1 - s*wd). Before
/// apply_update it is decoupled decay of the old theta (PyTorch AdamW,
/// Loshchilov & Hutter); after apply_update it decays the new theta (old
/// HuggingFace AdamW, ONNX norm_coefficient_post).
struct DecayWeights {
  static constexpr TransformTraits traits{.name = "decay_weights",
                                          .stands_in = Phase::gradient | Phase::applied,
                                          .decay = DecayKind::decoupled,
                                          .math = "theta <- theta (1 - s wd), s = lr_t, the schedule multiplier or 1"};
  DecayScale scale = DecayScale::learning_rate;
  friend bool operator==(const DecayWeights&, const DecayWeights&) = default;
};
/// How the step count t is held. An integer counts exactly. A float32 count
/// is incremented by float32 addition, t <- fl32(t + 1), and a count imported
/// from a state is rounded to float32 first: it stops at 2^24 = 16777216, and
/// every later step repeats step 2^24's bias correction. PyTorch 1.12-1.13
/// keep state['step'] as a float32 tensor (torch/optim/adam.py
/// `torch.tensor(0.)`, `step_t += 1`); dlib 19.24's adam keeps `float t`.
/// An int32 count holds 0 .. 2^31 - 1 and stops there (Optax's count is an
/// int32 advanced by numerics.safe_increment, which saturates; TF.js saves
/// `iterations` as an int32 tensor; Keras 3's `iterations` on the jax and torch
/// backends wraps instead): no case steps past it, and no state beyond it is imported.
enum class StepCounter { integer, float32, int32 };
std::string to_string(StepCounter c);
/// "integer", "int32" or "float32"; throws std::invalid_argument "<where> 'x': expected integer, int32 or float32".
StepCounter step_counter_by_name(const std::string& name, const std::string& where);
/// The largest count an int32 counter holds, 2^31 - 1.
inline constexpr std::int64_t kInt32CountLimit = 2147483647;
/// The count after one more step from `count`.
std::int64_t advance_count(StepCounter c, std::int64_t count);
/// A count as the counter holds it (a float32 counter rounds to nearest even).
std::int64_t held_count(StepCounter c, std::int64_t count);

/// The Adam direction: moments, bias correction, eps, optional AMSGrad; u <- direction.
struct ScaleByAdam {
  static constexpr TransformTraits traits{
      .name = "scale_by_adam",
      .stands_in = static_cast<unsigned>(Phase::gradient),
      .opens = static_cast<unsigned>(Phase::update),
      .math = "m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2; u <- m_hat / (sqrt(v_hat + eps_root) + eps)"};
  EpsPlacement eps_placement = EpsPlacement::after_bias_correction;
  /// eps after bias correction in the order m (sqrt(bc2)/bc1) / (sqrt(v) + eps sqrt(bc2))
  /// (bitsandbytes, burn's Adam, Paddle): the same value as m_hat/(sqrt(v_hat) + eps),
  /// rounded otherwise; the error model charges that order ("eps scaled by sqrt(bc2)").
  /// It means nothing for eps-hat or AMSGrad over v_hat, where it is ignored (identify
  /// probes such variants of every preset).
  bool eps_scaled_by_sqrt_bc2 = false;
  /// eps as a floor of the denominator, not a summand: u = m_hat / max(sqrt(v_hat + eps_root), eps)
  /// (HeavyBall 3.2 utils.py eps_sqrt: `item.clamp_min(0).sqrt().clamp(min=eps)`, its default
  /// "eps_clamp" division). Needs eps after bias correction, not scaled by sqrt(bc2).
  bool eps_floor = false;
  /// The direction of eps after bias correction as m ((1/bc1) (1/D)): each
  /// division a multiplication by a reciprocal, the two reciprocals multiplied
  /// first, four roundings where m/bc1/D has three (tinygrad 0.14 tensor.py
  /// Tensor.div: `a.alu(Ops.MUL, b.reciprocal())`, and its rewrite rules
  /// reassociate the product: up = m_hat / (sqrt(v_hat) + eps) computes
  /// m * (recip(1 - b1_t) * recip(D)) on the CPU). The error model's "The
  /// direction" counts k = 4. Needs eps after bias correction, not scaled by sqrt(bc2).
  bool reciprocal_product = false;
  /// The complements 1 - beta (the moments' weights) and 1 - beta^t (the bias
  /// corrections) formed from beta held in float32 or double, never in a
  /// storage format (bfloat16, float16), whatever the parameters' format; each
  /// may still be rounded where it is used, and beta itself may be held in the
  /// storage format where it multiplies (PyTorch 1.13's mul_(beta1)). PyTorch:
  /// `value=1 - beta2` and `bias_correction1 = 1 - beta1 ** step` on Python
  /// floats (torch/optim/adam.py, _single_tensor_adam and _multi_tensor_adam),
  /// its fused CPU kernel's `double exp_avg_grad_coefficient = 1 - beta1` and
  /// `double bias_correction1 = 1 - std::pow(beta1, step)`
  /// (aten/src/ATen/native/cpu/FusedAdamKernel.cpp); a port that forms them in
  /// float32 from a float32 beta is within it too. Without it a storage
  /// format's implementation may form them from beta held in that format, and
  /// 0.999 is 1 in bfloat16: 1 - beta2 and 1 - beta2^t may be 0 there, and the
  /// bounds on v and theta reach the format's largest value (nothing judged).
  /// It changes nothing for float32 and float64. The error model's
  /// "Hyperparameters" and "Scalars of step t".
  bool complements_wide = false;
  bool bias_correction1 = true;
  bool bias_correction2 = true;
  AmsgradVariant amsgrad = AmsgradVariant::none;
  StepCounter counter = StepCounter::integer;
  /// The moments are held bias-corrected: step t updates them with the
  /// debiased betas b_t = beta (1 - beta^(t-1)) / (1 - beta^t) (0 at t = 1),
  /// m_hat <- b1_t m_hat + (1 - b1_t) g, v_hat <- b2_t v_hat + (1 - b2_t) g^2,
  /// and u = m_hat / (sqrt(v_hat) + eps) with no bias correction after: the
  /// same m_hat, v_hat as Kingma & Ba's (m_hat_t = m_t / (1 - b1^t) by
  /// induction), but the state holds them, not m and v. torch-optimi
  /// (optimi/utils.py debias_beta: (beta**step - beta)/(beta**step - 1), in
  /// Python floats), HeavyBall (utils.py beta_debias: 1 - (1 - beta)/(1 - beta^t)).
  /// Needs eps after bias correction and no AMSGrad.
  bool debiased_moments = false;
  /// The square root of the denominator is within one ulp of the exact root,
  /// not correctly rounded: ATen's CPU `sqrt` of a contiguous float or double
  /// tensor calls MKL VML (aten/src/ATen/cpu/vml.h IMPLEMENT_VML_MKL(sqrt, Sqrt),
  /// `vmsSqrt(..., VML_HA | ...)`), whose high-accuracy mode Intel documents
  /// to 1 ulp; measured in torch 2.15.0, 0.6% of float32 roots differ from the
  /// correctly rounded one, by up to 1.07u. The error model's "Bias
  /// correction, square root, epsilon" charges that root 2u, not u. It
  /// changes no exact value.
  bool sqrt_within_one_ulp = false;
  friend bool operator==(const ScaleByAdam&, const ScaleByAdam&) = default;
};
/// eps applied to the square root of scale_by_adam's denominator, in place:
/// root + eps, or max(root, eps) where eps is a floor (ScaleByAdam::eps_floor).
/// The exact reference and the closed forms use it; FloatAdam::with_eps
/// computes the same in its format (the maximum is exact).
template <class Real>
void apply_eps(const ScaleByAdam& adam, Real& root, const Real& eps) {
  if (!adam.eps_floor)
    root += eps;
  else if (root < eps)
    root = eps;
}

/// Optax add_decayed_weights: u <- u + wd*theta (then scaled by lr with the rest).
struct AddDecayedWeights {
  static constexpr TransformTraits traits{.name = "add_decayed_weights",
                                          .stands_in = static_cast<unsigned>(Phase::update),
                                          .decay = DecayKind::decoupled,
                                          .math = "u <- u + wd theta"};
  friend bool operator==(const AddDecayedWeights&, const AddDecayedWeights&) = default;
};
/// u <- -lr_t * u.
struct ScaleByLearningRate {
  static constexpr TransformTraits traits{.name = "scale_by_learning_rate",
                                          .stands_in = static_cast<unsigned>(Phase::update),
                                          .opens = static_cast<unsigned>(Phase::scaled),
                                          .math = "u <- -lr_t u"};
  /// lr_t recomputed every step as lr t / max(t, w + 1) with no warmup (w = 0), in the
  /// scalar arithmetic: the same number lr, within two more roundings (HeavyBall 3.2
  /// chainable.py:2594 `group["lr"] = group["base_lr"] * step / step.clamp(min=warmup_steps + 1)`,
  /// step an int64 tensor, so a float32 tensor); "Scalars of step t" charges them.
  bool warmup_ratio = false;
  friend bool operator==(const ScaleByLearningRate&, const ScaleByLearningRate&) = default;
};
/// theta <- theta + u.
struct ApplyUpdate {
  static constexpr TransformTraits traits{.name = "apply_update",
                                          .stands_in = static_cast<unsigned>(Phase::scaled),
                                          .opens = static_cast<unsigned>(Phase::applied),
                                          .math = "theta <- theta + u"};
  friend bool operator==(const ApplyUpdate&, const ApplyUpdate&) = default;
};

using Transform = std::variant<NegateGradient, AddL2ToGradient, DecayWeights, ScaleByAdam,
                               AddDecayedWeights, ScaleByLearningRate, ApplyUpdate>;
/// The traits of the transform `t` holds.
const TransformTraits& traits_of(const Transform& t);
/// The multiplier s of a decoupled decay's s wd: DecayWeights' scale, lr_t for
/// add_decayed_weights (scaled by lr with the update); nullopt for the others.
std::optional<DecayScale> decay_multiplier(const Transform& t);

/// The precision convention: what a storage format narrower than float32
/// (bfloat16, float16) is computed in. For float32 and float64 both are the
/// same arithmetic: every operation in the format.
enum class Precision {
  /// Every operation's result rounded to the storage format, as if the tensor
  /// arithmetic ran in it: PyTorch 1.13's CPU kernels for bfloat16 (each
  /// mul_/add_/addcdiv_ computes in float32 and rounds its result to bfloat16,
  /// scalars in bfloat16 or float32).
  storage,
  /// Each element loaded into float32 ("opmath"), the whole step computed
  /// there with float32 hyperparameters, and theta, m, v, vmax rounded to the
  /// storage format once, when stored: PyTorch's fused CUDA kernel
  /// (aten/src/ATen/native/cuda/fused_adam_impl.cu, FusedAdamMathFunctor:
  /// opmath_t = at::opmath_type<scalar_t>, float lr/beta1/beta2/eps), apex
  /// FusedAdam (csrc/multi_tensor_adam.cu, MATH_T = float).
  float32_opmath,
  /// Float32 master weights: the optimizer keeps theta, m, v and vmax in
  /// float32 and computes in float32 from the storage-format gradient; after
  /// each step the model's storage-format copy of theta is the master rounded
  /// to nearest even, bit for bit. Mixed-precision training with fp32 master
  /// parameters: apex amp O2 (apex/amp/_process_optimizer.py,
  /// master_params_to_model_params: model.copy_(master)), Micikevicius et al.
  /// 2018, "Mixed Precision Training", section 3.1. An adapter reports the
  /// master as theta and the copy as theta_copy.
  master_weights,
  /// Float32 opmath as above, but theta is rounded to the storage format
  /// stochastically: up with probability (y - lo)/(hi - lo) between its two
  /// neighbours lo < y < hi, so the expected stored value is y and an update
  /// below half an ulp still moves theta on average; m, v and vmax are
  /// rounded to nearest even. torchao's low-bit optimizers
  /// (torchao/optim/adam.py, bf16_stochastic_round=True: _fp32_to_bf16_sr
  /// adds 16 random bits to the float32 pattern and truncates), Gupta et al.
  /// 2015, "Deep Learning with Limited Numerical Precision". Each case
  /// carries a rounding_seed the adapter's random numbers derive from.
  stochastic_rounding,
  /// Float32 opmath with a Kahan-compensated parameter: theta and a
  /// compensation c are both held in the storage format; each step computes
  /// in float32 from s = theta + c, and stores theta = rn(x), c = rn(x - theta)
  /// of its float32 result x, so theta + c carries about twice the format's
  /// bits (Kahan 1965; Zamirai et al. 2020, "Revisiting BFloat16 Training",
  /// section 4; optimi's kahan_sum, optimi/optimizer.py). m, v and vmax are
  /// rounded to nearest. An adapter reports c in each state as "compensation".
  kahan_summation,
  /// Every operation rounded to the storage format, as `storage`, with a
  /// Kahan-compensated parameter: theta and c in the storage format, the
  /// update accumulated into c and theta moved by it, the rounding's residual
  /// kept in c; the decay (or an L2 term) reads theta alone. torch-optimi's
  /// default for bfloat16/float16 parameters (kahan_sum None, optimi/adam.py
  /// _single_param_adam: `kahan_comp.addcdiv_(exp_avg, exp_avg_sq.sqrt().add_(eps),
  /// value=-lr)`, `grad.copy_(param)`, `param.add_(kahan_comp)`,
  /// `kahan_comp.add_(grad.sub_(param))`; `param.mul_(1 - lr wd)` before).
  /// An adapter reports c in each state as "compensation".
  storage_kahan,
  /// Each operation in the type its operands promote to (tinygrad's dtype
  /// lattice, weak Python floats taking the tensor's dtype): among the
  /// dtype's tensors and weak scalars in the dtype, rounded to it, where the
  /// dtype has arithmetic of its own (float16 on x86 CPUs), and in float32
  /// where the float32 moments or lr join. So (1 - beta1) g, g g,
  /// (1 - beta2) (g g) and wd theta are rounded to the dtype (g g overflowing
  /// past its largest value), m, v, the direction and u = direction + wd theta
  /// are float32, lr u is cast to the dtype and theta - it is the dtype's
  /// subtraction. tinygrad 0.14 over float16 parameters (tinygrad/nn/optim.py
  /// LAMB._step: `(1.0 - self.b1) * g`, `(1.0 - self.b2) * (g * g)`,
  /// `self.wd * t.detach()`, `(self.lr * r * up).cast(t.dtype)`; Optimizer.
  /// _apply_update: `t.detach() - up`). m and v have formats of their own
  /// (float32: StateFormats).
  promoted,
};
std::string to_string(Precision p);

/// How the arithmetic treats subnormal numbers. `gradual` is IEEE 754's
/// gradual underflow. `flushed`: a result below the format's smallest normal
/// number may become 0 (flush to zero) and a subnormal operand is read as 0
/// (denormals are zero), as XLA runs every computation on the CPU
/// (xla/service/cpu: tsl::port::ScopedFlushDenormal; JAX, Optax, Keras on
/// JAX) and TensorFlow its kernels, and as CUDA kernels compiled with -ftz do.
enum class Subnormals { gradual, flushed };
std::string to_string(Subnormals s);
/// "gradual" or "flushed"; throws std::invalid_argument "<where> 'x': expected gradual or flushed".
Subnormals subnormals_by_name(const std::string& name, const std::string& where);
/// Where the implementation holds its scalars (lr_t, the betas and 1 - beta,
/// beta^t and the bias corrections, eps, wd). `working`: in the arithmetic's
/// format or in double (PyTorch's Python floats). `float32`: possibly in
/// float32 whatever the parameters' format, as Keras 3 holds its learning
/// rate (a float32 variable, cast to the parameter's dtype each step), MLX
/// its lr (an mx.array, float32) and beta^t (a float32 power), tinygrad its lr
/// and beta^t (float32 tensors, a running product). Under float32 and
/// bfloat16 the two are one. `weak-dtype`: as float32, and the Python floats
/// that multiply a tensor of the parameters' dtype, 1 - beta1 (times g),
/// 1 - beta2 (times g g) and the weight decay (times theta), held in that
/// dtype: weak scalars take the tensor's dtype (tinygrad 0.14 over bfloat16
/// and float16 parameters, tinygrad/nn/optim.py LAMB._step: `(1.0 - self.b1) * g`
/// rounds 0.1 to bfloat16's 0.10009765625, the product then in float32 beside
/// the float32 m). It changes nothing for float32 and float64.
enum class Scalars { working, float32, weak_dtype };
std::string to_string(Scalars s);
/// "working", "float32" or "weak-dtype"; throws std::invalid_argument "<where> 'x': expected working, float32 or weak-dtype".
Scalars scalars_by_name(const std::string& name, const std::string& where);
/// "storage", "float32-opmath", "master-weights", "stochastic-rounding", "kahan-summation",
/// "storage-kahan" or "promoted";
/// throws std::invalid_argument "<where> 'x': expected storage, float32-opmath, ...".
Precision precision_by_name(const std::string& name, const std::string& where);

/// The values a step stores and a check compares: theta, the moments, the
/// AMSGrad maximum, and under kahan-summation the compensation and theta +
/// compensation (the sum that tracks the exact value). Their names are the
/// protocol's and golden files' field names.
enum class Quantity { theta, m, v, vmax, compensation, theta_plus_compensation };
/// "theta", "m", "v", "vmax", "compensation", "theta + compensation".
const char* name(Quantity q);
/// The quantity called `text`; nullopt for any other name ("m_hat", a typo).
std::optional<Quantity> quantity_by_name(std::string_view text);
/// The state tensors of every convention, in order: m, v, vmax.
inline constexpr Quantity kStateQuantities[] = {Quantity::m, Quantity::v, Quantity::vmax};
/// The stored values that may have a format of their own (StateFormats): the
/// state tensors and the Kahan compensation.
inline constexpr Quantity kStoredFormats[] = {Quantity::m, Quantity::v, Quantity::vmax, Quantity::compensation};

/// The formats the state tensors are stored in, each chosen apart from
/// theta's: a fused kernel computes in float32 and stores each tensor to its
/// own format. TransformerEngine's FusedAdam
/// (transformer_engine/pytorch/optimizers/fused_adam.py: exp_avg_dtype,
/// exp_avg_sq_dtype, default float32, beside bfloat16 parameters or a float32
/// master; the kernel computes in float and stores each with its dtype's
/// rounding). Each name is "bfloat16", "float16", "float32" or "float64"; an
/// empty one means theta's (reported) format, as PyTorch's zeros_like(p).
struct StateFormats {
  std::string m, v, vmax;
  /// kahan-summation's compensation: theta's format (the default: optimi's
  /// kahan_sum keeps it in the parameter's dtype), or a format of its own
  /// (torchdistx AnyPrecisionAdamW's compensation_buffer_dtype, float32 by
  /// default beside bfloat16 parameters).
  std::string compensation;
  /// The first moment's decay b1 m' computed in m's own format, b1 rounded
  /// to it first, before the sum in the arithmetic's: Optax's mu_dtype
  /// (optax/tree_utils/_tree_math.py tree_update_moment: `(1 - decay) * g +
  /// decay * t`, decay a weak-typed Python float, so JAX computes decay * t in
  /// t's bfloat16 and adds it to the float32 (1 - decay) g in float32). Only
  /// with an m format narrower than the arithmetic.
  bool m_decay_in_format = false;
  /// The second moment's decay b2 v' in v's own format likewise (tinygrad's
  /// default float32 v beside float64 parameters: `self.b2 * self.v[i]` is
  /// float32, `(1.0 - self.b2) * (g * g)` float64, their sum float64, cast to
  /// v's float32; tinygrad/nn/optim.py LAMB._step). Only with a v format
  /// narrower than the arithmetic.
  bool v_decay_in_format = false;
  /// The direction m_hat / (sqrt(v_hat) + eps) computed in the moments'
  /// format from the stored moments, eps and the bias corrections held in it,
  /// before the arithmetic's own operations take it up (tinygrad's default
  /// float32 m and v beside float64 parameters: m / (1.0 - b1_t) with a
  /// float32 b1_t is float32, and the direction becomes float64 only where
  /// `+ self.wd * t` or `self.lr * ... * up` meets a float64 tensor). Needs m
  /// and v in one format narrower than the arithmetic. The error model's
  /// "Direction in the moments' format".
  bool direction_in_format = false;
  /// Whether any choice beyond the formats themselves is made.
  bool any_decay_or_direction() const { return m_decay_in_format || v_decay_in_format || direction_in_format; }
  bool any() const { return !m.empty() || !v.empty() || !vmax.empty() || !compensation.empty(); }
  /// The entry of stored value q (m, v, vmax or compensation); nullptr for theta and theta + compensation.
  const std::string* of(Quantity q) const {
    return q == Quantity::m              ? &m
           : q == Quantity::v            ? &v
           : q == Quantity::vmax         ? &vmax
           : q == Quantity::compensation ? &compensation
                                         : nullptr;
  }
  std::string* of(Quantity q) { return const_cast<std::string*>(std::as_const(*this).of(q)); }
  friend bool operator==(const StateFormats&, const StateFormats&) = default;
};
/// `name` if it names a format (bfloat16, float16, float32, float64); throws
/// std::invalid_argument "<where> 'x': expected bfloat16, float16, float32 or float64".
std::string state_format_name(const std::string& name, const std::string& where);
/// "m=float32, v=float32": the formats given, empty when none is.
std::string describe(const StateFormats& s);

struct Convention {
  std::vector<Transform> chain;
  /// The arithmetic the chain runs in, for a storage format (Precision).
  Precision precision = Precision::storage;
  /// The formats of m, v and vmax where they differ from theta's.
  StateFormats state_formats{};
  /// How the arithmetic treats subnormals (gradual underflow, or flushed to zero).
  Subnormals subnormals = Subnormals::gradual;
  /// Where the scalars are held (float32 whatever the parameters' format: Keras, MLX, tinygrad).
  Scalars scalars = Scalars::working;

  /// The one ScaleByAdam of the chain.
  const ScaleByAdam& adam() const;
  ScaleByAdam& adam();
  /// One line: "add_l2_to_gradient -> scale_by_adam(...) -> ...", and " in float32-opmath" when so.
  std::string describe() const;
  /// Throws std::invalid_argument unless the chain is well formed: gradient
  /// transforms, then exactly one scale_by_adam, optional add_decayed_weights,
  /// scale_by_learning_rate, apply_update; decay_weights anywhere before
  /// scale_by_adam or after apply_update.
  void validate() const;
  /// Whether any transform reads the weight_decay hyperparameter.
  bool uses_weight_decay() const;
  /// Whether some transform applies decay of this kind.
  bool has(DecayKind kind) const;
  /// The same chain without any weight decay transform (the same numerics: precision, state formats).
  Convention without_decay() const;
  /// Each transform with the phase it stands in, in order: what the
  /// questions above (and identify's descriptions) are derived from.
  std::vector<std::pair<const Transform*, Phase>> with_phases() const;

  friend bool operator==(const Convention&, const Convention&) = default;
};

std::string to_string(EpsPlacement);
std::string to_string(AmsgradVariant);
std::string to_string(DecayScale);
/// The name of a transform with its parameters, as in describe().
std::string describe(const Transform&);

}  // namespace adamconf
