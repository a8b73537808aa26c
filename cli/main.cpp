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

namespace {
/// "" when each word that must name a command names one; else the one-line
/// error for the first that does not. CLI11 would show the top-level help for
/// `adamconf audit --help` and exit 0 (a script probing for a command would
/// believe it exists), and say only "A subcommand is required" for `adamconf audit`.
std::string unknown_command(CLI::App& app, int argc, char** argv) {
  CLI::App* level = &app;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    const std::vector<CLI::App*> commands = level->get_subcommands([](CLI::App*) { return true; });
    // an option, a command's own arguments, or a word where a subcommand is optional (audit MANIFEST, audit merge)
    if (word.empty() || word[0] == '-' || commands.empty() || level->get_require_subcommand_min() == 0) return "";
    CLI::App* next = nullptr;
    std::string known;
    for (CLI::App* c : commands) {
      if (c->get_name() == word) next = c;
      known += (known.empty() ? "" : ", ") + c->get_name();
    }
    if (!next)
      return "unknown command '" + path + adamconf::excerpt(word, 40) + "' (known" +
             (path.empty() ? "" : " after '" + path.substr(0, path.size() - 1) + "'") + ": " + known + ")";
    path += word + " ";
    level = next;
  }
  return "";
}
}  // namespace
}  // namespace adamconf::cli

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
  add_audit_command(app);
  // Every failure is one line on stderr and exit status 2 (bad input or an
  // internal error); 1 is kept for a check that ran and failed.
  auto error = [](const std::string& what) {
    std::cerr << "adamconf: error: " << adamconf::excerpt(what, 300) << "\n";
    return 2;
  };
  if (const std::string unknown = unknown_command(app, argc, argv); !unknown.empty()) return error(unknown);
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
