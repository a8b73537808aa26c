// Reading golden and results files back, validating every field: a malformed
// file gives FileError("<file>: <field>: <problem>"), never a crash.
#include <set>

#include "adamconf/golden.hpp"
#include "internal.hpp"
#include "adamconf/precision_rules.hpp"

namespace adamconf::golden {

namespace {
using detail::Json;
using detail::Node;
using detail::parse_text;
using detail::read_file;

const std::set<std::string> kStateFields{"theta", "m", "v", "vmax"};
const std::set<std::string> kKnownFields{"theta", "m", "v", "vmax", "m_hat", "v_hat", "update"};
}  // namespace

GoldenTrace load(const std::string& path) { return load_text(read_file(path), path); }
Results load_results(const std::string& path) { return load_results_text(read_file(path), path); }

namespace detail {

void read_optimizer(const Node& root, std::string& preset, FloatFormat& dtype, PresetOptions& chosen, Hyperparameters& hyper) {
  preset = root["preset"].text();
  try {
    (void)preset_by_name(preset);
  } catch (const std::invalid_argument& e) {
    root["preset"].fail(e.what());
  }
  const auto format = format_by_name(root["dtype"].text());
  if (!format) root["dtype"].fail("expected \"float32\", \"float64\", \"bfloat16\" or \"float16\"");
  dtype = *format;
  const Node options = root["options"];
  chosen = {.amsgrad = options["amsgrad"].boolean(),
               .maximize = options["maximize"].boolean(),
               .bias_correction = options["bias_correction"].boolean()};
  if (options.has("precision")) {
    try {
      chosen.precision = precision_by_name(options["precision"].text(), "precision");
    } catch (const std::invalid_argument& e) {
      options["precision"].fail(e.what());
    }
  }
  if (options.has("state_formats")) {
    const Node formats = options["state_formats"];
    for (const Quantity q : kStateQuantities) {
      try {
        *chosen.state_formats.of(q) = state_format_name(formats[name(q)].text(), name(q));
      } catch (const std::invalid_argument& e) {
        formats[name(q)].fail(e.what());
      }
    }
    try {
      PrecisionRules(dtype, preset_by_name(preset).resolve(chosen)).validate_state_formats();
    } catch (const std::invalid_argument& e) {
      formats.fail(e.what());
    }
  }
  const Node values = root["hyperparameters"];
  for (const auto& name : Hyperparameters::names()) {
    hyper.get(name) = values[name].text();
    (void)values[name].decimal_value();
  }
}

void expect_format(const Node& root, const char* format) {
  if (root["format"].text() != format)
    root["format"].fail("unsupported format \"" + excerpt(root["format"].text()) + "\" (this adamconf reads " + format + ")");
}

}  // namespace detail

namespace {

GoldenTrace trace_from(const Node& root) {
  GoldenTrace g;
  g.path = root.file;
  detail::expect_format(root, kFormat);
  g.name = root["name"].text();
  detail::read_optimizer(root, g.preset, g.dtype, g.options, g.hyper);
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

}  // namespace

GoldenTrace load_text(const std::string& text, const std::string& path) {
  const Json json = parse_text(text, path);
  return trace_from(Node{json, "", path});
}

std::variant<GoldenTrace, QuantizedGolden> load_any(const std::string& path) {
  const Json json = parse_text(read_file(path), path);
  const Node root{json, "", path};
  if (root.has("format") && root["format"].json == kQuantizedFormat) return detail::quantized_from(root);
  return trace_from(root);
}

Results load_results_text(const std::string& text, const std::string& path) {
  const Json json = parse_text(text, path);
  const Node root{json, "", path};
  if (root["format"].text() != kResultsFormat)
    root["format"].fail("unsupported format \"" + excerpt(root["format"].text()) + "\" (expected " + kResultsFormat + ")");
  Results r;
  r.path = path;
  r.golden = root["golden"].text();
  for (const char* q : {"theta", "m", "v", "vmax", "m_codes", "m_scales", "v_codes", "v_scales"}) {
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
