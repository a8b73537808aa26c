#include "html_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace adamconf::cli {

namespace {

std::string esc(const std::string& s) { return xml_escape(s); }

std::string num(double x, const char* fmt = "%.4g") { return format(fmt, x); }

// Plot geometry: a panel of W x H with margins for the axis labels.
constexpr double W = 760, H = 230, left = 96, right = 16, top = 26, bottom = 34;

struct Axis {
  double lo, hi;    // data range
  double plo, phi;  // pixel range
  double operator()(double x) const { return hi == lo ? (plo + phi) / 2 : plo + (x - lo) / (hi - lo) * (phi - plo); }
};

// Signed error on a symmetric log scale: 0 at 0, +-1 decade per factor 10 beyond 1 ulp.
double symlog(double y) {
  if (std::isinf(y)) y = std::copysign(1e30, y);
  return std::copysign(std::log10(1 + std::fabs(y)), y);
}

/// At most ~2000 points: each bucket keeps its lowest and highest error and any failure.
std::vector<const TracePoint*> thinned(const std::vector<TracePoint>& points) {
  std::vector<const TracePoint*> out;
  const std::size_t buckets = 1000;
  if (points.size() <= 2 * buckets) {
    for (const auto& p : points) out.push_back(&p);
    return out;
  }
  const std::size_t per = (points.size() + buckets - 1) / buckets;
  for (std::size_t b = 0; b < points.size(); b += per) {
    const auto first = points.begin() + static_cast<std::ptrdiff_t>(b);
    const auto last = points.begin() + static_cast<std::ptrdiff_t>(std::min(points.size(), b + per));
    auto lo = std::min_element(first, last, [](auto& a, auto& c) { return a.error_ulps < c.error_ulps; });
    auto hi = std::max_element(first, last, [](auto& a, auto& c) { return a.error_ulps < c.error_ulps; });
    auto bad = std::find_if(first, last, [](auto& p) { return !p.pass; });
    std::vector<const TracePoint*> keep{&*lo, &*hi};
    if (bad != last) keep.push_back(&*bad);
    std::sort(keep.begin(), keep.end(), [](auto* a, auto* c) { return a->step < c->step; });
    keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
    out.insert(out.end(), keep.begin(), keep.end());
  }
  return out;
}

std::string polyline(const std::vector<std::pair<double, double>>& xy, const std::string& attrs) {
  std::string s = "<polyline fill=\"none\" " + attrs + " points=\"";
  for (const auto& [x, y] : xy) s += num(x, "%.1f") + "," + num(y, "%.1f") + " ";
  return s + "\"/>\n";
}

std::string text(double x, double y, const std::string& t, const std::string& anchor = "middle") {
  return "<text x=\"" + num(x, "%.1f") + "\" y=\"" + num(y, "%.1f") + "\" text-anchor=\"" + anchor + "\">" + esc(t) +
         "</text>\n";
}

std::string frame(const Axis& xa, double step_lo, double step_hi, const std::string& title, const std::string& ylabel) {
  std::string s = "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(W - left - right) +
                  "\" height=\"" + num(H - top - bottom) + "\" fill=\"#fff\" stroke=\"#999\"/>\n";
  s += text(W / 2, 16, title);
  s += text(14, H / 2, ylabel, "middle").replace(0, 5, "<text transform=\"rotate(-90 14 " + num(H / 2) + ")\"");
  const double first = step_lo + 0.5, last = step_hi - 0.5;  // the first and last step shown
  if (last - first <= 10) {
    for (double step = first; step <= last; ++step) s += text(xa(step), H - bottom + 16, num(step, "%.0f"));
  } else {
    for (int k = 0; k <= 4; ++k) {
      const double step = std::round(first + (last - first) * k / 4);
      s += text(xa(step), H - bottom + 16, num(step, "%.0f"));
    }
  }
  s += text(W / 2, H - 4, "step");
  return s;
}

}  // namespace

