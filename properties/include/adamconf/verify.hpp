// The verifier of a whole trajectory (TestFloat's third role: generator,
// reference, verifier): an implementation's values against the exact
// reference and its error bound, streamed tensor by tensor and chunk by chunk
// over threads. Memory beyond the values compared is O(chunk) per thread,
// whatever the number of steps and elements.
#pragma once

#include <optional>
#include <string>

#include "adamconf/comparison.hpp"

namespace adamconf {

struct VerifySettings {
  int jobs = 0;                  ///< threads; 0: every core
  std::size_t chunk = 4096;      ///< elements one thread runs through every step at a time
  bool states = true;            ///< compare m, v, vmax too when the result has them
  BoundArithmetic bound = BoundArithmetic::hardware;  ///< exact_run.hpp
};

struct Verification {
  ErrorStatistics statistics;
  /// The first failing value, by step then element: "step 2, tensor 3 element 7: theta => ...".
  std::optional<std::string> failure;
  std::size_t threads = 1;       ///< threads it used
};

/// Compares `result` (its shape already validated) with the exact trajectory of `c` under `setup`.
Verification verify_trajectory(const Setup& setup, const RunCase& c, const RunResult& result,
                               const VerifySettings& settings = {});

/// The number of threads `jobs` means (0: std::thread::hardware_concurrency, at least 1).
int resolve_jobs(int jobs);

}  // namespace adamconf
