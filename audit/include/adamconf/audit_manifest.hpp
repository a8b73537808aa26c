// The manifest of a recorded optimizer step: which convention the step
// claims to follow (preset, options, hyperparameters per parameter group),
// the dtype, and the two safetensors files holding every tensor before and
// after the step. docs/audit.md gives the format; recorders/ write it.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "adamconf/implementation.hpp"

namespace adamconf::audit {

/// A recorded step that cannot be audited: a malformed manifest, a missing,
/// truncated or mismatched tensor, NaN where a value must be finite. The
/// message is one line naming the file and the tensor.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A parameter tensor of the step: its name in the files (theta/NAME,
/// grad/NAME, m/NAME, ...), its parameter group and its dtype.
struct AuditTensor {
  std::string name;
  std::size_t group = 0;
  /// Its dtype where it is not the manifest's (a float32 norm beside bfloat16 weights); empty: the manifest's.
  std::string dtype{};
};

struct Manifest {
  std::string path;    ///< the manifest file, as given
  std::string digest;  ///< of its text: every shard of one audit names the same
  Setup setup{};       ///< the convention and dtype the step claims
  std::vector<ParameterGroup> groups{};  ///< per group, hyperparameters over the manifest's own; empty: one group
  std::string before{}, after{};       ///< the safetensors files, resolved against the manifest's folder
  /// In the order they are reported; empty: every theta/NAME of `before`, in group 0.
  std::vector<AuditTensor> tensors{};
  /// The convention as tensor t claims it: `setup` in t's own dtype where it has one.
  Setup setup_of(const AuditTensor& t) const;
};

/// Reads and validates a manifest file. Throws InputError ("FILE: what").
Manifest load_manifest(const std::string& path);
/// The same from its text (`path` names it and resolves the files).
Manifest parse_manifest(const std::string& text, const std::string& path);

}  // namespace adamconf::audit