std::string render_trace_svg(const std::vector<TracePoint>& all, const std::string& title) {
  const auto pts = thinned(all);
  if (pts.empty()) return "";
  // Each step is a column one step wide: a trajectory of one step is a plot too.
  const double s_lo = static_cast<double>(pts.front()->step) - 0.5, s_hi = static_cast<double>(pts.back()->step) + 0.5;
  const Axis xa{s_lo, s_hi, left + 1, W - right - 1};
  const bool markers = pts.size() <= 60;
  auto dots = [&](const std::vector<std::pair<double, double>>& xy, const std::string& cls, const std::string& colour) {
    std::string d;
    if (markers)
      for (const auto& [x, y] : xy)
        d += "<circle class=\"" + cls + "\" cx=\"" + num(x, "%.1f") + "\" cy=\"" + num(y, "%.1f") + "\" r=\"2.5\" fill=\"" +
             colour + "\"/>\n";
    return d;
  };
  std::string svg;

  // Panel 1: the implementation's values and the exact ones.
  double v_lo = INFINITY, v_hi = -INFINITY;
  for (const auto* p : pts) {
    for (double v : {p->observed, p->exact})
      if (std::isfinite(v)) v_lo = std::min(v_lo, v), v_hi = std::max(v_hi, v);
  }
  if (!(v_lo <= v_hi)) v_lo = -1, v_hi = 1;
  const Axis va{v_lo, v_hi, H - bottom - 6, top + 6};
  svg += "<svg class=\"plot values\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(W) + "\" height=\"" + num(H) +
         "\" viewBox=\"0 0 " + num(W) + " " + num(H) + "\">\n";
  svg += frame(xa, s_lo, s_hi, title + ": values", "value");
  svg += text(left - 4, va(v_hi) + 4, num(v_hi, "%.5g"), "end") + text(left - 4, va(v_lo) + 4, num(v_lo, "%.5g"), "end");
  std::vector<std::pair<double, double>> exact, observed;
  for (const auto* p : pts) {
    exact.push_back({xa(static_cast<double>(p->step)), va(p->exact)});
    if (std::isfinite(p->observed)) observed.push_back({xa(static_cast<double>(p->step)), va(p->observed)});
  }
  svg += polyline(exact, "class=\"exact\" stroke=\"#000\" stroke-width=\"2\" stroke-dasharray=\"6 3\"");
  svg += polyline(observed, "class=\"observed\" stroke=\"#1f6fd0\" stroke-width=\"1.5\"");
  svg += dots(exact, "exact-point", "#000") + dots(observed, "observed-point", "#1f6fd0");
  svg += "<g font-size=\"11\">" + text(W - right - 150, top + 14, "- - exact", "start") +
         "<text x=\"" + num(W - right - 80) + "\" y=\"" + num(top + 14) + "\" fill=\"#1f6fd0\">implementation</text></g>\n";
  svg += "</svg>\n";

  // Panel 2: signed error in ulps, inside the band +-allowed.
  double e_max = 1;
  for (const auto* p : pts) e_max = std::max({e_max, std::fabs(symlog(p->error_ulps)), symlog(p->allowed_ulps)});
  const Axis ea{-e_max, e_max, H - bottom - 6, top + 6};
  svg += "<svg class=\"plot errors\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(W) + "\" height=\"" + num(H) +
         "\" viewBox=\"0 0 " + num(W) + " " + num(H) + "\">\n";
  svg += frame(xa, s_lo, s_hi, title + ": error in ulps (symmetric log scale)", "ulps");
  // The band +-allowed, a column per step (thinned points: up to the next kept step).
  std::string band = "<polygon class=\"band\" fill=\"#c9e8c9\" stroke=\"#7bbf7b\" points=\"";
  auto column = [&](std::size_t j, double sign) {
    const double a = j == 0 ? s_lo : (static_cast<double>(pts[j - 1]->step) + static_cast<double>(pts[j]->step)) / 2;
    const double b = j + 1 == pts.size() ? s_hi : (static_cast<double>(pts[j]->step) + static_cast<double>(pts[j + 1]->step)) / 2;
    const std::string y = num(ea(sign * symlog(pts[j]->allowed_ulps)), "%.1f");
    return sign > 0 ? num(xa(a), "%.1f") + "," + y + " " + num(xa(b), "%.1f") + "," + y + " "
                    : num(xa(b), "%.1f") + "," + y + " " + num(xa(a), "%.1f") + "," + y + " ";
  };
  for (std::size_t j = 0; j < pts.size(); ++j) band += column(j, 1);
  for (std::size_t j = pts.size(); j-- > 0;) band += column(j, -1);
  svg += band + "\"/>\n";
  // Grid lines at 0 and +-10^d, about five decades apart at most.
  const int every = std::max(1, static_cast<int>(std::ceil(e_max / 5)));
  for (int d = 0; d <= static_cast<int>(e_max) && d <= 400; d += every) {
    for (double sign : {1.0, -1.0}) {
      if (d == 0 && sign < 0) continue;
      const double y = ea(sign * symlog(d == 0 ? 0 : std::pow(10.0, d)));
      svg += "<line x1=\"" + num(left) + "\" x2=\"" + num(W - right) + "\" y1=\"" + num(y, "%.1f") + "\" y2=\"" +
             num(y, "%.1f") + "\" stroke=\"#e4e4e4\"/>\n";
      svg += text(left - 4, y + 4, d == 0 ? "0" : (sign < 0 ? "-1e" : "1e") + std::to_string(d), "end");
    }
  }
  std::vector<std::pair<double, double>> err;
  for (const auto* p : pts) err.push_back({xa(static_cast<double>(p->step)), ea(symlog(p->error_ulps))});
  svg += polyline(err, "class=\"error\" stroke=\"#1f6fd0\" stroke-width=\"1.5\"");
  svg += dots(err, "error-point", "#1f6fd0");
  for (const auto* p : pts)
    if (!p->pass)
      svg += "<circle class=\"outside\" cx=\"" + num(xa(static_cast<double>(p->step)), "%.1f") + "\" cy=\"" +
             num(ea(symlog(p->error_ulps)), "%.1f") + "\" r=\"4\" fill=\"#d62020\"/>\n";
  svg += "<g font-size=\"11\"><text x=\"" + num(W - right - 250) + "\" y=\"" + num(top + 14) +
         "\" fill=\"#3c8c3c\">allowed band</text><text x=\"" + num(W - right - 160) + "\" y=\"" + num(top + 14) +
         "\" fill=\"#1f6fd0\">error</text><text x=\"" + num(W - right - 110) + "\" y=\"" + num(top + 14) +
         "\" fill=\"#d62020\">outside the band</text></g>\n";
  return svg + "</svg>\n";
}

