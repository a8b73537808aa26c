#include "adamconf/verify.hpp"

#include <algorithm>
#include <atomic>
#include <limits>
#include <cmath>
#include <mutex>
#include <thread>

#include <mpfr.h>

namespace adamconf {

int resolve_jobs(int jobs) {
  if (jobs > 0) return jobs;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

namespace {

struct Chunk {
  std::size_t tensor, begin, end;  // flat element range [begin, end) of tensor `tensor`
};

struct ValueAt {
  std::size_t tensor = 0, element = 0;  // element: flat index
  Quantity what = Quantity::theta;
};

struct ChunkOutcome {
  Recorder recorder;
  std::optional<std::pair<std::size_t, std::size_t>> first;  // (step, element) of the first failure
  std::string failure;
  ValueAt worst_at, first_at;
};

/// One value of the chunk, recorded; the chunk remembers where its worst and its first failure are.
void check_value(ChunkOutcome& out, const FloatFormat& f, double observed, const R& exact, const R& allowed,
                 const std::vector<TensorSlice>& slices, std::size_t k, std::size_t t, std::size_t i, Quantity what,
                 bool output = true) {
  const Judged j = out.recorder.record(observed, exact, allowed, f, [&] { return value_position(slices, k, t, i, name(what)); },
                                       output);
  if (j.worst) out.worst_at = {k, i, what};
  if (!j.pass() && (!out.first || std::make_pair(t, i) < *out.first)) {
    out.first = std::make_pair(t, i);
    out.failure = j.description;
    out.first_at = {k, i, what};
  }
}

/// Whether every bound of the chunk is finite. A hardware-type bound that
/// overflowed would only be weaker than the MPFR one, so the chunk is then
/// verified again in MPFR. (long double reaches 1e4932: every float64 value
/// squared fits, so this is a safety net.)
template <class Bound>
bool finite(const std::vector<ElementBounds<Bound>>& bounds) {
  return std::all_of(bounds.begin(), bounds.end(), all_finite<Bound>);
}

template <class Bound>
std::optional<ChunkOutcome> verify_chunk_in(const Setup& setup, const RunCase& c, const RunResult& r,
                                            const std::vector<TensorSlice>& slices, const Chunk& chunk, bool states) {
  ChunkOutcome out;
  const std::size_t n = chunk.end - chunk.begin;
  const TensorSlice part{chunk.begin, n, slices[chunk.tensor].group};
  ReferenceAdam<R> reference = tensor_reference(setup, c, chunk.tensor, part);
  ErrorModel<R, Bound> model = tensor_model<Bound>(setup, c, part, reference);
  const bool amsgrad = setup.spec.convention.adam().amsgrad != AmsgradVariant::none;
  const PrecisionRules rules = setup.rules();
  const bool kahan = rules.kahan_summation();
  StepRecord<R> record;
  std::vector<R> grad;
  R allowed;
  // Each value compared in the format it is stored in (a state format of its own where given; a
  // quantized state as the float32 values its codes read back as).
  const std::size_t elements = slices[chunk.tensor].size;
  const FloatFormat &f_theta = rules.format_of(Quantity::theta), &f_m = rules.read_back_format(Quantity::m, elements),
                    &f_v = rules.read_back_format(Quantity::v, elements), &f_vmax = rules.format_of(Quantity::vmax);
  auto check = [&](double observed, const R& exact, const Bound& bound, std::size_t t, std::size_t flat,
                   Quantity what, const FloatFormat& format, bool output = true) {
    allowed = bound;  // exact: a double or long double is an MPFR number
    check_value(out, format, observed, exact, allowed, slices, chunk.tensor, t, flat, what, output);
  };
  for (std::size_t t = 0; t < c.grads.size(); ++t) {
    // A quantized tensor's states read back from their codes: judged, and read by the next step, within
    // what a correct quantizer may store.
    if (step_tensor(reference, model, record, c, t, chunk.tensor, part, grad))
      charge_quantization(setup, c, chunk.tensor, part, reference, model);
    const auto& bounds = model.bounds();
    if (!finite(bounds)) return std::nullopt;
    const auto& st = reference.state();
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t flat = chunk.begin + i;
      check(r.theta[t][flat], reference.theta()[i], bounds[i].theta, t, flat, Quantity::theta, f_theta);
      if (!states || r.states.empty()) continue;
      const ImplementationState& s = r.states[t];
      check(s.m[flat], st.m[i], bounds[i].m, t, flat, Quantity::m, f_m);
      check(s.v[flat], st.v[i], bounds[i].v, t, flat, Quantity::v, f_v);
      if (amsgrad && s.vmax.size() == s.m.size()) check(s.vmax[flat], st.vmax[i], bounds[i].vmax, t, flat, Quantity::vmax, f_vmax);
      // Kahan: theta + c is what tracks the exact value, within the compensated bound (the sum's double rounding charged there).
      if (kahan && s.compensation.size() == s.m.size())
        check(r.theta[t][flat] + s.compensation[flat], reference.theta()[i], bounds[i].compensated, t, flat,
              Quantity::theta_plus_compensation, f_theta, false);
    }
  }
  return out;
}

/// The bound in hardware floating point (bound_arithmetic.hpp: rounded
/// outward, so never below the exact value of the MPFR bound's formula):
/// double for float32 (whose values, squared or divided by 1e-16, stay far
/// inside double's range), long double for float64; in MPFR where asked or
/// where such a bound overflowed.
ChunkOutcome verify_chunk(const Setup& setup, const RunCase& c, const RunResult& r, const std::vector<TensorSlice>& slices,
                          const Chunk& chunk, const VerifySettings& settings) {
  if (settings.bound == BoundArithmetic::hardware) {
    auto fast = setup.dtype.precision <= 24 ? verify_chunk_in<double>(setup, c, r, slices, chunk, settings.states)
                                            : verify_chunk_in<long double>(setup, c, r, slices, chunk, settings.states);
    if (fast) return std::move(*fast);
  }
  return std::move(*verify_chunk_in<R>(setup, c, r, slices, chunk, settings.states));
}

/// The element `at` of `c` as a case of its own, with the implementation's values for it.
ElementTrace cut_element(const Setup& setup, const RunCase& c, const RunResult& r, const std::vector<TensorSlice>& slices,
                         const ValueAt& at, double ratio) {
  ElementTrace e;
  e.setup = setup;
  e.what = at.what;
  e.ratio = ratio;
  const std::size_t k = at.tensor, i = at.element;
  e.position = element_position(slices, k, i, name(at.what));
  const TensorSlice element{i, 1, slices[k].group};
  RunCase& one = e.element;
  one.theta0 = {c.theta0[i]};
  one.lrs = c.lrs;
  one.groups = c.groups;
  if (!c.tensors.empty()) one.tensors = {Tensor{1, slices[k].group}};
  for (std::size_t t = 0; t < c.grads.size(); ++t) {
    one.grads.push_back({c.grads[t][i]});
    if (!c.grad_given.empty()) one.grad_given.push_back({has_gradient(c, t, k)});
  }
  if (c.initial_state) one.initial_state = tensor_state(*c.initial_state, element, k);
  one.record_states = !r.states.empty();
  for (const auto& theta : r.theta) e.result.theta.push_back({theta[i]});
  for (const auto& s : r.states) e.result.states.push_back(tensor_state(s, element, k));
  return e;
}

}  // namespace

Verification verify_trajectory(const Setup& setup, const RunCase& c, const RunResult& result,
                               const VerifySettings& settings) {
  validate_case(c);
  const auto slices = slices_of(c);
  if (settings.states && setup.spec.convention.adam().amsgrad != AmsgradVariant::none)
    for (std::size_t t = 0; t < result.states.size(); ++t)
      if (result.states[t].vmax.size() != result.states[t].m.size()) {
        // An AMSGrad state must carry its maximum: one not stored (or not exported) is a bug, not a skip.
        Verification v;
        v.statistics.add_bound(INFINITY, "step " + std::to_string(t + 1) + ": AMSGrad maxima");
        v.failure = "step " + std::to_string(t + 1) + ": the exported state has " +
                    std::to_string(result.states[t].vmax.size()) + " AMSGrad maxima for " +
                    std::to_string(result.states[t].m.size()) + " elements";
        return v;
      }
  std::vector<Chunk> chunks;
  // A quantized tensor's chunks hold whole blocks (every block size divides 256).
  const PrecisionRules rules = setup.rules();
  const std::size_t whole_blocks = (std::max<std::size_t>(settings.chunk, 1) + 255) / 256 * 256;
  for (std::size_t k = 0; k < slices.size(); ++k) {
    const std::size_t size = quantized_tensor(rules, slices[k]) ? whole_blocks : std::max<std::size_t>(settings.chunk, 1);
    for (std::size_t b = slices[k].offset; b < slices[k].offset + slices[k].size; b += size)
      chunks.push_back({k, b, std::min(b + size, slices[k].offset + slices[k].size)});
  }
  std::vector<ChunkOutcome> outcomes(chunks.size());
  const std::size_t work = c.theta0.size() * c.grads.size();
  const std::size_t threads =
      std::min<std::size_t>(chunks.size(), work < 65536 ? 1 : static_cast<std::size_t>(resolve_jobs(settings.jobs)));
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&] {
    for (std::size_t j; (j = next++) < chunks.size();) {
      try {
        outcomes[j] = verify_chunk(setup, c, result, slices, chunks[j], settings);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  if (threads <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    // Each worker frees MPFR's per-thread caches (constants such as log 2 that exp and log fill) as it ends.
    for (std::size_t k = 0; k < threads; ++k) pool.emplace_back([&] {
      worker();
      mpfr_free_cache();
    });
    for (auto& th : pool) th.join();
  }
  if (error) std::rethrow_exception(error);
  Verification v;
  v.threads = std::max<std::size_t>(1, threads);
  std::optional<std::pair<std::size_t, std::size_t>> first;
  std::optional<ValueAt> at;
  double worst = -1;
  for (const auto& o : outcomes) {
    const ErrorStatistics& statistics = o.recorder.statistics();
    v.statistics.merge(statistics);
    if (o.first && (!first || *o.first < *first)) {
      first = o.first;
      v.failure = o.failure;
      at = o.first_at;
    }
    if (!first && statistics.count && statistics.worst_ratio > worst) {
      worst = statistics.worst_ratio;
      at = o.worst_at;
    }
  }
  // An element of a quantized tensor is not a case of its own (its bound depends on its block): no trace.
  if (at && !quantized_tensor(rules, slices[at->tensor]))
    v.element = cut_element(setup, c, result, slices, *at, first ? INFINITY : worst);
  return v;
}

std::vector<TracePoint> trace_points(const ElementTrace& trace) {
  const RunCase& c = trace.element;
  const TensorSlice part{0, 1, slices_of(c).front().group};
  ReferenceAdam<R> reference = tensor_reference(trace.setup, c, 0, part);
  ErrorModel<R> model = tensor_model<R>(trace.setup, c, part, reference);
  StepRecord<R> record;
  std::vector<R> grad;
  std::vector<TracePoint> points;
  const Quantity w = trace.what;
  const PrecisionRules rules = trace.setup.rules();
  for (std::size_t t = 0; t < c.grads.size(); ++t) {
    step_tensor(reference, model, record, c, t, 0, part, grad);
    const auto& b = model.bounds().front();
    const auto& st = reference.state();
    double observed;
    R exact, allowed;
    if (w == Quantity::theta) {
      observed = trace.result.theta[t][0], exact = reference.theta()[0], allowed = b.theta;
    } else if (w == Quantity::theta_plus_compensation) {  // Kahan: the sum tracks the exact value
      if (trace.result.states.size() <= t || trace.result.states[t].compensation.empty()) break;
      observed = trace.result.theta[t][0] + trace.result.states[t].compensation[0];
      exact = reference.theta()[0], allowed = b.compensated;
    } else {
      if (trace.result.states.size() <= t) break;
      const ImplementationState& s = trace.result.states[t];
      if (w == Quantity::m) observed = s.m.at(0), exact = st.m[0], allowed = b.m;
      else if (w == Quantity::v) observed = s.v.at(0), exact = st.v[0], allowed = b.v;
      else observed = s.vmax.at(0), exact = st.vmax[0], allowed = b.vmax;
    }
    const Comparison cmp = judge(observed, exact, allowed, rules.format_of(w), w != Quantity::theta_plus_compensation);
    TracePoint p;
    p.step = t + 1;
    p.observed = observed;
    p.exact = static_cast<double>(exact);
    const double sign = std::isnan(observed) || observed >= p.exact ? 1.0 : -1.0;
    p.error_ulps = std::isnan(observed) ? INFINITY : sign * cmp.error_ulps;
    p.allowed_ulps = cmp.allowed_ulps;
    p.pass = cmp.pass;
    points.push_back(p);
  }
  return points;
}

}  // namespace adamconf
