// adamconf golden regenerate | verify | check FILE --results R
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <type_traits>
#include <variant>

#include "adamconf/atomic_file.hpp"
#include "adamconf/golden.hpp"
#include "commands.hpp"
#include "implementation_option.hpp"
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
  auto impl = std::make_shared<std::string>(), optimizer = std::make_shared<std::string>();
  auto saved = std::make_shared<std::string>();
  auto timeouts = std::make_shared<AdapterTimeouts>();
  auto* check = golden->add_subcommand("check", "compare an implementation's results with a golden file, or run an "
                                                "implementation over it and compare");
  check->add_option("FILE", *file, "golden file (a trajectory, or quantized steps)")->required();
  auto* results_option = check->add_option("--results", *results, "the implementation's results (golden/FORMAT.md)");
  auto* impl_option = check->add_option("--impl", *impl, "run this implementation over the file instead (as check's "
                                                         "--impl: an adapter command, torch:MODULE:CLASS, builtin:float)");
  results_option->excludes(impl_option);
  check->add_option("--optimizer", *optimizer, "with --impl: the adapter's optimizer (default: the one offering the file's preset)");
  check->add_option("--save-results", *saved, "with --impl: also write its results file here (atomically)")->needs(impl_option);
  add_timeout_options(*check, *timeouts);
  check->add_flag("--all-steps", *verbose, "print every step, not only failing ones and a summary");
  check->callback([file, results, verbose, impl, optimizer, saved, timeouts] {
    if (results->empty() && impl->empty()) throw std::invalid_argument("golden check: give --results FILE or --impl IMPL");
    const auto g = golden::load_any(*file);
    golden::Results r;
    if (!impl->empty()) {
      const std::string preset = std::visit([](const auto& golden) { return golden.preset; }, g);
      const std::string dtype = std::visit([](const auto& golden) { return std::string(golden.dtype.name); }, g);
      OpenedImplementation opened;
      try {
        opened = open_implementation(*impl, *timeouts, *optimizer, preset, dtype);
      } catch (const AdapterFailure& e) {
        std::printf("adamconf golden check: FAIL: the adapter did not start: %s\n", e.what());
        exit_status = 1;
        return;
      }
      try {
        r = std::visit([&](const auto& golden) { return golden::run(golden, *opened.implementation); }, g);
      } catch (const ImplementationError& e) {
        std::printf("adamconf golden check: FAIL: %s\n", e.what());
        exit_status = 1;
        return;
      }
      r.path = opened.implementation->name();
      if (!saved->empty()) write_atomically(*saved, golden::render_results(r));
    } else {
      r = golden::load_results(*results);
    }
    const golden::CheckReport report = std::visit([&](const auto& golden) { return golden::check(golden, r); }, g);
    std::visit(
        [&](const auto& golden) {
          const bool quantized = std::is_same_v<std::decay_t<decltype(golden)>, golden::QuantizedGolden>;
          std::printf("%s (%s, %s%s): %zu values compared", golden.name.c_str(), golden.preset.c_str(), golden.dtype.name,
                      quantized ? ", one step from each given quantized state" : "", report.compared);
        },
        g);
    if (report.unjudged) std::printf(", %zu with a bound beyond the format (not judged)", report.unjudged);
    std::printf("\n");
    std::printf("  %-6s %-9s %12s %12s %12s  %s\n", "step", "field", "max ulps", "rms ulps", "allowed", "worst element");
    double max_ulps = 0;
    for (const auto& s : report.steps) {
      max_ulps = std::max(max_ulps, s.max_error_ulps);
      if (!*verbose && !s.failures) continue;
      if (s.codes)  // codes have no ulps: a code is acceptable or not
        std::printf("  %-6d %-9s %12s %12s %12s  %s%s\n", s.t, s.quantity.c_str(), "-", "-", "-",
                    s.failures ? (std::to_string(s.failures) + " codes not acceptable; first: " + s.worst).c_str() : "",
                    s.failures ? "  FAIL" : "");
      else
        std::printf("  %-6d %-9s %12.4g %12.4g %12.4g  %s%s\n", s.t, s.quantity.c_str(), s.max_error_ulps,
                    s.rms_error_ulps, s.max_allowed_ulps, s.worst.c_str(), s.failures ? "  FAIL" : "");
    }
    if (report.pass() && report.unjudged == report.compared) {
      // A check never passes vacuously: every bound allowed any value.
      std::printf("FAIL: nothing judged: every one of the %zu values had a bound beyond %s's largest finite value\n",
                  report.compared, std::visit([](const auto& golden) { return golden.dtype.name; }, g));
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