std::string render_html(const CheckRun& run) {
  const bool passed = run.passed();
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>adamconf check: " +
                  esc(run.implementation) + " as " + esc(run.preset) + "</title>\n<style>\n"
                  "body{font-family:sans-serif;margin:24px;max-width:1100px}\n"
                  "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}\n"
                  ".pass{color:#2a7a2a}.FAIL,.ERROR{color:#c01818;font-weight:bold}.skip{color:#777}\n"
                  "pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:12px}\n"
                  "svg text{font-size:11px;font-family:sans-serif}\n"
                  "</style></head><body>\n";
  h += "<h1 id=\"verdict\" class=\"" + std::string(passed ? "pass" : "FAIL") + "\">" + (passed ? "PASS" : "FAIL") +
       ": " + esc(run.implementation) + " as " + esc(run.preset + option_flags(run.options)) + ", " + esc(run.dtype) +
       "</h1>\n";
  h += "<p>seed " + std::to_string(run.seed) + ", up to " + std::to_string(run.cases) + " cases per property" +
       (run.shard.count > 1 ? ", shard " + run.shard.text() : std::string()) + ", " + num(run.seconds, "%.1f") +
       " s; errors in ulps of " + esc(ulps_of(run)) + ".</p>\n";
  h += "<table id=\"verdicts\"><tr><th>verdict</th><th>property</th><th>cases</th><th>worst fraction of allowed</th>"
       "<th>max error (ulps)</th><th>seconds</th><th>detail</th></tr>\n";
  for (std::size_t k = 0; k < run.results.size(); ++k) {
    const PropertyResult& r = run.results[k];
    const std::string status = to_string(r.status);
    h += "<tr class=\"property\"><td class=\"" + status + "\">" + status + "</td><td>" +
         (r.trace ? "<a href=\"#trace-" + std::to_string(k) + "\">" + esc(display_id(r)) + "</a>" : esc(display_id(r))) +
         "</td><td>" + std::to_string(r.cases) + "</td><td>" +
         (r.statistics.count ? num(r.statistics.worst_ratio, "%.3g") : "") + "</td><td>" +
         (r.statistics.count ? num(r.statistics.max_error_ulps, "%.3g") : "") + "</td><td>" + num(r.seconds, "%.2f") +
         "</td><td>" + esc(r.status == PropertyResult::Status::passed ? r.claim : r.reason) + "</td></tr>\n";
  }
  for (const auto& id : run.not_run)
    h += "<tr class=\"property\"><td class=\"FAIL\">not run</td><td>" + esc(id) + "</td><td></td><td></td><td></td><td></td>"
         "<td>the adapter failed</td></tr>\n";
  h += "</table>\n";

  // Failures first, then the worst trajectory of each passing property.
  std::vector<std::size_t> order;
  for (int pass = 0; pass < 2; ++pass)
    for (std::size_t k = 0; k < run.results.size(); ++k)
      if (run.results[k].trace && ((run.results[k].status == PropertyResult::Status::passed) == (pass == 1)))
        order.push_back(k);
  if (!order.empty()) h += "<h2>Trajectories</h2>\n";
  for (const std::size_t k : order) {
    const PropertyResult& r = run.results[k];
    const auto& points = run.trace_of(k);
    const bool failed = r.status != PropertyResult::Status::passed;
    h += "<section class=\"trace\" id=\"trace-" + std::to_string(k) + "\"><h3>" + esc(display_id(r)) + ": " +
         (failed ? "the failing case" : "the worst case") + ", " + esc(r.trace->position) + "</h3>\n<p>" + esc(r.claim) +
         "</p>\n";
    if (failed) {
      h += "<pre>" + esc(r.reason) + "</pre>\n";
      if (!r.counterexample.empty()) h += "<details><summary>inputs</summary><pre>" + esc(r.counterexample) + "</pre></details>\n";
      h += "<pre>replay: " + esc(run.replay(r)) + "</pre>\n";
    } else {
      h += "<p>worst " + num(r.trace->ratio, "%.3g") + " of the allowed error</p>\n";
    }
    h += render_trace_svg(points, r.trace->position);
    h += "</section>\n";
  }
  return h + "</body></html>\n";
}

}  // namespace adamconf::cli
