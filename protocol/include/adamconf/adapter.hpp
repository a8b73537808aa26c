// C++ helpers for the in-process C ABI (adamconf/adapter.h): derive from
// adamconf::abi::Optimizer, write a factory, and export the table it makes.
//
//     std::unique_ptr<adamconf::abi::Optimizer> make(const adamconf::abi::Created& c) { ... }
//     const adamconf_adapter table = adamconf::abi::table<make>("my library", 1, optimizers);
//     extern "C" const adamconf_adapter* adamconf_adapter_v1() { return &table; }
//
// Exceptions never cross the C ABI: each call runs under guarded(), which
// turns one into status 1 and its message. Header only; needs C++17.
#ifndef ADAMCONF_ADAPTER_HPP
#define ADAMCONF_ADAPTER_HPP

#include <adamconf/adapter.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>

namespace adamconf::abi {

/// One optimizer instance over the tensors create() was given.
struct Optimizer {
  virtual ~Optimizer() = default;
  /// One step: params[k] updated in place; grads[k] NULL for no gradient; lr NaN for the groups' own.
  virtual void step(void* const* params, const void* const* grads, double lr) = 0;
  /// Tensor k's step count and m, v, vmax (vmax NULL without AMSGrad).
  virtual void get_state(std::size_t k, std::int64_t* step, void* m, void* v, void* vmax) = 0;
  virtual void set_state(std::size_t k, std::int64_t step, const void* m, const void* v, const void* vmax) = 0;
};

/// What create() was asked for.
struct Created {
  const char* optimizer;  ///< the name of one of the table's optimizers
  const char* dtype;      ///< "float32" or "float64"
  adamconf_options options;
  std::size_t n_groups;
  const adamconf_hyperparameters* groups;
  std::size_t n_tensors;
  const std::size_t* sizes;
  const std::size_t* group_of;
};

using Factory = std::unique_ptr<Optimizer> (*)(const Created&);

/// Runs fn; an exception becomes status 1 with its message in error.
template <class Fn>
int guarded(char* error, std::size_t size, Fn&& fn) {
  try {
    fn();
    return 0;
  } catch (const std::exception& e) {
    std::snprintf(error, size, "%s", e.what());
  } catch (...) {
    std::snprintf(error, size, "%s", "an exception that is not a std::exception");
  }
  return 1;
}

namespace detail {
template <Factory make>
int create(const char* optimizer, const char* dtype, const adamconf_options* options, std::size_t n_groups,
           const adamconf_hyperparameters* groups, std::size_t n_tensors, const std::size_t* sizes,
           const std::size_t* group_of, void** handle, char* error, std::size_t error_size) {
  return guarded(error, error_size, [&] {
    *handle = make(Created{optimizer, dtype, *options, n_groups, groups, n_tensors, sizes, group_of}).release();
  });
}
inline int step(void* handle, void* const* params, const void* const* grads, double lr, char* error, std::size_t size) {
  return guarded(error, size, [&] { static_cast<Optimizer*>(handle)->step(params, grads, lr); });
}
inline int get_state(void* handle, std::size_t k, std::int64_t* s, void* m, void* v, void* vmax, char* error,
                     std::size_t size) {
  return guarded(error, size, [&] { static_cast<Optimizer*>(handle)->get_state(k, s, m, v, vmax); });
}
inline int set_state(void* handle, std::size_t k, std::int64_t s, const void* m, const void* v, const void* vmax,
                     char* error, std::size_t size) {
  return guarded(error, size, [&] { static_cast<Optimizer*>(handle)->set_state(k, s, m, v, vmax); });
}
inline void destroy(void* handle) { delete static_cast<Optimizer*>(handle); }
}  // namespace detail

/// The table of a library whose optimizers `make` creates.
template <Factory make>
constexpr adamconf_adapter table(const char* name, std::size_t n_optimizers, const adamconf_optimizer_info* optimizers) {
  return {ADAMCONF_ABI_VERSION, name,           n_optimizers,       optimizers,     detail::create<make>,
          detail::step,         detail::get_state, detail::set_state, detail::destroy};
}

}  // namespace adamconf::abi

#endif
