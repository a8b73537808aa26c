#include "adamconf/library_implementation.hpp"

#include <dlfcn.h>

#include <cmath>
#include <memory>


namespace adamconf {

namespace {

std::vector<std::string> list_of(const char* const* xs) {
  std::vector<std::string> out;
  for (; xs && *xs; ++xs) out.push_back(*xs);
  return out;
}

adamconf_hyperparameters values_of_group(const Hyperparameters& h) {
  const HyperValues<R> x = values_of<R>(h);  // exact, then each rounded once to double
  return {static_cast<double>(x.lr),  static_cast<double>(x.beta1),    static_cast<double>(x.beta2),
          static_cast<double>(x.eps), static_cast<double>(x.eps_root), static_cast<double>(x.weight_decay)};
}

/// Calls one table function; a nonzero status becomes ImplementationError with the library's message.
template <class Fn, class... Args>
void call(const std::string& what, Fn fn, Args... args) {
  char error[512] = "";
  if (fn(args..., error, sizeof error) != 0) {
    error[sizeof error - 1] = '\0';
    throw ImplementationRefusal(what + " failed: " + (error[0] ? error : "(no message)"));
  }
}

}  // namespace

LibraryImplementation::LibraryImplementation(const std::string& path) : path_(path) {
  library_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library_) throw AdapterFailure("lib:" + path + ": cannot load it: " + std::string(dlerror()), false);
  auto fail = [&](const std::string& why) {
    dlclose(library_);
    library_ = nullptr;
    throw AdapterFailure("lib:" + path + ": " + why, false);
  };
  auto entry = reinterpret_cast<adamconf_adapter_v1_fn>(dlsym(library_, ADAMCONF_ADAPTER_SYMBOL));
  if (!entry) fail("exports no " ADAMCONF_ADAPTER_SYMBOL " (adamconf/adapter.h)");
  table_ = entry();
  if (!table_) fail(ADAMCONF_ADAPTER_SYMBOL "() returned NULL");
  if (table_->abi_version != ADAMCONF_ABI_VERSION)
    fail("ABI version " + std::to_string(table_->abi_version) + ", adamconf speaks " + std::to_string(ADAMCONF_ABI_VERSION));
  if (!table_->create || !table_->step || !table_->destroy) fail("create, step or destroy is NULL");
  if (table_->n_optimizers == 0 || !table_->optimizers) fail("offers no optimizer");
  info_.name = table_->name ? table_->name : path;
  info_.protocol = 2;
  for (std::size_t k = 0; k < table_->n_optimizers; ++k) {
    const adamconf_optimizer_info& o = table_->optimizers[k];
    if (!o.name) fail("optimizers[" + std::to_string(k) + "] has no name");
    AdapterOptimizer a;
    a.name = o.name;
    a.presets = list_of(o.presets);
    a.dtypes = list_of(o.dtypes);
    try {
      read_hyperparameter_list(list_of(o.hyperparameters), a);
    } catch (const std::invalid_argument& e) {
      fail("optimizers[" + std::to_string(k) + "] hyperparameters: " + e.what());
    }
    try {
      read_option_list(list_of(o.options), a);
    } catch (const std::invalid_argument& e) {
      fail("optimizers[" + std::to_string(k) + "] options: " + e.what());
    }
    a.state = o.state && table_->get_state && table_->set_state;
    a.lr_schedule = o.lr_schedule;
    for (const auto& p : a.presets) {
      try {
        (void)preset_by_name(p);
      } catch (const std::invalid_argument&) {
        fail("optimizers[" + std::to_string(k) + "] claims an unknown preset '" + p + "'");
      }
    }
    for (const auto& d : a.dtypes)
      if (d != "float32" && d != "float64") fail("optimizers[" + std::to_string(k) + "]: dtype '" + d + "' (float32 or float64)");
    info_.optimizers.push_back(a);
  }
}

LibraryImplementation::~LibraryImplementation() {
  if (library_) dlclose(library_);
}

