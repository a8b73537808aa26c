// `adamconf audit`: every element of a recorded optimizer step judged against
// the exact one-step result from the recorded inputs, within the one-step
// error bound (the same exact_single_step and judge() as `check`'s
// each-step properties). Tensors are read in windows from mapped files, so
// memory does not grow with the model; shards split the tensors of one step
// among the tasks of a job array and merge() joins their reports.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "adamconf/audit_manifest.hpp"
#include "adamconf/judge.hpp"

namespace adamconf::audit {

/// What one tensor's audit found.
struct TensorVerdict {
  std::string name;
  std::string dtype{};  ///< its dtype (the manifest's unless the manifest gives it one of its own)
  std::size_t group = 0;
  std::uint64_t elements = 0;
  bool stepped = true;  ///< it had a gradient (else theta and its state must be left alone)
  std::int64_t step_before = 0, step_after = 0;
  ErrorStatistics statistics{};  ///< theta, m, v (and vmax) of every element
  /// Of the values judged against their exact value, those the fast exact path
  /// certified (fast_step.hpp) and those judged in MPFR (every value it could
  /// not certify, every value of a quantized state, the worst of each window).
  std::uint64_t fast_values = 0, mpfr_values = 0;
  std::uint64_t failures = 0;
  /// The first failures by element (at most AuditSettings::shown_failures): element, description.
  std::vector<std::pair<std::uint64_t, std::string>> failed{};
  bool passed() const { return failures == 0; }
};

/// Which part of an audit a task takes: shard `index` (0-based) of `count`.
struct AuditShard {
  std::size_t index = 0, count = 1;
  /// "2/4" (1-based) -> {1, 4}; throws std::invalid_argument naming the text.
  static AuditShard parse(const std::string& text);
  std::string text() const { return std::to_string(index + 1) + "/" + std::to_string(count); }
};

/// The tensors (indices into `sizes`) shard s takes: the largest first, each to
/// the shard with the fewest elements so far (ties to the lowest index), so
/// that every task of a job array computes the same split and the shards carry
/// about equal work.
std::vector<std::size_t> shard_tensors(const std::vector<std::uint64_t>& sizes, const AuditShard& s);

struct AuditSettings {
  int jobs = 1;  ///< threads (0: every core)
  AuditShard shard{};
  std::uint64_t window = 4096;         ///< elements judged per piece of work
  std::size_t shown_failures = 5;      ///< per tensor
  /// Certify values with the fast exact path first (the verdict is the same;
  /// false judges every value in MPFR, as `--no-fast-path` asks).
  bool fast_path = true;
  /// Called as work completes (elements done, of total, the tensor): `Progress`.
  std::function<void(std::uint64_t, std::uint64_t, const std::string&)> progress{};
};

struct AuditReport {
  std::string manifest, digest;
  std::string preset, dtype, convention;  ///< convention: preset, options and hyperparameters in words
  std::vector<std::size_t> shards;  ///< the shards (0-based) this report covers
  std::size_t shard_count = 1;
  std::vector<TensorVerdict> tensors{};
  double seconds = 0;

  std::uint64_t elements() const;
  std::uint64_t values() const;  ///< values compared
  /// Of them, values beyond judgment: their bound reaches the format's largest
  /// finite value (judge(): any finite value, or NaN after an overflow, passes).
  std::uint64_t unjudged() const;
  std::uint64_t failures() const;
  std::uint64_t fast_values() const;  ///< TensorVerdict's, summed
  std::uint64_t mpfr_values() const;
  bool passed() const { return failures() == 0; }
  /// Whether every shard of the audit is here.
  bool complete() const { return shards.size() == shard_count; }
};

/// Audits the step the manifest describes. Throws InputError for a file that
/// cannot be read or does not agree with the manifest.
AuditReport run_audit(const Manifest& manifest, const AuditSettings& settings = {});

/// The report as JSON (docs/audit.md), and back; `file` names the text in
/// messages. Throws InputError.
std::string to_json(const AuditReport& report);
AuditReport report_from_json(const std::string& text, const std::string& file);

/// The shards' reports of one audit joined into one: the same manifest digest,
/// no shard twice. Throws InputError naming the report that does not fit.
AuditReport merge(const std::vector<std::pair<std::string, AuditReport>>& reports);

}  // namespace adamconf::audit
