#include "adamconf/audit.hpp"

#include <mpfr.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "adamconf/exact_run.hpp"
#include "adamconf/fast_step.hpp"
#include "adamconf/excerpt.hpp"
#include "adamconf/quantized_judge.hpp"
#include "adamconf/safetensors.hpp"

namespace adamconf::audit {

namespace {

using safetensors::MappedFile;
using safetensors::TensorInfo;
using safetensors::View;

/// The convention as one tensor claims it: the manifest's, in the tensor's dtype.
struct TensorConvention {
  Setup setup;
  PrecisionRules rules;
};

/// Where one tensor's values lie in the two files; nullptr: absent.
struct TensorSources {
  const TensorConvention* convention = nullptr;  ///< the Auditor's, one per dtype
  const TensorInfo *theta = nullptr, *grad = nullptr, *m = nullptr, *v = nullptr, *vmax = nullptr;
  const TensorInfo *theta_after = nullptr, *m_after = nullptr, *v_after = nullptr, *vmax_after = nullptr;
  /// kahan-summation: the compensation before and after; master-weights: the model's copy after.
  const TensorInfo *compensation = nullptr, *compensation_after = nullptr, *copy_after = nullptr;
  /// A state the format quantizes (a tensor of its min_size and more): its codes, one per element, and
  /// its scales, one per block, after the step (m/NAME and v/NAME hold the values they read back as).
  const TensorInfo *m_codes = nullptr, *m_scales = nullptr, *v_codes = nullptr, *v_scales = nullptr;
  bool fresh_before = false, fresh_after = false;  ///< no state: zeros, step 0 (PyTorch before its first step)
};

std::string quoted(const std::string& name) { return "'" + excerpt(name, 80) + "'"; }

/// A scalar step count: one integer-valued number >= 0.
std::int64_t step_count(const View& file, const TensorInfo& t) {
  if (t.elements != 1)
    throw InputError(file.file() + ": tensor " + quoted(t.name) + " holds " + std::to_string(t.elements) +
                     " values; a step count is one");
  const double x = file.value(t, 0);
  if (!(x >= 0) || x != std::floor(x) || x > 9007199254740992.0)
    throw InputError(file.file() + ": tensor " + quoted(t.name) + " is " + show_value(x) + ", not a step count");
  return static_cast<std::int64_t>(x);
}

/// The tensor called `field/name` of `file`, checked against what the manifest says of it.
const TensorInfo* tensor_of(const View& file, const std::string& field, const std::string& name, bool required,
                            std::uint64_t elements, const FloatFormat* format) {
  const std::string key = field + "/" + name;
  const TensorInfo* t = file.find(key);
  if (!t) {
    if (required) throw InputError(file.file() + ": no tensor " + quoted(key));
    return nullptr;
  }
  if (format && t->dtype != safetensors::dtype_of_format(format->name))
    throw InputError(file.file() + ": tensor " + quoted(key) + " is " + safetensors::name(t->dtype) + "; the manifest's " +
                     "convention stores it as " + format->name + " (" + safetensors::name(safetensors::dtype_of_format(format->name)) + ")");
  if (!format && !safetensors::is_float(t->dtype))
    throw InputError(file.file() + ": tensor " + quoted(key) + " is " + safetensors::name(t->dtype) + ", not floating point");
  if (t->elements != elements)
    throw InputError(file.file() + ": tensor " + quoted(key) + " has " + std::to_string(t->elements) +
                     " elements; theta/" + excerpt(name, 80) + " has " + std::to_string(elements));
  return t;
}

/// One piece of work: elements [first, first + count) of tensor k.
struct Piece {
  std::size_t tensor = 0;
  std::uint64_t first = 0, count = 0;
};

/// What one thread found in one tensor.
struct Partial {
  ErrorStatistics statistics;
  std::uint64_t fast_values = 0, mpfr_values = 0;  // TensorVerdict's
  /// The elements whose certified values may be the worst: the fast path bounds each ratio from
  /// below and above (Certificate), so only a value whose upper bound reaches the largest lower
  /// bound (`fast_floor`) can be; they are judged again in MPFR at the end, so that the worst
  /// value is the exact worst, described exactly, whatever the windows.
  double fast_floor = 0;
  std::vector<std::pair<double, std::uint64_t>> fast_candidates;  // (upper bound of the ratio, element)
  static constexpr std::size_t kMaxCandidates = 1024;
  void candidate(const Certificate& c, std::uint64_t element) {
    fast_floor = std::max(fast_floor, c.ratio_low);
    if (c.ratio >= fast_floor) fast_candidates.push_back({c.ratio, element});
  }
  /// Drops the candidates below `floor`; keeps the highest kMaxCandidates.
  void prune(double floor) {
    fast_floor = std::max(fast_floor, floor);
    std::erase_if(fast_candidates, [&](const auto& c) { return c.first < fast_floor; });
    if (fast_candidates.size() > kMaxCandidates) {
      std::sort(fast_candidates.begin(), fast_candidates.end(), std::greater<>());
      fast_candidates.resize(kMaxCandidates);
    }
  }
  void take_candidates(const Partial& p) {
    fast_candidates.insert(fast_candidates.end(), p.fast_candidates.begin(), p.fast_candidates.end());
    prune(p.fast_floor);
  }
  std::uint64_t failures = 0;
  std::vector<std::pair<std::uint64_t, std::string>> failed;
};

/// A quantized state that cannot be judged at all: its failure is recorded, the piece goes on.
struct UnjudgedTensor {};

/// An audit's side of judging a quantized state (quantized_judge.hpp): scales through the
/// recorder, codes counted (a failure described with its block and code), a state that cannot
/// be judged one failure.
class AuditVerdicts : public QuantizedVerdicts {
 public:
  AuditVerdicts(Recorder& recorder, Partial& out, std::size_t shown, std::uint64_t first)
      : recorder_(recorder), out_(out), shown_(shown), first_(first) {}
  [[noreturn]] void fail(const std::string& what) override {
    note(first_, what);
    throw UnjudgedTensor{};
  }
  void scale(double observed, const R& exact, const R& allowed, const std::function<std::string()>& where) override {
    const Judged j = recorder_.record(observed, exact, allowed, float32_format, where);
    if (!j.pass()) note(first_, j.description);
  }
  void code(int code, bool accepted, int lowest, int highest, const std::function<std::string()>& where) override {
    ++recorder_.statistics().count;
    if (!accepted)
      note(first_, where() + " => code " + std::to_string(code) + "  expected code " + std::to_string(lowest) +
                       (highest != lowest ? ".." + std::to_string(highest) : ""));
  }

