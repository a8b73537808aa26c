// Helpers shared by the property definitions.
#pragma once

#include <algorithm>
#include <cmath>

#include <rapidcheck.h>

#include <string>
#include <variant>
#include <vector>

#include "adamconf/property.hpp"

namespace adamconf::detail {

/// quantized_states.cpp: tensor k's quantized state q (its values read back in `values`, the joined
/// state's m or v) after step t, judged against the exact values of that step and their errors.
void check_quantized_tensor(Checker& checker, const char* what, const QuantizedFormat& f, const QuantizedTensor& q,
                            const std::vector<double>& values, const std::vector<R>& exact, const std::vector<R>& bounds,
                            const std::vector<TensorSlice>& slices, std::size_t k, std::size_t t, const std::string& how);

/// Whether `name` is held (PropertyContext::held) at a value other than 0.
inline bool is_held_nonzero(const PropertyContext& ctx, const std::string& name) {
  const auto held = ctx.held();
  const auto it = held.find(name);
  return it != held.end() && parse_decimal<R>(it->second) != 0;
}

/// Whether `name` is held at exactly 0.
inline bool is_held_zero(const PropertyContext& ctx, const std::string& name) {
  const auto held = ctx.held();
  const auto it = held.find(name);
  return it != held.end() && parse_decimal<R>(it->second) == 0;
}

/// "" when cases may vary `name` (scale it, shift it), else "needs NAME free to WHAT, and <why held>".
inline std::string needs_free(const PropertyContext& ctx, const std::string& name, const std::string& what) {
  const std::string why = ctx.why_held(name);
  return why.empty() ? "" : "needs " + name + " free " + what + ", and " + why;
}

/// "" when weight_decay can be set to 0 for this context, else why not.
inline std::string needs_zero_weight_decay(const PropertyContext& ctx) {
  if (is_held_nonzero(ctx, "weight_decay"))
    return "needs weight_decay = 0, and " + ctx.why_held("weight_decay") + " (" + ctx.held().at("weight_decay") + ")";
  return "";
}

inline ScenarioShape zero_decay_shape(const PropertyContext& ctx) {
  ScenarioShape s = ctx.shape();
  if (ctx.preset_info().exposes("weight_decay")) s.pinned["weight_decay"] = "0";
  return s;
}

inline std::string at(std::size_t step, std::size_t element, const std::string& what) {
  return "step " + std::to_string(step + 1) + ", element " + std::to_string(element) + ": " + what;
}

/// "step 3, tensor 7 element 65536: theta" in a case of several tensors,
/// "step 3, element 2: theta" in a case of one.
std::string at_tensor(const std::vector<TensorSlice>& slices, std::size_t step, std::size_t i, const std::string& what);

/// Checks every step of `s`'s trajectory (theta, and the state when recorded)
/// against the exact reference within the accumulated bound.
void check_trajectory(Checker& checker, const Scenario& s);
/// check_trajectory, with the states recorded and checked where the implementation exports them.
void check_trajectory_with_states(Checker& checker, Scenario s);
/// Runs `s` recording states and checks each step from the implementation's
/// own state (single-step bounds), the step counts included.
void check_each_step(Checker& checker, Scenario s);

inline Setup setup_of(const Scenario& s) { return Setup{s.spec, s.dtype}; }

/// Step t of case `c` taken from `theta` and `state` (the implementation's
/// own), judged against the exact step from there: theta, the state, theta +
/// c under Kahan, and the step counts. `how` says where the state came from
/// (", resumed from ..."); `shown_step` is the step the messages name (0-based).
void judge_step(Checker& checker, const Scenario& s, const RunCase& c, std::size_t t, const std::vector<double>& theta,
                const ImplementationState& state, const std::vector<double>& theta_after,
                const ImplementationState& state_after, const std::string& how, std::size_t shown_step);
/// A state as the implementation reported it, with one step count per tensor in a case of several.
ImplementationState per_tensor(ImplementationState state, std::size_t tensors);

/// The learning rate of step t (0-based) as an exact value.
inline R lr_at(const Scenario& s, std::size_t t) {
  return parse_decimal<R>(s.run.lrs.empty() ? s.spec.hyper.lr : s.run.lrs[t]);
}

/// Exact difference of two values (for observed steps theta_t - theta_{t-1}).
inline R diff(double a, double b) { return R(a) - R(b); }

/// Whether x is representable in the format and within the generated range.
inline bool representable(double x, const FloatFormat& f) {
  if (!(std::abs(x) <= largest_gradient(f))) return false;
  return round_to_format(x, f) == x;
}

/// The zero state an implementation starts from.
/// Whether an implementation's theta and state are all finite. A step taken
/// from a state that overflowed (a value the format cannot hold, which the
/// error bound allowed) has no exact value to judge it by: the properties that
/// step from the implementation's own state stop before it.
inline bool finite_state(const std::vector<double>& theta, const ImplementationState& s) {
  auto finite = [](const std::vector<double>& xs) {
    return std::all_of(xs.begin(), xs.end(), [](double x) { return std::isfinite(x); });
  };
  return finite(theta) && finite(s.m) && finite(s.v) && finite(s.vmax) && finite(s.compensation);
}

inline ImplementationState zero_state(std::size_t n, bool amsgrad) {
  return {.step = 0,
          .m = std::vector<double>(n, 0.0),
          .v = std::vector<double>(n, 0.0),
          .vmax = amsgrad ? std::vector<double>(n, 0.0) : std::vector<double>{}};
}

std::vector<Property> agreement_properties();
std::vector<Property> closed_form_properties();
std::vector<Property> precision_properties();
std::vector<Property> invariance_properties();
std::vector<Property> equivalence_properties();
std::vector<Property> structure_properties();

}  // namespace adamconf::detail
