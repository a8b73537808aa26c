#include "adamconf/implementation.hpp"

#include <algorithm>

namespace adamconf {

namespace {
bool contains(const std::vector<std::string>& list, const std::string& x) {
  return std::find(list.begin(), list.end(), x) != list.end();
}
}  // namespace

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