 private:
  void note(std::uint64_t element, const std::string& what) {
    ++out_.failures;
    if (out_.failed.size() < shown_) out_.failed.push_back({element, what});
  }
  Recorder& recorder_;
  Partial& out_;
  std::size_t shown_;
  std::uint64_t first_;
};

class Auditor {
 public:
  Auditor(const Manifest& manifest, const AuditSettings& settings)
      : manifest_(manifest), settings_(settings), rules_(manifest.setup.rules()),
        amsgrad_(manifest.setup.spec.convention.adam().amsgrad != AmsgradVariant::none),
        before_(manifest.before), after_(manifest.after) {}

  AuditReport run() {
    const auto start = std::chrono::steady_clock::now();
    const View& b = before_.view();
    std::vector<AuditTensor> tensors = manifest_.tensors;
    if (tensors.empty())
      for (const TensorInfo& t : b.tensors())
        if (t.name.rfind("theta/", 0) == 0) tensors.push_back({.name = t.name.substr(6)});
    if (tensors.empty()) throw InputError(b.file() + ": no tensor theta/NAME (and the manifest lists none)");
    std::vector<std::uint64_t> sizes;
    for (const AuditTensor& t : tensors) sizes.push_back(b.at("theta/" + t.name).elements);

    AuditReport report{.manifest = manifest_.path,
                       .digest = manifest_.digest,
                       .preset = manifest_.setup.spec.preset,
                       .dtype = manifest_.setup.dtype.name,
                       .convention = describe_convention(),
                       .shards = {settings_.shard.index},
                       .shard_count = settings_.shard.count};
    std::vector<Piece> pieces;
    const std::uint64_t window = std::max<std::uint64_t>(1, settings_.window);
    for (const std::size_t k : shard_tensors(sizes, settings_.shard)) {
      const AuditTensor& t = tensors[k];
      const TensorConvention& convention = convention_of(t);
      TensorVerdict verdict{.name = t.name, .dtype = convention.setup.dtype.name, .group = t.group, .elements = sizes[k]};
      sources_.push_back(locate(t.name, sizes[k], convention, verdict));
      report.tensors.push_back(std::move(verdict));
      for (std::uint64_t first = 0; first < sizes[k]; first += window)
        pieces.push_back({.tensor = report.tensors.size() - 1, .first = first, .count = std::min(window, sizes[k] - first)});
    }
    for (const Piece& p : pieces) total_ += p.count;
    partials_.assign(report.tensors.size(), {});
    judge_pieces(report, pieces);
    for (std::size_t k = 0; k < report.tensors.size(); ++k) {
      TensorVerdict& v = report.tensors[k];
      Partial& p = partials_[k];
      std::sort(p.failed.begin(), p.failed.end());
      if (p.failed.size() > settings_.shown_failures) p.failed.resize(settings_.shown_failures);
      v.statistics.merge(p.statistics);
      v.fast_values += p.fast_values;
      v.mpfr_values += p.mpfr_values;
      // The certified values that may be the worst, judged once more in MPFR (counted once).
      p.prune(v.statistics.worst.empty() ? 0.0 : v.statistics.worst_ratio);
      std::sort(p.fast_candidates.begin(), p.fast_candidates.end(),
                [](const auto& a, const auto& b) { return a.second < b.second; });
      std::uint64_t last = std::numeric_limits<std::uint64_t>::max();
      for (const auto& [ratio, element] : p.fast_candidates) {
        if (element == last) continue;
        last = element;
        Partial again;
        judge_piece(v, sources_[k], {.tensor = k, .first = element, .count = 1}, again, false);
        if (again.statistics.worst_ratio > v.statistics.worst_ratio || v.statistics.worst.empty())
          v.statistics.set_worst(again.statistics.worst_ratio, again.statistics.worst);
      }
      v.failures += p.failures;
      v.failed.insert(v.failed.end(), p.failed.begin(), p.failed.end());
      std::sort(v.failed.begin(), v.failed.end());
      if (v.failed.size() > settings_.shown_failures) v.failed.resize(settings_.shown_failures);
    }
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return report;
  }

