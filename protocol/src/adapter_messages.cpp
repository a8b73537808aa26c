#include "adamconf/adapter_messages.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "adamconf/bounded_json.hpp"

namespace adamconf {

namespace {

using Json = nlohmann::json;

/// An adapter line as JSON, or `fail(why)`.
template <class Fail>
Json parse_line(const std::string& line, Fail fail) {
  try {
    return parse_bounded_json(quote_non_finite_tokens(line));
  } catch (const JsonTextError& e) {
    const std::string what = e.what();
    fail((what == "not valid JSON" ? std::string("something that is not JSON") : what) +
         (e.where.empty() || what == "not valid JSON" ? "" : " (at " + e.where + ")") + ": '" + excerpt(line, 80) + "'");
  }
  return Json();
}

std::vector<std::string> strings(const Json& j, const char* key, const std::string& where) {
  std::vector<std::string> out;
  if (!j.contains(key)) return out;
  if (!j.at(key).is_array()) throw AdapterFailure("adapter hello: " + where + "\"" + key + "\" is not a list", false);
  for (const auto& x : j.at(key)) {
    if (!x.is_string()) throw AdapterFailure("adapter hello: " + where + "\"" + key + "\" holds a non-string", false);
    out.push_back(x.get<std::string>());
  }
  return out;
}

bool flag(const Json& j, const char* key, bool otherwise, const std::string& where) {
  if (!j.contains(key)) return otherwise;
  if (!j.at(key).is_boolean())
    throw AdapterFailure("adapter hello: " + where + "\"" + key + "\" is " + excerpt(j.at(key)) + ", not true or false", false);
  return j.at(key).get<bool>();
}

/// A JSON value as a double: numbers, hex-float strings, "nan", "inf".
double number(const Json& x, const std::string& where) {
  if (x.is_number()) return x.get<double>();
  if (x.is_string())
    if (const auto v = parse_double(x.get<std::string>())) return *v;
  throw ImplementationError("adapter answered " + where + " with " + excerpt(x) + ", not a number");
}

std::vector<double> numbers(const Json& x, const std::string& where) {
  if (!x.is_array()) throw ImplementationError("adapter answered " + where + " with " + excerpt(x) + ", not a list");
  std::vector<double> out;
  out.reserve(x.size());
  for (const auto& v : x) out.push_back(number(v, where));
  return out;
}

Json state_json(const ImplementationState& s) {
  Json j = {{"step", s.step}, {"m", s.m}, {"v", s.v}, {"vmax", s.vmax}};
  if (!s.compensation.empty()) j["compensation"] = s.compensation;  // kahan-summation
  // A quantized state (one tensor's): its codes and block scales, exactly as the adapter exported them.
  for (const auto& [name, q] : {std::pair{"m", &s.m_quantized}, std::pair{"v", &s.v_quantized}})
    if (!q->empty() && !q->front().empty()) {
      j[std::string(name) + "_codes"] = q->front().codes;
      j[std::string(name) + "_scales"] = q->front().scales;
    }
  return j;
}

/// A JSON list of `what` (a /2 answer's per-tensor lists), or a named error.
const Json& list_of(const Json& j, std::size_t size, const std::string& where, const std::string& what) {
  if (!j.is_array()) throw ImplementationError("adapter answered " + where + " with " + excerpt(j) + ", not a list of " + what);
  if (j.size() != size)
    throw ImplementationError("adapter answered " + std::to_string(j.size()) + " " + what + " for " + std::to_string(size) +
                              " (" + where + ")");
  return j;
}

ImplementationState state_of(const Json& j, const std::string& where) {
  if (!j.is_object()) throw ImplementationError("adapter answered " + where + " with a state that is not an object");
  ImplementationState s;
  if (!j.contains("step") || !j.at("step").is_number())
    throw ImplementationError("adapter answered " + where + " with a state without a step count");
  // An integer is read as one (a double would round 2^53 + 1); a number with a
  // fraction or exponent (a float32 counter's 3.0) as a double.
  const Json& step = j.at("step");
  const double approx = step.get<double>();
  if (!(approx >= 0 && approx <= 9.2e18) || (step.is_number_float() && approx != std::floor(approx)))
    throw ImplementationError("adapter answered " + where + " with a state whose step is " + excerpt(step));
  s.step = step.is_number_unsigned() ? static_cast<std::int64_t>(step.get<std::uint64_t>())
           : step.is_number_integer() ? step.get<std::int64_t>()
                                      : static_cast<std::int64_t>(approx);
  if (!j.contains("m") || !j.contains("v")) throw ImplementationError("adapter answered " + where + " with a state without m and v");
  s.m = numbers(j.at("m"), where + " m");
  s.v = numbers(j.at("v"), where + " v");
  if (j.contains("vmax") && !j.at("vmax").is_null()) s.vmax = numbers(j.at("vmax"), where + " vmax");
  if (j.contains("compensation") && !j.at("compensation").is_null())
    s.compensation = numbers(j.at("compensation"), where + " compensation");
  // A quantized state: m_codes (0..255) and m_scales, v_codes and v_scales, carried exactly.
  for (const auto& [name, into] : {std::pair{"m", &s.m_quantized}, std::pair{"v", &s.v_quantized}}) {
    const std::string codes = std::string(name) + "_codes", scales = std::string(name) + "_scales";
    if (!j.contains(codes) && !j.contains(scales)) continue;
    if (!j.contains(codes) || !j.contains(scales))
      throw ImplementationError("adapter answered " + where + " with " + (j.contains(codes) ? codes : scales) +
                                " but not " + (j.contains(codes) ? scales : codes));
    QuantizedTensor q;
    const Json& list = j.at(codes);
    if (!list.is_array()) throw ImplementationError("adapter answered " + where + " " + codes + " with " + excerpt(list) + ", not a list");
    for (const Json& c : list) {
      if (!c.is_number_integer() || c.get<std::int64_t>() < 0 || c.get<std::int64_t>() > 255)
        throw ImplementationError("adapter answered " + where + " " + codes + " with " + excerpt(c) + ", not a code 0..255");
      q.codes.push_back(static_cast<int>(c.get<std::int64_t>()));
    }
    q.scales = numbers(j.at(scales), where + " " + scales);
    into->push_back(std::move(q));
  }
  return s;
}

}  // namespace

std::string quote_non_finite_tokens(const std::string& line) {
  std::string out;
  out.reserve(line.size());
  bool in_string = false;
  for (std::size_t k = 0; k < line.size(); ++k) {
    const char c = line[k];
    if (in_string) {
      out += c;
      if (c == '\\' && k + 1 < line.size()) out += line[++k];
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    auto token = [&](const char* t) { return line.compare(k, std::strlen(t), t) == 0; };
    if (token("-Infinity")) {
      out += "\"-inf\"";
      k += 8;
    } else if (token("Infinity")) {
      out += "\"inf\"";
      k += 7;
    } else if (token("NaN")) {
      out += "\"nan\"";
      k += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::string hello_request() {
  return std::string(R"({"op": "hello", "protocol": ")") + kProtocol2 + R"(", "protocols": [")" + kProtocol2 +
         R"(", ")" + kProtocol + "\"]}";
}

AdapterInfo parse_hello(const std::string& line, const std::string& default_name) {
  const Json j = parse_line(line, [](const std::string& why) -> void {
    throw AdapterFailure("adapter answered hello with " + why, false);
  });
  // An adapter that cannot start (its optimizer would not import, say) may say why instead of a hello.
  if (j.is_object() && !j.contains("protocol") && j.contains("error") && j.at("error").is_string())
    throw AdapterFailure("the adapter reported: " + excerpt(j.at("error").get<std::string>(), 300), false);
  if (!j.is_object() || !j.contains("protocol") || (j.at("protocol") != kProtocol && j.at("protocol") != kProtocol2))
    throw AdapterFailure("adapter answered hello without \"protocol\": \"" + std::string(kProtocol) + "\" or \"" +
                             kProtocol2 + "\": '" + excerpt(line, 80) + "'",
                         false);
  AdapterInfo info;
  info.protocol = j.at("protocol") == kProtocol2 ? 2 : 1;
  info.name = default_name;
  if (j.contains("name")) {
    if (!j.at("name").is_string()) throw AdapterFailure("adapter hello: \"name\" is not a string", false);
    info.name = excerpt(j.at("name").get<std::string>(), 120);
  }
  if (!j.contains("optimizers") || !j.at("optimizers").is_array() || j.at("optimizers").empty())
    throw AdapterFailure("adapter hello lists no optimizers", false);
  for (std::size_t k = 0; k < j.at("optimizers").size(); ++k) {
    const Json& o = j.at("optimizers")[k];
    const std::string where = "optimizers[" + std::to_string(k) + "]: ";
    AdapterOptimizer opt;
    if (!o.is_object() || !o.contains("name") || !o.at("name").is_string())
      throw AdapterFailure("adapter hello: " + where + "an optimizer without a name", false);
    opt.name = o.at("name").get<std::string>();
    opt.presets = strings(o, "presets", where);
    opt.dtypes = strings(o, "dtypes", where);
    if (o.contains("dtypes_refused")) {  // {"bfloat16": "why"}: what check says when asked for one
      const Json& r = o.at("dtypes_refused");
      if (!r.is_object()) throw AdapterFailure("adapter hello: " + where + "\"dtypes_refused\" is not an object", false);
      for (const auto& [dtype, why] : r.items()) {
        if (!why.is_string())
          throw AdapterFailure("adapter hello: " + where + "\"dtypes_refused\"." + excerpt(dtype, 20) + " is not a string", false);
        opt.dtypes_refused[excerpt(dtype, 20)] = excerpt(why.get<std::string>(), 300);
      }
    }
    std::vector<std::string> hyperparameters = strings(o, "hyperparameters", where);
    if (hyperparameters.empty()) hyperparameters = {"lr", "beta1", "beta2", "eps"};
    try {
      read_hyperparameter_list(hyperparameters, opt);
    } catch (const std::invalid_argument& e) {
      throw AdapterFailure("adapter hello: " + where + "\"hyperparameters\": " + e.what(), false);
    }
    try {
      read_option_list(strings(o, "options", where), opt);
    } catch (const std::invalid_argument& e) {
      throw AdapterFailure("adapter hello: " + where + "\"options\": " + e.what(), false);
    }
    opt.state = flag(o, "state", false, where);
    opt.lr_schedule = flag(o, "lr_schedule", true, where);
    for (const auto& p : opt.presets) {
      try {
        (void)preset_by_name(p);
      } catch (const std::invalid_argument& e) {
        throw AdapterFailure("adapter hello: " + where + "\"presets\": " + e.what(), false);
      }
    }
    info.optimizers.push_back(std::move(opt));
  }
  return info;
}

void read_hyperparameter_list(const std::vector<std::string>& entries, AdapterOptimizer& into) {
  for (const std::string& entry : entries) {
    const auto eq = entry.find('=');
    const std::string name = entry.substr(0, eq);
    auto listed = [](const std::vector<std::string>& list, const std::string& x) {
      return std::find(list.begin(), list.end(), x) != list.end();
    };
    if (!listed(Hyperparameters::names(), name))
      throw std::invalid_argument("unknown hyperparameter '" + excerpt(name, 40) + "' (known: lr beta1 beta2 eps eps_root weight_decay)");
    if (listed(into.hyperparameters, name) || into.fixed.count(name))
      throw std::invalid_argument("'" + name + "' listed twice");
    if (eq == std::string::npos) {
      into.hyperparameters.push_back(name);
      continue;
    }
    const std::string value = entry.substr(eq + 1);
    try {
      (void)parse_decimal<double>(value);
    } catch (const std::invalid_argument&) {
      throw std::invalid_argument("'" + excerpt(entry, 60) + "': the fixed value is not a decimal number");
    }
    into.fixed[name] = value;
  }
}

/// "m_format=float32" (v_format, vmax_format, compensation_format): the tensor's entry in `into`, or nullptr for another entry.
static std::string* state_format_entry(const std::string& entry, StateFormats& into) {
  const auto eq = entry.find("_format=");
  if (eq == std::string::npos) return nullptr;
  const std::optional<Quantity> q = quantity_by_name(std::string_view(entry).substr(0, eq));
  return q ? into.of(*q) : nullptr;
}

/// "m_decay=in-format" (v_decay, direction): the flag of `into` it sets, or
/// nullptr for another entry; throws for a value other than in-format or arithmetic.
static bool* where_computed(const std::string& entry, StateFormats& into) {
  const auto eq = entry.find('=');
  if (eq == std::string::npos) return nullptr;
  const std::string key = entry.substr(0, eq), where = entry.substr(eq + 1);
  bool* flag = key == "m_decay"     ? &into.m_decay_in_format
               : key == "v_decay"   ? &into.v_decay_in_format
               : key == "direction" ? &into.direction_in_format
                                    : nullptr;
  if (flag && where != "in-format" && where != "arithmetic")
    throw std::invalid_argument(key + " '" + excerpt(where, 40) + "': expected in-format or arithmetic");
  return flag;
}

void read_option_list(const std::vector<std::string>& entries, AdapterOptimizer& into) {
  for (const std::string& entry : entries) {
    std::string* format = state_format_entry(entry, into.state_formats);
    if (format)
      *format = state_format_name(entry.substr(entry.find('=') + 1), entry.substr(0, entry.find('=')));
    else if (entry.rfind("step_counter=", 0) == 0)
      into.step_counter = step_counter_by_name(entry.substr(13), "step_counter");
    else if (bool* in_format = where_computed(entry, into.state_formats))
      *in_format = entry.substr(entry.find('=') + 1) == "in-format";
    else if (entry.rfind("subnormals=", 0) == 0)
      into.subnormals = subnormals_by_name(entry.substr(11), "subnormals");
    else if (entry.rfind("scalars=", 0) == 0)
      into.scalars = scalars_by_name(entry.substr(8), "scalars");
    else if (entry.rfind("precision=", 0) == 0)
      into.precision = precision_by_name(entry.substr(10), "precision");
    else if (entry.rfind("round_trip=", 0) == 0) {
      const std::string how = entry.substr(11);
      if (how != "bitwise" && how != "within-bound")
        throw std::invalid_argument("round_trip '" + excerpt(how, 40) + "': expected bitwise or within-bound");
      into.bitwise_round_trip = how == "bitwise";
    }
    else
      into.options.push_back(entry);
  }
}

namespace {
Json hyperparameters_json(const Hyperparameters& h, bool exact) {
  Json out = Json::object();
  for (const auto& name : Hyperparameters::names()) {
    if (exact) out[name] = h.get(name);
    else out[name] = parse_decimal<double>(h.get(name));
  }
  return out;
}

/// A case in protocol /2: values per tensor, every group's full hyperparameters.
Json structured_case_json(const Setup& setup, const RunCase& c) {
  const auto slices = slices_of(c);
  Json tensors = Json::array();
  for (const auto& s : slices) tensors.push_back({{"theta0", part_of(c.theta0, s)}, {"group", s.group}});
  Json grads = Json::array();
  for (std::size_t t = 0; t < c.grads.size(); ++t) {
    Json step = Json::array();
    for (std::size_t k = 0; k < slices.size(); ++k)
      step.push_back(has_gradient(c, t, k) ? Json(part_of(c.grads[t], slices[k])) : Json(nullptr));
    grads.push_back(std::move(step));
  }
  Json groups = Json::array();
  for (std::size_t g = 0; g < std::max<std::size_t>(1, c.groups.size()); ++g) {
    const Hyperparameters h = group_hyperparameters(setup.spec.hyper, c, g);
    groups.push_back({{"hyperparameters", hyperparameters_json(h, false)}, {"hyperparameters_exact", hyperparameters_json(h, true)}});
  }
  Json j = {{"tensors", tensors}, {"grads", grads}, {"groups", groups}, {"record_states", c.record_states}};
  if (c.rounding_seed != 0) j["rounding_seed"] = c.rounding_seed;
  if (!c.lrs.empty()) {
    Json lrs = Json::array();
    for (const auto& lr : c.lrs) lrs.push_back(parse_decimal<double>(lr));
    j["lrs"] = lrs;
  }
  if (c.initial_state) {
    const ImplementationState& s = *c.initial_state;
    Json states = Json::array();
    for (std::size_t k = 0; k < slices.size(); ++k) states.push_back(state_json(tensor_state(s, slices[k], k)));
    j["state"] = states;
  }
  return j;
}

/// A /2 result: theta and states per step, per tensor, joined into flat vectors.
RunResult structured_result(const Json& r, const RunCase& c, const std::string& where) {
  const auto slices = slices_of(c);
  RunResult out;
  // theta, or theta_copy: per step, per tensor, joined.
  auto per_step = [&](const char* field) {
    std::vector<std::vector<double>> joined;
    const Json& steps = list_of(r.at(field), c.grads.size(), where + " " + field, "steps");
    for (const Json& step : steps) {
      const Json& tensors = list_of(step, slices.size(), where + " " + field, "tensors");
      std::vector<double> theta;
      theta.reserve(c.theta0.size());
      for (std::size_t k = 0; k < slices.size(); ++k) {
        const auto values = numbers(tensors[k], where + " " + field);
        if (values.size() != slices[k].size)
          throw ImplementationError("adapter answered " + std::to_string(values.size()) + " parameters for " +
                                    std::to_string(slices[k].size) + " (" + where + " " + field + ", tensor " +
                                    std::to_string(k) + ")");
        theta.insert(theta.end(), values.begin(), values.end());
      }
      joined.push_back(std::move(theta));
    }
    return joined;
  };
  out.theta = per_step("theta");
  if (r.contains("theta_copy")) out.theta_copy = per_step("theta_copy");
  if (c.record_states) {
    if (!r.contains("states")) throw ImplementationError("adapter answered " + where + " without \"states\"");
    const Json& states = list_of(r.at("states"), c.grads.size(), where + " states", "steps");
    for (const Json& step : states) {
      const Json& tensors = list_of(step, slices.size(), where + " states", "tensor states");
      ImplementationState joined;
      for (std::size_t k = 0; k < slices.size(); ++k) {
        const ImplementationState s = state_of(tensors[k], where + " tensor " + std::to_string(k));
        if (s.m.size() != slices[k].size || s.v.size() != slices[k].size ||
            (!s.vmax.empty() && s.vmax.size() != slices[k].size) ||
            (!s.compensation.empty() && s.compensation.size() != slices[k].size))
          throw ImplementationError("adapter answered a state of " + std::to_string(std::min(s.m.size(), s.v.size())) +
                                    " moments for " + std::to_string(slices[k].size) + " elements (" + where +
                                    ", tensor " + std::to_string(k) + ")");
        append_tensor_state(joined, s);
      }
      if (!joined.vmax.empty() && joined.vmax.size() != joined.m.size())
        throw ImplementationError("adapter answered AMSGrad maxima for some tensors only (" + where + ")");
      if (!joined.compensation.empty() && joined.compensation.size() != joined.m.size())
        throw ImplementationError("adapter answered compensations for some tensors only (" + where + ")");
      out.states.push_back(std::move(joined));
    }
  }
  return out;
}
}  // namespace

namespace {

/// Requests carry finite numbers only (docs/protocol.md): JSON has no NaN, and
/// nlohmann writes one as null, which an adapter would read as "no value".
void require_finite(const Json& x, const std::string& where) {
  if (x.is_number_float() && !std::isfinite(x.get<double>()))
    throw std::logic_error("a request to the adapter would carry a non-finite number at " + where);
  if (x.is_array())
    for (std::size_t i = 0; i < x.size(); ++i) require_finite(x[i], where + "[" + std::to_string(i) + "]");
  if (x.is_object())
    for (const auto& [key, value] : x.items()) require_finite(value, where + "." + key);
}

}  // namespace

std::string run_request(long long id, const std::string& optimizer, const Setup& setup, const std::vector<RunCase>& cases,
                        int protocol) {
  Json request;
  request["op"] = "run";
  request["id"] = id;
  request["optimizer"] = optimizer;
  request["dtype"] = setup.dtype.name;
  if (setup.rules().narrow()) request["precision"] = to_string(setup.spec.convention.precision);
  // Only where a state tensor has a format of its own: a request without it stores m, v, vmax as theta.
  if (const StateFormats& f = setup.spec.convention.state_formats; f.any()) {
    Json formats = Json::object();
    const PrecisionRules rules = setup.rules();
    for (const Quantity q : kStoredFormats)
      if (q != Quantity::compensation || rules.kahan_summation()) formats[name(q)] = rules.format_of(q).name;
    request["state_formats"] = formats;
  }
  request["hyperparameters"] = hyperparameters_json(setup.spec.hyper, false);
  request["hyperparameters_exact"] = hyperparameters_json(setup.spec.hyper, true);
  request["options"] = {{"amsgrad", setup.spec.options.amsgrad},
                        {"maximize", setup.spec.options.maximize},
                        {"bias_correction", setup.spec.options.bias_correction}};
  Json list = Json::array();
  for (const RunCase& c : cases) {
    if (protocol >= 2) {
      list.push_back(structured_case_json(setup, c));
      continue;
    }
    if (c.structured()) throw std::invalid_argument("a case of several tensors, groups or no-grad steps needs protocol /2");
    Json j = {{"theta0", c.theta0}, {"grads", c.grads}, {"record_states", c.record_states}};
    if (c.rounding_seed != 0) j["rounding_seed"] = c.rounding_seed;
    if (!c.lrs.empty()) {
      Json lrs = Json::array();
      for (const auto& lr : c.lrs) lrs.push_back(parse_decimal<double>(lr));
      j["lrs"] = lrs;
    }
    if (c.initial_state) j["state"] = state_json(*c.initial_state);
    list.push_back(std::move(j));
  }
  require_finite(list, "cases");
  request["cases"] = list;
  return request.dump();
}

std::vector<RunResult> parse_run_answer(const std::string& line, long long id) { return parse_run_answer(line, id, {}, 1); }

std::vector<RunResult> parse_run_answer(const std::string& line, long long id, const std::vector<RunCase>& cases,
                                        int protocol) {
  const std::string what = "request " + std::to_string(id);
  const Json j = parse_line(line, [&](const std::string& why) -> void {
    throw ImplementationError("adapter answered " + what + " with " + why);
  });
  if (!j.is_object()) throw ImplementationError("adapter answered " + what + " with " + excerpt(line, 80) + ", not an object");
  if (j.contains("error"))
    throw ImplementationRefusal("adapter reported: " + (j.at("error").is_string() ? excerpt(j.at("error").get<std::string>(), 200)
                                                                                   : excerpt(j.at("error"), 200)));
  if (!j.contains("id") || j.at("id") != id)
    throw ImplementationError("adapter answered " + what + " with id " + (j.contains("id") ? excerpt(j.at("id")) : "none"));
  if (!j.contains("results") || !j.at("results").is_array())
    throw ImplementationError("adapter answered " + what + " without a \"results\" list");
  std::vector<RunResult> results;
  for (std::size_t k = 0; k < j.at("results").size(); ++k) {
    const Json& r = j.at("results")[k];
    const std::string where = what + " case " + std::to_string(k);
    if (!r.is_object() || !r.contains("theta") || !r.at("theta").is_array())
      throw ImplementationError("adapter answered " + where + " without a \"theta\" list");
    if (protocol >= 2 && k < cases.size()) {
      results.push_back(structured_result(r, cases[k], where));
      continue;
    }
    RunResult out;
    for (const auto& step : r.at("theta")) out.theta.push_back(numbers(step, where + " theta"));
    if (r.contains("theta_copy")) {
      if (!r.at("theta_copy").is_array())
        throw ImplementationError("adapter answered " + where + " with \"theta_copy\" that is not a list");
      for (const auto& step : r.at("theta_copy")) out.theta_copy.push_back(numbers(step, where + " theta_copy"));
    }
    if (r.contains("states")) {
      if (!r.at("states").is_array()) throw ImplementationError("adapter answered " + where + " with \"states\" that is not a list");
      for (const auto& s : r.at("states")) out.states.push_back(state_of(s, where));
    }
    results.push_back(std::move(out));
  }
  return results;
}

void AdapterImplementation::select(const std::string& optimizer) {
  for (std::size_t k = 0; k < info_.optimizers.size(); ++k)
    if (info_.optimizers[k].name == optimizer) {
      selected_ = k;
      return;
    }
  std::string known;
  for (const auto& o : info_.optimizers) known += (known.empty() ? "" : ", ") + o.name;
  throw std::invalid_argument("the adapter offers no optimizer '" + optimizer + "' (it offers: " + known + ")");
}

const AdapterOptimizer& AdapterImplementation::selected() const { return info_.optimizers.at(selected_); }

const AdapterOptimizer* AdapterImplementation::optimizer_for(const std::string& preset) const {
  for (const auto& o : info_.optimizers)
    if (std::find(o.presets.begin(), o.presets.end(), preset) != o.presets.end()) return &o;
  return nullptr;
}

std::string AdapterImplementation::name() const { return selected().name + " (" + info_.name + ")"; }

Capabilities AdapterImplementation::capabilities() const {
  const AdapterOptimizer& o = selected();
  Capabilities c;
  c.presets = o.presets;
  c.dtypes = o.dtypes;
  c.dtypes_refused = o.dtypes_refused;
  c.options = o.options;
  c.state_io = o.state;
  c.lr_schedule = o.lr_schedule;
  c.hyperparameters = o.hyperparameters;
  c.fixed = o.fixed;
  c.step_counter = o.step_counter;
  c.subnormals = o.subnormals;
  c.scalars = o.scalars;
  c.precision = o.precision;
  c.state_formats = o.state_formats;
  c.bitwise_round_trip = o.bitwise_round_trip;
  c.tensors = info_.protocol >= 2;  // structured cases are protocol /2 (a library speaks it)
  return c;
}

}  // namespace adamconf
