#include "adamconf/answer.hpp"

#include <cstring>

#include "adamconf/exact_run.hpp"
#include "adamconf/hashing.hpp"

namespace adamconf {

void validate_answer(const Setup& setup, const std::vector<RunCase>& cases, const std::vector<RunResult>& results) {
  validate_results(cases, results);
  const PrecisionRules rules = setup.rules();
  if (rules.master_weights()) validate_copies(results);
  if (rules.kahan_summation()) validate_compensations(cases, results);
}

std::vector<RunCase> with_rounding_seeds(const Setup& setup, const std::vector<RunCase>& cases) {
  std::vector<RunCase> out = cases;
  if (!setup.rules().stochastic_rounding()) return out;
  for (RunCase& c : out) {
    if (c.rounding_seed != 0) continue;
    // A hash of what the case holds: the same case (a replayed seed, a shrunk
    // counterexample) gets the same roundings. 53 bits: exact in every JSON reader.
    std::uint64_t h = splitmix64(c.theta0.size() * 0x9e37u + c.grads.size());
    auto mix = [&](double x) {
      std::uint64_t bits;
      std::memcpy(&bits, &x, sizeof bits);
      h = splitmix64(h ^ bits);
    };
    for (double x : c.theta0) mix(x);
    for (const auto& g : c.grads)
      for (double x : g) mix(x);
    c.rounding_seed = (h & ((std::uint64_t(1) << 53) - 1)) | 1;
  }
  return out;
}

void validate_copies(const std::vector<RunResult>& results) {
  for (std::size_t k = 0; k < results.size(); ++k) {
    const RunResult& r = results[k];
    if (r.theta_copy.size() != r.theta.size())
      throw ImplementationError("adapter answered case " + std::to_string(k) + " with " +
                                std::to_string(r.theta_copy.size()) + " steps of theta_copy for " +
                                std::to_string(r.theta.size()) + " (master-weights needs the model copy every step)");
    for (std::size_t t = 0; t < r.theta.size(); ++t)
      if (r.theta_copy[t].size() != r.theta[t].size())
        throw ImplementationError("adapter answered case " + std::to_string(k) + " step " + std::to_string(t + 1) +
                                  " with " + std::to_string(r.theta_copy[t].size()) + " values of theta_copy for " +
                                  std::to_string(r.theta[t].size()));
  }
}

void validate_compensations(const std::vector<RunCase>& cases, const std::vector<RunResult>& results) {
  for (std::size_t k = 0; k < results.size(); ++k)
    for (std::size_t t = 0; t < results[k].states.size(); ++t)
      if (results[k].states[t].compensation.size() != cases[k].theta0.size())
        throw ImplementationError("adapter answered case " + std::to_string(k) + " step " + std::to_string(t + 1) +
                                  " with a state of " + std::to_string(results[k].states[t].compensation.size()) +
                                  " compensations for " + std::to_string(cases[k].theta0.size()) +
                                  " elements (kahan-summation needs the compensation in every state)");
}

}  // namespace adamconf
