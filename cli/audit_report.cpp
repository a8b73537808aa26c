#include "audit_report.hpp"

#include <algorithm>

#include "check_report.hpp"

namespace adamconf::cli {

namespace {

std::string shards_text(const audit::AuditReport& r) {
  if (r.shard_count == 1) return "";
  std::string s;
  for (const std::size_t k : r.shards) s += (s.empty() ? "" : ", ") + std::to_string(k + 1);
  return " (shard" + std::string(r.shards.size() > 1 ? "s " : " ") + s + " of " + std::to_string(r.shard_count) + ")";
}

double worst_ratio(const audit::AuditReport& r) {
  double w = 0;
  for (const auto& t : r.tensors) w = std::max(w, t.statistics.worst_ratio);
  return w;
}

std::string pad(std::string s, std::size_t width, bool right = false) {
  if (s.size() > width) return s;
  return right ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

std::string tensor_verdict(const audit::TensorVerdict& t) {
  return t.passed() ? "pass" : "FAIL";
}

/// A tensor's name, with its dtype where it is not the manifest's ("0.norm (float32)").
std::string tensor_label(const audit::AuditReport& r, const audit::TensorVerdict& t) {
  return t.dtype.empty() || t.dtype == r.dtype ? t.name : t.name + " (" + t.dtype + ")";
}

}  // namespace

std::string render_audit_text(const audit::AuditReport& r, bool all_tensors) {
  std::string out = "adamconf audit " + r.manifest + shards_text(r) + "\n  convention: " + r.convention + "\n";
  std::size_t width = 6;
  for (const auto& t : r.tensors) width = std::max(width, std::min<std::size_t>(tensor_label(r, t).size(), 48));
  out += "  " + pad("tensor", width) + pad("elements", 12, true) + pad("values", 12, true) + pad("worst/allowed", 15, true) +
         pad("max ulps", 10, true) + pad("rms ulps", 10, true) + pad("failures", 10, true) + "  step\n";
  // The failing tensors and the 20 worst others (all with --all-tensors), in the manifest's order.
  std::vector<const audit::TensorVerdict*> shown;
  std::vector<const audit::TensorVerdict*> by_ratio;
  for (const auto& t : r.tensors) (t.passed() ? by_ratio : shown).push_back(&t);
  std::stable_sort(by_ratio.begin(), by_ratio.end(),
                   [](auto* a, auto* b) { return a->statistics.worst_ratio > b->statistics.worst_ratio; });
  const std::size_t others = all_tensors ? by_ratio.size() : std::min<std::size_t>(by_ratio.size(), 20);
  shown.insert(shown.end(), by_ratio.begin(), by_ratio.begin() + static_cast<std::ptrdiff_t>(others));
  std::stable_sort(shown.begin(), shown.end(), [&](auto* a, auto* b) { return a < b; });
  for (const auto* t : shown)
    out += "  " + pad(tensor_label(r, *t), width) + pad(std::to_string(t->elements), 12, true) +
           pad(std::to_string(t->statistics.count), 12, true) + pad(format("%.3g", t->statistics.worst_ratio), 15, true) +
           pad(format("%.3g", t->statistics.max_error_ulps), 10, true) + pad(format("%.3g", t->statistics.rms_ulps()), 10, true) +
           pad(std::to_string(t->failures), 10, true) + "  " + std::to_string(t->step_before) + " -> " +
           std::to_string(t->step_after) + (t->stepped ? "" : " (no grad)") + "\n";
  if (shown.size() < r.tensors.size())
    out += "  ... " + std::to_string(r.tensors.size() - shown.size()) + " more tensors passed (--all-tensors lists them)\n";
  for (const auto& t : r.tensors)
    for (const auto& [element, description] : t.failed) out += "FAIL " + description + "\n";
  for (const auto& t : r.tensors)
    if (t.failures > t.failed.size())
      out += "  ... " + t.name + ": " + std::to_string(t.failures - t.failed.size()) + " more failures\n";
  const audit::TensorVerdict* worst = nullptr;
  for (const auto& t : r.tensors)
    if (!worst || t.statistics.worst_ratio > worst->statistics.worst_ratio) worst = &t;
  if (worst && !worst->statistics.worst.empty()) out += "  worst value: " + worst->statistics.worst + "\n";
  out += std::string("verdict: ") + (r.passed() ? "PASS" : "FAIL") + ": " + std::to_string(r.tensors.size()) + " tensors, " +
         std::to_string(r.elements()) + " elements, " + std::to_string(r.values() - r.unjudged()) + " values judged" +
         (r.unjudged() ? " (" + std::to_string(r.unjudged()) + " more beyond judgment: their bound reaches the format's largest value)" : "") +
         ", " +
         std::to_string(r.failures()) + " failures; worst " + format("%.3g", worst_ratio(r)) + " of the allowed error (" +
         format("%.1f", r.seconds) + " s)\n";
  if (r.fast_values() + r.mpfr_values() > 0)
    out += "  decided by the fast exact path: " + std::to_string(r.fast_values()) + " values; in MPFR: " +
           std::to_string(r.mpfr_values()) + " (docs/error-model.md, \"The fast exact path\")\n";
  return out;
}

std::string render_audit_junit(const audit::AuditReport& r) {
  std::size_t failing = 0;
  for (const auto& t : r.tensors) failing += !t.passed();
  const std::string suite = "adamconf.audit." + r.preset + "." + r.dtype;
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"" + xml_escape(suite) +
                    "\" tests=\"" + std::to_string(r.tensors.size()) + "\" failures=\"" + std::to_string(failing) +
                    "\" time=\"" + format("%.3f", r.seconds) + "\">\n    <properties><property name=\"manifest\" value=\"" +
                    xml_escape(r.manifest) + "\"/><property name=\"convention\" value=\"" + xml_escape(r.convention) +
                    "\"/></properties>\n";
  for (const auto& t : r.tensors) {
    out += "    <testcase classname=\"" + xml_escape(suite) + "\" name=\"" + xml_escape(t.name) + "\">";
    if (!t.passed()) {
      std::string body;
      for (const auto& [e, d] : t.failed) body += d + "\n";
      out += "\n      <failure message=\"" + xml_escape(std::to_string(t.failures) + " values outside the one-step bound") +
             "\">" + xml_escape(body) + "</failure>\n    ";
    }
    out += "</testcase>\n";
  }
  return out + "  </testsuite>\n</testsuites>\n";
}

std::string render_audit_html(const audit::AuditReport& r) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>adamconf audit " + xml_escape(r.manifest) +
      "</title>\n<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
      "padding:2px 8px;text-align:right}td:first-child{text-align:left}.fail{background:#fdd}.pass{background:#dfd}"
      "pre{white-space:pre-wrap}</style></head><body>\n";
  out += "<h1>adamconf audit: <span class=\"" + std::string(r.passed() ? "pass" : "fail") + "\">" +
         (r.passed() ? "PASS" : "FAIL") + "</span></h1>\n<p>" + xml_escape(r.manifest + shards_text(r)) + "<br>" +
         xml_escape(r.convention) + "<br>" + std::to_string(r.tensors.size()) + " tensors, " + std::to_string(r.elements()) +
         " elements, " + std::to_string(r.values() - r.unjudged()) + " values judged, " + std::to_string(r.unjudged()) +
         " beyond judgment, " + std::to_string(r.failures()) + " failures</p>\n";
  out += "<table><tr><th>tensor</th><th>elements</th><th>values</th><th>worst/allowed</th><th>max ulps</th><th>rms ulps</th>"
         "<th>failures</th><th>step</th></tr>\n";
  for (const auto& t : r.tensors)
    out += "<tr class=\"" + std::string(t.passed() ? "pass" : "fail") + "\"><td>" + xml_escape(tensor_label(r, t)) + "</td><td>" +
           std::to_string(t.elements) + "</td><td>" + std::to_string(t.statistics.count) + "</td><td>" +
           format("%.3g", t.statistics.worst_ratio) + "</td><td>" + format("%.3g", t.statistics.max_error_ulps) + "</td><td>" +
           format("%.3g", t.statistics.rms_ulps()) + "</td><td>" + std::to_string(t.failures) + "</td><td>" +
           std::to_string(t.step_before) + " &rarr; " + std::to_string(t.step_after) + "</td></tr>\n";
  out += "</table>\n";
  for (const auto& t : r.tensors)
    if (!t.failed.empty()) {
      out += "<h2>" + xml_escape(t.name) + ": " + tensor_verdict(t) + "</h2>\n<pre>";
      for (const auto& [e, d] : t.failed) out += xml_escape(d) + "\n";
      out += "</pre>\n";
    }
  return out + "</body></html>\n";
}

}  // namespace adamconf::cli
