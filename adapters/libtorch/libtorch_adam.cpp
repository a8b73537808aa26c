// adamconf adapter (adamconf/adapter.h, in process) for libtorch's C++
// optimizers torch::optim::Adam and torch::optim::AdamW (Debian libtorch-dev
// 1.13; torch/csrc/api/src/optim/adam.cpp, adamw.cpp):
//
//     adamconf check --impl lib:build/adapters/libtorch/libadamconf_libtorch_adam.so --preset pytorch-adamw
//
// A torch tensor per adamconf tensor, an OptimizerParamGroup (with its own
// options) per parameter group, an undefined grad where a step gives a tensor
// no gradient; the values are copied into the tensors before each step and out
// after it. The state is libtorch's own AdamParamState / AdamWParamState (an
// int64 step, exp_avg, exp_avg_sq, max_exp_avg_sq), found under the key
// libtorch uses, the parameter's TensorImpl address. libtorch has no maximize.
#include <adamconf/adapter.hpp>

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

/// Adam or AdamW (Opt) with its options and state types.
template <class Opt, class Options, class State>
struct Driver final : adamconf::abi::Optimizer {
  torch::Dtype dtype;
  std::size_t element_size;
  bool amsgrad;
  std::vector<torch::Tensor> params;
  std::unique_ptr<Opt> optimizer;

  Driver(torch::Dtype dtype, const adamconf_options& o, const adamconf_hyperparameters* groups, std::size_t n_groups,
         std::size_t n_tensors, const std::size_t* sizes, const std::size_t* group_of)
      : dtype(dtype), element_size(dtype == torch::kFloat ? 4 : 8), amsgrad(o.amsgrad) {
    for (std::size_t k = 0; k < n_tensors; ++k)
      params.push_back(torch::zeros({static_cast<std::int64_t>(sizes[k])}, torch::TensorOptions().dtype(dtype)).requires_grad_(true));
    std::vector<torch::optim::OptimizerParamGroup> param_groups;
    for (std::size_t g = 0; g < n_groups; ++g) {
      std::vector<torch::Tensor> members;
      for (std::size_t k = 0; k < n_tensors; ++k)
        if (group_of[k] == g) members.push_back(params[k]);
      if (members.empty()) continue;
      const adamconf_hyperparameters& h = groups[g];
      auto options = std::make_unique<Options>(h.lr);
      options->betas(std::make_tuple(h.beta1, h.beta2)).eps(h.eps).weight_decay(h.weight_decay).amsgrad(o.amsgrad);
      param_groups.emplace_back(members, std::move(options));
    }
    optimizer = std::make_unique<Opt>(param_groups, Options(groups[0].lr));
  }

  torch::Tensor view(const void* data, std::size_t n) const {
    return torch::from_blob(const_cast<void*>(data), {static_cast<std::int64_t>(n)}, torch::TensorOptions().dtype(dtype));
  }

  static std::string key(const torch::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

  void step(void* const* values, const void* const* grads, double lr) override {
    torch::NoGradGuard no_grad;
    for (std::size_t k = 0; k < params.size(); ++k) {
      const auto n = static_cast<std::size_t>(params[k].numel());
      if (n) params[k].copy_(view(values[k], n));
      params[k].mutable_grad() = grads[k] ? view(grads[k], n).clone() : torch::Tensor();  // undefined: no gradient
    }
    if (!std::isnan(lr))
      for (auto& group : optimizer->param_groups()) static_cast<Options&>(group.options()).lr(lr);
    optimizer->step();
    for (std::size_t k = 0; k < params.size(); ++k)
      if (params[k].numel()) std::memcpy(values[k], params[k].data_ptr(), params[k].numel() * element_size);
  }

  void get_state(std::size_t k, std::int64_t* step, void* m, void* v, void* vmax) override {
    const torch::Tensor& p = params.at(k);
    const std::size_t bytes = p.numel() * element_size;
    auto& states = optimizer->state();
    const auto found = states.find(key(p));
    if (found == states.end()) {  // never had a gradient: libtorch has no state for it yet
      *step = 0;
      std::memset(m, 0, bytes);
      std::memset(v, 0, bytes);
      if (vmax) std::memset(vmax, 0, bytes);
      return;
    }
    auto& s = static_cast<State&>(*found->second);
    *step = s.step();
    if (bytes) {
      std::memcpy(m, s.exp_avg().contiguous().data_ptr(), bytes);
      std::memcpy(v, s.exp_avg_sq().contiguous().data_ptr(), bytes);
      if (vmax) std::memcpy(vmax, s.max_exp_avg_sq().contiguous().data_ptr(), bytes);
    }
  }

  void set_state(std::size_t k, std::int64_t step, const void* m, const void* v, const void* vmax) override {
    const torch::Tensor& p = params.at(k);
    const auto n = static_cast<std::size_t>(p.numel());
    auto s = std::make_unique<State>();
    s->step(step);
    s->exp_avg(view(m, n).clone());
    s->exp_avg_sq(view(v, n).clone());
    if (amsgrad) s->max_exp_avg_sq(vmax ? view(vmax, n).clone() : torch::zeros_like(p));
    optimizer->state()[key(p)] = std::move(s);
  }
};

std::unique_ptr<adamconf::abi::Optimizer> make(const adamconf::abi::Created& c) {
  if (c.options.maximize || !c.options.bias_correction)
    throw std::invalid_argument("libtorch: torch::optim has no maximize or bias-correction switch");
  const torch::Dtype dtype = std::strcmp(c.dtype, "float32") == 0 ? torch::kFloat : torch::kDouble;
  if (std::strcmp(c.optimizer, "torch::optim::AdamW") == 0)
    return std::make_unique<Driver<torch::optim::AdamW, torch::optim::AdamWOptions, torch::optim::AdamWParamState>>(
        dtype, c.options, c.groups, c.n_groups, c.n_tensors, c.sizes, c.group_of);
  return std::make_unique<Driver<torch::optim::Adam, torch::optim::AdamOptions, torch::optim::AdamParamState>>(
      dtype, c.options, c.groups, c.n_groups, c.n_tensors, c.sizes, c.group_of);
}

const char* const adam_presets[] = {"pytorch-adam", nullptr};
const char* const adamw_presets[] = {"pytorch-adamw", nullptr};
const char* const dtypes[] = {"float32", "float64", nullptr};
const char* const hyperparameters[] = {"lr", "beta1", "beta2", "eps", "weight_decay", nullptr};
const char* const options[] = {"amsgrad", nullptr};  // AdamParamState::step is an int64_t: the default integer count
const adamconf_optimizer_info optimizers[] = {
    {"torch::optim::Adam", adam_presets, dtypes, hyperparameters, options, 1, 1},
    {"torch::optim::AdamW", adamw_presets, dtypes, hyperparameters, options, 1, 1}};
const adamconf_adapter table = adamconf::abi::table<make>("libtorch C++ " TORCH_VERSION, 2, optimizers);

}  // namespace

extern "C" const adamconf_adapter* adamconf_adapter_v1() { return &table; }
