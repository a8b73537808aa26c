// `check --html REPORT.html`: one self-contained page (no network, no script)
// with the verdict table and, for each property that compared whole
// trajectories, a plot of the failing (or worst) element per step: the
// implementation's values against the exact trajectory, and its error in ulps
// inside the allowed band.
#pragma once

#include <string>
#include <vector>

#include "check_report.hpp"

namespace adamconf::cli {

std::string render_html(const CheckRun& run);

/// The plot of one element's trajectory as inline SVG (two panels: values,
/// and signed error in ulps on a symmetric log scale with the band +-allowed).
std::string render_trace_svg(const std::vector<TracePoint>& points, const std::string& title);

}  // namespace adamconf::cli
