// The fast exact path (docs/error-model.md, "The fast exact path"): one step
// from known inputs (an implementation's theta, gradient and state, as `audit`
// and `check`'s each-step properties judge it), run by the same reference and
// error model as the MPFR path but on enclosures (enclosure.hpp): in double for
// targets of at most 24 bits, in long double for float64. Each element ends
// with an interval holding its exact value and two readings of the error model
// that enclose the allowed error the MPFR path computes (ErrorModel's Lower).
// A value is certified to pass when its distance to every point of the
// interval is within the lower reading; everything else (an element whose step
// asked a decision the enclosure could not make, a value not certified, a
// non-finite one) is decided in MPFR by the caller, so the verdict is the MPFR
// path's verdict, value for value.
#pragma once

#include <cstddef>
#include <optional>
#include <variant>
#include <vector>

#include "adamconf/enclosure.hpp"
#include "adamconf/error_model.hpp"
#include "adamconf/implementation.hpp"
#include "adamconf/judge.hpp"

namespace adamconf {

/// A value certified to pass, with what a report counts of it. The ratio is an
/// upper bound of judge()'s (the largest distance over the interval against
/// the lower reading of the allowed error), within about 2^-40 relative of it;
/// error_ulps is measured from the interval's midpoint.
struct Certificate {
  double ratio = 0;
  /// A lower bound of judge()'s ratio (the least distance over the interval
  /// against the upper reading): with `ratio`, which values may be the worst.
  double ratio_low = 0;
  double error_ulps = 0;
  bool exact_zero = false;  ///< the exact value is 0 (judge()'s at_zero)
  bool unbounded = false;   ///< the allowed error reaches the format's largest value (judge()'s unbounded)
};

/// Step t (0-based) of `c` taken from its initial_state (read as exact, as
/// exact_single_step does): every tensor of c, each with its group's
/// hyperparameters; a tensor without a gradient at t keeps its values.
class FastStep {
 public:
  /// How elements are stepped: kBatchLanes at a time on Lanes of double where
  /// the setup allows it (double enclosures, no Kahan compensation) and a
  /// tensor has at least kBatchesFrom elements (a batch computes the step's
  /// scalars in every lane: for a handful of elements that costs more than
  /// the batches save), each batch whose lanes answer a decision differently
  /// again one at a time; in batches at any size (the tests' comparison); or
  /// every element alone. The results are the same bit for bit (lanes.hpp).
  enum class Batching { lanes, lanes_at_any_size, one_at_a_time };
  static constexpr std::size_t kBatchesFrom = 64;

  /// Throws Undecided where a decision of the whole step (a scalar of step t)
  /// cannot be made in an enclosure; the caller then decides every value in MPFR.
  /// Quantized states are not taken here (their codes are judged in MPFR).
  FastStep(const Setup& setup, const RunCase& c, std::size_t t = 0, Batching batching = Batching::lanes);

  /// Whether callers should take the fast path for this setup: a target of at
  /// most 24 bits (float64's long double enclosures are slower than MPFR's
  /// own path) and no quantized state.
  static bool takes(const Setup& setup);
  /// Whether element i's step was decided (else all its values go to MPFR).
  bool decided(std::size_t i) const { return decided_[i] != 0; }
  /// The element count.
  std::size_t size() const { return decided_.size(); }
  /// How many elements a batch decided (the rest were stepped one at a time).
  std::size_t batched() const { return batched_; }
  /// The implementation's `observed` quantity q (theta, m, v, vmax, or
  /// theta_plus_compensation against theta's exact value and the compensated
  /// bound) of element i, certified to pass judge(observed, exact, allowed,
  /// f, output) in MPFR; nullopt where that is not certain here.
  std::optional<Certificate> certify(std::size_t i, Quantity q, double observed, const FloatFormat& f,
                                     bool output = true) const;

  template <class T>
  struct Element {
    Enclosure<T> theta, m, v, vmax;
    ElementBounds<T> low, high;  ///< the error model's lower and upper readings
  };
  using Elements = std::variant<std::vector<Element<double>>, std::vector<Element<long double>>>;
  /// Every element's enclosures and readings (in double, or long double for float64).
  const Elements& elements() const { return elements_; }

 private:
  template <class T>
  void run(const Setup& setup, const RunCase& c, std::size_t t, Batching batching, std::vector<Element<T>>& out);
  /// One tensor of a step, whose elements (or some of them) are stepped on
  /// enclosures of Num: T itself, one element at a time, or Lanes of double, a
  /// batch at a time (lanes.hpp).
  template <class T>
  struct Slice {
    const Setup& setup;
    const PrecisionRules& rules;
    const RunCase& c;
    std::size_t t, k;
    TensorSlice part;
    std::vector<Element<T>>& out;
    /// Steps elements idx of the tensor into out; those not decided are appended to `undecided`.
    template <class Num>
    void step(const std::vector<std::size_t>& idx, std::vector<std::size_t>& undecided);
  };

  Elements elements_;
  std::vector<char> decided_;
  std::size_t batched_ = 0;
};

}  // namespace adamconf
