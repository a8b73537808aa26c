#include "adamconf/fast_step.hpp"

#include <algorithm>
#include <cmath>

#include "adamconf/reference_adam.hpp"

namespace adamconf {

namespace {

template <class T>
using LowReading = ErrorModel<Enclosure<T>, T, true>;
template <class T>
using HighReading = ErrorModel<Enclosure<T>, T, false>;

/// Both readings, told what the reference did.
template <class T>
using BothReadings = BothObservers<Enclosure<T>, LowReading<T>, HighReading<T>>;

template <class T>
std::vector<Enclosure<T>> points(const std::vector<double>& xs) {
  return {xs.begin(), xs.end()};
}

/// |observed - x| rounded up (0 only where they are equal: a difference of two values rounds to 0 only then).
template <class T>
T distance_up(double observed, T x) {
  const T r = std::fabs(T(observed) - x);
  return r == 0 ? T(0) : Enclosure<T>::up(r, false);
}

template <class T>
std::optional<Certificate> certify_value(double observed, const Enclosure<T>& x, T low, T high, const FloatFormat& f,
                                         bool output) {
  // NaN, inf, a value the format cannot hold, and a bound that reaches the
  // format's largest value (judge()'s special values) are judged in MPFR.
  if (!std::isfinite(observed) || (output && !holds(f, observed))) return std::nullopt;
  // Whether the bound reaches the format's largest value, where both readings agree on it.
  const T largest = T(f.largest_finite());
  const bool unbounded = low >= largest;
  if (!unbounded && !(high < largest)) return std::nullopt;
  const T distance = std::max(distance_up(observed, x.lo), distance_up(observed, x.hi));
  if (!(distance <= low)) return std::nullopt;  // |observed - exact| <= distance <= low <= allowed
  Certificate c;
  c.exact_zero = x.lo == 0 && x.hi == 0;
  c.unbounded = unbounded;
  c.ratio = distance == 0 ? 0.0 : static_cast<double>(distance / low);
  // The least distance (0 where the value lies in the interval) against the upper reading, rounded down.
  const T o = observed;
  const T nearest = o < x.lo ? x.lo - o : o > x.hi ? o - x.hi : T(0);
  const T least = nearest > 0 ? std::max(T(0), Enclosure<T>::down(nearest, false)) : T(0);
  c.ratio_low = least > 0 && std::isfinite(high) && high > 0
                    ? std::max(0.0, static_cast<double>(least / high) * (1 - 0x1p-50))
                    : 0.0;
  const T mid = x.mid();
  c.error_ulps = static_cast<double>(std::ldexp(std::fabs(T(observed) - mid), -quantum_exponent(mid, f)));
  return c;
}

}  // namespace

// Float64 targets are enclosed in x87 long double, measured 3.5x slower than the MPFR path's own (its
// bound is in long double too, the reference in MPFR; docs/error-model.md, "The fast exact path"): the
// fast path is for targets of at most 24 bits, where double enclosures are twice as fast. FastStep itself runs float64 (the tests do).
bool FastStep::takes(const Setup& setup) { return setup.dtype.precision <= 24 && !setup.rules().any_quantized(); }

FastStep::FastStep(const Setup& setup, const RunCase& c, std::size_t t) {
  if (setup.dtype.precision <= 24) {
    run(setup, c, t, elements_.emplace<std::vector<Element<double>>>());
  } else {
    run(setup, c, t, elements_.emplace<std::vector<Element<long double>>>());
  }
}

template <class T>
void FastStep::run(const Setup& setup, const RunCase& c, std::size_t t, std::vector<Element<T>>& out) {
  using E = Enclosure<T>;
  validate_case(c);
  const PrecisionRules rules = setup.rules();
  out.assign(c.theta0.size(), {});
  decided_.assign(c.theta0.size(), 1);
  const auto slices = slices_of(c);
  for (std::size_t k = 0; k < slices.size(); ++k) {
    const TensorSlice& part = slices[k];
    // As tensor_reference and tensor_model (exact_run.hpp) build them, on enclosures.
    std::optional<OptimizerState<E>> state;
    if (c.initial_state) {
      const ImplementationState s = tensor_state(*c.initial_state, part, k);
      state = OptimizerState<E>{s.step, points<T>(s.m), points<T>(s.v), points<T>(s.vmax)};
    }
    std::vector<E> theta0 = points<T>(part_of(c.theta0, part));
    const bool kahan = rules.kahan_summation() && c.initial_state && !c.initial_state->compensation.empty();
    if (kahan)
      for (std::size_t i = 0; i < part.size; ++i) theta0[i] += E(c.initial_state->compensation.at(part.offset + i));
    ReferenceAdam<E> reference(setup.spec.convention, values_of<E>(group_hyperparameters(setup.spec.hyper, c, part.group)),
                               std::move(theta0), state);
    LowReading<T> low(rules, reference.hyper(), part.size);
    HighReading<T> high(rules, reference.hyper(), part.size);
    if (kahan)
      for (std::size_t i = 0; i < part.size; ++i)
        if (const double c0 = c.initial_state->compensation.at(part.offset + i); c0 != 0) {
          const E formation = ldexp(abs(reference.theta()[i]), -24);
          low.set_initial_theta_error(i, formation, E(c0));
          high.set_initial_theta_error(i, formation, E(c0));
        }
    if (has_gradient(c, t, k)) {
      std::optional<E> lr;
      if (!c.lrs.empty()) lr = parse_decimal<E>(c.lrs[t]);
      StepRecord<E> record;
      reference.step_into(record, points<T>(part_of(c.grads[t], part)), lr, BothReadings<T>{low, high});
      for (const std::size_t i : record.undecided) decided_[part.offset + i] = 0;
      for (std::size_t i = 0; i < part.size; ++i) {
        const ElementRecord<E>& e = record.elements[i];
        out[part.offset + i] = {.theta = e.theta, .m = e.m, .v = e.v, .vmax = e.vmax, .low = low.bounds()[i],
                                .high = high.bounds()[i]};
      }
    } else {  // no gradient: theta, the state and the bounds stay as they were
      const auto& st = reference.state();
      for (std::size_t i = 0; i < part.size; ++i)
        out[part.offset + i] = {.theta = reference.theta()[i], .m = st.m[i], .v = st.v[i],
                                .vmax = st.vmax.empty() ? E(0) : st.vmax[i], .low = low.bounds()[i],
                                .high = high.bounds()[i]};
    }
  }
}

std::optional<Certificate> FastStep::certify(std::size_t i, Quantity q, double observed, const FloatFormat& f,
                                             bool output) const {
  if (!decided(i)) return std::nullopt;
  return std::visit(
      [&](const auto& elements) -> std::optional<Certificate> {
        const auto& e = elements[i];
        switch (q) {
          case Quantity::theta: return certify_value(observed, e.theta, e.low.theta, e.high.theta, f, output);
          case Quantity::m: return certify_value(observed, e.m, e.low.m, e.high.m, f, output);
          case Quantity::v: return certify_value(observed, e.v, e.low.v, e.high.v, f, output);
          case Quantity::vmax: return certify_value(observed, e.vmax, e.low.vmax, e.high.vmax, f, output);
          case Quantity::theta_plus_compensation:
            return certify_value(observed, e.theta, e.low.compensated, e.high.compensated, f, output);
          case Quantity::compensation: return std::nullopt;
        }
        return std::nullopt;
      },
      elements_);
}

}  // namespace adamconf
