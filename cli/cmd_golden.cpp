// adamconf golden regenerate | verify | check FILE --results R
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "adamconf/golden.hpp"
#include "commands.hpp"
#include "installed_data.hpp"
#include "progress.hpp"

namespace adamconf::cli {

namespace {
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// golden/traces of the working directory (a checkout), else the installed
/// copy beside the command (PREFIX/share/adamconf/golden/traces).
std::string default_traces_dir() {
  const std::string here = "golden/traces";
  std::error_code ec;
  if (std::filesystem::exists(here, ec)) return here;
  return installed_data("golden/traces").value_or(here);
}
}  // namespace

void add_golden_command(CLI::App& app) {
  auto* golden = app.add_subcommand("golden", "golden trace files: regenerate, verify, check an implementation's results");
  golden->require_subcommand(1);
  auto dir = std::make_shared<std::string>(default_traces_dir());

  auto* regenerate = golden->add_subcommand("regenerate", "write every golden file from the reference (atomically)");
  regenerate->add_option("--dir", *dir, "directory of the golden traces")->capture_default_str();
  regenerate->callback([dir] {
    const auto start = std::chrono::steady_clock::now();
    Progress progress("regenerating");
    const golden::RegenerateReport report = golden::regenerate(*dir, std::ref(progress));
    for (const auto& f : report.removed_temporaries)
      std::printf("removed %s/%s, a temporary file left by an interrupted run\n", dir->c_str(), f.c_str());
    for (const auto& f : report.removed_stale)
      std::printf("removed %s/%s, listed by the previous index but no longer generated\n", dir->c_str(), f.c_str());
    std::printf("wrote %zu golden files and index.json under %s in %.1f s\n", report.written, dir->c_str(),
                seconds_since(start));
  });

  auto* verify = golden->add_subcommand("verify", "fail if a committed golden file differs from what the reference produces now");
  verify->add_option("--dir", *dir, "directory of the golden traces")->capture_default_str();
  verify->callback([dir] {
    const auto start = std::chrono::steady_clock::now();
    Progress progress("verifying");
    const auto report = golden::verify(*dir, std::ref(progress));
    for (const auto& p : report.problems) std::printf("%s\n", p.c_str());
    if (report.clean()) {
      std::printf("all %zu golden files under %s match the reference (%.1f s)\n", report.files, dir->c_str(),
                  seconds_since(start));
    } else {
      std::printf("%zu of %zu golden files differ from the reference; `adamconf golden regenerate` rewrites them\n",
                  report.problems.size(), report.files);
      exit_status = 1;
    }
  });

  auto file = std::make_shared<std::string>();
  auto results = std::make_shared<std::string>();
  auto verbose = std::make_shared<bool>(false);
  auto* check = golden->add_subcommand("check", "compare an implementation's results with a golden file");
  check->add_option("FILE", *file, "golden file")->required();
  check->add_option("--results", *results, "the implementation's results (golden/FORMAT.md)")->required();
  check->add_flag("--all-steps", *verbose, "print every step, not only failing ones and a summary");
  check->callback([file, results, verbose] {
    const golden::GoldenTrace g = golden::load(*file);
    const golden::Results r = golden::load_results(*results);
    const golden::CheckReport report = golden::check(g, r);
    std::printf("%s (%s, %s): %zu values compared", g.name.c_str(), g.preset.c_str(), g.dtype.name, report.compared);
    if (report.unjudged) std::printf(", %zu with a bound beyond the format (not judged)", report.unjudged);
    std::printf("\n");
    std::printf("  %-6s %-5s %12s %12s %12s  %s\n", "step", "field", "max ulps", "rms ulps", "allowed", "worst element");
    double max_ulps = 0;
    for (const auto& s : report.steps) {
      max_ulps = std::max(max_ulps, s.max_error_ulps);
      if (*verbose || s.failures)
        std::printf("  %-6d %-5s %12.4g %12.4g %12.4g  %s%s\n", s.t, s.quantity.c_str(), s.max_error_ulps,
                    s.rms_error_ulps, s.max_allowed_ulps, s.worst.c_str(),
                    s.failures ? "  FAIL" : "");
    }
    if (report.pass() && report.unjudged == report.compared) {
      // A check never passes vacuously: every bound allowed any value.
      std::printf("FAIL: nothing judged: every one of the %zu values had a bound beyond %s's largest finite value\n",
                  report.compared, g.dtype.name);
      exit_status = 1;
    } else if (report.pass()) {
      std::printf("pass: every value within its allowed error; max error %.4g ulps\n", max_ulps);
    } else {
      std::printf("FAIL: %zu of %zu values outside their allowed error\n", report.failures, report.compared);
      exit_status = 1;
    }
  });
}

}  // namespace adamconf::cli
