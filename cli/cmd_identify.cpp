// adamconf identify: name the convention an implementation follows.
#include <algorithm>
#include <iostream>

#include "adamconf/identify.hpp"
#include "commands.hpp"
#include "implementation_option.hpp"

namespace adamconf::cli {

void add_identify_command(CLI::App& app) {
  auto impl = std::make_shared<std::string>();
  auto optimizer = std::make_shared<std::string>();
  auto dtype = std::make_shared<std::string>();
  auto timeouts = std::make_shared<AdapterTimeouts>();
  auto* cmd = app.add_subcommand("identify", "probe an implementation and name the convention it follows");
  cmd->add_option("--impl", *impl, "adapter command (docs/protocol.md), or builtin:float")->required();
  cmd->add_option("--optimizer", *optimizer, "probe only this optimizer of the adapter (default: all)");
  cmd->add_option("--dtype", *dtype, "float32 or float64 (default: float64 where offered: tighter bounds)");
  add_timeout_options(*cmd, *timeouts);
  cmd->callback([=] {
    if (impl->rfind("builtin:", 0) == 0)
      throw std::invalid_argument("identify probes adapters; " + *impl + " follows whichever preset it is told");
    OpenedImplementation opened;
    try {
      opened = open_implementation(*impl, *timeouts, *optimizer, "");
    } catch (const AdapterFailure& e) {
      std::cout << "adamconf identify: the adapter did not start: " << e.what() << "\n";
      exit_status = 1;
      return;
    }
    std::vector<std::string> names;
    if (opened.process && optimizer->empty()) {
      // Every optimizer of the adapter; with --dtype, those that offer it (HeavyBall's adapter offers one per dtype).
      for (const auto& o : opened.process->info().optimizers)
        if (dtype->empty() || std::find(o.dtypes.begin(), o.dtypes.end(), *dtype) != o.dtypes.end()) names.push_back(o.name);
      if (names.empty()) throw std::invalid_argument("--dtype " + *dtype + ": none of the adapter's optimizers offers it");
    } else
      names.push_back(*optimizer);
    for (const auto& name : names) {
      if (opened.process && !name.empty()) opened.process->select(name);
      const Capabilities caps = opened.implementation->capabilities();
      std::string d = *dtype;
      if (d.empty()) d = caps.supports_dtype("float64") || caps.dtypes.empty() ? "float64" : caps.dtypes.front();
      const auto format = format_by_name(d);
      if (!format) throw std::invalid_argument("--dtype " + d + ": expected float32 or float64");
      try {
        std::cout << identify(*opened.implementation, *format).describe() << "\n";
      } catch (const ImplementationError& e) {
        std::cout << opened.implementation->name() << ": the adapter failed while probed: " << e.what() << "\n";
        exit_status = 1;
      }
    }
  });
}

}  // namespace adamconf::cli
