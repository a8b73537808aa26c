// --impl: an adapter command, or a built-in implementation ("builtin:float").
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "adamconf/implementation.hpp"
#include "adamconf/library_implementation.hpp"
#include "adamconf/process_implementation.hpp"

namespace adamconf::cli {

struct OpenedImplementation {
  std::unique_ptr<Implementation> implementation;
  AdapterImplementation* process = nullptr;  ///< set for adapter commands and libraries (lib:PATH)
};

/// --timeout: seconds, finite, more than 0 and at most a day (NaN and 1e20
/// used to overflow a duration and report a correct adapter as hung).
CLI::Validator timeout_validator();

/// How long an adapter has: to start and answer hello, and for each answer after it.
struct AdapterTimeouts {
  double answer = 30;
  double start = kDefaultStartTimeoutSeconds;
};

/// --timeout and --start-timeout on `cmd`, into `timeouts` (which must outlive the parse).
void add_timeout_options(CLI::App& cmd, AdapterTimeouts& timeouts);

/// The Python that --impl torch:... runs: $ADAMCONF_PYTHON if set, else the
/// project's .venv (PyTorch 2.x from PyPI, scripts/install-deps.sh) when it
/// exists, else /usr/bin/python3 (Debian's, with PyTorch 1.13).
std::string torch_python();

/// --impl torch:MODULE:CLASS[:NAME=VALUE,...]: the command that runs
/// adapters/torch/torch_optim_adapter.py on that class (claiming `preset`) with torch_python().
std::string torch_adapter_command(const std::string& impl, const std::string& preset);

/// Starts the implementation (an adapter command, torch:..., lib:PATH.so, builtin:float). For an adapter, selects `optimizer` if given,
/// else the one offering `preset` (of several, the one offering `dtype` too, where `dtype` is given
/// and only one does: HeavyBall's adapter offers one optimizer per dtype). Throws AdapterFailure (the
/// adapter failed to start) or std::invalid_argument (bad input).
OpenedImplementation open_implementation(const std::string& impl, const AdapterTimeouts& timeouts, const std::string& optimizer,
                                         const std::string& preset, const std::string& dtype = "");

}  // namespace adamconf::cli
