// What the precision convention adds to a case and to an implementation's
// answer, checked before any value is judged: the rounding seed a
// stochastically rounded case carries, the model copies of master weights,
// the compensations of Kahan summation. `check` and `identify` trust
// nothing an adapter sends until it has passed here.
#pragma once

#include <vector>

#include "adamconf/implementation.hpp"

namespace adamconf {

/// The cases with a rounding seed each, under stochastic rounding of a storage
/// format: one the case does not set is a hash of its contents (replayable).
std::vector<RunCase> with_rounding_seeds(const Setup& setup, const std::vector<RunCase>& cases);
/// Throws ImplementationError unless every result has a theta_copy of theta's shape (master weights).
void validate_copies(const std::vector<RunResult>& results);
/// Throws ImplementationError unless every recorded state has one compensation per element (kahan-summation).
void validate_compensations(const std::vector<RunCase>& cases, const std::vector<RunResult>& results);
/// validate_results, and what the precision convention adds to an answer (the copies, the compensations).
void validate_answer(const Setup& setup, const std::vector<RunCase>& cases, const std::vector<RunResult>& results);

}  // namespace adamconf
