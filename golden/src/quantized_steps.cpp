// Quantized-steps golden files (FORMAT.md, "Quantized states"): a quantized
// state drifts from the exact trajectory by the quantization itself, so these
// files give one step from each of a few given states, and after it theta's
// exact value with its one-step bound, each block's exact scale with its
// allowed error, and per element the codes a correct quantizer may store:
// rendering (through the one quantized judge, quantized_judge.hpp), loading
// and checking.
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include "adamconf/exact_run.hpp"
#include "adamconf/precision_rules.hpp"
#include "adamconf/quantized_judge.hpp"
#include "internal.hpp"

namespace adamconf::golden {

namespace {

using Ordered = nlohmann::ordered_json;

constexpr Quantity kQuantized[] = {Quantity::m, Quantity::v};

const QuantizedFormat& quantized_format(const PrecisionRules& rules, Quantity q) {
  const std::optional<QuantizedFormat>& f = rules.quantized(q);
  if (!f) throw std::invalid_argument(std::string("its convention does not quantize ") + name(q));
  return *f;
}

std::size_t blocks_of(const QuantizedFormat& f, std::size_t n) { return (n + f.block - 1) / f.block; }

/// What a correct quantizer may store for the exact new values of one state
/// tensor, from the judge's own block windows (quantized_judge.hpp) under
/// either build of the map (torch.linspace's two CPU roundings; an
/// implementation uses one): each block's exact scale and its error, and per
/// element every code whose value lies in an acceptable range.
QuantizedGolden::After acceptable_after(const QuantizedFormat& f, const std::vector<R>& exact, const std::vector<R>& bounds,
                                        const char* what) {
  std::vector<std::set<int>> acceptable(exact.size());
  QuantizedGolden::After out;
  const std::size_t blocks = blocks_of(f, exact.size());
  for_each_build_window(f, exact, bounds, [&](const std::vector<float>& map, const BlockWindow& w) {
    if (!w.codes_known)
      throw std::logic_error(std::string(what) + ": a block's scale is 0 or not known, so any code would pass; choose other inputs");
    if (out.scales_exact.size() < blocks) {  // the scale does not depend on the map
      out.scales_exact.push_back(w.scale);
      out.scales_allowed.push_back(w.scale_error);
    }
    for (std::size_t i = w.first; i < w.last; ++i) {
      const float lo = map[static_cast<std::size_t>(w.codes[i - w.first].lowest)];
      const float hi = map[static_cast<std::size_t>(w.codes[i - w.first].highest)];
      for (std::size_t k = 0; k < map.size(); ++k)
        if (lo <= map[k] && map[k] <= hi) acceptable[i].insert(static_cast<int>(k));  // NaN codes never
    }
  });
  for (const auto& codes : acceptable) out.acceptable.emplace_back(codes.begin(), codes.end());
  return out;
}

Ordered hex_row(const std::vector<double>& xs) {
  Ordered row = Ordered::array();
  for (double x : xs) row.push_back(hex_float_short(x));
  return row;
}

}  // namespace

ImplementationState quantized_state(const PrecisionRules& rules, int t, const QuantizedTensor& m, const QuantizedTensor& v) {
  ImplementationState s;
  s.step = t - 1;
  for (const Quantity q : kQuantized) {
    const QuantizedFormat& f = quantized_format(rules, q);
    const std::vector<float> map = f.map(LinspaceRounding::fused);
    const QuantizedTensor& tensor = q == Quantity::m ? m : v;
    std::vector<double>& values = q == Quantity::m ? s.m : s.v;
    for (std::size_t i = 0; i < tensor.codes.size(); ++i)
      values.push_back(dequantized(map, tensor.codes[i], tensor.scales.at(i / f.block)));
    (q == Quantity::m ? s.m_quantized : s.v_quantized).push_back(tensor);
  }
  return s;
}

std::string detail::render_quantized(const GoldenSpec& g) {
  const OptimizerSpec spec = make_spec(g.preset, g.options, g.overrides);
  const Setup setup{.spec = spec, .dtype = g.dtype};
  const PrecisionRules rules = setup.rules();
  const int digits = digits_for(g.dtype);
  const std::size_t n = g.quantized_steps.front().theta.size();
  Ordered header = header_of(g, spec, kQuantizedFormat,
                             "docs/error-model.md, one step from the given state (Quantized states)");
  header["digits"] = digits;
  header["elements"] = n;
  header["steps"] = g.quantized_steps.size();
  Ordered formats = Ordered::object();
  for (const Quantity q : kQuantized) {
    const QuantizedFormat& f = quantized_format(rules, q);
    if (!f.quantizes(n)) throw std::logic_error(f.name + " does not quantize a tensor of " + std::to_string(n) + " elements");
    Ordered map = Ordered::array();
    for (float x : f.map(LinspaceRounding::fused)) map.push_back(hex_float_short(x));
    formats[name(q)] = {{"format", f.name}, {"block", f.block}, {"codes", std::size_t{1} << f.bits}, {"map", map}};
  }
  header["quantized"] = formats;

  std::string steps;
  for (const QuantizedStepInput& in : g.quantized_steps) {
    const ExactStep e = exact_single_step(setup, in.theta, quantized_state(rules, in.t, in.m, in.v), in.grad, spec.hyper.lr);
    // One line per field: the step's inputs, then what a correct step produces.
    std::vector<std::pair<std::string, Ordered>> fields{{"t", in.t}, {"lr", spec.hyper.lr}, {"theta", hex_row(in.theta)},
                                                        {"gradient", hex_row(in.grad)}};
    for (const Quantity q : kQuantized) {
      const QuantizedTensor& tensor = q == Quantity::m ? in.m : in.v;
      fields.emplace_back(std::string(name(q)) + "_codes", tensor.codes);
      fields.emplace_back(std::string(name(q)) + "_scales", hex_row(tensor.scales));
    }
    Ordered exact = Ordered::array(), rounded = Ordered::array(), allowed = Ordered::array();
    const FloatFormat& theta_format = rules.format_of(Quantity::theta);
    for (std::size_t i = 0; i < n; ++i) {
      const R& x = e.record.elements[i].theta;
      if (!isfinite(e.bounds[i].theta))
        throw std::logic_error("step " + std::to_string(in.t) + ", theta[" + std::to_string(i) +
                               "] would have an infinite error bound; choose inputs that have none");
      const std::string text = decimal(x, digits);
      exact.push_back(text);
      rounded.push_back(hex_float_short(round_to_format(x, theta_format)));
      allowed.push_back(allowed_text(e.bounds[i].theta, x, text));
    }
    fields.emplace_back("theta_exact", exact);
    fields.emplace_back("theta_rounded", rounded);
    fields.emplace_back("theta_allowed", allowed);
    for (const Quantity q : kQuantized) {
      std::vector<R> values, bounds;
      for (std::size_t i = 0; i < n; ++i) {
        values.push_back(q == Quantity::m ? e.record.elements[i].m : e.record.elements[i].v);
        bounds.push_back(q == Quantity::m ? e.bounds[i].m : e.bounds[i].v);
      }
      const QuantizedGolden::After after = acceptable_after(quantized_format(rules, q), values, bounds, name(q));
      Ordered scales = Ordered::array(), scales_allowed = Ordered::array(), codes = Ordered::array();
      for (std::size_t b = 0; b < after.scales_exact.size(); ++b) {
        const std::string text = decimal(after.scales_exact[b], digits);
        scales.push_back(text);
        scales_allowed.push_back(allowed_text(after.scales_allowed[b], after.scales_exact[b], text));
      }
      for (const auto& set : after.acceptable) codes.push_back(set.size() == 1 ? Ordered(set.front()) : Ordered(set));
      fields.emplace_back(std::string(name(q)) + "_scales_exact", scales);
      fields.emplace_back(std::string(name(q)) + "_scales_allowed", scales_allowed);
      fields.emplace_back(std::string(name(q)) + "_codes_acceptable", codes);
    }
    std::string step;
    for (const auto& [key, value] : fields) step += (step.empty() ? "    {" : ",\n     ") + Ordered(key).dump() + ": " + value.dump();
    steps += (steps.empty() ? "" : ",\n") + step + "}";
  }
  std::string text = header.dump(2);
  text.pop_back();  // the closing brace
  while (text.back() == '\n') text.pop_back();
  return text + ",\n  \"trace\": [\n" + steps + "\n  ]\n}\n";
}

QuantizedGolden detail::quantized_from(const Node& root) {
  QuantizedGolden g;
  g.path = root.file;
  expect_format(root, kQuantizedFormat);
  g.name = root["name"].text();
  read_optimizer(root, g.preset, g.dtype, g.options, g.hyper);
  const PrecisionRules rules(g.dtype, preset_by_name(g.preset).resolve(g.options));
  g.elements = static_cast<std::size_t>(root["elements"].integer(1, 1 << 24));
  const Node formats = root["quantized"];
  for (const Quantity q : kQuantized) {
    if (!rules.quantized(q)) root["preset"].fail(std::string("its convention does not quantize ") + name(q));
    const QuantizedFormat& f = *rules.quantized(q);
    const Node format = formats[name(q)];
    if (format["format"].text() != f.name)
      format["format"].fail("expected \"" + f.name + "\", the format " + g.preset + " stores " + name(q) + " in");
    if (static_cast<std::size_t>(format["block"].integer(1, 1 << 20)) != f.block)
      format["block"].fail("expected " + std::to_string(f.block) + ", " + f.name + "'s block");
    if (!f.quantizes(g.elements))
      root["elements"].fail(f.name + " does not quantize a tensor of " + std::to_string(g.elements) + " elements");
  }
  const auto numbers = [](const Node& row, std::size_t n) {
    row.size(n);
    std::vector<double> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(row[i].number());
    return out;
  };
  const auto decimals = [](const Node& row, std::size_t n, bool error) {
    row.size(n);
    std::vector<R> out;
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(row[i].decimal_value());
      if (error && out.back() < 0) row[i].fail("an allowed error cannot be negative");
    }
    return out;
  };
  const auto code = [](const Node& c, const QuantizedFormat& f) {
    return static_cast<int>(c.integer(0, (1LL << f.bits) - 1));
  };
  const Node trace = root["trace"];
  if (trace.size() == 0) trace.fail("empty: a golden file records at least one step");
  if (static_cast<std::size_t>(root["steps"].integer(1, 1 << 20)) != trace.size())
    root["steps"].fail("says " + root["steps"].json.dump() + ", the trace has " + std::to_string(trace.size()));
  for (std::size_t k = 0; k < trace.size(); ++k) {
    const Node step = trace[k];
    QuantizedGolden::Step s;
    s.t = static_cast<int>(step["t"].integer(1, 1LL << 30));
    s.lr = step["lr"].text();
    (void)step["lr"].decimal_value();
    s.theta = numbers(step["theta"], g.elements);
    s.gradient = numbers(step["gradient"], g.elements);
    s.theta_exact = decimals(step["theta_exact"], g.elements, false);
    s.theta_allowed = decimals(step["theta_allowed"], g.elements, true);
    (void)numbers(step["theta_rounded"], g.elements);
    for (const Quantity q : kQuantized) {
      const QuantizedFormat& f = *rules.quantized(q);
      const std::string prefix = name(q);
      const std::size_t blocks = blocks_of(f, g.elements);
      QuantizedTensor& before = q == Quantity::m ? s.m : s.v;
      const Node codes = step[prefix + "_codes"];
      codes.size(g.elements);
      for (std::size_t i = 0; i < g.elements; ++i) before.codes.push_back(code(codes[i], f));
      before.scales = numbers(step[prefix + "_scales"], blocks);
      QuantizedGolden::After& after = q == Quantity::m ? s.m_after : s.v_after;
      after.scales_exact = decimals(step[prefix + "_scales_exact"], blocks, false);
      after.scales_allowed = decimals(step[prefix + "_scales_allowed"], blocks, true);
      const Node acceptable = step[prefix + "_codes_acceptable"];
      acceptable.size(g.elements);
      for (std::size_t i = 0; i < g.elements; ++i) {
        const Node entry = acceptable[i];
        std::vector<int> set;
        if (entry.json.is_array()) {
          if (entry.size() == 0) entry.fail("no acceptable code: a step always has one");
          for (std::size_t j = 0; j < entry.size(); ++j) set.push_back(code(entry[j], f));
          std::sort(set.begin(), set.end());
        } else {
          set.push_back(code(entry, f));
        }
        after.acceptable.push_back(std::move(set));
      }
    }
    g.steps.push_back(std::move(s));
  }
  return g;
}

