#include "adamconf/implementation.hpp"

#include <algorithm>

namespace adamconf {

namespace {
bool contains(const std::vector<std::string>& list, const std::string& x) {
  return std::find(list.begin(), list.end(), x) != list.end();
}
std::string count_mismatch(const std::string& what, std::size_t got, std::size_t want, std::size_t k) {
  return "adapter answered " + std::to_string(got) + " " + what + " for " + std::to_string(want) + " (case " +
         std::to_string(k) + ")";
}
}  // namespace

void validate_results(const std::vector<RunCase>& cases, const std::vector<RunResult>& results) {
  if (results.size() != cases.size())
    throw ImplementationError("adapter answered " + std::to_string(results.size()) + " results for " +
                              std::to_string(cases.size()) + " cases");
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const RunCase& c = cases[k];
    const RunResult& r = results[k];
    const std::size_t tensors = slices_of(c).size();
    if (r.theta.size() != c.grads.size()) throw ImplementationError(count_mismatch("steps", r.theta.size(), c.grads.size(), k));
    for (const auto& theta : r.theta)
      if (theta.size() != c.theta0.size())
        throw ImplementationError(count_mismatch("parameters", theta.size(), c.theta0.size(), k));
    if (c.record_states) {
      if (r.states.size() != c.grads.size())
        throw ImplementationError(count_mismatch("states", r.states.size(), c.grads.size(), k));
      for (const auto& s : r.states) {
        if (s.m.size() != c.theta0.size() || s.v.size() != c.theta0.size())
          throw ImplementationError(count_mismatch("moments", std::min(s.m.size(), s.v.size()), c.theta0.size(), k));
        if (!s.vmax.empty() && s.vmax.size() != c.theta0.size())
          throw ImplementationError(count_mismatch("AMSGrad maxima", s.vmax.size(), c.theta0.size(), k));
        if (!s.compensation.empty() && s.compensation.size() != c.theta0.size())
          throw ImplementationError(count_mismatch("compensations", s.compensation.size(), c.theta0.size(), k));
        if (!s.tensor_steps.empty() && s.tensor_steps.size() != tensors)
          throw ImplementationError(count_mismatch("step counts", s.tensor_steps.size(), tensors, k));
      }
    }
  }
}

bool RunCase::structured() const { return tensors.size() > 1 || !groups.empty() || !grad_given.empty(); }

std::vector<TensorSlice> slices_of(const RunCase& c) {
  if (c.tensors.empty()) return {TensorSlice{0, c.theta0.size(), 0}};
  std::vector<TensorSlice> out;
  std::size_t offset = 0;
  for (const Tensor& t : c.tensors) {
    out.push_back({offset, t.size, t.group});
    offset += t.size;
  }
  return out;
}

std::vector<double> part_of(const std::vector<double>& xs, const TensorSlice& s) {
  return {xs.begin() + static_cast<std::ptrdiff_t>(s.offset), xs.begin() + static_cast<std::ptrdiff_t>(s.offset + s.size)};
}

ImplementationState tensor_state(const ImplementationState& s, const TensorSlice& slice, std::size_t k) {
  ImplementationState out{s.step_of(k), part_of(s.m, slice), part_of(s.v, slice),
                          s.vmax.empty() ? std::vector<double>{} : part_of(s.vmax, slice), {},
                          s.compensation.empty() ? std::vector<double>{} : part_of(s.compensation, slice)};
  // Tensor k's codes and scales, where its state is quantized (one entry per tensor, empty for a float32 one).
  if (k < s.m_quantized.size() && !s.m_quantized[k].empty()) out.m_quantized = {s.m_quantized[k]};
  if (k < s.v_quantized.size() && !s.v_quantized[k].empty()) out.v_quantized = {s.v_quantized[k]};
  return out;
}

void append_tensor_state(ImplementationState& joined, const ImplementationState& tensor) {
  joined.m.insert(joined.m.end(), tensor.m.begin(), tensor.m.end());
  joined.v.insert(joined.v.end(), tensor.v.begin(), tensor.v.end());
  joined.vmax.insert(joined.vmax.end(), tensor.vmax.begin(), tensor.vmax.end());
  joined.compensation.insert(joined.compensation.end(), tensor.compensation.begin(), tensor.compensation.end());
  joined.tensor_steps.push_back(tensor.step);
  joined.step = joined.tensor_steps.front();
  // One entry per tensor once any tensor has one (a small tensor's float32 state has none).
  const auto one_each = [&](std::vector<QuantizedTensor>& all, const std::vector<QuantizedTensor>& own) {
    if (own.empty() && all.empty()) return;
    all.resize(joined.tensor_steps.size() - 1);
    all.push_back(own.empty() ? QuantizedTensor{} : own.front());
  };
  one_each(joined.m_quantized, tensor.m_quantized);
  one_each(joined.v_quantized, tensor.v_quantized);
}

