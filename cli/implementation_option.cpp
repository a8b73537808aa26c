#include "implementation_option.hpp"

#include <algorithm>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "adamconf/float_adam.hpp"
#include "check_report.hpp"
#include "installed_data.hpp"

namespace adamconf::cli {

CLI::Validator timeout_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double x = 0;
        try {
          std::size_t used = 0;
          x = std::stod(text, &used);
          if (used != text.size()) return "expected a number of seconds, got '" + text + "'";
        } catch (const std::exception&) {
          return "expected a number of seconds, got '" + text.substr(0, 40) + "'";
        }
        if (!(x > 0 && x <= kMaxTimeoutSeconds)) return "expected seconds in (0, 86400], got " + text.substr(0, 40);
        return "";
      },
      "SECONDS in (0, 86400]");
}

namespace {

/// adapters/torch/torch_optim_adapter.py: beside an installed command
/// (PREFIX/share/adamconf/adapters), else in the source tree it was built from.
std::string torch_adapter_path() {
  if (const auto installed = installed_data("adapters/torch/torch_optim_adapter.py")) return *installed;
  const std::filesystem::path source = std::filesystem::path(ADAMCONF_SOURCE_DIR) / "adapters/torch/torch_optim_adapter.py";
  std::error_code ec;
  if (std::filesystem::exists(source, ec)) return source.string();
  throw std::invalid_argument("--impl torch:...: adapters/torch/torch_optim_adapter.py is neither installed beside adamconf nor in " +
                              std::string(ADAMCONF_SOURCE_DIR));
}

}  // namespace

std::string torch_python() {
  if (const char* python = std::getenv("ADAMCONF_PYTHON"); python && *python) return python;
  const std::filesystem::path venv = std::filesystem::path(ADAMCONF_SOURCE_DIR) / ".venv/bin/python";
  std::error_code ec;
  if (std::filesystem::exists(venv, ec)) return venv.string();
  return "/usr/bin/python3";
}

std::string torch_adapter_command(const std::string& impl, const std::string& preset) {
  // torch:MODULE:CLASS[:ARGS]; MODULE may itself hold no ':'.
  const std::string rest = impl.substr(6);
  const auto first = rest.find(':');
  if (first == std::string::npos || first == 0 || first + 1 == rest.size())
    throw std::invalid_argument("--impl " + impl + ": expected torch:MODULE:CLASS[:NAME=VALUE,...] (torch:torch.optim:AdamW)");
  const auto second = rest.find(':', first + 1);
  const std::string spec = rest.substr(0, second);
  const std::string args = second == std::string::npos ? "" : rest.substr(second + 1);
  std::string command = shell_quote(torch_python()) + " " + shell_quote(torch_adapter_path()) + " " + shell_quote(spec);
  if (!preset.empty()) command += " --preset " + shell_quote(preset);
  if (!args.empty()) command += " --args " + shell_quote(args);
  return command;
}

void add_timeout_options(CLI::App& cmd, AdapterTimeouts& timeouts) {
  cmd.add_option("--timeout", timeouts.answer, "seconds an adapter has for each answer")
      ->check(timeout_validator())
      ->capture_default_str();
  cmd.add_option("--start-timeout", timeouts.start,
                 "seconds an adapter has to start and answer hello (importing PyTorch from a cold disk takes tens of seconds)")
      ->check(timeout_validator())
      ->capture_default_str();
}

OpenedImplementation open_implementation(const std::string& impl, const AdapterTimeouts& timeouts, const std::string& optimizer,
                                         const std::string& preset, const std::string& dtype) {
  OpenedImplementation out;
  if (impl == "builtin:float") {
    out.implementation = std::make_unique<FloatImplementation>("adamconf's float implementation (builtin:float)");
    return out;
  }
  if (impl.rfind("builtin:", 0) == 0) throw std::invalid_argument("unknown built-in implementation '" + impl + "' (known: builtin:float)");
  std::unique_ptr<AdapterImplementation> process;
  if (impl.rfind("lib:", 0) == 0) {
    if (impl.size() == 4) throw std::invalid_argument("--impl lib:: expected lib:PATH of a shared library (adamconf/adapter.h)");
    process = std::make_unique<LibraryImplementation>(impl.substr(4));
  } else {
    process = std::make_unique<ProcessImplementation>(impl.rfind("torch:", 0) == 0 ? torch_adapter_command(impl, preset) : impl,
                                                      timeouts.answer, timeouts.start);
  }
  if (!optimizer.empty()) {
    process->select(optimizer);
  } else if (!preset.empty()) {
    const AdapterOptimizer* o = process->optimizer_for(preset);
    if (!o) {
      std::string offered;
      for (const auto& opt : process->info().optimizers) {
        offered += (offered.empty() ? "" : "; ") + opt.name + ":";
        for (const auto& p : opt.presets) offered += " " + p;
      }
      throw std::invalid_argument("the adapter offers no optimizer for preset " + preset + " (it offers " + offered +
                                  "); name one with --optimizer to check it against " + preset + " anyway");
    }
    // Several optimizers claiming the preset: the one of them offering the dtype, where only one
    // does; otherwise the choice is the user's, not adamconf's.
    // Where none offers it and one of them says why, that one: check quotes its reason.
    std::vector<const AdapterOptimizer*> claiming, with_dtype, refusing;
    for (const auto& opt : process->info().optimizers)
      if (std::find(opt.presets.begin(), opt.presets.end(), preset) != opt.presets.end()) {
        claiming.push_back(&opt);
        if (std::find(opt.dtypes.begin(), opt.dtypes.end(), dtype) != opt.dtypes.end()) with_dtype.push_back(&opt);
        if (opt.dtypes_refused.count(dtype)) refusing.push_back(&opt);
      }
    if (claiming.size() > 1 && with_dtype.size() == 1) {
      o = with_dtype.front();
    } else if (claiming.size() > 1 && with_dtype.empty() && !refusing.empty()) {
      o = refusing.front();
    } else if (claiming.size() > 1) {
      std::string names;
      for (const AdapterOptimizer* c : claiming) names += (names.empty() ? "" : ", ") + c->name;
      const std::string which = dtype.empty() ? ""
                                : with_dtype.empty() ? "; none offers " + dtype
                                                     : "; several offer " + dtype;
      throw std::invalid_argument("the adapter offers several optimizers for preset " + preset + " (" + names + which +
                                  "): name one with --optimizer");
    }
    process->select(o->name);
  }
  out.process = process.get();
  out.implementation = std::move(process);
  return out;
}

}  // namespace adamconf::cli
