// An audit report as JSON (docs/audit.md, "The report"), read back for
// `audit merge`: every statistic of every tensor, so that the shards of one
// audit join into the report one task would have written.
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "adamconf/audit.hpp"
#include "adamconf/bounded_json.hpp"
#include "adamconf/excerpt.hpp"

namespace adamconf::audit {

namespace {

/// A ratio or ulps count: a number, or "inf" (JSON has no infinity).
nlohmann::json number(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(x > 0 ? "inf" : "nan"); }

double read_number(const nlohmann::json& j) {
  if (j.is_number()) return j.get<double>();
  if (j == "inf") return std::numeric_limits<double>::infinity();
  if (j == "nan") return std::numeric_limits<double>::quiet_NaN();
  throw std::invalid_argument(excerpt(j) + " is not a number");
}

nlohmann::json statistics_json(const ErrorStatistics& s) {
  return {{"values", s.count},
          {"ulps_values", s.ulps_count},
          {"max_error_ulps", number(s.max_error_ulps)},
          {"rms_error_ulps", number(s.rms_ulps())},
          {"sum_squares_ulps", number(s.sum_squares_ulps)},
          {"worst_ratio", number(s.worst_ratio)},
          {"worst", s.worst},
          {"ratio_bins", s.ratio_bins},
          {"at_zero", s.at_zero},
          {"unbounded", s.unbounded},
          {"max_abs_error_at_zero", number(s.max_abs_error_at_zero)}};
}

ErrorStatistics statistics_of(const nlohmann::json& j) {
  ErrorStatistics s;
  s.count = j.at("values").get<std::size_t>();
  s.ulps_count = j.at("ulps_values").get<std::size_t>();
  s.max_error_ulps = read_number(j.at("max_error_ulps"));
  s.sum_squares_ulps = read_number(j.at("sum_squares_ulps"));
  s.worst_ratio = read_number(j.at("worst_ratio"));
  s.worst = j.at("worst").get<std::string>();
  const auto bins = j.at("ratio_bins").get<std::vector<std::size_t>>();
  if (bins.size() != s.ratio_bins.size()) throw std::invalid_argument("ratio_bins has " + std::to_string(bins.size()) + " bins");
  std::copy(bins.begin(), bins.end(), s.ratio_bins.begin());
  s.at_zero = j.at("at_zero").get<std::size_t>();
  s.unbounded = j.at("unbounded").get<std::size_t>();
  s.max_abs_error_at_zero = read_number(j.at("max_abs_error_at_zero"));
  return s;
}

}  // namespace

std::string to_json(const AuditReport& r) {
  nlohmann::json tensors = nlohmann::json::array();
  for (const TensorVerdict& t : r.tensors) {
    nlohmann::json failed = nlohmann::json::array();
    for (const auto& [element, description] : t.failed) failed.push_back({{"element", element}, {"description", description}});
    tensors.push_back({{"name", t.name},
                       {"dtype", t.dtype},
                       {"group", t.group},
                       {"elements", t.elements},
                       {"stepped", t.stepped},
                       {"step_before", t.step_before},
                       {"step_after", t.step_after},
                       {"verdict", t.passed() ? "pass" : "fail"},
                       {"failures", t.failures},
                       {"fast_values", t.fast_values},
                       {"mpfr_values", t.mpfr_values},
                       {"failed", failed},
                       {"statistics", statistics_json(t.statistics)}});
  }
  const nlohmann::json j = {{"adamconf_audit_report", 1},
                            {"manifest", r.manifest},
                            {"digest", r.digest},
                            {"preset", r.preset},
                            {"dtype", r.dtype},
                            {"convention", r.convention},
                            {"shards", r.shards},
                            {"shard_count", r.shard_count},
                            {"verdict", r.passed() ? "pass" : "fail"},
                            {"elements", r.elements()},
                            {"values", r.values()},
                            {"unjudged", r.unjudged()},
                            {"failures", r.failures()},
                            {"fast_values", r.fast_values()},
                            {"mpfr_values", r.mpfr_values()},
                            {"seconds", r.seconds},
                            {"tensors", tensors}};
  return j.dump(1) + "\n";
}

AuditReport report_from_json(const std::string& text, const std::string& file) {
  try {
    const nlohmann::json j = parse_bounded_json(text);
    if (!j.is_object() || j.value("adamconf_audit_report", 0) != 1)
      throw std::invalid_argument("not an adamconf audit report (no \"adamconf_audit_report\": 1)");
    AuditReport r{.manifest = j.at("manifest").get<std::string>(),
                  .digest = j.at("digest").get<std::string>(),
                  .preset = j.at("preset").get<std::string>(),
                  .dtype = j.at("dtype").get<std::string>(),
                  .convention = j.at("convention").get<std::string>(),
                  .shards = j.at("shards").get<std::vector<std::size_t>>(),
                  .shard_count = j.at("shard_count").get<std::size_t>(),
                  .seconds = j.at("seconds").get<double>()};
    if (r.shard_count < 1 || r.shards.empty()) throw std::invalid_argument("no shard");
    for (const std::size_t s : r.shards)
      if (s >= r.shard_count) throw std::invalid_argument("shard " + std::to_string(s + 1) + " of " + std::to_string(r.shard_count));
    for (const auto& t : j.at("tensors")) {
      TensorVerdict v{.name = t.at("name").get<std::string>(),
                      .dtype = t.value("dtype", r.dtype),  // absent before tensors had dtypes of their own
                      .group = t.at("group").get<std::size_t>(),
                      .elements = t.at("elements").get<std::uint64_t>(),
                      .stepped = t.at("stepped").get<bool>(),
                      .step_before = t.at("step_before").get<std::int64_t>(),
                      .step_after = t.at("step_after").get<std::int64_t>(),
                      .statistics = statistics_of(t.at("statistics")),
                      .fast_values = t.value("fast_values", std::uint64_t{0}),  // absent before the fast path
                      .mpfr_values = t.value("mpfr_values", std::uint64_t{0}),
                      .failures = t.at("failures").get<std::uint64_t>()};
      for (const auto& f : t.at("failed")) v.failed.push_back({f.at("element").get<std::uint64_t>(), f.at("description").get<std::string>()});
      r.tensors.push_back(std::move(v));
    }
    return r;
  } catch (const JsonTextError& e) {
    throw InputError(file + ": not JSON: " + e.what() + (e.where.empty() ? "" : " at " + e.where));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(file + ": not an adamconf audit report: " + excerpt(std::string(e.what()), 120));
  } catch (const std::invalid_argument& e) {
    throw InputError(file + ": " + e.what());
  }
}

AuditReport merge(const std::vector<std::pair<std::string, AuditReport>>& reports) {
  if (reports.empty()) throw InputError("audit merge: no reports");
  AuditReport out = reports.front().second;
  out.shards.clear();
  out.tensors.clear();
  out.seconds = 0;
  std::set<std::string> names;
  for (const auto& [file, r] : reports) {
    if (r.digest != out.digest || r.shard_count != out.shard_count)
      throw InputError(file + ": a report of another audit (manifest " + excerpt(r.manifest, 80) + ", " +
                       std::to_string(r.shard_count) + " shards) than " + reports.front().first + "'s (manifest " +
                       excerpt(out.manifest, 80) + ", " + std::to_string(out.shard_count) + " shards)");
    for (const std::size_t s : r.shards) {
      if (std::find(out.shards.begin(), out.shards.end(), s) != out.shards.end())
        throw InputError(file + ": shard " + std::to_string(s + 1) + "/" + std::to_string(r.shard_count) +
                         " is in an earlier report too");
      out.shards.push_back(s);
    }
    for (const TensorVerdict& t : r.tensors) {
      if (!names.insert(t.name).second) throw InputError(file + ": tensor '" + excerpt(t.name, 80) + "' is in an earlier report too");
      out.tensors.push_back(t);
    }
    out.seconds = std::max(out.seconds, r.seconds);  // the tasks ran side by side
  }
  std::sort(out.shards.begin(), out.shards.end());
  return out;
}

}  // namespace adamconf::audit
