#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>

#include "adamconf/audit_manifest.hpp"
#include "adamconf/bounded_json.hpp"
#include "adamconf/excerpt.hpp"
#include "adamconf/hashing.hpp"

namespace adamconf::audit {

namespace {

constexpr const char* kFields[] = {"adamconf_audit", "preset",  "dtype",  "options", "hyperparameters",
                                   "groups",         "before",  "after",  "tensors", "recorded_by"};
constexpr const char* kOptions[] = {"amsgrad",  "maximize", "bias_correction", "precision", "step_counter",
                                    "subnormals", "scalars", "m_format",       "v_format",  "vmax_format"};

/// name -> decimal text; a number is refused (its decimal text is not the value the optimizer held).
std::map<std::string, std::string> decimals(const nlohmann::json& j, const std::string& where,
                                            const std::function<void(const std::string&)>& fail) {
  if (!j.is_object()) fail(where + " is " + excerpt(j) + ", not an object of name: \"decimal\"");
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string())
      fail(where + "." + excerpt(k, 40) + " is " + excerpt(v) +
           ": give the value as decimal text (\"0.001\"), exactly as the optimizer holds it");
    out[k] = v.get<std::string>();
  }
  return out;
}

}  // namespace

Manifest parse_manifest(const std::string& text, const std::string& path) {
  auto fail = [&](const std::string& what) -> void { throw InputError(path + ": " + what); };
  nlohmann::json j;
  try {
    j = parse_bounded_json(text, {.max_bytes = std::size_t{64} << 20, .max_depth = 8});
  } catch (const JsonTextError& e) {
    fail(std::string("not JSON: ") + e.what() + (e.where.empty() ? "" : " at " + e.where));
  }
  if (!j.is_object()) fail("is " + excerpt(j) + ", not a JSON object");
  for (const auto& [k, v] : j.items())
    if (std::find(std::begin(kFields), std::end(kFields), k) == std::end(kFields))
      fail("unknown field '" + excerpt(k, 40) + "'");
  if (!j.contains("adamconf_audit") || j["adamconf_audit"] != 1)
    fail("no \"adamconf_audit\": 1 (the manifest format's version); see docs/audit.md");
  auto text_field = [&](const char* name) -> std::string {
    if (!j.contains(name) || !j[name].is_string()) fail(std::string("no \"") + name + "\" string");
    return j[name].get<std::string>();
  };
  Manifest m{.path = path, .digest = std::to_string(fnv1a(text))};
  const std::string preset = text_field("preset"), dtype = text_field("dtype");
  PresetOptions options;
  std::map<std::string, std::string> overrides;
  try {
    const auto format = format_by_name(dtype);
    if (!format) fail("dtype '" + excerpt(dtype, 40) + "': expected bfloat16, float16, float32 or float64");
    m.setup.dtype = *format;
    if (j.contains("options")) {
      const auto& o = j["options"];
      if (!o.is_object()) fail("options is " + excerpt(o) + ", not an object");
      for (const auto& [k, v] : o.items()) {
        if (std::find(std::begin(kOptions), std::end(kOptions), k) == std::end(kOptions))
          fail("options: unknown option '" + excerpt(k, 40) + "'");
        const bool flag = k == "amsgrad" || k == "maximize" || k == "bias_correction";
        if (flag != v.is_boolean() || (!flag && !v.is_string()))
          fail("options." + k + " is " + excerpt(v) + (flag ? ", not true or false" : ", not a name"));
      }
      auto name_of = [&](const char* k) { return o.contains(k) ? o[k].get<std::string>() : std::string(); };
      options.amsgrad = o.value("amsgrad", false);
      options.maximize = o.value("maximize", false);
      options.bias_correction = o.value("bias_correction", true);
      if (o.contains("precision")) options.precision = precision_by_name(name_of("precision"), "options.precision");
      if (o.contains("step_counter")) options.step_counter = step_counter_by_name(name_of("step_counter"), "options.step_counter");
      if (o.contains("subnormals")) options.subnormals = subnormals_by_name(name_of("subnormals"), "options.subnormals");
      if (o.contains("scalars")) options.scalars = scalars_by_name(name_of("scalars"), "options.scalars");
      for (const char* k : {"m_format", "v_format", "vmax_format"})
        if (o.contains(k)) {
          std::string& f = k[0] == 'm' ? options.state_formats.m : k[1] == '_' ? options.state_formats.v : options.state_formats.vmax;
          f = state_format_name(name_of(k), std::string("options.") + k);
        }
    }
    if (!options.state_formats.any()) options.state_formats = preset_by_name(preset).state_formats;
    if (j.contains("hyperparameters")) overrides = decimals(j["hyperparameters"], "hyperparameters", fail);
    m.setup.spec = make_spec(preset, options, overrides);
  } catch (const std::invalid_argument& e) {
    fail(e.what());
  }
  try {
    m.setup.rules().validate_state_formats();
  } catch (const std::invalid_argument& e) {
    fail(e.what());
  }
  if (m.setup.spec.convention.adam().amsgrad != AmsgradVariant::none && m.setup.rules().any_quantized())
    fail(std::string("options.amsgrad: ") + kQuantizedAmsgradNotModelled);
  if (j.contains("groups")) {
    if (!j["groups"].is_array()) fail("groups is " + excerpt(j["groups"]) + ", not an array");
    for (std::size_t g = 0; g < j["groups"].size(); ++g) {
      const std::string where = "groups[" + std::to_string(g) + "]";
      ParameterGroup group{.hyperparameters = decimals(j["groups"][g], where, fail)};
      Hyperparameters h = m.setup.spec.hyper;
      try {
        for (const auto& [k, v] : group.hyperparameters) h.get(k) = v;
        h.validate();
      } catch (const std::invalid_argument& e) {
        fail(where + ": " + e.what());
      }
      m.groups.push_back(std::move(group));
    }
  }
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  for (auto [field, out] : {std::pair{"before", &m.before}, std::pair{"after", &m.after}}) {
    const std::string file = text_field(field);
    if (file.empty()) fail(std::string(field) + " is empty");
    *out = std::filesystem::path(file).is_absolute() ? file : (folder / file).string();
  }
  if (j.contains("tensors")) {
    const auto& ts = j["tensors"];
    if (!ts.is_array()) fail("tensors is " + excerpt(ts) + ", not an array");
    std::map<std::string, std::size_t> seen;
    for (std::size_t k = 0; k < ts.size(); ++k) {
      const std::string where = "tensors[" + std::to_string(k) + "]";
      const auto& t = ts[k];
      if (!t.is_object() || !t.contains("name") || !t["name"].is_string())
        fail(where + " is " + excerpt(t) + ", not {\"name\": ..., \"group\": ...}");
      for (const auto& [key, v] : t.items())
        if (key != "name" && key != "group" && key != "dtype") fail(where + ": unknown field '" + excerpt(key, 40) + "'");
      AuditTensor a{.name = t["name"].get<std::string>()};
      if (t.contains("dtype")) {  // a tensor of another dtype than the manifest's, under the same convention
        if (!t["dtype"].is_string() || !format_by_name(t["dtype"].get<std::string>()))
          fail(where + ".dtype is " + excerpt(t["dtype"]) + ": expected \"bfloat16\", \"float16\", \"float32\" or \"float64\"");
        a.dtype = t["dtype"].get<std::string>();
        try {
          m.setup_of(a).rules().validate_state_formats();
        } catch (const std::invalid_argument& e) {
          fail(where + " ('" + excerpt(a.name, 60) + "', " + a.dtype + "): " + e.what());
        }
      }
      if (t.contains("group")) {
        if (!t["group"].is_number_unsigned()) fail(where + ".group is " + excerpt(t["group"]) + ", not a group index");
        a.group = t["group"].get<std::size_t>();
        if (a.group >= std::max<std::size_t>(1, m.groups.size()))
          fail(where + " ('" + excerpt(a.name, 60) + "') is in group " + std::to_string(a.group) + "; the manifest has " +
               std::to_string(std::max<std::size_t>(1, m.groups.size())));
      }
      if (const auto [it, fresh] = seen.emplace(a.name, k); !fresh)
        fail(where + ": tensor '" + excerpt(a.name, 60) + "' is listed twice (also tensors[" + std::to_string(it->second) + "])");
      m.tensors.push_back(std::move(a));
    }
  }
  return m;
}

Setup Manifest::setup_of(const AuditTensor& t) const {
  Setup s = setup;
  if (!t.dtype.empty()) s.dtype = *format_by_name(t.dtype);
  return s;
}

Manifest load_manifest(const std::string& path) {
  std::string text;
  try {
    text = read_bounded_file(path, std::size_t{64} << 20);
  } catch (const std::runtime_error& e) {
    throw InputError(e.what());
  }
  return parse_manifest(text, path);
}

}  // namespace adamconf::audit