std::string element_position(const std::vector<TensorSlice>& slices, std::size_t k, std::size_t element,
                             const std::string& what) {
  return (slices.size() > 1 ? "tensor " + std::to_string(k) + " " : std::string()) + "element " +
         std::to_string(element - slices[k].offset) + ": " + what;
}

std::string value_position(const std::vector<TensorSlice>& slices, std::size_t k, std::size_t step, std::size_t element,
                           const std::string& what) {
  return "step " + std::to_string(step + 1) + ", " + element_position(slices, k, element, what);
}

bool has_gradient(const RunCase& c, std::size_t t, std::size_t k) { return c.grad_given.empty() || c.grad_given[t][k]; }

Hyperparameters group_hyperparameters(const Hyperparameters& base, const RunCase& c, std::size_t group) {
  Hyperparameters h = base;
  if (group < c.groups.size())
    for (const auto& [name, value] : c.groups[group].hyperparameters) h.get(name) = value;
  return h;
}

void validate_case(const RunCase& c) {
  auto fail = [](const std::string& why) { throw std::invalid_argument("run case: " + why); };
  std::size_t total = 0;
  const std::size_t groups = std::max<std::size_t>(1, c.groups.size());
  for (std::size_t k = 0; k < c.tensors.size(); ++k) {
    total += c.tensors[k].size;
    if (c.tensors[k].group >= groups)
      fail("tensor " + std::to_string(k) + " is in group " + std::to_string(c.tensors[k].group) + " of " +
           std::to_string(groups));
  }
  if (!c.tensors.empty() && total != c.theta0.size())
    fail("the tensors hold " + std::to_string(total) + " elements, theta0 has " + std::to_string(c.theta0.size()));
  for (std::size_t t = 0; t < c.grads.size(); ++t)
    if (c.grads[t].size() != c.theta0.size())
      fail("step " + std::to_string(t + 1) + " has " + std::to_string(c.grads[t].size()) + " gradient values for " +
           std::to_string(c.theta0.size()) + " elements");
  const std::size_t n_tensors = slices_of(c).size();
  if (!c.grad_given.empty()) {
    if (c.grad_given.size() != c.grads.size()) fail("grad_given has " + std::to_string(c.grad_given.size()) + " steps");
    for (const auto& flags : c.grad_given)
      if (flags.size() != n_tensors) fail("grad_given has a step with " + std::to_string(flags.size()) + " flags");
  }
  for (std::size_t g = 0; g < c.groups.size(); ++g)
    for (const auto& [name, value] : c.groups[g].hyperparameters) {
      Hyperparameters h;
      try {
        h.get(name) = value;
        h.validate();
      } catch (const std::invalid_argument& e) {
        fail("group " + std::to_string(g) + ": " + e.what());
      }
    }
  if (c.groups.size() > 1 && !c.lrs.empty()) fail("a learning-rate schedule with several parameter groups");
  if (c.initial_state) {
    const auto& s = *c.initial_state;
    if (s.m.size() != c.theta0.size() || s.v.size() != c.theta0.size())
      fail("the initial state has " + std::to_string(s.m.size()) + " moments for " + std::to_string(c.theta0.size()) +
           " elements");
    if (!s.tensor_steps.empty() && s.tensor_steps.size() != n_tensors)
      fail("the initial state has " + std::to_string(s.tensor_steps.size()) + " step counts for " +
           std::to_string(n_tensors) + " tensors");
  }
}

bool Capabilities::supports_preset(const std::string& p) const { return contains(presets, p); }
bool Capabilities::supports_dtype(const std::string& d) const { return contains(dtypes, d); }
bool Capabilities::supports_option(const std::string& o) const { return contains(options, o); }
bool Capabilities::takes(const std::string& h) const { return contains(hyperparameters, h); }

bool Capabilities::supports(const OptimizerSpec& spec) const {
  return supports_preset(spec.preset) && (!spec.options.amsgrad || supports_option("amsgrad")) &&
         (!spec.options.maximize || supports_option("maximize")) &&
         (spec.options.bias_correction || supports_option("bias_correction"));
}

}  // namespace adamconf