 private:
  std::string describe_convention() const {
    std::string s = manifest_.setup.spec.preset + " " + manifest_.setup.dtype.name;
    for (const auto& name : Hyperparameters::names()) s += " " + name + "=" + manifest_.setup.spec.hyper.get(name);
    if (rules_.narrow()) s += " precision=" + to_string(rules_.precision());
    if (manifest_.setup.spec.options.step_counter != StepCounter::integer)
      s += " step_counter=" + to_string(manifest_.setup.spec.options.step_counter);
    if (amsgrad_) s += " amsgrad";
    if (manifest_.setup.spec.options.maximize) s += " maximize";
    if (manifest_.groups.size() > 1) s += " (" + std::to_string(manifest_.groups.size()) + " parameter groups)";
    return s;
  }

  /// The setup and rules of tensor t's dtype, made once per dtype (map nodes stay where they are).
  const TensorConvention& convention_of(const AuditTensor& t) {
    auto it = conventions_.find(t.dtype);
    if (it == conventions_.end()) {
      Setup setup = manifest_.setup_of(t);
      const PrecisionRules rules = setup.rules();
      it = conventions_.emplace(t.dtype, TensorConvention{.setup = std::move(setup), .rules = rules}).first;
    }
    return it->second;
  }

  /// Finds tensor `name`'s values in both files and checks their dtypes
  /// (those of `convention`), sizes and step counts; fills the verdict's step
  /// counts and the step-count failure.
  TensorSources locate(const std::string& name, std::uint64_t n, const TensorConvention& convention, TensorVerdict& verdict) {
    const View &b = before_.view(), &a = after_.view();
    const PrecisionRules& rules = convention.rules;  // the tensor's dtype's
    const FloatFormat& theta_format = rules.reported();
    TensorSources s;
    s.convention = &convention;
    s.theta = tensor_of(b, "theta", name, true, n, &theta_format);
    s.grad = tensor_of(b, "grad", name, false, n, nullptr);
    s.theta_after = tensor_of(a, "theta", name, true, n, &theta_format);
    if (b.find("theta/" + name)->shape != a.find("theta/" + name)->shape)
      throw InputError(a.file() + ": tensor " + quoted("theta/" + name) + " has another shape than in " + b.file());
    verdict.stepped = s.grad != nullptr;
    auto state = [&](const View& file, bool& fresh, const TensorInfo*& m, const TensorInfo*& v, const TensorInfo*& vmax,
                     std::int64_t& step) {
      const bool any = file.find("m/" + name) || file.find("v/" + name) || file.find("step/" + name) ||
                       file.find("vmax/" + name);
      fresh = !any;
      if (fresh) return;
      m = tensor_of(file, "m", name, true, n, &rules.read_back_format(Quantity::m, n));
      v = tensor_of(file, "v", name, true, n, &rules.read_back_format(Quantity::v, n));
      if (amsgrad_) vmax = tensor_of(file, "vmax", name, true, n, &rules.format_of(Quantity::vmax));
      step = step_count(file, file.at("step/" + name));
    };
    state(b, s.fresh_before, s.m, s.v, s.vmax, verdict.step_before);
    state(a, s.fresh_after, s.m_after, s.v_after, s.vmax_after, verdict.step_after);
    // Kahan summation: the compensation is state (absent before the first step: 0); master
    // weights: theta is the float32 master, and the model's copy in the dtype follows it.
    if (rules.kahan_summation()) {
      const FloatFormat& fc = rules.format_of(Quantity::compensation);
      if (!s.fresh_before) s.compensation = tensor_of(b, "compensation", name, true, n, &fc);
      if (!s.fresh_after) s.compensation_after = tensor_of(a, "compensation", name, true, n, &fc);
    }
    if (rules.master_weights()) s.copy_after = tensor_of(a, "copy", name, true, n, &rules.dtype());
    for (const auto& [q, codes, scales, field] : {std::tuple{Quantity::m, &s.m_codes, &s.m_scales, "m"},
                                                   std::tuple{Quantity::v, &s.v_codes, &s.v_scales, "v"}}) {
      const std::optional<QuantizedFormat>& f = rules.quantized(q);
      if (!f || !f->quantizes(n) || s.fresh_after) continue;
      *codes = &a.at(std::string(field) + "_codes/" + name);
      *scales = &a.at(std::string(field) + "_scales/" + name);
      const std::uint64_t blocks = (n + f->block - 1) / f->block;
      if ((*codes)->elements != n || !safetensors::is_integer((*codes)->dtype))
        throw InputError(a.file() + ": tensor " + quoted((*codes)->name) + " is " + std::to_string((*codes)->elements) + " " +
                         safetensors::name((*codes)->dtype) + " values; " + f->name + " needs one integer code per element (" +
                         std::to_string(n) + ")");
      if ((*scales)->elements != blocks || (*scales)->dtype != safetensors::DType::F32)
        throw InputError(a.file() + ": tensor " + quoted((*scales)->name) + " is " + std::to_string((*scales)->elements) + " " +
                         safetensors::name((*scales)->dtype) + " values; " + f->name + " needs one F32 scale per block of " +
                         std::to_string(f->block) + " (" + std::to_string(blocks) + ")");
      if (settings_.window % f->block != 0)
        throw InputError("audit: the window of " + std::to_string(settings_.window) + " elements is no multiple of " + f->name +
                         "'s block of " + std::to_string(f->block));
    }
    // A step leaves a state; a tensor without a gradient keeps the one it had (none included).
    if (s.fresh_after && (verdict.stepped || !s.fresh_before))
      throw InputError(a.file() + ": no state of tensor " + quoted(name) + " (m/" + excerpt(name, 60) + ", v/, step/) after " +
                       (verdict.stepped ? "a step with a gradient" : "a step that had one"));
    const StepCounter counter = manifest_.setup.spec.convention.adam().counter;
    const std::int64_t expected = verdict.stepped ? advance_count(counter, verdict.step_before) : held_count(counter, verdict.step_before);
    if (verdict.step_after != expected) {
      ++verdict.failures;
      verdict.failed.push_back({0, "step count after the step is " + std::to_string(verdict.step_after) + ", expected " +
                                       std::to_string(expected) + " (from " + std::to_string(verdict.step_before) +
                                       (verdict.stepped ? ", one step" : ", no gradient: unchanged") + ")"});
    }
    return s;
  }

