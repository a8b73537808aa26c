// Generators for structured cases (protocol /2) and long time scales: many
// tensors of mixed sizes (empty ones, vector remainders 1..17, chunk
// boundaries 65535/65536/65537, 2^17 + 3), parameter groups, steps without a
// gradient, states injected at large step counts, long trajectories. These
// are the shapes where fused multi-tensor kernels break.
#pragma once

#include <cstdint>
#include <vector>

#include "adamconf/generators.hpp"

namespace adamconf {

/// What a structured scenario generator draws.
enum class StructureClass {
  mixed,        ///< 1..8 tensors, or 100..130 (one case in four), sizes 0..17 and up to 64; groups; no-grad steps
  large,        ///< chunk-boundary tensors (65535, 65536, 65537, 2^17 + 3), sometimes >= 2^20 elements in all; 2..3 steps
  quantized,    ///< a quantized format's thresholds: 4095, 4096, 4097 elements, a partial last block, 17 whole blocks, sometimes 2^18 + 1; 2..4 steps
  /// the same thresholds without the 2^18 + 1 tensor: whole trajectories of quantized states, verified in MPFR
  /// (the fast exact path takes no quantized state)
  quantized_trajectory,
};

namespace gen {

/// A tensor length: 0, 1, 2..17 (vector remainders) or up to 64.
rc::Gen<std::size_t> small_tensor_size();
/// A chunk-boundary length: 65535, 65536, 65537 or 2^17 + 3.
rc::Gen<std::size_t> chunk_boundary_size();

/// Values of a gradient stream (steps x n) drawn from the regime mix of
/// gen::grad by a seeded generator: cheap for millions of values, replayed by
/// the seed RapidCheck prints.
std::vector<std::vector<double>> seeded_gradients(std::uint64_t seed, const FloatFormat& dtype, double eps,
                                                  std::size_t steps, std::size_t n);
std::vector<double> seeded_theta0(std::uint64_t seed, const FloatFormat& dtype, std::size_t n);

/// A structured scenario: tensors, groups (other groups override lr,
/// weight_decay, eps or betas that are neither pinned nor hidden by the
/// preset), and no-grad steps in the mixed class.
rc::Gen<Scenario> structured_scenario(const ScenarioShape& shape, StructureClass kind);

/// A step count where narrow counters and bias corrections break: around
/// 255-258 (uint8), 2047-2050 (float16 integers), 2^24 +- 1 (float32
/// integers), 10^6.
rc::Gen<std::int64_t> large_step_count();

/// A scenario that starts from a state after `t0` steps of a history with
/// gradients near g (m = (1 - b1^t0) g, v = (1 - b2^t0) g^2, rounded to the
/// format) and betas for which beta^t0 is neither 0 nor 1 (beta = 1 - 2^-k
/// with 2^k near t0, exact in the checked format, k <= p), so that the bias correction at
/// t0 is visible. 1..6 steps.
rc::Gen<Scenario> large_step_scenario(const ScenarioShape& shape);

/// A step count at an integer counter's edges, to import: 1, 2^31 - 1 and 2^31
/// (int32), 2^32 + 1 (uint32), 2^53 - 1 (the largest integer every JSON
/// reader holds exactly). A float32 counter holds the large ones rounded; an
/// int32 counter gets 1 and 2^31 - 2 (boundary_state_scenario lowers it so
/// that the last step of its case reaches 2^31 - 1 and no further).
rc::Gen<std::int64_t> boundary_step_count(StepCounter counter);

/// A scenario that starts from an imported state at the edges of its formats:
/// a step count of boundary_step_count, and per element m and v from pairs of
/// +-0, the smallest and largest subnormals, the smallest normal and the top of
/// the range (the largest values the next step's arithmetic can take without
/// overflowing: |m| <= max bc1 / 8 and v <= max bc2 / 8, so that m / bc1 and
/// v / bc2 stay finite, with m at the top only beside a v at the top and
/// beta2 >= 1/2, so that m_hat / sqrt(v_hat) does too), or ordinary values. 1..3 steps.
rc::Gen<Scenario> boundary_state_scenario(const ScenarioShape& shape);

/// A trajectory of 10^4..2*10^4 steps on 1..3 elements from step 0.
rc::Gen<Scenario> long_scenario(const ScenarioShape& shape);

}  // namespace gen
}  // namespace adamconf
