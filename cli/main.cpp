// adamconf: a conformance suite for Adam/AdamW implementations.
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

#include "commands.hpp"

namespace adamconf::cli {
int exit_status = 0;
}

int main(int argc, char** argv) {
  using namespace adamconf::cli;
  CLI::App app{"adamconf: check Adam/AdamW implementations against an exact reference"};
  app.require_subcommand(1);
  add_presets_command(app);
  add_trace_command(app);
  add_golden_command(app);
  add_check_command(app);
  add_properties_command(app);
  add_identify_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "adamconf: error: " << e.what() << "\n";
    return 2;
  }
  return exit_status;
}
