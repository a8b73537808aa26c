// A complete in-process adapter in C++ (adamconf/adapter.h): PyTorch's Adam
// (torch.optim.Adam, single-tensor: weight decay as L2 on the gradient,
// AMSGrad over raw v, maximize), templated on the format.
//
//     c++ -O2 -std=c++17 -shared -fPIC -I PREFIX/include adam.cpp -o libadam.so
//     adamconf check --impl lib:./libadam.so --preset pytorch-adam --dtype float64
#include <adamconf/adapter.hpp>  // adapter.h, with C++ helpers: Optimizer, table<make>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

namespace {

template <class T>
struct Tensor {
  std::size_t size = 0;
  adamconf_hyperparameters h{};
  std::int64_t step = 0;
  std::vector<T> m, v, vmax;
};

template <class T>
struct Adam final : adamconf::abi::Optimizer {
  adamconf_options options{};
  std::vector<Tensor<T>> tensors;

  void step(void* const* params, const void* const* grads, double lr) override {
    for (std::size_t k = 0; k < tensors.size(); ++k) {
      if (!grads[k]) continue;  // grad None: nothing changes
      Tensor<T>& s = tensors[k];
      T* theta = static_cast<T*>(params[k]);
      const T* grad = static_cast<const T*>(grads[k]);
      const double rate = std::isnan(lr) ? s.h.lr : lr;
      const std::int64_t t = ++s.step;
      const double bc1 = 1 - std::pow(s.h.beta1, static_cast<double>(t)), bc2 = 1 - std::pow(s.h.beta2, static_cast<double>(t));
      const T b1 = static_cast<T>(s.h.beta1), b2 = static_cast<T>(s.h.beta2), eps = static_cast<T>(s.h.eps);
      const T wd = static_cast<T>(s.h.weight_decay), step_size = static_cast<T>(rate / bc1);
      const T bc2_sqrt = static_cast<T>(std::sqrt(bc2));
      for (std::size_t i = 0; i < s.size; ++i) {
        T g = options.maximize ? -grad[i] : grad[i];
        g += wd * theta[i];  // L2: PyTorch's Adam adds weight decay to the gradient
        s.m[i] = b1 * s.m[i] + (T(1) - b1) * g;
        s.v[i] = b2 * s.v[i] + (T(1) - b2) * g * g;
        T v = s.v[i];
        if (options.amsgrad) v = s.vmax[i] = std::max(s.vmax[i], s.v[i]);
        theta[i] -= step_size * (s.m[i] / (std::sqrt(v) / bc2_sqrt + eps));
      }
    }
  }
  void get_state(std::size_t k, std::int64_t* step, void* m, void* v, void* vmax) override {
    const Tensor<T>& s = tensors.at(k);
    *step = s.step;
    std::copy(s.m.begin(), s.m.end(), static_cast<T*>(m));
    std::copy(s.v.begin(), s.v.end(), static_cast<T*>(v));
    if (vmax) std::copy(s.vmax.begin(), s.vmax.end(), static_cast<T*>(vmax));
  }
  void set_state(std::size_t k, std::int64_t step, const void* m, const void* v, const void* vmax) override {
    Tensor<T>& s = tensors.at(k);
    s.step = step;
    std::copy_n(static_cast<const T*>(m), s.size, s.m.begin());
    std::copy_n(static_cast<const T*>(v), s.size, s.v.begin());
    if (vmax) std::copy_n(static_cast<const T*>(vmax), s.size, s.vmax.begin());
  }
};

template <class T>
std::unique_ptr<adamconf::abi::Optimizer> make_in(const adamconf::abi::Created& c) {
  auto o = std::make_unique<Adam<T>>();
  o->options = c.options;
  for (std::size_t k = 0; k < c.n_tensors; ++k) {
    Tensor<T> t;
    t.size = c.sizes[k];
    t.h = c.groups[c.group_of[k]];
    t.m.assign(t.size, T(0));
    t.v.assign(t.size, T(0));
    t.vmax.assign(t.size, T(0));
    o->tensors.push_back(std::move(t));
  }
  return o;
}

std::unique_ptr<adamconf::abi::Optimizer> make(const adamconf::abi::Created& c) {
  if (!c.options.bias_correction) throw std::invalid_argument("torch.optim.Adam has no bias-correction switch");
  return std::strcmp(c.dtype, "float32") == 0 ? make_in<float>(c) : make_in<double>(c);
}

const char* const presets[] = {"pytorch-adam", nullptr};
const char* const dtypes[] = {"float32", "float64", nullptr};
const char* const hyperparameters[] = {"lr", "beta1", "beta2", "eps", "weight_decay", nullptr};
const char* const options[] = {"amsgrad", "maximize", nullptr};
const adamconf_optimizer_info optimizers[] = {{"cpp_adam", presets, dtypes, hyperparameters, options, 1, 1}};
const adamconf_adapter table = adamconf::abi::table<make>("examples/c_abi/adam.cpp", 1, optimizers);

}  // namespace

extern "C" const adamconf_adapter* adamconf_adapter_v1() { return &table; }
