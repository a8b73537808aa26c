// Named conventions: each preset is a chain of transforms plus the default
// hyperparameters of the implementation it names, citing its source. Names are
// kebab-case, say whose convention they are, and stay stable once released.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "adamconf/convention.hpp"
#include "adamconf/hyperparameters.hpp"

namespace adamconf {

/// Switches that real implementations expose as flags.
struct PresetOptions {
  bool amsgrad = false;
  bool maximize = false;
  bool bias_correction = true;
  /// How the implementation holds the step count (ScaleByAdam::counter): a
  /// numerics choice every preset combines with, not a flag of the preset.
  StepCounter step_counter = StepCounter::integer;
  /// What a storage format (bfloat16, float16) is computed in (Convention::precision).
  Precision precision = Precision::storage;
  /// The formats of m, v, vmax where not theta's (Convention::state_formats).
  StateFormats state_formats{};
  /// How the arithmetic treats subnormals (Convention::subnormals).
  Subnormals subnormals = Subnormals::gradual;
  /// Where the scalars are held (Convention::scalars).
  Scalars scalars = Scalars::working;
  friend bool operator==(const PresetOptions&, const PresetOptions&) = default;
};

struct Preset {
  std::string name;     ///< kebab-case, stable
  std::string source;   ///< where the convention is defined (file, paper, equation)
  std::string summary;  ///< one line for `adamconf presets`
  Convention convention;      ///< with every option off
  Hyperparameters defaults;   ///< the implementation's defaults
  std::vector<std::string> hyperparameters;  ///< the ones the implementation lets users set
  AmsgradVariant amsgrad = AmsgradVariant::none;  ///< what amsgrad=true means there; none: no such flag
  bool offers_maximize = false;
  bool offers_bias_correction_switch = false;
  /// The formats the convention keeps its state in where the options (the
  /// command line, the adapter's hello) name none: bitsandbytes' 8-bit
  /// optimizers' quantized m and v.
  StateFormats state_formats{};

  bool exposes(const std::string& hyperparameter) const;
  /// The chain with `options` applied. Throws std::invalid_argument naming the
  /// preset and the option when the implementation has no such flag.
  Convention resolve(const PresetOptions& options) const;
};

/// All presets, in the order `adamconf presets` lists them.
const std::vector<Preset>& presets();
/// Throws std::invalid_argument "unknown preset 'x' (known: ...)".
const Preset& preset_by_name(const std::string& name);

/// A fully resolved optimizer: what a trace, a golden file or a check runs.
struct OptimizerSpec {
  std::string preset;
  PresetOptions options;
  Hyperparameters hyper;
  Convention convention;
  friend bool operator==(const OptimizerSpec&, const OptimizerSpec&) = default;
};

/// Builds a spec from a preset name, its options and hyperparameter overrides
/// (name -> decimal text). Throws std::invalid_argument with a one-line message
/// for an unknown preset, an option or hyperparameter the preset does not
/// expose, or a value outside its domain.
OptimizerSpec make_spec(const std::string& preset, const PresetOptions& options = {},
                        const std::map<std::string, std::string>& overrides = {});

}  // namespace adamconf