  void judge_pieces(const AuditReport& report, const std::vector<Piece>& pieces) {
    std::atomic<std::size_t> next{0};
    std::atomic<bool> stop{false};
    std::exception_ptr error;
    std::mutex mutex;
    auto worker = [&] {
      std::map<std::size_t, Partial> mine;
      try {
        for (std::size_t i = next++; i < pieces.size() && !stop; i = next++) {
          judge_piece(report.tensors[pieces[i].tensor], sources_[pieces[i].tensor], pieces[i], mine[pieces[i].tensor]);
          std::lock_guard lock(mutex);
          done_ += pieces[i].count;
          if (settings_.progress) settings_.progress(done_, total_, report.tensors[pieces[i].tensor].name);
        }
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!error) error = std::current_exception();
        stop = true;
      }
      std::lock_guard lock(mutex);
      for (auto& [k, p] : mine) {
        Partial& into = partials_[k];
        into.statistics.merge(p.statistics);
        into.fast_values += p.fast_values;
        into.mpfr_values += p.mpfr_values;
        into.take_candidates(p);
        into.failures += p.failures;
        into.failed.insert(into.failed.end(), p.failed.begin(), p.failed.end());
      }
      mpfr_free_cache();  // MPFR's per-thread constant caches (LeakSanitizer)
    };
    const int jobs = settings_.jobs > 0 ? settings_.jobs : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    const std::size_t threads = std::min<std::size_t>(static_cast<std::size_t>(jobs), pieces.size());
    if (threads <= 1) {
      worker();
    } else {
      std::vector<std::thread> pool;
      for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
      for (auto& t : pool) t.join();
    }
    if (error) std::rethrow_exception(error);
  }

