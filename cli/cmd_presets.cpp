// adamconf presets: the conventions, their sources and defaults.
#include <iostream>

#include "commands.hpp"
#include "spec_options.hpp"

namespace adamconf::cli {

void add_presets_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("presets", "list the convention presets with their sources");
  cmd->callback([] {
    for (const auto& p : presets()) {
      std::cout << p.name << "\n  " << p.summary << "\n  chain:    " << p.convention.describe()
                << "\n  defaults: " << describe(p.defaults) << "\n  source:   " << p.source << "\n";
      std::string options;
      if (p.amsgrad != AmsgradVariant::none) options += " --amsgrad (" + to_string(p.amsgrad) + ")";
      if (p.offers_maximize) options += " --maximize";
      if (p.offers_bias_correction_switch) options += " --no-bias-correction";
      std::cout << "  options: ";
      for (const auto& h : p.hyperparameters) std::cout << " --set " << h << "=";
      std::cout << options << "\n\n";
    }
  });
}

}  // namespace adamconf::cli