QuantizedGolden load_quantized_text(const std::string& text, const std::string& path) {
  const detail::Json json = detail::parse_text(text, path);
  return detail::quantized_from(detail::Node{json, "", path});
}

CheckReport check(const QuantizedGolden& g, const Results& results) {
  const std::string file = results.path.empty() ? std::string("results") : results.path;
  if (results.golden != g.name)
    throw FileError(file + ": golden: the results are for \"" + excerpt(results.golden) + "\", not \"" + g.name + "\"");
  const PrecisionRules rules(g.dtype, preset_by_name(g.preset).resolve(g.options));
  for (const auto& [quantity, values] : results.values)
    if (quantity != "theta" && quantity != "m_codes" && quantity != "m_scales" && quantity != "v_codes" &&
        quantity != "v_scales")
      throw FileError(file + ": " + quantity + ": the quantized-steps file " + g.path + " does not record " + quantity +
                      " (it records theta, m_codes, m_scales, v_codes, v_scales)");
  // Every row of a quantity: one per step of the file, of `n` values.
  const auto rows = [&](const std::string& quantity, std::size_t n) -> const std::vector<std::vector<double>>& {
    const auto it = results.values.find(quantity);
    if (it == results.values.end())
      throw FileError(file + ": " + quantity + ": missing (a quantized-steps file is checked by theta, m_codes, m_scales, "
                      "v_codes and v_scales)");
    if (it->second.size() != g.steps.size())
      throw FileError(file + ": " + quantity + ": has " + std::to_string(it->second.size()) + " steps, the golden file " +
                      g.path + " " + std::to_string(g.steps.size()));
    for (std::size_t k = 0; k < it->second.size(); ++k)
      if (it->second[k].size() != n)
        throw FileError(file + ": " + quantity + "[" + std::to_string(k) + "]: has " + std::to_string(it->second[k].size()) +
                        " values, the golden file " + g.path + " " + std::to_string(n));
    return it->second;
  };
  CheckReport report;
  const auto& theta = rows("theta", g.elements);
  // Each state's rows, checked for shape once: codes per element, scales per block.
  std::map<std::string, const std::vector<std::vector<double>>*> state_rows;
  for (const Quantity q : kQuantized) {
    const std::string prefix = name(q);
    state_rows[prefix + "_codes"] = &rows(prefix + "_codes", g.elements);
    state_rows[prefix + "_scales"] = &rows(prefix + "_scales", blocks_of(*rules.quantized(q), g.elements));
  }
  for (std::size_t k = 0; k < g.steps.size(); ++k) {
    const QuantizedGolden::Step& step = g.steps[k];
    report.steps.push_back(detail::judge_row(step.t, "theta", theta[k], step.theta_exact, step.theta_allowed,
                                             rules.format_of(Quantity::theta), report));
    for (const Quantity q : kQuantized) {
      const QuantizedFormat& f = *rules.quantized(q);
      const std::string prefix = name(q);
      const QuantizedGolden::After& after = q == Quantity::m ? step.m_after : step.v_after;
      // A block's scale is a float32 value judged like any other.
      report.steps.push_back(detail::judge_row(step.t, prefix + " scales", (*state_rows.at(prefix + "_scales"))[k],
                                               after.scales_exact, after.scales_allowed, float32_format, report));
      StepCheck s;
      s.t = step.t;
      s.quantity = prefix + " codes";
      s.codes = true;
      const std::vector<double>& codes = (*state_rows.at(prefix + "_codes"))[k];
      for (std::size_t i = 0; i < g.elements; ++i) {
        const double c = codes[i];
        if (!(c >= 0 && c < static_cast<double>(std::size_t{1} << f.bits) && c == std::floor(c)))
          throw FileError(file + ": " + prefix + "_codes[" + std::to_string(k) + "][" + std::to_string(i) + "]: " +
                          show_value(c) + " is not a code of " + f.name + " (0.." +
                          std::to_string((std::size_t{1} << f.bits) - 1) + ")");
        const std::vector<int>& ok = after.acceptable[i];
        ++report.compared;
        if (std::binary_search(ok.begin(), ok.end(), static_cast<int>(c))) continue;
        if (s.failures++ == 0) {
          std::string expected;
          for (std::size_t j = 0; j < ok.size(); ++j) expected += (j ? j + 1 == ok.size() ? " or " : ", " : "") + std::to_string(ok[j]);
          s.worst_element = i;
          s.worst = "block " + std::to_string(i / f.block) + " element " + std::to_string(i) + " => code " +
                    std::to_string(static_cast<int>(c)) + "  expected code " + expected;
        }
      }
      report.failures += s.failures;
      report.steps.push_back(std::move(s));
    }
  }
  if (report.compared == 0) throw FileError(g.path + ": trace: no recorded values to compare the results with");
  return report;
}

}  // namespace adamconf::golden
