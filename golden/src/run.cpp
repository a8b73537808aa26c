// Running an implementation over a golden file (FORMAT.md, "Checking"), as
// `adamconf golden check FILE --impl IMPL` does, and writing its results file.
#include <cmath>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "adamconf/golden.hpp"

namespace adamconf::golden {

namespace {

Setup setup_of(const std::string& preset, const PresetOptions& options, const Hyperparameters& hyper,
               const FloatFormat& dtype) {
  Setup setup{make_spec(preset, options), dtype};
  setup.spec.hyper = hyper;
  return setup;
}

/// What the file needs that the implementation may not offer: its dtype and
/// its options, each a one-line error naming both.
Capabilities offered(const Implementation& impl, const Setup& setup, const PresetOptions& options, const std::string& file) {
  const Capabilities caps = impl.capabilities();
  if (!caps.supports_dtype(setup.dtype.name))
    throw std::invalid_argument(impl.name() + " does not offer " + setup.dtype.name + ", the dtype of " + file);
  for (const auto& [flag, on] : {std::pair{"amsgrad", options.amsgrad}, std::pair{"maximize", options.maximize},
                                 std::pair{"bias_correction", !options.bias_correction}})
    if (on && !caps.supports_option(flag))
      throw std::invalid_argument(impl.name() + " does not offer the option " + flag + ", which " + file + " uses");
  return caps;
}

std::vector<RunResult> run_cases(Implementation& impl, const Setup& setup, const std::vector<RunCase>& cases) {
  std::vector<RunResult> out = impl.run(setup, cases);
  validate_results(cases, out);
  return out;
}

}  // namespace

Results run(const GoldenTrace& g, Implementation& impl) {
  const Setup setup = setup_of(g.preset, g.options, g.hyper, g.dtype);
  const Capabilities caps = offered(impl, setup, g.options, g.path);
  RunCase c{.theta0 = g.theta0, .grads = g.gradients};
  for (const std::string& lr : g.learning_rates)
    if (parse_decimal<R>(lr) != parse_decimal<R>(g.hyper.lr)) c.lrs = g.learning_rates;
  if (!c.lrs.empty() && !caps.lr_schedule)
    throw std::invalid_argument(impl.name() + " does not take a learning rate per step, which " + g.path + " changes");
  Results r;
  r.golden = g.name;
  r.values["theta"] = run_cases(impl, setup, {c}).front().theta;
  return r;
}

Results run(const QuantizedGolden& g, Implementation& impl) {
  const Setup setup = setup_of(g.preset, g.options, g.hyper, g.dtype);
  const Capabilities caps = offered(impl, setup, g.options, g.path);
  if (!caps.state_io)
    throw std::invalid_argument(impl.name() + " cannot import a state, and each step of " + g.path + " starts from one");
  const PrecisionRules rules = setup.rules();
  for (const Quantity q : {Quantity::m, Quantity::v}) {
    const std::string& stated = *caps.state_formats.of(q);
    if (!stated.empty() && stated != rules.quantized(q)->name)
      throw std::invalid_argument(impl.name() + " stores " + name(q) + " as " + stated + ", and " + g.path + " as " +
                                  rules.quantized(q)->name);
  }
  std::vector<RunCase> cases;
  for (const auto& step : g.steps)
    cases.push_back({.theta0 = step.theta,
                     .grads = {step.gradient},
                     .lrs = {step.lr},
                     .initial_state = quantized_state(rules, step.t, step.m, step.v),
                     .record_states = true});
  const std::vector<RunResult> out = run_cases(impl, setup, cases);
  Results r;
  r.golden = g.name;
  for (std::size_t k = 0; k < out.size(); ++k) {
    r.values["theta"].push_back(out[k].theta.front());
    const ImplementationState& after = out[k].states.front();
    for (const auto& [state, tensors] : {std::pair{"m", &after.m_quantized}, std::pair{"v", &after.v_quantized}}) {
      if (tensors->empty() || tensors->front().empty())
        throw ImplementationError(impl.name() + ": step " + std::to_string(g.steps[k].t) + " of " + g.path +
                                  ": its state after the step has no " + state + "_codes and " + state + "_scales");
      const QuantizedTensor& q = tensors->front();
      r.values[std::string(state) + "_codes"].emplace_back(q.codes.begin(), q.codes.end());
      r.values[std::string(state) + "_scales"].push_back(q.scales);
    }
  }
  return r;
}

std::string render_results(const Results& results) {
  nlohmann::ordered_json out;
  out["format"] = kResultsFormat;
  out["golden"] = results.golden;
  for (const auto& [quantity, steps] : results.values) {
    const bool codes = quantity.size() > 6 && quantity.ends_with("_codes");
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const auto& step : steps) {
      nlohmann::ordered_json row = nlohmann::ordered_json::array();
      for (double x : step) {
        if (codes) row.push_back(static_cast<long long>(x));
        else if (std::isnan(x)) row.push_back("nan");
        else if (std::isinf(x)) row.push_back(x > 0 ? "inf" : "-inf");
        else row.push_back(hex_float_short(x));
      }
      rows.push_back(row);
    }
    out[quantity] = rows;
  }
  return out.dump() + "\n";
}

}  // namespace adamconf::golden
