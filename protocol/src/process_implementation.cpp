#include <algorithm>

#include "adamconf/process_implementation.hpp"

namespace adamconf {

ProcessImplementation::ProcessImplementation(std::string command, double timeout_seconds, double start_timeout_seconds)
    : command_(std::move(command)), timeout_(timeout_seconds), start_timeout_(start_timeout_seconds) {
  start();
}

// The adapter exits at end of input; ~AdapterProcess closes its stdin and, if
// it lingers, kills its process group.
ProcessImplementation::~ProcessImplementation() = default;

void ProcessImplementation::start() {
  process_ = std::make_unique<AdapterProcess>(command_, timeout_);
  AdapterInfo info =
      parse_hello(exchange(hello_request(), "hello", start_timeout_), command_);
  const std::string previous = info_.optimizers.empty() ? "" : selected().name;
  info_ = std::move(info);
  selected_ = 0;
  if (!previous.empty()) select(previous);
}

std::string ProcessImplementation::exchange(const std::string& request, const std::string& what, double timeout_seconds) {
  try {
    return process_->exchange(request, what, timeout_seconds);
  } catch (const AdapterFailure& e) {
    if (e.hung) hung_ = true;
    process_.reset();
    throw;
  }
}

std::vector<RunResult> ProcessImplementation::run(const Setup& setup, const std::vector<RunCase>& cases) {
  if (hung_) throw AdapterFailure("the adapter stopped answering earlier; it is not restarted", true);
  if (!process_) start();  // after a crash: a fresh process
  const long long id = next_id_++;
  return parse_run_answer(
      exchange(run_request(id, selected().name, setup, cases, info_.protocol), "request " + std::to_string(id)), id, cases,
      info_.protocol);
}

}  // namespace adamconf