  /// The fast path over one piece: every value of `judged` it certifies is
  /// recorded; `in_mpfr` gets the elements left to MPFR (an element is there
  /// with all its values: one it could not decide, or with a value it could
  /// not certify). `out` keeps the elements whose certified values may be the
  /// worst (element `first` is the piece's first).
  /// False where it takes none of the piece (settings, quantized states, a
  /// step scalar it cannot decide).
  bool certify_fast(const TensorConvention& convention, const RunCase& c, std::uint64_t first,
                    const std::vector<std::tuple<Quantity, const std::vector<double>*, bool>>& judged, Recorder& recorder,
                    std::vector<std::size_t>& in_mpfr, Partial& out) const {
    if (!settings_.fast_path || !FastStep::takes(convention.setup)) return false;
    const PrecisionRules& rules = convention.rules;  // the tensor's dtype's
    std::optional<FastStep> fast;
    try {
      fast.emplace(convention.setup, c);
    } catch (const Undecided&) {
      return false;
    }
    const std::size_t n = fast->size(), kinds = judged.size();
    std::vector<Certificate> certificates(kinds);
    for (std::size_t i = 0; i < n; ++i) {
      bool certified = true;
      for (std::size_t k = 0; k < kinds && certified; ++k) {
        const auto& [q, observed, output] = judged[k];
        const FloatFormat& format = rules.format_of(output ? q : Quantity::theta);
        const std::optional<Certificate> certificate = fast->certify(i, q, (*observed)[i], format, output);
        if (certificate) certificates[k] = *certificate;
        certified = certificate.has_value();
      }
      if (!certified) {
        in_mpfr.push_back(i);
        continue;
      }
      for (std::size_t k = 0; k < kinds; ++k) {
        const Certificate& cert = certificates[k];
        recorder.record_certified(cert.ratio, cert.error_ulps, cert.exact_zero, (*std::get<1>(judged[k]))[i], cert.unbounded);
        out.candidate(cert, first + i);
      }
      out.fast_values += kinds;
    }
    out.prune(0);
    return true;
  }

  /// Quantity q's exact value after the step and its allowed error (Kahan:
  /// theta + c tracks theta's exact value, within the compensated bound).
  static std::pair<const R&, const R&> exact_and_bound(const ElementRecord<R>& e, const ElementBounds<R>& b, Quantity q) {
    switch (q) {
      case Quantity::m: return {e.m, b.m};
      case Quantity::v: return {e.v, b.v};
      case Quantity::vmax: return {e.vmax, b.vmax};
      case Quantity::theta_plus_compensation: return {e.theta, b.compensated};
      default: return {e.theta, b.theta};
    }
  }

  /// The elements `which` of a one-tensor case, as a case of their own (each element's step is its own).
  static RunCase elements_of(const RunCase& c, const std::vector<std::size_t>& which) {
    auto pick = [&](const std::vector<double>& xs) {
      std::vector<double> out;
      if (xs.empty()) return out;
      for (const std::size_t i : which) out.push_back(xs[i]);
      return out;
    };
    RunCase sub = c;
    sub.theta0 = pick(c.theta0);
    sub.grads = {pick(c.grads[0])};
    sub.tensors = {{.size = which.size(), .group = c.tensors.front().group}};
    ImplementationState& st = *sub.initial_state;
    st.m = pick(st.m);
    st.v = pick(st.v);
    st.vmax = pick(st.vmax);
    st.compensation = pick(st.compensation);
    return sub;
  }

