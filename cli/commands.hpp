// Each subcommand registers itself on the top-level app; the callback it
// installs runs the command and sets the exit status.
#pragma once

#include <CLI/CLI.hpp>

namespace adamconf::cli {

/// Where a subcommand leaves its exit status (0 success, 1 a check failed,
/// 2 bad input or an internal error).
extern int exit_status;

void add_presets_command(CLI::App& app);
void add_trace_command(CLI::App& app);
void add_golden_command(CLI::App& app);
void add_check_command(CLI::App& app);
void add_properties_command(CLI::App& app);
void add_identify_command(CLI::App& app);
void add_audit_command(CLI::App& app);

}  // namespace adamconf::cli
