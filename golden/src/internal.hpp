// What the golden library's files share and nothing outside it sees: a JSON
// value of a golden or results file with the path that leads to it (so that
// every field a loader rejects is named: "<file>: <field>: <problem>"), the
// header both kinds of file share, and judging a row of values.
#pragma once

#include <limits>
#include <string>

#include "adamconf/bounded_json.hpp"
#include "adamconf/golden.hpp"
#include "adamconf/judge.hpp"

namespace adamconf::golden::detail {
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

inline std::string read_file(const std::string& path) {
  try {
    return read_bounded_file(path);
  } catch (const std::runtime_error& e) {
    throw FileError(e.what());
  }
}

inline Json parse_text(const std::string& text, const std::string& path) {
  try {
    return parse_bounded_json(text);
  } catch (const JsonTextError& e) {
    throw FileError(path + (e.where.empty() ? "" : ":" + e.where) + ": " + e.what());
  }
}

/// The optimizer a golden file of either kind names: preset, dtype, options
/// (precision, state formats) and hyperparameters, each validated.
void read_optimizer(const Node& root, std::string& preset, FloatFormat& dtype, PresetOptions& options,
                    Hyperparameters& hyper);
/// Fails unless root's format field is `format`.
void expect_format(const Node& root, const char* format);
/// A quantized-steps file from its parsed JSON (quantized_steps.cpp).
QuantizedGolden quantized_from(const Node& root);

/// Significant digits of a file's exact decimals: 12 for float32 and narrower, 21 for float64.
int digits_for(const FloatFormat& f);
/// The header fields both kinds of file open with, in order: format, name,
/// made_by, preset, options, convention, hyperparameters, dtype, scenario.
nlohmann::ordered_json header_of(const GoldenSpec& g, const OptimizerSpec& spec, const char* format,
                                 const char* error_model);
/// An allowed error as printed (3 digits, rounded up): the bound and the
/// rounding of the exact value's printed decimal.
std::string allowed_text(const R& bound, const R& exact, const std::string& printed);
/// A quantized-steps file (kQuantizedFormat).
std::string render_quantized(const GoldenSpec& g);

/// One step's values of one quantity judged (judge(), through one Recorder)
/// against their exact values and allowed errors in `format`; the step's line
/// of the report, and the report's counts advanced.
StepCheck judge_row(int t, const std::string& quantity, const std::vector<double>& values, const std::vector<R>& exact,
                    const std::vector<R>& allowed, const FloatFormat& format, CheckReport& report);

}  // namespace adamconf::golden::detail