  /// Every value of one piece: the inputs read and checked, the exact step from
  /// them, and theta, m, v (vmax) after the step judged.
  /// `fast`: whether the fast path may certify values (else every one is judged in MPFR).
  void judge_piece(const TensorVerdict& verdict, const TensorSources& s, const Piece& p, Partial& out, bool fast = true) const {
    const View &b = before_.view(), &a = after_.view();
    const TensorConvention& convention = *s.convention;
    const PrecisionRules& rules = convention.rules;  // the tensor's dtype's
    RunCase c;
    b.values(*s.theta, p.first, p.count, c.theta0);
    c.grads.assign(1, std::vector<double>(p.count, 0.0));
    if (s.grad) b.values(*s.grad, p.first, p.count, c.grads[0]);
    c.tensors = {{.size = p.count, .group = verdict.group}};
    c.groups = manifest_.groups;
    c.grad_given = {{verdict.stepped}};
    ImplementationState state{.step = verdict.step_before};
    if (s.fresh_before) {
      state.m.assign(p.count, 0.0);
      state.v.assign(p.count, 0.0);
      if (amsgrad_) state.vmax.assign(p.count, 0.0);
    } else {
      b.values(*s.m, p.first, p.count, state.m);
      b.values(*s.v, p.first, p.count, state.v);
      if (amsgrad_) b.values(*s.vmax, p.first, p.count, state.vmax);
    }
    // The exact step is defined from finite inputs (and v, vmax >= 0) only.
    auto require = [&](const std::vector<double>& xs, const TensorInfo* t, const char* field, bool non_negative) {
      for (std::size_t i = 0; i < xs.size(); ++i)
        if (!std::isfinite(xs[i]) || (non_negative && xs[i] < 0))
          throw InputError(b.file() + ": tensor " + quoted(t ? t->name : std::string(field) + "/" + verdict.name) +
                           " element " + std::to_string(p.first + i) + " is " + show_value(xs[i]) +
                           (non_negative ? ": a second moment is finite and >= 0" : ": the audit judges steps from finite values"));
    };
    if (s.compensation) {
      b.values(*s.compensation, p.first, p.count, state.compensation);
      require(state.compensation, s.compensation, "compensation", false);
    } else if (rules.kahan_summation()) {
      state.compensation.assign(p.count, 0.0);
    }
    require(c.theta0, s.theta, "theta", false);
    if (s.grad) require(c.grads[0], s.grad, "grad", false);
    if (!s.fresh_before) {
      require(state.m, s.m, "m", false);
      require(state.v, s.v, "v", true);
      if (amsgrad_) require(state.vmax, s.vmax, "vmax", true);
    }
    c.initial_state = state;

    std::vector<double> theta_after, m_after, v_after, vmax_after, compensation_after, copy_after;
    a.values(*s.theta_after, p.first, p.count, theta_after);
    if (s.compensation_after) a.values(*s.compensation_after, p.first, p.count, compensation_after);
    if (s.copy_after) a.values(*s.copy_after, p.first, p.count, copy_after);
    if (s.fresh_after) {  // no gradient, no state before or after
      m_after = state.m;
      v_after = state.v;
      vmax_after = state.vmax;
    } else {
      a.values(*s.m_after, p.first, p.count, m_after);
      a.values(*s.v_after, p.first, p.count, v_after);
      if (amsgrad_) a.values(*s.vmax_after, p.first, p.count, vmax_after);
    }
    // The values judged against their exact values: in MPFR all of them, or (the fast path,
    // fast_step.hpp) the elements it could not certify; the certified values that may be the
    // tensor's worst are judged again in MPFR when the tensor is done (Partial::fast_candidates).
    const bool m_quantized = s.m_codes != nullptr, v_quantized = s.v_codes != nullptr;
    std::vector<std::tuple<Quantity, const std::vector<double>*, bool>> judged{{Quantity::theta, &theta_after, true}};
    if (!m_quantized) judged.emplace_back(Quantity::m, &m_after, true);
    if (!v_quantized) judged.emplace_back(Quantity::v, &v_after, true);
    if (amsgrad_) judged.emplace_back(Quantity::vmax, &vmax_after, true);
    std::vector<double> theta_plus_compensation;
    if (!compensation_after.empty()) {
      for (std::size_t i = 0; i < p.count; ++i) theta_plus_compensation.push_back(theta_after[i] + compensation_after[i]);
      judged.emplace_back(Quantity::theta_plus_compensation, &theta_plus_compensation, false);
    }
    Recorder recorder;
    std::vector<std::size_t> in_mpfr;
    if (!fast || !certify_fast(convention, c, p.first, judged, recorder, in_mpfr, out)) {
      in_mpfr.resize(p.count);
      for (std::size_t i = 0; i < p.count; ++i) in_mpfr[i] = i;
    }
    const ExactStep exact = in_mpfr.empty() ? ExactStep{}
                            : exact_trajectory(convention.setup, in_mpfr.size() == p.count ? c : elements_of(c, in_mpfr)).front();
    out.mpfr_values += in_mpfr.size() * judged.size();
    auto judge_one = [&](std::size_t i, double observed, const R& x, const R& allowed, Quantity q) {
      // theta + compensation is a sum in double of two stored values, no output of a format (judge()'s `output`)
      const bool output = q != Quantity::theta_plus_compensation;
      const FloatFormat& format = rules.format_of(output ? q : Quantity::theta);
      const Judged j = recorder.record(observed, x, allowed, format, [&] {
        std::string inputs = "theta " + show_value(c.theta0[i]) + (verdict.stepped ? ", grad " + show_value(c.grads[0][i]) : ", no grad") +
                             ", m " + show_value(state.m[i]) + ", v " + show_value(state.v[i]);
        if (amsgrad_) inputs += ", vmax " + show_value(state.vmax[i]);
        if (!state.compensation.empty()) inputs += ", compensation " + show_value(state.compensation[i]);
        return verdict.name + " element " + std::to_string(p.first + i) + ": " + name(q) + " (from " + inputs + ", step " +
               std::to_string(verdict.step_before) + ")";
      }, output);
      if (!j.pass()) {
        ++out.failures;
        if (out.failed.size() < settings_.shown_failures) out.failed.push_back({p.first + i, j.description});
      }
    };
    // A quantized state is judged by its codes and scales (quantized_judge.hpp), the others value by value.
    for (const auto& [q, codes, scales, values, field] :
         {std::tuple{Quantity::m, s.m_codes, s.m_scales, &m_after, "m"}, std::tuple{Quantity::v, s.v_codes, s.v_scales, &v_after, "v"}}) {
      if (!codes) continue;
      const QuantizedFormat& f = *rules.quantized(q);
      QuantizedTensor tensor;
      std::vector<double> read;
      a.values(*codes, p.first, p.count, read);
      for (const double c : read) tensor.codes.push_back(c >= 0 && c < 65536 ? static_cast<int>(c) : 65536);
      const std::uint64_t first_block = p.first / f.block, blocks = (p.count + f.block - 1) / f.block;
      a.values(*scales, first_block, blocks, tensor.scales);
      std::vector<R> exact_values, bounds;
      for (std::size_t i = 0; i < p.count; ++i) {  // every element is in MPFR here (FastStep::takes)
        exact_values.push_back(q == Quantity::m ? exact.record.elements[i].m : exact.record.elements[i].v);
        bounds.push_back(q == Quantity::m ? exact.bounds[i].m : exact.bounds[i].v);
      }
      AuditVerdicts verdicts(recorder, out, settings_.shown_failures, p.first);
      try {
        judge_quantized_tensor(f, tensor, *values, 0, exact_values, bounds, verdict.name + " ", field, verdicts, p.first);
      } catch (const UnjudgedTensor&) {
      }
    }
    for (std::size_t j = 0; j < in_mpfr.size(); ++j) {
      const std::size_t i = in_mpfr[j];
      const auto& e = exact.record.elements[j];
      const auto& bound = exact.bounds[j];
      for (const auto& [q, observed, output] : judged) {
        const auto [x, allowed] = exact_and_bound(e, bound, q);
        judge_one(i, (*observed)[i], x, allowed, q);
      }
    }
    for (std::size_t i = 0; i < p.count; ++i) {
      // Master weights: the copy is the master rounded to nearest even in the dtype, bit for bit.
      if (!copy_after.empty()) {
        const double expected = round_stored(theta_after[i], rules.dtype());
        ++recorder.statistics().count;
        if (!(copy_after[i] == expected && std::signbit(copy_after[i]) == std::signbit(expected))) {
          ++out.failures;
          if (out.failed.size() < settings_.shown_failures)
            out.failed.push_back({p.first + i, verdict.name + " element " + std::to_string(p.first + i) + ": copy => " +
                                                   show_value(copy_after[i]) + "  expected " + show_value(expected) +
                                                   ": the master " + show_value(theta_after[i]) + " rounded to nearest even in " +
                                                   rules.dtype().name + " (bit for bit)"});
        }
      }
    }
    out.statistics.merge(recorder.statistics());
    // Memory stays at the windows' whatever the files' size.
    for (const auto& [file, ts] : {std::pair{&before_, std::vector{s.theta, s.grad, s.m, s.v, s.vmax, s.compensation}},
                                   std::pair{&after_, std::vector{s.theta_after, s.m_after, s.v_after, s.vmax_after,
                                                                  s.compensation_after, s.copy_after}}})
      for (const TensorInfo* t : ts)
        if (t) file->release(*t, p.first, p.count);
  }

