// `adamconf audit MANIFEST`: a recorded optimizer step judged element by
// element (docs/audit.md); `adamconf audit merge REPORT...`: the JSON reports
// of an audit's shards joined into one verdict.
#include <iostream>
#include <memory>

#include "adamconf/atomic_file.hpp"
#include "adamconf/audit.hpp"
#include "adamconf/bounded_json.hpp"
#include "audit_report.hpp"
#include "commands.hpp"
#include "progress.hpp"

namespace adamconf::cli {

namespace {

struct ReportFiles {
  std::string json, junit, html;
  bool all_tensors = false;
  void add_to(CLI::App* cmd) {
    cmd->add_option("--json", json, "also write the JSON report here (what `audit merge` reads)");
    cmd->add_option("--junit", junit, "also write a JUnit XML report here (one test case per tensor)");
    cmd->add_option("--html", html, "also write an HTML report here");
    cmd->add_flag("--all-tensors", all_tensors, "list every tensor in the text report (default: failures and the 20 worst)");
  }
};

/// Prints and writes the report; the exit status: 0 pass, 1 fail, 2 nothing judged.
int report(const audit::AuditReport& r, const ReportFiles& files, bool whole) {
  std::cout << render_audit_text(r, files.all_tensors);
  if (!files.json.empty()) write_atomically(files.json, audit::to_json(r));
  if (!files.junit.empty()) write_atomically(files.junit, render_audit_junit(r));
  if (!files.html.empty()) write_atomically(files.html, render_audit_html(r));
  // A verdict over nothing is no pass: a step with no elements, or a merge
  // that lacks a shard. A shard of a job array may hold no tensor; its merge decides.
  if (whole && r.values() == r.unjudged()) {
    std::cerr << "adamconf: error: " << r.manifest << ": nothing judged (" <<
        (r.values() ? "every value's bound reaches the format's largest value" : "no element in the audited tensors") << ")\n";
    return 2;
  }
  return r.passed() ? 0 : 1;
}

struct AuditOptions {
  std::string manifest;
  int jobs = 1;
  std::string shard;
  std::size_t shown = 5;
  bool no_fast_path = false;
  ReportFiles files;
};

struct MergeOptions {
  std::vector<std::string> reports;
  ReportFiles files;
};

}  // namespace

void add_audit_command(CLI::App& app) {
  auto o = std::make_shared<AuditOptions>();
  auto* cmd = app.add_subcommand(
      "audit", "judge a recorded optimizer step (safetensors files and a manifest, docs/audit.md) element by element");
  cmd->add_option("manifest", o->manifest, "the step's manifest (recorders/ write it)");
  cmd->add_option("--jobs", o->jobs, "threads (0: every core)");
  cmd->add_option("--shard", o->shard, "I/N: audit the I-th of N parts of the tensors (a job array's task); `audit merge` joins the JSON reports");
  cmd->add_option("--show", o->shown, "failures shown per tensor (default 5)");
  cmd->add_flag("--no-fast-path", o->no_fast_path,
                "judge every value in MPFR (slower, the same verdict): without it, values the fast exact path certifies are not");
  o->files.add_to(cmd);
  auto m = std::make_shared<MergeOptions>();
  auto* merge = cmd->add_subcommand("merge", "join the JSON reports of one audit's shards into one verdict");
  merge->add_option("reports", m->reports, "the shards' JSON reports")->required();
  m->files.add_to(merge);
  merge->callback([m] {
    std::vector<std::pair<std::string, audit::AuditReport>> reports;
    for (const auto& f : m->reports) reports.emplace_back(f, audit::report_from_json(read_bounded_file(f), f));
    const audit::AuditReport r = audit::merge(reports);
    if (!r.complete()) {
      std::string missing;
      for (std::size_t s = 0; s < r.shard_count; ++s)
        if (std::find(r.shards.begin(), r.shards.end(), s) == r.shards.end())
          missing += (missing.empty() ? "" : ", ") + std::to_string(s + 1) + "/" + std::to_string(r.shard_count);
      throw std::runtime_error("audit merge: shard" + std::string(r.shard_count - r.shards.size() > 1 ? "s " : " ") + missing +
                               " missing: no verdict over part of the step");
    }
    exit_status = report(r, m->files, true);
  });
  cmd->callback([o, cmd] {
    if (!cmd->get_subcommands().empty()) return;  // audit merge
    if (o->manifest.empty()) throw std::runtime_error("audit: give a manifest (adamconf audit STEP/manifest.json), or `audit merge REPORT...`");
    if (o->jobs < 0) throw std::runtime_error("--jobs " + std::to_string(o->jobs) + ": expected 0 (every core) or more");
    audit::AuditSettings settings{.jobs = o->jobs, .shown_failures = o->shown, .fast_path = !o->no_fast_path};
    if (!o->shard.empty()) settings.shard = audit::AuditShard::parse(o->shard);
    Progress progress("audit: elements");
    settings.progress = [&](std::uint64_t done, std::uint64_t total, const std::string& tensor) { progress(done, total, tensor); };
    const audit::Manifest manifest = audit::load_manifest(o->manifest);
    exit_status = report(audit::run_audit(manifest, settings), o->files, settings.shard.count == 1);
  });
}

}  // namespace adamconf::cli
