// adamconf: a conformance suite for Adam/AdamW implementations.
#include <CLI/CLI.hpp>

#include <exception>
#include <filesystem>
#include <iostream>
#include <new>

#include "adamconf/bounded_json.hpp"
#include "adamconf/process_implementation.hpp"
#include "commands.hpp"

namespace adamconf::cli {
int exit_status = 0;
}

int main(int argc, char** argv) {
  using namespace adamconf::cli;
  adamconf::adopt_adapter_orphans();  // no process an adapter started outlives adamconf
  CLI::App app{"adamconf: check Adam/AdamW implementations against an exact reference"};
  app.require_subcommand(1);
  add_presets_command(app);
  add_trace_command(app);
  add_golden_command(app);
  add_check_command(app);
  add_properties_command(app);
  add_identify_command(app);
  // Every failure is one line on stderr and exit status 2 (bad input or an
  // internal error); 1 is kept for a check that ran and failed.
  auto error = [](const std::string& what) {
    std::cerr << "adamconf: error: " << adamconf::excerpt(what, 300) << "\n";
    return 2;
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return error(std::string(e.what()) + " (adamconf --help lists the commands and options)");
  } catch (const std::filesystem::filesystem_error& e) {
    const std::string path = e.path1().empty() ? "" : e.path1().string() + ": ";
    return error(path + e.code().message());
  } catch (const std::bad_alloc&) {
    return error("out of memory");
  } catch (const std::exception& e) {
    return error(e.what());
  }
  return exit_status;
}
