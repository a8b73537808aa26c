#include "adamconf/fast_step.hpp"

#include <algorithm>
#include <cmath>

#include "adamconf/reference_adam.hpp"

namespace adamconf {

namespace {

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

FastStep::FastStep(const Setup& setup, const RunCase& c, std::size_t t, Batching batching) {
  if (setup.dtype.precision <= 24) {
    run(setup, c, t, batching, elements_.emplace<std::vector<Element<double>>>());
  } else {
    run(setup, c, t, batching, elements_.emplace<std::vector<Element<long double>>>());
  }
}

namespace {

/// Element idx[min(b L + j, n - 1)] in lane j of batch b: a batch's last lanes
/// repeat its last element, so that they answer every decision as it does.
std::size_t element_in(const std::vector<std::size_t>& idx, std::size_t b, int lanes, int j) {
  return idx[std::min(b * static_cast<std::size_t>(lanes) + static_cast<std::size_t>(j), idx.size() - 1)];
}

/// The values xs[idx[..]] as points, L to a number (one for a scalar enclosure).
template <class E>
std::vector<E> packed(const std::vector<double>& xs, const std::vector<std::size_t>& idx) {
  using Num = decltype(E::lo);
  constexpr int L = lanes_v<Num>;
  std::vector<E> out((idx.size() + L - 1) / L);
  for (std::size_t b = 0; b < out.size(); ++b) {
    if constexpr (L == 1) {
      out[b] = E(xs[idx[b]]);
    } else {
      Num x;
      for (int j = 0; j < L; ++j) x.v[j] = xs[element_in(idx, b, L, j)];
      out[b] = E(x);
    }
  }
  return out;
}

/// Lane j of a number (the number itself for a scalar).
template <class Num>
auto lane(const Num& x, int j) {
  if constexpr (is_lanes_v<Num>) return x[j];
  else return (void)j, x;
}
template <class T, class Num>
Enclosure<T> lane(const Enclosure<Num>& x, int j) {
  return Enclosure<T>::between(lane(x.lo, j), lane(x.hi, j));
}
template <class T, class Num>
ElementBounds<T> lane(const ElementBounds<Num>& b, int j) {
  return {.theta = lane(b.theta, j), .m = lane(b.m, j), .v = lane(b.v, j), .vmax = lane(b.vmax, j),
          .compensated = lane(b.compensated, j)};
}

/// Whether the case starts from a Kahan compensation, which the step adds to theta.
bool compensation_given(const PrecisionRules& rules, const RunCase& c) {
  return rules.kahan_summation() && c.initial_state && !c.initial_state->compensation.empty();
}

/// Whether a tensor's elements may be stepped in batches of kBatchLanes (Lanes):
/// double enclosures, no Kahan compensation given (its charge is per element).
template <class T>
bool steps_in_batches(const PrecisionRules& rules, const RunCase& c) {
  return std::is_same_v<T, double> && !compensation_given(rules, c);
}

}  // namespace

template <class T>
template <class Num>
void FastStep::Slice<T>::step(const std::vector<std::size_t>& idx, std::vector<std::size_t>& undecided) {
  using E = Enclosure<Num>;
  constexpr int L = lanes_v<Num>;
  if (idx.empty()) return;
  const std::size_t batches = (idx.size() + L - 1) / L;
  // As tensor_reference and tensor_model (exact_run.hpp) build them, on enclosures.
  std::optional<OptimizerState<E>> state;
  if (c.initial_state) {
    const ImplementationState s = tensor_state(*c.initial_state, part, k);
    state = OptimizerState<E>{s.step, packed<E>(s.m, idx), packed<E>(s.v, idx),
                              s.vmax.empty() ? std::vector<E>{} : packed<E>(s.vmax, idx)};
  }
  std::vector<E> theta0 = packed<E>(part_of(c.theta0, part), idx);
  const bool kahan = compensation_given(rules, c);
  if constexpr (L == 1) {
    if (kahan)
      for (std::size_t b = 0; b < batches; ++b) theta0[b] += E(c.initial_state->compensation.at(part.offset + idx[b]));
  }
  ReferenceAdam<E> reference(setup.spec.convention, values_of<E>(group_hyperparameters(setup.spec.hyper, c, part.group)),
                             std::move(theta0), state);
  ErrorModel<E, Num, true> low(rules, reference.hyper(), batches);
  ErrorModel<E, Num, false> high(rules, reference.hyper(), batches);
  if constexpr (L == 1) {
    if (kahan)
      for (std::size_t b = 0; b < batches; ++b)
        if (const double c0 = c.initial_state->compensation.at(part.offset + idx[b]); c0 != 0) {
          const E formation = ldexp(abs(reference.theta()[b]), -24);
          low.set_initial_theta_error(b, formation, E(c0));
          high.set_initial_theta_error(b, formation, E(c0));
        }
  }
  StepRecord<E> record;
  const bool stepped = has_gradient(c, t, k);
  if (stepped) {
    std::optional<E> lr;
    if (!c.lrs.empty()) lr = parse_decimal<E>(c.lrs[t]);
    reference.step_into(record, packed<E>(part_of(c.grads[t], part), idx), lr,
                        BothObservers<E, ErrorModel<E, Num, true>, ErrorModel<E, Num, false>>{low, high});
  }
  std::vector<char> batch_decided(batches, 1);
  for (const std::size_t b : record.undecided) batch_decided[b] = 0;
  const auto& st = reference.state();
  for (std::size_t b = 0; b < batches; ++b)
    for (int j = 0; j < L && b * L + static_cast<std::size_t>(j) < idx.size(); ++j) {
      const std::size_t i = idx[b * L + static_cast<std::size_t>(j)];
      if (!batch_decided[b]) {
        undecided.push_back(i);
        continue;
      }
      Element<T>& e = out[part.offset + i];
      e.low = lane<T>(low.bounds()[b], j);
      e.high = lane<T>(high.bounds()[b], j);
      if (stepped) {  // else theta, the state and the bounds stay as they were
        const ElementRecord<E>& r = record.elements[b];
        e.theta = lane<T>(r.theta, j), e.m = lane<T>(r.m, j), e.v = lane<T>(r.v, j), e.vmax = lane<T>(r.vmax, j);
      } else {
        e.theta = lane<T>(reference.theta()[b], j), e.m = lane<T>(st.m[b], j), e.v = lane<T>(st.v[b], j);
        e.vmax = st.vmax.empty() ? Enclosure<T>(0) : lane<T>(st.vmax[b], j);
      }
    }
}

template <class T>
void FastStep::run(const Setup& setup, const RunCase& c, std::size_t t, Batching batching, std::vector<Element<T>>& out) {
  validate_case(c);
  const PrecisionRules rules = setup.rules();
  out.assign(c.theta0.size(), {});
  decided_.assign(c.theta0.size(), 1);
  const auto slices = slices_of(c);
  for (std::size_t k = 0; k < slices.size(); ++k) {
    Slice<T> slice{.setup = setup, .rules = rules, .c = c, .t = t, .k = k, .part = slices[k], .out = out};
    std::vector<std::size_t> rest(slices[k].size);
    for (std::size_t i = 0; i < rest.size(); ++i) rest[i] = i;
    const bool batches = batching == Batching::lanes_at_any_size ||
                         (batching == Batching::lanes && slices[k].size >= kBatchesFrom);
    if (batches && steps_in_batches<T>(rules, c)) {
      // Batches first; a batch whose lanes answered a decision differently (or that an
      // enclosure could not decide) is stepped again element by element.
      std::vector<std::size_t> unbatched;
      try {
        slice.template step<Lanes<kBatchLanes>>(rest, unbatched);
        batched_ += rest.size() - unbatched.size();
        rest = std::move(unbatched);
      } catch (const Undecided&) {
        // a decision of the whole step: the scalar enclosures below decide it alike, or throw it to the caller
      }
    }
    std::vector<std::size_t> undecided;
    slice.template step<T>(rest, undecided);
    for (const std::size_t i : undecided) decided_[slices[k].offset + i] = 0;
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
