// adamconf identify: which convention does an implementation follow? Probes
// designed to separate the conventions (gradients around eps, early steps,
// weight decay, falling magnitudes for AMSGrad) run once through the
// implementation and are compared, within the error model's bounds, with every
// known convention and a few variants no preset names.
#pragma once

#include <string>
#include <vector>

#include "adamconf/implementation.hpp"

namespace adamconf {

/// How well one candidate convention explains the implementation's answers.
struct CandidateFit {
  std::string label;             ///< the presets with this convention, or a description of a variant
  Convention convention;
  bool eps_inside_sqrt = false;  ///< the variant that puts eps under the square root
  std::vector<std::pair<std::string, double>> probes;  ///< probe name -> worst observed/allowed
  double worst = 0;              ///< over all probes
  std::size_t agreeing = 0;      ///< values within their allowed error
  std::size_t compared = 0;
  bool matches() const { return worst <= 1; }
};

struct Identification {
  std::string implementation;
  std::string dtype;
  std::vector<CandidateFit> candidates;  ///< best first
  std::vector<std::string> notes;        ///< what was probed or could not be
  std::string amsgrad;                   ///< "max_of_raw_v", "max_of_v_hat", "none matches", or "" when not offered
  std::string maximize;                  ///< "negates the gradient", "does not negate the gradient", or ""
  std::string precision;                 ///< for bfloat16/float16: "float32-opmath: ..." or "storage: ...", else ""
  /// What the exported state holds (the moments, or the moments bias-corrected), where it can tell; else "".
  std::string state;
  std::string state_formats;             ///< "m=float32, v=float32, ..." as the hello states them (every probe ran so), or ""
  /// Which known quantized formats the exported codes of m and v fit, where the hello states one; else "".
  std::string quantization;

  const CandidateFit& best() const { return candidates.front(); }
  /// The lines `adamconf identify` prints.
  std::string describe() const;
};

/// Probes `impl` (its current optimizer) in `dtype`. Throws ImplementationError.
Identification identify(Implementation& impl, const FloatFormat& dtype);

/// One line per axis of a convention: eps placement, weight decay, bias correction.
std::vector<std::string> describe_axes(const Convention& c, bool eps_inside_sqrt);

}  // namespace adamconf
