// The options that name an optimizer on the command line: --preset, --set
// name=value (repeatable), --amsgrad, --maximize, --no-bias-correction.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "adamconf/presets.hpp"

namespace adamconf::cli {

struct SpecOptions {
  std::string preset;
  std::vector<std::string> settings;  ///< "name=value"
  bool amsgrad = false;
  bool maximize = false;
  bool no_bias_correction = false;
  std::string step_counter;  ///< "integer", "float32", or "" when not given
  /// Whether --step-counter was given.
  bool step_counter_given() const { return !step_counter.empty(); }
  std::string subnormals;  ///< "gradual", "flushed", or "" when not given
  bool subnormals_given() const { return !subnormals.empty(); }
  std::string scalars;  ///< "working", "float32", or "" when not given
  bool scalars_given() const { return !scalars.empty(); }
  std::string precision;  ///< "storage", "float32-opmath", or "" when not given
  bool precision_given() const { return !precision.empty(); }
  /// --state-format (all three), --m-format, --v-format, --vmax-format; "" when not given.
  std::string state_format, m_format, v_format, vmax_format, compensation_format;
  std::string m_decay;  ///< --m-decay: "in-format", "arithmetic", or "" when not given
  std::string v_decay;  ///< --v-decay: likewise
  std::string direction;  ///< --direction: "in-format", "arithmetic", or "" when not given
  bool state_formats_given() const {
    return !state_format.empty() || !m_format.empty() || !v_format.empty() || !vmax_format.empty() ||
           !compensation_format.empty() || !m_decay.empty() || !v_decay.empty() || !direction.empty();
  }
  /// The state formats given (--m-format over --state-format); throws std::invalid_argument for an unknown format.
  StateFormats state_formats() const;

  /// Adds the options to `command`; `preset_required` makes --preset mandatory.
  void add_to(CLI::App& command, bool preset_required = true);
  /// The resolved spec; throws std::invalid_argument with a one-line message.
  OptimizerSpec spec() const;
};

/// "a,b,c" -> {"a", "b", "c"} (empty items are kept, so "1,,2" fails to parse later).
std::vector<std::string> split(const std::string& text, char separator);

/// The hyperparameters as "lr=0.001 beta1=0.9 ...".
std::string describe(const Hyperparameters& h);

}  // namespace adamconf::cli