  const Manifest& manifest_;
  const AuditSettings& settings_;
  PrecisionRules rules_;  ///< the manifest's (its dtype); each tensor judges by its own (TensorSources::convention)
  bool amsgrad_;
  std::map<std::string, TensorConvention> conventions_;  ///< by a tensor's dtype ("": the manifest's)
  MappedFile before_, after_;
  std::vector<TensorSources> sources_;
  std::vector<Partial> partials_;
  std::uint64_t done_ = 0, total_ = 0;
};

}  // namespace

AuditShard AuditShard::parse(const std::string& text) {
  const auto slash = text.find('/');
  try {
    if (slash != std::string::npos) {
      std::size_t used = 0;
      const unsigned long i = std::stoul(text.substr(0, slash), &used);
      const std::string rest = text.substr(slash + 1);
      std::size_t used2 = 0;
      const unsigned long n = std::stoul(rest, &used2);
      if (used == slash && used2 == rest.size() && n >= 1 && i >= 1 && i <= n && n <= 1'000'000 && text[0] != '-' && rest[0] != '-')
        return {.index = i - 1, .count = n};
    }
  } catch (const std::exception&) {
  }
  throw std::invalid_argument("--shard '" + excerpt(text, 40) + "': expected I/N with 1 <= I <= N (2/4: the second of four)");
}

