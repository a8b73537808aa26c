#include <algorithm>

#include "adamconf/process_implementation.hpp"

namespace adamconf {

ProcessImplementation::ProcessImplementation(std::string command, double timeout_seconds)
    : command_(std::move(command)), timeout_(timeout_seconds) {
  start();
}

// The adapter exits at end of input; ~AdapterProcess closes its stdin and, if
// it lingers, kills its process group.
ProcessImplementation::~ProcessImplementation() = default;

void ProcessImplementation::start() {
  process_ = std::make_unique<AdapterProcess>(command_, timeout_);
  AdapterInfo info = parse_hello(exchange(hello_request(), "hello"), command_);
  const std::string previous = info_.optimizers.empty() ? "" : selected().name;
  info_ = std::move(info);
  selected_ = 0;
  if (!previous.empty()) select(previous);
}

std::string ProcessImplementation::exchange(const std::string& request, const std::string& what) {
  try {
    return process_->exchange(request, what);
  } catch (const AdapterFailure& e) {
    if (e.hung) hung_ = true;
    process_.reset();
    throw;
  }
}

void ProcessImplementation::select(const std::string& optimizer) {
  for (std::size_t k = 0; k < info_.optimizers.size(); ++k)
    if (info_.optimizers[k].name == optimizer) {
      selected_ = k;
      return;
    }
  std::string known;
  for (const auto& o : info_.optimizers) known += (known.empty() ? "" : ", ") + o.name;
  throw std::invalid_argument("the adapter offers no optimizer '" + optimizer + "' (it offers: " + known + ")");
}

const AdapterOptimizer& ProcessImplementation::selected() const { return info_.optimizers.at(selected_); }

const AdapterOptimizer* ProcessImplementation::optimizer_for(const std::string& preset) const {
  for (const auto& o : info_.optimizers)
    if (std::find(o.presets.begin(), o.presets.end(), preset) != o.presets.end()) return &o;
  return nullptr;
}

std::string ProcessImplementation::name() const { return selected().name + " (" + info_.name + ")"; }

Capabilities ProcessImplementation::capabilities() const {
  const AdapterOptimizer& o = selected();
  Capabilities c;
  c.presets = o.presets;
  c.dtypes = o.dtypes;
  c.options = o.options;
  c.state_io = o.state;
  c.lr_schedule = o.lr_schedule;
  c.hyperparameters = o.hyperparameters;
  c.tensors = info_.protocol >= 2;
  return c;
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
