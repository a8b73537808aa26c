// adamconf adapter (adamconf/adapter.h, in process) for dlib's adam solver
// (dlib/dnn/solvers.h, dlib 19.24), as dnn_trainer drives it:
//
//     adamconf check --impl lib:build/adapters/dlib/libadamconf_dlib_adam.so --preset dlib-adam
//
// Each tensor is a layer with its own dlib::adam (its own m, v and t, as
// adamconf keeps a step count per tensor). A step calls the solver as
// dnn_trainer does, solver(learning_rate, layer, params_grad), and adds the
// step it returns to the parameters with tt::add (core.h, update_parameters).
// dlib computes in float only; its eps is a constant 1e-8 in
// compute_adam_update, so the hello lists "eps=1e-8" and adamconf never varies it.
// The count is dlib's `float t` ("step_counter=float32": it stops at 2^24).
// The state is read and written through dlib's own serialize/deserialize of
// the solver (m, v, s, weight decay, momenta, t).
//
// dlib asserts on an empty parameter tensor (DLIB_CASSERT(params.size() != 0)):
// a layer with no parameters has no solver call in dnn_trainer either. For an
// empty tensor this adapter only counts the steps itself.
#include <adamconf/adapter.hpp>

#include <dlib/dnn.h>
#include <dlib/revision.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace {

/// What dlib's solvers read from a layer: its parameters (for the weight decay term).
struct Layer {
  dlib::resizable_tensor params;
  const dlib::tensor& get_layer_params() const { return params; }
};

struct Tensor {
  Layer layer;
  dlib::adam solver;
  float lr = 0;
  std::int64_t empty_steps = 0;  // an empty tensor's count (no dlib call)
};

/// dlib::adam's serialized fields, in serialize()'s order (solvers.h).
struct AdamFields {
  dlib::resizable_tensor m, v, s;
  float weight_decay = 0, momentum1 = 0, momentum2 = 0, t = 0;
};

AdamFields read(const dlib::adam& solver) {
  std::ostringstream out;
  serialize(solver, out);
  std::istringstream in(out.str());
  std::string version;
  AdamFields f;
  dlib::deserialize(version, in);
  dlib::deserialize(f.m, in);
  dlib::deserialize(f.v, in);
  dlib::deserialize(f.s, in);
  dlib::deserialize(f.weight_decay, in);
  dlib::deserialize(f.momentum1, in);
  dlib::deserialize(f.momentum2, in);
  dlib::deserialize(f.t, in);
  return f;
}

void write(dlib::adam& solver, const AdamFields& f) {
  std::ostringstream out;
  dlib::serialize("adam2", out);
  dlib::serialize(f.m, out);
  dlib::serialize(f.v, out);
  dlib::serialize(f.s, out);
  dlib::serialize(f.weight_decay, out);
  dlib::serialize(f.momentum1, out);
  dlib::serialize(f.momentum2, out);
  dlib::serialize(f.t, out);
  std::istringstream in(out.str());
  deserialize(solver, in);
}

struct Optimizer final : adamconf::abi::Optimizer {
  std::vector<Tensor> tensors;

  void step(void* const* params, const void* const* grads, double lr) override {
    for (std::size_t k = 0; k < tensors.size(); ++k) {
      if (!grads[k]) continue;  // no gradient: dnn_trainer skips the layer
      Tensor& x = tensors[k];
      const std::size_t n = x.layer.params.size();
      if (n == 0) {
        ++x.empty_steps;
        continue;
      }
      float* theta = static_cast<float*>(params[k]);
      std::memcpy(x.layer.params.host(), theta, n * sizeof(float));
      dlib::resizable_tensor grad(static_cast<long long>(n));
      std::memcpy(grad.host(), grads[k], n * sizeof(float));
      const float rate = std::isnan(lr) ? x.lr : static_cast<float>(lr);
      const dlib::tensor& update = x.solver(rate, x.layer, grad);
      dlib::tt::add(x.layer.params, x.layer.params, update);
      std::memcpy(theta, x.layer.params.host(), n * sizeof(float));
    }
  }

