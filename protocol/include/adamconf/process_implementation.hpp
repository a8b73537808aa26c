// An implementation in another process, driven over the adapter protocol
// (docs/protocol.md): JSON Lines on its stdin/stdout, every exchange under a
// deadline, so a crashing, hanging or babbling adapter gets a one-line verdict
// and adamconf never hangs.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "adamconf/adapter_messages.hpp"

namespace adamconf {

/// The time an adapter has to start and answer hello (--start-timeout):
/// starting imports its library, and PyPI's PyTorch loads its CUDA libraries
/// (about 2.5 GB) from a cold disk in tens of seconds on a loaded CI machine.
inline constexpr double kDefaultStartTimeoutSeconds = 120;
/// The longest --timeout: a day. Longer (or NaN) overflowed a duration.
inline constexpr double kMaxTimeoutSeconds = 86400;

/// Makes this process adopt the orphans of its adapters (a grandchild that
/// called setsid, a child an adapter left behind when it exited; Linux's child
/// subreaper) and end them with the adapter, so that nothing an adapter
/// started outlives the process. The adamconf command calls it first thing.
/// A program embedding ProcessImplementation calls it only if no child of its
/// own may be ended that way: every adopted child that is not a live adapter is.
/// Without it, the adapter's process group and every descendant still living
/// under it are ended; only an orphan that also left the group escapes.
void adopt_adapter_orphans();

/// The child process and its pipes.
class AdapterProcess {
 public:
  /// Starts `/bin/sh -c command` in its own process group.
  AdapterProcess(const std::string& command, double timeout_seconds);
  ~AdapterProcess();  ///< closes stdin, waits a moment, then kills the process group
  AdapterProcess(const AdapterProcess&) = delete;
  AdapterProcess& operator=(const AdapterProcess&) = delete;

  /// Writes one line and reads one line back, both before the deadline.
  /// Throws AdapterFailure saying what happened to `what` ("request 7").
  /// One request and its answer line, within `timeout_seconds` (the
  /// process's timeout when not given).
  std::string exchange(const std::string& line, const std::string& what, double timeout_seconds = 0);
  /// The last lines the adapter wrote to stderr.
  std::string stderr_tail() const;

 private:
  [[noreturn]] void fail_exited(const std::string& what);
  void drain_stderr();
  /// Kills the adapter, its process group and every descendant (wherever it
  /// moved), reaps it, and ends orphans it left to adamconf.
  void kill_group();
  /// Whether the adapter process has ended (reaps it; its status is kept).
  bool exited();

  pid_t pid_ = -1;
  int stdin_ = -1, stdout_ = -1, stderr_ = -1;
  double timeout_;
  std::string pending_;  // stdout bytes after the last line
  std::size_t scanned_ = 0;  // pending_[0, scanned_) holds no newline
  int exit_status_ = 0;
  bool killed_ = false;
  bool exited_before_answer_ = false;
  std::string stderr_text_;  // the tail of stderr
  bool reaped_ = false;
};

class ProcessImplementation : public AdapterImplementation {
 public:
  /// Starts the adapter and reads its hello. Throws AdapterFailure.
  /// `timeout_seconds` for each answer, `start_timeout_seconds` for the hello.
  ProcessImplementation(std::string command, double timeout_seconds,
                        double start_timeout_seconds = kDefaultStartTimeoutSeconds);
  ~ProcessImplementation() override;

  const std::string& command() const { return command_; }
  std::vector<RunResult> run(const Setup& setup, const std::vector<RunCase>& cases) override;

  /// Whether the adapter missed a deadline: run() then fails at once.
  bool hung() const { return hung_; }

 private:
  void start();
  std::string exchange(const std::string& request, const std::string& what, double timeout_seconds = 0);

  std::string command_;
  double timeout_;
  double start_timeout_;
  std::unique_ptr<AdapterProcess> process_;
  long long next_id_ = 1;
  bool hung_ = false;
};

}  // namespace adamconf
