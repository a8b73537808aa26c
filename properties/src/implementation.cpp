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
      }
    }
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
