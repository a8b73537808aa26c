#include "implementation_option.hpp"

#include <stdexcept>

#include "adamconf/float_adam.hpp"

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

OpenedImplementation open_implementation(const std::string& impl, double timeout, const std::string& optimizer,
                                         const std::string& preset) {
  OpenedImplementation out;
  if (impl == "builtin:float") {
    out.implementation = std::make_unique<FloatImplementation>("adamconf's float implementation (builtin:float)");
    return out;
  }
  if (impl.rfind("builtin:", 0) == 0) throw std::invalid_argument("unknown built-in implementation '" + impl + "' (known: builtin:float)");
  auto process = std::make_unique<ProcessImplementation>(impl, timeout);
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
    process->select(o->name);
  }
  out.process = process.get();
  out.implementation = std::move(process);
  return out;
}

}  // namespace adamconf::cli
