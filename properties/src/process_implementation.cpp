#include <algorithm>
#include <nlohmann/json.hpp>

#include "adamconf/process_implementation.hpp"

namespace adamconf {

namespace {

using Json = nlohmann::json;

std::string excerpt(const std::string& s) {
  std::string out = s.substr(0, 80);
  for (char& c : out)
    if (c < 32) c = ' ';
  return out + (s.size() > 80 ? "..." : "");
}

std::vector<std::string> strings(const Json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.contains(key)) return out;
  if (!j.at(key).is_array()) throw AdapterFailure(std::string("adapter hello: \"") + key + "\" is not a list", false);
  for (const auto& x : j.at(key)) {
    if (!x.is_string()) throw AdapterFailure(std::string("adapter hello: \"") + key + "\" holds a non-string", false);
    out.push_back(x.get<std::string>());
  }
  return out;
}

/// A JSON value as a double: numbers, hex-float strings, "nan", "inf".
double number(const Json& x, const std::string& where) {
  if (x.is_number()) return x.get<double>();
  if (x.is_string())
    if (const auto v = parse_double(x.get<std::string>())) return *v;
  throw ImplementationError("adapter answered " + where + " with " + excerpt(x.dump()) + ", not a number");
}

std::vector<double> numbers(const Json& x, const std::string& where) {
  if (!x.is_array()) throw ImplementationError("adapter answered " + where + " with " + excerpt(x.dump()) + ", not a list");
  std::vector<double> out;
  out.reserve(x.size());
  for (const auto& v : x) out.push_back(number(v, where));
  return out;
}

Json state_json(const ImplementationState& s) {
  return {{"step", s.step}, {"m", s.m}, {"v", s.v}, {"vmax", s.vmax}};
}

ImplementationState state_of(const Json& j, const std::string& where) {
  if (!j.is_object()) throw ImplementationError("adapter answered " + where + " with a state that is not an object");
  ImplementationState s;
  if (!j.contains("step") || !j.at("step").is_number())
    throw ImplementationError("adapter answered " + where + " with a state without a step count");
  s.step = static_cast<std::int64_t>(j.at("step").get<double>());
  if (!j.contains("m") || !j.contains("v")) throw ImplementationError("adapter answered " + where + " with a state without m and v");
  s.m = numbers(j.at("m"), where + " m");
  s.v = numbers(j.at("v"), where + " v");
  if (j.contains("vmax") && !j.at("vmax").is_null()) s.vmax = numbers(j.at("vmax"), where + " vmax");
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

ProcessImplementation::ProcessImplementation(std::string command, double timeout_seconds)
    : command_(std::move(command)), timeout_(timeout_seconds) {
  start();
}

// The adapter exits at end of input; ~AdapterProcess closes its stdin and, if
// it lingers, kills its process group.
ProcessImplementation::~ProcessImplementation() = default;

void ProcessImplementation::start() {
  process_ = std::make_unique<AdapterProcess>(command_, timeout_);
  const Json hello = {{"op", "hello"}, {"protocol", kProtocol}};
  const std::string answer = exchange(hello.dump(), "hello");
  Json j;
  try {
    j = Json::parse(quote_non_finite_tokens(answer));
  } catch (const Json::parse_error&) {
    throw AdapterFailure("adapter answered hello with something that is not JSON: '" + excerpt(answer) + "'", false);
  }
  if (!j.is_object() || !j.contains("protocol") || j.at("protocol") != kProtocol)
    throw AdapterFailure("adapter answered hello without \"protocol\": \"" + std::string(kProtocol) + "\": '" +
                             excerpt(answer) + "'",
                         false);
  AdapterInfo info;
  info.name = j.value("name", command_);
  if (!j.contains("optimizers") || !j.at("optimizers").is_array() || j.at("optimizers").empty())
    throw AdapterFailure("adapter hello lists no optimizers", false);
  for (const auto& o : j.at("optimizers")) {
    AdapterOptimizer opt;
    if (!o.is_object() || !o.contains("name") || !o.at("name").is_string())
      throw AdapterFailure("adapter hello: an optimizer without a name", false);
    opt.name = o.at("name").get<std::string>();
    opt.presets = strings(o, "presets");
    opt.dtypes = strings(o, "dtypes");
    opt.hyperparameters = strings(o, "hyperparameters");
    if (opt.hyperparameters.empty()) opt.hyperparameters = {"lr", "beta1", "beta2", "eps"};
    opt.options = strings(o, "options");
    opt.state = o.value("state", false);
    opt.lr_schedule = o.value("lr_schedule", true);
    for (const auto& p : opt.presets) (void)preset_by_name(p);  // an unknown name is the adapter's error
    info.optimizers.push_back(std::move(opt));
  }
  const std::string previous = info_.optimizers.empty() ? "" : selected().name;
  info_ = std::move(info);
  selected_ = 0;
  if (!previous.empty()) select(previous);
}

std::string ProcessImplementation::exchange(const std::string& request, const std::string& what) {
  try {
    return process_->exchange(request, what);
  } catch (const AdapterFailure& e) {
    if (e.hung) hung_ = true;
    process_.reset();
    throw;
  }
}

void ProcessImplementation::select(const std::string& optimizer) {
  for (std::size_t k = 0; k < info_.optimizers.size(); ++k)
    if (info_.optimizers[k].name == optimizer) {
      selected_ = k;
      return;
    }
  std::string known;
  for (const auto& o : info_.optimizers) known += (known.empty() ? "" : ", ") + o.name;
  throw std::invalid_argument("the adapter offers no optimizer '" + optimizer + "' (it offers: " + known + ")");
}

const AdapterOptimizer& ProcessImplementation::selected() const { return info_.optimizers.at(selected_); }

const AdapterOptimizer* ProcessImplementation::optimizer_for(const std::string& preset) const {
  for (const auto& o : info_.optimizers)
    if (std::find(o.presets.begin(), o.presets.end(), preset) != o.presets.end()) return &o;
  return nullptr;
}

std::string ProcessImplementation::name() const { return selected().name + " (" + info_.name + ")"; }

Capabilities ProcessImplementation::capabilities() const {
  const AdapterOptimizer& o = selected();
  Capabilities c;
  c.presets = o.presets;
  c.dtypes = o.dtypes;
  c.options = o.options;
  c.state_io = o.state;
  c.lr_schedule = o.lr_schedule;
  c.hyperparameters = o.hyperparameters;
  return c;
}

std::vector<RunResult> ProcessImplementation::run(const Setup& setup, const std::vector<RunCase>& cases) {
  if (hung_) throw AdapterFailure("the adapter stopped answering earlier; it is not restarted", true);
  if (!process_) start();  // after a crash: a fresh process
  const long long id = next_id_++;
  Json request;
  request["op"] = "run";
  request["id"] = id;
  request["optimizer"] = selected().name;
  request["dtype"] = setup.dtype.name;
  Json hyper = Json::object(), exact = Json::object();
  for (const auto& name : Hyperparameters::names()) {
    hyper[name] = parse_decimal<double>(setup.spec.hyper.get(name));
    exact[name] = setup.spec.hyper.get(name);
  }
  request["hyperparameters"] = hyper;
  request["hyperparameters_exact"] = exact;
  request["options"] = {{"amsgrad", setup.spec.options.amsgrad},
                        {"maximize", setup.spec.options.maximize},
                        {"bias_correction", setup.spec.options.bias_correction}};
  Json list = Json::array();
  for (const RunCase& c : cases) {
    Json j = {{"theta0", c.theta0}, {"grads", c.grads}, {"record_states", c.record_states}};
    if (!c.lrs.empty()) {
      Json lrs = Json::array();
      for (const auto& lr : c.lrs) lrs.push_back(parse_decimal<double>(lr));
      j["lrs"] = lrs;
    }
    if (c.initial_state) j["state"] = state_json(*c.initial_state);
    list.push_back(std::move(j));
  }
  request["cases"] = list;
  const std::string what = "request " + std::to_string(id);
  const std::string answer = exchange(request.dump(), what);
  Json j;
  try {
    j = Json::parse(quote_non_finite_tokens(answer));
  } catch (const Json::parse_error&) {
    throw ImplementationError("adapter answered " + what + " with something that is not JSON: '" + excerpt(answer) + "'");
  }
  if (!j.is_object()) throw ImplementationError("adapter answered " + what + " with " + excerpt(answer) + ", not an object");
  if (j.contains("error")) throw ImplementationError("adapter reported: " + excerpt(j.at("error").dump()));
  if (!j.contains("id") || j.at("id") != id)
    throw ImplementationError("adapter answered " + what + " with id " + (j.contains("id") ? j.at("id").dump() : "none"));
  if (!j.contains("results") || !j.at("results").is_array())
    throw ImplementationError("adapter answered " + what + " without a \"results\" list");
  std::vector<RunResult> results;
  for (std::size_t k = 0; k < j.at("results").size(); ++k) {
    const Json& r = j.at("results")[k];
    const std::string where = what + " case " + std::to_string(k);
    if (!r.is_object() || !r.contains("theta") || !r.at("theta").is_array())
      throw ImplementationError("adapter answered " + where + " without a \"theta\" list");
    RunResult out;
    for (const auto& step : r.at("theta")) out.theta.push_back(numbers(step, where + " theta"));
    if (r.contains("states") && r.at("states").is_array())
      for (const auto& s : r.at("states")) out.states.push_back(state_of(s, where));
    results.push_back(std::move(out));
  }
  return results;
}

}  // namespace adamconf
