#include "spec_options.hpp"

#include <map>
#include <stdexcept>

namespace adamconf::cli {

void SpecOptions::add_to(CLI::App& command, bool preset_required) {
  auto* p = command.add_option("--preset", preset, "convention preset, e.g. pytorch-adamw (see `adamconf presets`)");
  if (preset_required) p->required();
  command.add_option("--set", settings, "hyperparameter override name=value (lr beta1 beta2 eps eps_root weight_decay)");
  command.add_flag("--amsgrad", amsgrad, "AMSGrad, as the preset's implementation defines it");
  command.add_flag("--maximize", maximize, "maximize (gradients negated), where the implementation offers it");
  command.add_flag("--no-bias-correction", no_bias_correction, "bias correction off, where the implementation offers it");
  command.add_option("--step-counter", step_counter,
                     "how the step count is held: integer (default), float32 (PyTorch 1.12-1.13's state['step'] "
                     "tensor, dlib's float t: it stops at 2^24) or int32 (Optax's count, TF.js's saved iterations: "
                     "it stops at 2^31 - 1); an adapter may state it in its hello");
  command.add_option("--precision", precision,
                     "what a bfloat16/float16 dtype is computed in: storage (default: every operation rounded to it, "
                     "PyTorch CPU), float32-opmath (float32 arithmetic, rounded to the dtype once when stored: "
                     "PyTorch's fused CUDA kernel, apex), master-weights (a float32 master and state, the model's "
                     "copy in the dtype: apex amp O2), stochastic-rounding (float32 arithmetic, theta rounded to "
                     "the dtype stochastically: torchao), kahan-summation (float32 arithmetic, theta and a Kahan "
                     "compensation in the dtype: torchdistx), storage-kahan (every operation in the dtype, the "
                     "update accumulated into a Kahan compensation: optimi's kahan_sum) or promoted (float32 "
                     "arithmetic, the products among the dtype's values and the update rounded to it: tinygrad over "
                     "float16); an adapter may state it in its hello");
  command.add_option("--subnormals", subnormals,
                     "how the arithmetic treats subnormal numbers: gradual (IEEE 754, the default) or flushed (a "
                     "result below the smallest normal may be 0, a subnormal operand is read as 0: XLA and "
                     "TensorFlow on the CPU, CUDA's -ftz); an adapter may state it in its hello (subnormals=flushed)");
  command.add_option("--scalars", scalars,
                     "where the implementation holds its scalars (lr_t, betas, beta^t, eps, wd): working (its "
                     "arithmetic's format or double, the default), float32 whatever the parameters' format (Keras 3's "
                     "float32 learning rate, MLX, tinygrad), or weak-dtype: as float32, and 1 - beta1, 1 - beta2 and wd "
                     "in the parameters' dtype (tinygrad over bfloat16); an adapter may state it in its hello "
                     "(scalars=float32)");
  command.add_option("--state-format", state_format,
                     "the format m, v and vmax are stored in when it is not theta's: bfloat16, float16, float32 or "
                     "float64 (TransformerEngine's FusedAdam keeps float32 states beside bfloat16 parameters); no "
                     "wider than the arithmetic; an adapter may state it in its hello (m_format=float32)");
  command.add_option("--m-format", m_format, "the format of m alone (over --state-format)");
  command.add_option("--v-format", v_format, "the format of v alone (over --state-format)");
  command.add_option("--vmax-format", vmax_format, "the format of vmax alone (over --state-format)");
  // StateFormats' choices of where a part of the step is computed: arithmetic (the default) or in-format.
  struct InFormatChoice {
    const char* flag;
    std::string* value;
    const char* what;
  };
  for (const InFormatChoice& c :
       {InFormatChoice{.flag = "--m-decay", .value = &m_decay,
                       .what = "where b1 m is computed: arithmetic (the default) or in-format, in m's own format with "
                               "b1 rounded to it, before the sum in the arithmetic's (Optax's mu_dtype=bfloat16); an "
                               "adapter may state it in its hello (m_decay=in-format)"},
        InFormatChoice{.flag = "--v-decay", .value = &v_decay,
                       .what = "where b2 v is computed: arithmetic (the default) or in-format, in v's own format with "
                               "b2 rounded to it (tinygrad's float32 v beside float64 parameters); an adapter may "
                               "state it in its hello (v_decay=in-format)"},
        InFormatChoice{.flag = "--direction", .value = &direction,
                       .what = "where m_hat/(sqrt(v_hat) + eps) is computed: arithmetic (the default) or in-format, in "
                               "the moments' own format from the stored moments (tinygrad's float32 m and v beside "
                               "float64 parameters); an adapter may state it in its hello (direction=in-format)"}})
    command.add_option(c.flag, *c.value, c.what)->check(CLI::IsMember({"arithmetic", "in-format"}));
  command.add_option("--compensation-format", compensation_format,
                     "kahan-summation: the format the Kahan compensation is stored in when it is not theta's (float32: "
                     "torchdistx AnyPrecisionAdamW's compensation_buffer_dtype); an adapter may state it in its hello "
                     "(compensation_format=float32)");
}

StateFormats SpecOptions::state_formats() const {
  StateFormats f;
  auto pick = [&](const std::string& own, const char* flag) -> std::string {
    if (!own.empty()) return state_format_name(own, flag);
    return state_format.empty() ? "" : state_format_name(state_format, "--state-format");
  };
  f.m = pick(m_format, "--m-format");
  f.v = pick(v_format, "--v-format");
  f.vmax = pick(vmax_format, "--vmax-format");
  if (!compensation_format.empty()) f.compensation = state_format_name(compensation_format, "--compensation-format");
  f.m_decay_in_format = m_decay == "in-format";
  f.v_decay_in_format = v_decay == "in-format";
  f.direction_in_format = direction == "in-format";
  return f;
}

OptimizerSpec SpecOptions::spec() const {
  std::map<std::string, std::string> overrides;
  for (const auto& s : settings) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      throw std::invalid_argument("--set " + s + ": expected name=value");
    overrides[s.substr(0, eq)] = s.substr(eq + 1);
  }
  PresetOptions options{amsgrad, maximize, !no_bias_correction};
  if (step_counter_given()) options.step_counter = step_counter_by_name(step_counter, "--step-counter");
  if (subnormals_given()) options.subnormals = subnormals_by_name(subnormals, "--subnormals");
  if (scalars_given()) options.scalars = scalars_by_name(scalars, "--scalars");
  if (precision_given()) options.precision = precision_by_name(precision, "--precision");
  options.state_formats = state_formats();
  if (!options.state_formats.any() && !options.state_formats.any_decay_or_direction())
    options.state_formats = preset_by_name(preset).state_formats;  // the preset's own
  return make_spec(preset, options, overrides);
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  std::string item;
  for (char c : text) {
    if (c == separator) {
      out.push_back(item);
      item.clear();
    } else if (c != ' ') {
      item += c;
    }
  }
  out.push_back(item);
  return out;
}

std::string describe(const Hyperparameters& h) {
  std::string s;
  for (const auto& name : Hyperparameters::names()) s += (s.empty() ? "" : " ") + name + "=" + h.get(name);
  return s;
}

}  // namespace adamconf::cli