template <class F>
RunResult LibraryImplementation::run_case(const Setup& setup, const RunCase& c) {
  validate_case(c);
  const auto slices = slices_of(c);
  std::vector<adamconf_hyperparameters> groups;
  for (std::size_t g = 0; g < std::max<std::size_t>(1, c.groups.size()); ++g)
    groups.push_back(values_of_group(group_hyperparameters(setup.spec.hyper, c, g)));
  std::vector<std::size_t> sizes, group_of;
  for (const auto& s : slices) sizes.push_back(s.size), group_of.push_back(s.group);
  const adamconf_options options{setup.spec.options.amsgrad, setup.spec.options.maximize, setup.spec.options.bias_correction};
  void* raw = nullptr;
  call("create", table_->create, selected().name.c_str(), setup.dtype.name, &options, groups.size(), groups.data(),
       sizes.size(), sizes.data(), group_of.data(), &raw);
  std::unique_ptr<void, void (*)(void*)> handle(raw, table_->destroy);
  const bool amsgrad = setup.spec.convention.adam().amsgrad != AmsgradVariant::none;
  std::vector<std::vector<F>> theta(slices.size()), grad(slices.size()), m(slices.size()), v(slices.size()), vmax(slices.size());
  for (std::size_t k = 0; k < slices.size(); ++k) {
    for (double x : part_of(c.theta0, slices[k])) theta[k].push_back(static_cast<F>(x));
    m[k].resize(slices[k].size), v[k].resize(slices[k].size), vmax[k].resize(amsgrad ? slices[k].size : 0);
  }
  F empty{};  // where the pointers of an empty tensor point: never NULL, never read
  auto at = [&empty](std::vector<F>& xs) { return xs.empty() ? &empty : xs.data(); };
  if (c.initial_state) {
    if (!table_->set_state) throw ImplementationError("the library cannot import a state (set_state is NULL)");
    for (std::size_t k = 0; k < slices.size(); ++k) {
      const ImplementationState s = tensor_state(*c.initial_state, slices[k], k);
      auto to_f = [](const std::vector<double>& xs) { return std::vector<F>(xs.begin(), xs.end()); };
      std::vector<F> sm = to_f(s.m), sv = to_f(s.v), svmax = to_f(s.vmax);
      call("set_state", table_->set_state, handle.get(), k, static_cast<int64_t>(s.step), at(sm), at(sv),
           amsgrad ? at(svmax) : nullptr);
    }
  }
  RunResult r;
  std::vector<void*> params(slices.size());
  std::vector<const void*> grads(slices.size());
  for (std::size_t t = 0; t < c.grads.size(); ++t) {
    for (std::size_t k = 0; k < slices.size(); ++k) {
      params[k] = at(theta[k]);
      grad[k].clear();
      if (has_gradient(c, t, k)) {
        for (double x : part_of(c.grads[t], slices[k])) grad[k].push_back(static_cast<F>(x));
        grads[k] = grad[k].empty() ? &empty : grad[k].data();  // an empty tensor's gradient is there, not NULL
      } else {
        grads[k] = nullptr;
      }
    }
    const double lr = c.lrs.empty() ? NAN : static_cast<double>(parse_decimal<R>(c.lrs[t]));
    call("step " + std::to_string(t + 1), table_->step, handle.get(), params.data(), grads.data(), lr);
    std::vector<double> flat;
    for (const auto& x : theta) flat.insert(flat.end(), x.begin(), x.end());
    r.theta.push_back(std::move(flat));
    if (c.record_states) {
      if (!table_->get_state) throw ImplementationError("the library cannot export its state (get_state is NULL)");
      ImplementationState joined;
      for (std::size_t k = 0; k < slices.size(); ++k) {
        int64_t step = 0;
        call("get_state", table_->get_state, handle.get(), k, &step, at(m[k]), at(v[k]), amsgrad ? at(vmax[k]) : nullptr);
        ImplementationState s;
        s.step = step;
        s.m.assign(m[k].begin(), m[k].end());
        s.v.assign(v[k].begin(), v[k].end());
        s.vmax.assign(vmax[k].begin(), vmax[k].end());
        append_tensor_state(joined, s);
      }
      r.states.push_back(std::move(joined));
    }
  }
  return r;
}

std::vector<RunResult> LibraryImplementation::run(const Setup& setup, const std::vector<RunCase>& cases) {
  std::vector<RunResult> out;
  for (const RunCase& c : cases)
    out.push_back(setup.dtype.precision == 24 ? run_case<float>(setup, c) : run_case<double>(setup, c));
  return out;
}

}  // namespace adamconf