std::vector<std::size_t> shard_tensors(const std::vector<std::uint64_t>& sizes, const AuditShard& s) {
  std::vector<std::size_t> order(sizes.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return sizes[a] > sizes[b]; });
  std::vector<std::uint64_t> load(s.count, 0);
  std::vector<std::size_t> mine;
  for (const std::size_t k : order) {
    const std::size_t to = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    load[to] += std::max<std::uint64_t>(1, sizes[k]);  // an empty tensor still costs a look
    if (to == s.index) mine.push_back(k);
  }
  std::sort(mine.begin(), mine.end());  // reported in the manifest's order
  return mine;
}

std::uint64_t AuditReport::elements() const {
  std::uint64_t n = 0;
  for (const auto& t : tensors) n += t.elements;
  return n;
}

std::uint64_t AuditReport::values() const {
  std::uint64_t n = 0;
  for (const auto& t : tensors) n += t.statistics.count;
  return n;
}

std::uint64_t AuditReport::unjudged() const {
  std::uint64_t n = 0;
  for (const auto& t : tensors) n += t.statistics.unbounded;
  return n;
}

std::uint64_t AuditReport::fast_values() const {
  std::uint64_t n = 0;
  for (const auto& t : tensors) n += t.fast_values;
  return n;
}

std::uint64_t AuditReport::mpfr_values() const {
  std::uint64_t n = 0;
  for (const auto& t : tensors) n += t.mpfr_values;
  return n;
}

std::uint64_t AuditReport::failures() const {
  std::uint64_t n = 0;
  for (const auto& t : tensors) n += t.failures;
  return n;
}

AuditReport run_audit(const Manifest& manifest, const AuditSettings& settings) {
  try {
    return Auditor(manifest, settings).run();
  } catch (const safetensors::FileError& e) {
    throw InputError(e.what());
  }
}

}  // namespace adamconf::audit
