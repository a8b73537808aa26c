// Rendering a golden file: the reference and the error model run over the
#include <stdexcept>
// spec's inputs; every number is printed by MPFR's correctly rounded
// conversion or as a hex float, so the text is the same on every machine.
#include <mpfr.h>

#include <nlohmann/json.hpp>

#include "adamconf/error_model.hpp"
#include "adamconf/golden.hpp"
#include "adamconf/reference_adam.hpp"
#include "internal.hpp"

namespace adamconf::golden {

namespace {
using Json = nlohmann::ordered_json;

std::string format_mpfr_digits(const char* digits, mpfr_exp_t exponent) {
  // digits "-123456" with value 0.123456e(exponent) -> "-1.23456e-05"
  std::string d = digits;
  std::string sign;
  if (!d.empty() && d[0] == '-') {
    sign = "-";
    d = d.substr(1);
  }
  const long e = static_cast<long>(exponent) - 1;
  char buf[32];
  std::snprintf(buf, sizeof buf, "e%c%02ld", e < 0 ? '-' : '+', e < 0 ? -e : e);
  return sign + d.substr(0, 1) + (d.size() > 1 ? "." + d.substr(1) : "") + buf;
}

std::string mpfr_text(const R& x, int digits, mpfr_rnd_t mode) {
  if (x == 0) return "0";
  mpfr_exp_t exponent = 0;
  char* s = mpfr_get_str(nullptr, &exponent, 10, static_cast<std::size_t>(digits), x.backend().data(), mode);
  std::string out = format_mpfr_digits(s, exponent);
  mpfr_free_str(s);
  return out;
}


/// The steps whose values a file records: all of them, or for long runs the
/// first ten, every 50th and the last.
std::vector<std::size_t> recorded_steps(const GoldenSpec& g) {
  std::vector<std::size_t> steps;
  for (std::size_t t = 1; t <= g.grads.size(); ++t)
    if (g.all_fields || t <= 10 || t % 50 == 0 || t == g.grads.size()) steps.push_back(t);
  return steps;
}
}  // namespace

std::string decimal(const R& x, int digits) { return mpfr_text(x, digits, MPFR_RNDN); }
std::string decimal_rounded_up(const R& x, int digits) {
  // A golden file states finite bounds only: an infinite one is a catalogue error, not a value.
  if (!isfinite(x)) throw std::logic_error("a golden file would hold an infinite error bound; choose its inputs so that it has none");
  return mpfr_text(x, digits, MPFR_RNDU);
}

std::string render(const GoldenSpec& g) {
  if (!g.quantized_steps.empty()) return detail::render_quantized(g);
  const OptimizerSpec spec = make_spec(g.preset, g.options, g.overrides);
  const auto hyper = values_of<R>(spec.hyper);
  const int digits = detail::digits_for(g.dtype);
  const bool amsgrad = spec.convention.adam().amsgrad != AmsgradVariant::none;
  std::vector<std::string> fields{"theta", "m", "v"};
  if (amsgrad) fields.push_back("vmax");
  if (g.all_fields)
    for (const char* f : {"m_hat", "v_hat", "update"}) fields.push_back(f);

  Json header = detail::header_of(g, spec, kFormat, "docs/error-model.md, trajectory bound from step 1");
  header["digits"] = digits;
  header["elements"] = g.theta0.size();
  header["steps"] = g.grads.size();
  header["fields"] = fields;
  Json theta0 = Json::array();
  for (double x : g.theta0) theta0.push_back(hex_float_short(x));
  header["theta0"] = theta0;
  const std::vector<std::size_t> recorded = recorded_steps(g);
  header["recorded_steps"] = recorded.size() == g.grads.size() ? Json("all") : Json(recorded);

  ReferenceAdam<R> reference(spec.convention, hyper, std::vector<R>(g.theta0.begin(), g.theta0.end()));
  ErrorModel<R> model(PrecisionRules(g.dtype, spec.convention), hyper, g.theta0.size());
  std::string learning_rates, gradients, trace;
  std::size_t next_recorded = 0;
  for (std::size_t t = 0; t < g.grads.size(); ++t) {
    std::optional<R> lr;
    if (!g.lrs.empty()) lr = parse_decimal<R>(g.lrs[t]);
    const auto rec = reference.step(std::vector<R>(g.grads[t].begin(), g.grads[t].end()), lr, model);
    learning_rates += (t ? "," : "") + Json(g.lrs.empty() ? spec.hyper.lr : g.lrs[t]).dump();
    Json grad = Json::array();
    for (double x : g.grads[t]) grad.push_back(hex_float_short(x));
    gradients += (t ? ",\n    " : "    ") + grad.dump();
    if (next_recorded >= recorded.size() || recorded[next_recorded] != t + 1) continue;
    ++next_recorded;
    Json step;
    step["t"] = t + 1;
    for (const auto& field : fields) {
      Json exact = Json::array(), rounded = Json::array(), allowed = Json::array();
      const std::optional<Quantity> state = quantity_by_name(field);  // theta, m, v, vmax: stored, and bounded
      for (std::size_t i = 0; i < rec.elements.size(); ++i) {
        const auto& e = rec.elements[i];
        const auto& b = model.bounds()[i];
        const R& x = field == "theta" ? e.theta : field == "m" ? e.m : field == "v" ? e.v : field == "vmax" ? e.vmax
                     : field == "m_hat" ? e.m_hat : field == "v_hat" ? e.v_hat : e.update;
        const std::string text = decimal(x, digits);
        exact.push_back(text);
        if (state) {
          // to the format the value is stored in (float32 for a master's theta, a state format of its own)
          rounded.push_back(hex_float_short(round_to_format(x, PrecisionRules(g.dtype, spec.convention).format_of(*state))));
          const R& bound = field == "theta" ? b.theta : field == "m" ? b.m : field == "v" ? b.v : b.vmax;
          // the printed exact value's own rounding is part of what a checker may see
          if (!isfinite(bound))
            throw std::logic_error("step " + std::to_string(t + 1) + ", " + field + "[" + std::to_string(i) +
                                   "] would have an infinite error bound; choose inputs that have none");
          allowed.push_back(detail::allowed_text(bound, x, text));
        }
      }
      step[field] = exact;
      if (state) {
        step[field + "_rounded"] = rounded;
        step[field + "_allowed"] = allowed;
      }
    }
    trace += (trace.empty() ? "    " : ",\n    ") + step.dump();
  }
  std::string text = header.dump(2);
  text.pop_back();  // the closing brace
  while (text.back() == '\n') text.pop_back();
  return text + ",\n  \"learning_rates\": [" + learning_rates + "],\n  \"gradients\": [\n" + gradients +
         "\n  ],\n  \"trace\": [\n" + trace + "\n  ]\n}\n";
}

namespace detail {

int digits_for(const FloatFormat& f) { return f.precision <= 24 ? 12 : 21; }

nlohmann::ordered_json header_of(const GoldenSpec& g, const OptimizerSpec& spec, const char* format, const char* error_model) {
  nlohmann::ordered_json header;
  header["format"] = format;
  header["name"] = g.name();
  header["made_by"] = {{"command", "adamconf golden regenerate"},
                       {"adamconf", ADAMCONF_VERSION},
                       {"reference", "MPFR " + std::to_string(significand_bits<R>()) + "-bit significand"},
                       {"error_model", error_model}};
  header["preset"] = g.preset;
  header["options"] = {{"amsgrad", g.options.amsgrad}, {"maximize", g.options.maximize},
                       {"bias_correction", g.options.bias_correction}};
  // Only where it is not the default, so that the float32/float64 files stay as they were.
  if (g.options.precision != Precision::storage) header["options"]["precision"] = to_string(g.options.precision);
  if (g.options.state_formats.any()) {
    nlohmann::ordered_json formats = nlohmann::ordered_json::object();
    for (const Quantity q : kStateQuantities) formats[name(q)] = PrecisionRules(g.dtype, spec.convention).format_of(q).name;
    header["options"]["state_formats"] = formats;
  }
  nlohmann::ordered_json chain = nlohmann::ordered_json::array();
  for (const auto& t : spec.convention.chain) chain.push_back(describe(t));
  header["convention"] = chain;
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  for (const auto& name : Hyperparameters::names()) h[name] = spec.hyper.get(name);
  header["hyperparameters"] = h;
  header["dtype"] = g.dtype.name;
  header["scenario"] = {{"name", g.scenario}, {"description", g.description}, {"seed", g.seed}};
  return header;
}

std::string allowed_text(const R& bound, const R& exact, const std::string& printed) {
  return decimal_rounded_up(bound + abs(exact - parse_decimal<R>(printed)), 3);
}

}  // namespace detail

std::string render_index(const std::vector<GoldenSpec>& specs) {
  Json index;
  index["format"] = "adamconf-golden-index/1";
  Json files = Json::array();
  for (const auto& g : specs) {
    const bool quantized = !g.quantized_steps.empty();  // steps of their own, not a trajectory
    files.push_back({{"file", g.relative_path()}, {"preset", g.preset}, {"dtype", g.dtype.name},
                     {"scenario", g.scenario}, {"steps", quantized ? g.quantized_steps.size() : g.grads.size()},
                     {"elements", quantized ? g.quantized_steps.front().theta.size() : g.theta0.size()}});
  }
  index["files"] = files;
  return index.dump(1) + "\n";
}

}  // namespace adamconf::golden