  void get_state(std::size_t k, std::int64_t* step, void* m_out, void* v_out, void*) override {
    float* m = static_cast<float*>(m_out);
    float* v = static_cast<float*>(v_out);
    Tensor& x = tensors.at(k);
    const std::size_t n = x.layer.params.size();
    if (n == 0) {
      *step = x.empty_steps;
      return;
    }
    const AdamFields f = read(x.solver);
    *step = static_cast<std::int64_t>(f.t);
    if (f.m.size() == 0) {  // never stepped: dlib allocates m and v on the first call
      std::fill_n(m, n, 0.0f);
      std::fill_n(v, n, 0.0f);
      return;
    }
    std::memcpy(m, f.m.host(), n * sizeof(float));
    std::memcpy(v, f.v.host(), n * sizeof(float));
  }

  void set_state(std::size_t k, std::int64_t step, const void* m, const void* v, const void*) override {
    Tensor& x = tensors.at(k);
    const std::size_t n = x.layer.params.size();
    if (n == 0) {
      x.empty_steps = step;
      return;
    }
    AdamFields f = read(x.solver);
    for (dlib::resizable_tensor* t : {&f.m, &f.v, &f.s}) {
      t->set_size(static_cast<long long>(n));
      *t = 0;
    }
    std::memcpy(f.m.host(), m, n * sizeof(float));  // float32: dlib's only format
    std::memcpy(f.v.host(), v, n * sizeof(float));
    f.t = static_cast<float>(step);  // dlib's float t holds the count rounded
    write(x.solver, f);
  }
};

std::unique_ptr<adamconf::abi::Optimizer> make(const adamconf::abi::Created& c) {
  if (std::strcmp(c.dtype, "float32") != 0) throw std::invalid_argument("dlib: its adam computes in float only");
  if (c.options.amsgrad || c.options.maximize || !c.options.bias_correction)
    throw std::invalid_argument("dlib: its adam has no amsgrad, maximize or bias-correction switch");
  auto o = std::make_unique<Optimizer>();
  o->tensors.resize(c.n_tensors);
  for (std::size_t k = 0; k < c.n_tensors; ++k) {
    const adamconf_hyperparameters& h = c.groups[c.group_of[k]];
    Tensor& x = o->tensors[k];
    x.solver = dlib::adam(static_cast<float>(h.weight_decay), static_cast<float>(h.beta1), static_cast<float>(h.beta2));
    x.lr = static_cast<float>(h.lr);
    if (c.sizes[k] > 0) {
      x.layer.params.set_size(static_cast<long long>(c.sizes[k]));
      x.layer.params = 0;
    }
  }
  return o;
}

const char* const presets[] = {"dlib-adam", nullptr};
const char* const dtypes[] = {"float32", nullptr};
// eps is compute_adam_update's constant 1e-8 (dlib/cuda/cpu_dlib.cpp): fixed, never varied.
const char* const hyperparameters[] = {"lr", "beta1", "beta2", "weight_decay", "eps=1e-8", nullptr};
const char* const options[] = {"step_counter=float32", nullptr};  // dlib::adam's float t
const adamconf_optimizer_info optimizers[] = {{"dlib::adam", presets, dtypes, hyperparameters, options, 1, 1}};
#define ADAMCONF_STR2(x) #x
#define ADAMCONF_STR(x) ADAMCONF_STR2(x)
const adamconf_adapter table = adamconf::abi::table<make>(
    "dlib " ADAMCONF_STR(DLIB_MAJOR_VERSION) "." ADAMCONF_STR(DLIB_MINOR_VERSION) " adam solver", 1, optimizers);

}  // namespace

extern "C" const adamconf_adapter* adamconf_adapter_v1() { return &table; }
