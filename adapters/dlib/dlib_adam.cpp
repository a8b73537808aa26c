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
#include <adamconf/adapter.h>

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

struct Optimizer {
  std::vector<Tensor> tensors;

  void step(void* const* params, const void* const* grads, double lr) {
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

  void get(std::size_t k, std::int64_t* step, float* m, float* v) {
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

  void set(std::size_t k, std::int64_t step, const float* m, const float* v) {
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
    std::memcpy(f.m.host(), m, n * sizeof(float));
    std::memcpy(f.v.host(), v, n * sizeof(float));
    f.t = static_cast<float>(step);  // dlib's float t holds the count rounded
    write(x.solver, f);
  }
};

template <class Fn>
int guarded(char* error, std::size_t size, Fn fn) {
  try {
    fn();
    return 0;
  } catch (const std::exception& e) {
    std::snprintf(error, size, "dlib: %s", e.what());
    return 1;
  }
}

int create(const char*, const char* dtype, const adamconf_options* options, std::size_t, const adamconf_hyperparameters* groups,
           std::size_t n_tensors, const std::size_t* sizes, const std::size_t* group_of, void** handle, char* error,
           std::size_t error_size) {
  return guarded(error, error_size, [&] {
    if (std::strcmp(dtype, "float32") != 0) throw std::invalid_argument("dlib's adam computes in float only");
    if (options->amsgrad || options->maximize || !options->bias_correction)
      throw std::invalid_argument("dlib's adam has no amsgrad, maximize or bias-correction switch");
    auto o = std::make_unique<Optimizer>();
    o->tensors.resize(n_tensors);
    for (std::size_t k = 0; k < n_tensors; ++k) {
      const adamconf_hyperparameters& h = groups[group_of[k]];
      Tensor& x = o->tensors[k];
      x.solver = dlib::adam(static_cast<float>(h.weight_decay), static_cast<float>(h.beta1), static_cast<float>(h.beta2));
      x.lr = static_cast<float>(h.lr);
      if (sizes[k] > 0) {
        x.layer.params.set_size(static_cast<long long>(sizes[k]));
        x.layer.params = 0;
      }
    }
    *handle = o.release();
  });
}

int step(void* handle, void* const* params, const void* const* grads, double lr, char* error, std::size_t error_size) {
  return guarded(error, error_size, [&] { static_cast<Optimizer*>(handle)->step(params, grads, lr); });
}

int get_state(void* handle, std::size_t k, std::int64_t* s, void* m, void* v, void*, char* error, std::size_t error_size) {
  return guarded(error, error_size,
                 [&] { static_cast<Optimizer*>(handle)->get(k, s, static_cast<float*>(m), static_cast<float*>(v)); });
}

int set_state(void* handle, std::size_t k, std::int64_t s, const void* m, const void* v, const void*, char* error,
              std::size_t error_size) {
  return guarded(error, error_size, [&] {
    static_cast<Optimizer*>(handle)->set(k, s, static_cast<const float*>(m), static_cast<const float*>(v));
  });
}

void destroy(void* handle) { delete static_cast<Optimizer*>(handle); }

const char* const presets[] = {"dlib-adam", nullptr};
const char* const dtypes[] = {"float32", nullptr};
// eps is compute_adam_update's constant 1e-8 (dlib/cuda/cpu_dlib.cpp): fixed, never varied.
const char* const hyperparameters[] = {"lr", "beta1", "beta2", "weight_decay", "eps=1e-8", nullptr};
const char* const options[] = {"step_counter=float32", nullptr};  // dlib::adam's float t
const adamconf_optimizer_info optimizers[] = {{"dlib::adam", presets, dtypes, hyperparameters, options, 1, 1}};
#define ADAMCONF_STR2(x) #x
#define ADAMCONF_STR(x) ADAMCONF_STR2(x)
const adamconf_adapter table = {ADAMCONF_ABI_VERSION,
                                "dlib " ADAMCONF_STR(DLIB_MAJOR_VERSION) "." ADAMCONF_STR(DLIB_MINOR_VERSION) " adam solver", 1, optimizers, create, step,
                                get_state, set_state, destroy};

}  // namespace

extern "C" const adamconf_adapter* adamconf_adapter_v1() { return &table; }
