// Reading golden and results files back, validating every field: a malformed
// file gives FileError("<file>: <field>: <problem>"), never a crash.
#include <set>

#include "adamconf/bounded_json.hpp"
#include "adamconf/golden.hpp"
#include "adamconf/precision_rules.hpp"

namespace adamconf::golden {

namespace {
using Json = nlohmann::json;

/// A JSON value with the path that leads to it, for error messages.
struct Node {
  const Json& json;
  std::string path;
  const std::string& file;

  [[noreturn]] void fail(const std::string& problem) const {
    throw FileError(file + ": " + (path.empty() ? "top level" : path) + ": " + problem);
  }
  Node operator[](const std::string& key) const {
    if (!json.is_object()) fail("expected an object");
    const auto it = json.find(key);
    if (it == json.end()) Node{json, path.empty() ? key : path + "." + key, file}.fail("missing");
    return {*it, path.empty() ? key : path + "." + key, file};
  }
  Node operator[](std::size_t i) const { return {json.at(i), path + "[" + std::to_string(i) + "]", file}; }
  bool has(const std::string& key) const { return json.is_object() && json.contains(key); }
  std::size_t size(std::size_t expected = SIZE_MAX) const {
    if (!json.is_array()) fail("expected an array");
    if (expected != SIZE_MAX && json.size() != expected)
      fail("has " + std::to_string(json.size()) + " entries, expected " + std::to_string(expected));
    return json.size();
  }
  std::string text() const {
    if (!json.is_string()) fail("expected a string, got " + excerpt(json));
    return json.get<std::string>();
  }
  bool boolean() const {
    if (!json.is_boolean()) fail("expected true or false, got " + excerpt(json));
    return json.get<bool>();
  }
  long long integer(long long lo, long long hi) const {
    if (!json.is_number_integer()) fail("expected an integer, got " + excerpt(json));
    const long long v = json.get<long long>();
    if (v < lo || v > hi) fail("expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + excerpt(json));
    return v;
  }
  /// A hex float (or decimal) string, or a number; "nan"/"inf" strings.
  double number() const {
    if (json.is_number()) return json.get<double>();
    if (json.is_string()) {
      const std::string s = json.get<std::string>();
      if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
      if (auto v = parse_double(s)) return *v;
    }
    fail("expected a number or a hex float string, got " + excerpt(json));
  }
  /// An exact decimal string.
  R decimal_value() const {
    const std::string s = text();
    try {
      return parse_decimal<R>(s);
    } catch (const std::invalid_argument&) {
      fail("expected a decimal number, got \"" + excerpt(s) + "\"");
    }
  }
};

std::string read_file(const std::string& path) {
  try {
    return read_bounded_file(path);
  } catch (const std::runtime_error& e) {
    throw FileError(e.what());
  }
}

Json parse_text(const std::string& text, const std::string& path) {
  try {
    return parse_bounded_json(text);
  } catch (const JsonTextError& e) {
    throw FileError(path + (e.where.empty() ? "" : ":" + e.where) + ": " + e.what());
  }
}

const std::set<std::string> kStateFields{"theta", "m", "v", "vmax"};
const std::set<std::string> kKnownFields{"theta", "m", "v", "vmax", "m_hat", "v_hat", "update"};
}  // namespace

GoldenTrace load(const std::string& path) { return load_text(read_file(path), path); }
Results load_results(const std::string& path) { return load_results_text(read_file(path), path); }

GoldenTrace load_text(const std::string& text, const std::string& path) {
  const Json json = parse_text(text, path);
  const Node root{json, "", path};
  GoldenTrace g;
  g.path = path;
  if (root["format"].text() != kFormat)
    root["format"].fail("unsupported format \"" + excerpt(root["format"].text()) + "\" (this adamconf reads " + kFormat + ")");
  g.name = root["name"].text();
  g.preset = root["preset"].text();
  try {
    (void)preset_by_name(g.preset);
  } catch (const std::invalid_argument& e) {
    root["preset"].fail(e.what());
  }
  const auto dtype = format_by_name(root["dtype"].text());
  if (!dtype) root["dtype"].fail("expected \"float32\", \"float64\", \"bfloat16\" or \"float16\"");
  g.dtype = *dtype;
  const Node options = root["options"];
  g.options = {.amsgrad = options["amsgrad"].boolean(),
               .maximize = options["maximize"].boolean(),
               .bias_correction = options["bias_correction"].boolean()};
  if (options.has("precision")) {
    try {
      g.options.precision = precision_by_name(options["precision"].text(), "precision");
    } catch (const std::invalid_argument& e) {
      options["precision"].fail(e.what());
    }
  }
  if (options.has("state_formats")) {
    const Node formats = options["state_formats"];
    for (const Quantity q : kStateQuantities) {
      try {
        *g.options.state_formats.of(q) = state_format_name(formats[name(q)].text(), name(q));
      } catch (const std::invalid_argument& e) {
        formats[name(q)].fail(e.what());
      }
    }
    try {
      PrecisionRules(g.dtype, preset_by_name(g.preset).resolve(g.options)).validate_state_formats();
    } catch (const std::invalid_argument& e) {
      formats.fail(e.what());
    }
  }
  const Node hyper = root["hyperparameters"];
  for (const auto& name : Hyperparameters::names()) {
    g.hyper.get(name) = hyper[name].text();
    (void)hyper[name].decimal_value();
  }
  g.digits = static_cast<int>(root["digits"].integer(1, 77));
  g.elements = static_cast<std::size_t>(root["elements"].integer(1, 1 << 20));
  g.steps = static_cast<std::size_t>(root["steps"].integer(1, 1 << 24));
  const Node fields = root["fields"];
  for (std::size_t k = 0; k < fields.size(); ++k) {
    const std::string f = fields[k].text();
    if (!kKnownFields.count(f)) fields[k].fail("unknown field \"" + excerpt(f) + "\"");
    g.fields.push_back(f);
  }
  const Node theta0 = root["theta0"];
  theta0.size(g.elements);
  for (std::size_t i = 0; i < g.elements; ++i) g.theta0.push_back(theta0[i].number());
  const Node lrs = root["learning_rates"];
  lrs.size(g.steps);
  for (std::size_t t = 0; t < g.steps; ++t) {
    g.learning_rates.push_back(lrs[t].text());
    (void)lrs[t].decimal_value();
  }
  const Node gradients = root["gradients"];
  gradients.size(g.steps);
  for (std::size_t t = 0; t < g.steps; ++t) {
    const Node row = gradients[t];
    row.size(g.elements);
    std::vector<double> values;
    for (std::size_t i = 0; i < g.elements; ++i) values.push_back(row[i].number());
    g.gradients.push_back(std::move(values));
  }
  std::vector<std::size_t> recorded;
  const Node which = root["recorded_steps"];
  if (which.json.is_string()) {
    if (which.text() != "all") which.fail("expected \"all\" or a list of steps");
    for (std::size_t t = 1; t <= g.steps; ++t) recorded.push_back(t);
  } else {
    if (which.size() == 0) which.fail("empty: a golden file records at least one step");
    for (std::size_t k = 0; k < which.size(); ++k) {
      const auto t = static_cast<std::size_t>(which[k].integer(1, static_cast<long long>(g.steps)));
      if (!recorded.empty() && t <= recorded.back()) which[k].fail("steps must increase");
      recorded.push_back(t);
    }
  }
  const Node trace = root["trace"];
  trace.size(recorded.size());
  for (std::size_t k = 0; k < recorded.size(); ++k) {
    const Node step = trace[k];
    GoldenTrace::Step s;
    s.t = static_cast<int>(step["t"].integer(1, 1 << 24));
    if (s.t != static_cast<int>(recorded[k])) step["t"].fail("expected " + std::to_string(recorded[k]));
    for (const auto& f : g.fields) {
      const Node values = step[f];
      values.size(g.elements);
      for (std::size_t i = 0; i < g.elements; ++i) s.exact[f].push_back(values[i].decimal_value());
      if (kStateFields.count(f)) {
        const Node allowed = step[f + "_allowed"];
        allowed.size(g.elements);
        for (std::size_t i = 0; i < g.elements; ++i) {
          const R a = allowed[i].decimal_value();
          if (a < 0) allowed[i].fail("an allowed error cannot be negative");
          s.allowed[f].push_back(a);
        }
        const Node rounded = step[f + "_rounded"];
        rounded.size(g.elements);
        for (std::size_t i = 0; i < g.elements; ++i) (void)rounded[i].number();
      }
    }
    g.trace.push_back(std::move(s));
  }
  return g;
}

Results load_results_text(const std::string& text, const std::string& path) {
  const Json json = parse_text(text, path);
  const Node root{json, "", path};
  if (root["format"].text() != kResultsFormat)
    root["format"].fail("unsupported format \"" + excerpt(root["format"].text()) + "\" (expected " + kResultsFormat + ")");
  Results r;
  r.path = path;
  r.golden = root["golden"].text();
  for (const char* q : {"theta", "m", "v", "vmax"}) {
    if (!root.has(q)) continue;
    const Node steps = root[q];
    std::vector<std::vector<double>> values;
    for (std::size_t t = 0; t < steps.size(); ++t) {
      const Node step = steps[t];
      std::vector<double> row;
      for (std::size_t i = 0; i < step.size(); ++i) row.push_back(step[i].number());
      values.push_back(std::move(row));
    }
    r.values[q] = std::move(values);
  }
  if (!r.values.count("theta")) root["theta"].fail("missing");
  return r;
}

}  // namespace adamconf::golden
