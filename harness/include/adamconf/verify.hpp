// The verifier of a whole trajectory (TestFloat's third role: generator,
// reference, verifier): an implementation's values against the exact
// reference and its error bound, streamed tensor by tensor and chunk by chunk
// over threads. Memory beyond the values compared is O(chunk) per thread,
// whatever the number of steps and elements.
#pragma once

#include <optional>
#include <string>

#include "adamconf/exact_run.hpp"
#include "adamconf/judge.hpp"

namespace adamconf {

struct VerifySettings {
  int jobs = 0;                  ///< threads; 0: every core
  std::size_t chunk = 4096;      ///< elements one thread runs through every step at a time
  bool states = true;            ///< compare m, v, vmax too when the result has them
  BoundArithmetic bound = BoundArithmetic::hardware;  ///< exact_run.hpp
};

/// One element of a case cut out with everything its trajectory depends on
/// (its tensor's group, step count, no-grad steps, learning rates), and the
/// implementation's values for it: enough to recompute, alone, that element's
/// exact trajectory and bounds step by step (the HTML report's plot).
struct ElementTrace {
  Setup setup;
  RunCase element;     ///< a case of one element
  RunResult result;    ///< the implementation's values of that element
  Quantity what = Quantity::theta;
  std::string position;  ///< "tensor 2 element 7: theta" ("element 7: theta" in a case of one tensor)
  double ratio = 0;    ///< its worst |observed - exact| / allowed
};

/// Step t (1-based) of an element's trajectory: the implementation's value, the
/// exact one, and the signed error and the allowed error in ulps of the format at the exact value.
struct TracePoint {
  std::size_t step = 0;
  double observed = 0;
  double exact = 0;          ///< rounded to double, for plotting
  double error_ulps = 0;     ///< (observed - exact) / ulp(exact), signed; inf for NaN
  double allowed_ulps = 0;
  bool pass = true;
};

/// The element's values against its exact trajectory and bound, every step
/// (the bound in MPFR: the same as the verifier's within 2^-20 relative).
std::vector<TracePoint> trace_points(const ElementTrace& trace);

struct Verification {
  ErrorStatistics statistics;
  /// The first failing value, by step then element: "step 2, tensor 3 element 7: theta => ...".
  std::optional<std::string> failure;
  /// The element of the first failure, or else of the worst value.
  std::optional<ElementTrace> element;
  std::size_t threads = 1;       ///< threads it used
};

/// Compares `result` (its shape already validated) with the exact trajectory of `c` under `setup`.
Verification verify_trajectory(const Setup& setup, const RunCase& c, const RunResult& result,
                               const VerifySettings& settings = {});

/// The number of threads `jobs` means (0: std::thread::hardware_concurrency, at least 1).
int resolve_jobs(int jobs);

}  // namespace adamconf
