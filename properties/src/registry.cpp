// Every property, in report order, and what is looked up in them: by id, and
// the option variants `check` runs them again under.
#include <stdexcept>

#include "adamconf/property.hpp"
#include "property_helpers.hpp"

namespace adamconf {

const std::vector<Property>& all_properties() {
  static const std::vector<Property> all = [] {
    std::vector<Property> out;
    for (auto group : {detail::agreement_properties, detail::closed_form_properties, detail::invariance_properties,
                       detail::equivalence_properties, detail::structure_properties, detail::precision_properties})
      for (auto& p : group()) out.push_back(std::move(p));
    return out;
  }();
  return all;
}

std::string to_string(PropertyResult::Status s) {
  switch (s) {
    case PropertyResult::Status::passed: return "pass";
    case PropertyResult::Status::failed: return "FAIL";
    case PropertyResult::Status::skipped: return "skip";
    case PropertyResult::Status::adapter_error: return "ERROR";
  }
  return "?";
}

const Property& property_by_id(const std::string& id) {
  for (const auto& p : all_properties())
    if (p.id == id) return p;
  std::string known;
  for (const auto& p : all_properties()) known += (known.empty() ? "" : " ") + p.id;
  throw std::invalid_argument("unknown property '" + id + "' (known: " + known + ")");
}

std::vector<OptionVariant> option_variants(const std::string& preset_name, const PresetOptions& given,
                                           const Capabilities& capabilities) {
  // Every option the adapter offers is checked by default, not only when the
  // user thinks of --amsgrad: a max taken over the wrong quantity, or not
  // stored, passed a plain check before.
  std::vector<OptionVariant> variants{{"", given}};
  const Preset& preset = preset_by_name(preset_name);
  auto with = [&](auto change) {
    PresetOptions o = given;  // the numerics choices (counter, precision) stay as given
    change(o);
    return o;
  };
  if (!given.amsgrad && preset.amsgrad != AmsgradVariant::none && capabilities.supports_option("amsgrad"))
    variants.push_back({"amsgrad", with([](PresetOptions& o) { o.amsgrad = true; })});
  if (!given.maximize && preset.offers_maximize && capabilities.supports_option("maximize"))
    variants.push_back({"maximize", with([](PresetOptions& o) { o.maximize = true; })});
  if (given.bias_correction && preset.offers_bias_correction_switch && capabilities.supports_option("bias_correction"))
    variants.push_back({"no-bias-correction", with([](PresetOptions& o) { o.bias_correction = false; })});
  return variants;
}

}  // namespace adamconf
