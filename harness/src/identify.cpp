#include "adamconf/identify.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <tuple>

#include "adamconf/judge.hpp"
#include "adamconf/exact_run.hpp"
#include "adamconf/answer.hpp"
#include "adamconf/quantized_judge.hpp"

namespace adamconf {

namespace {

struct Probe {
  std::string name;
  std::string axis;  ///< what a mismatch on it points at
  Hyperparameters hyper;
  PresetOptions options;
  RunCase run;
};

double in_format(double x, const FloatFormat& f) { return round_to_format(x, f); }

/// Six elements at magnitudes from below eps (1e-3) to far above it, eight
/// steps with sign flips and jitter; `falling` halves the magnitudes each step
/// (so that an AMSGrad maximum differs from v).
RunCase probe_run(const FloatFormat& f, bool falling) {
  const double scales[] = {1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0};
  RunCase c;
  for (double x : {0.5, -1.5, 2.0, 0.25, -0.75, 1.0}) c.theta0.push_back(x);
  for (int t = 0; t < 8; ++t) {
    std::vector<double> g;
    for (int i = 0; i < 6; ++i) {
      const double jitter = 1 + 0.25 * ((t * 7 + i * 3) % 5);
      const double sign = (t + i) % 3 == 0 ? -1 : 1;
      g.push_back(in_format(sign * scales[i] * jitter * (falling ? std::ldexp(1.0, -t) : 1.0), f));
    }
    c.grads.push_back(g);
  }
  return c;
}

Hyperparameters probe_hyper() {
  Hyperparameters h;
  h.lr = "0.05";
  h.beta1 = "0.8";
  h.beta2 = "0.95";
  h.eps = "0.001";
  h.eps_root = "0";
  h.weight_decay = "0";
  return h;
}

/// How a run compares with a candidate: the worst |observed - exact| / allowed
/// (trajectory bounds) and how many values are within their bound.
struct Fit {
  double worst = 0;
  std::size_t agreeing = 0, compared = 0;
};

Fit fit(const Setup& setup, const RunCase& c, const RunResult& r) {
  const auto exact = exact_trajectory(setup, c);
  Fit f;
  for (std::size_t t = 0; t < exact.size(); ++t)
    for (std::size_t i = 0; i < c.theta0.size(); ++i) {
      const Comparison cmp = judge(r.theta[t][i], exact[t].record.elements[i].theta, exact[t].bounds[i].theta,
                                     setup.rules().reported());
      f.worst = std::max(f.worst, cmp.pass ? std::min(cmp.ratio, 1.0) : std::max(cmp.ratio, 1.0 + 1e-9));
      f.agreeing += cmp.pass;
      ++f.compared;
    }
  return f;
}

/// One run, its answer's shape checked: identify trusts nothing an adapter sends.
RunResult run_checked(Implementation& impl, const Setup& s, const RunCase& c) {
  const std::vector<RunCase> cases = with_rounding_seeds(s, {c});
  std::vector<RunResult> results = impl.run(s, cases);
  validate_answer(s, cases, results);
  return std::move(results.front());
}

struct Candidate {
  std::string label;
  Convention convention;
  bool eps_inside = false;
};

/// Distinct preset conventions (presets sharing one are named together),
/// each also without bias correction of m, of v, or of both, and, for
/// Algorithm 1 forms, with eps inside the square root. Without weight decay on
/// offer, only conventions without decay.
/// The convention's arithmetic in exact numbers: a choice of rounding order
/// alone (eps scaled by sqrt(bc2), lr t / t, complements not formed in a storage format, a root within one ulp) or of what the state holds
/// (debiased moments) changes no exact theta, so probes cannot tell it apart;
/// its looser bound would only make it win ties.
Convention exact_arithmetic(Convention c) {
  c.adam().eps_scaled_by_sqrt_bc2 = false;
  c.adam().complements_wide = false;  // which format 1 - beta and 1 - beta^t are formed in: a rounding choice
  // Moments held bias-corrected (optimi) step theta by the same exact numbers as Kingma & Ba's
  // (DebiasedMoments test): one candidate, not two that the looser bound's would win ties between.
  c.adam().debiased_moments = false;
  c.adam().sqrt_within_one_ulp = false;  // a root within one ulp: a rounding choice
  for (Transform& t : c.chain)  // HeavyBall's lr t / t is lr
    if (auto* l = std::get_if<ScaleByLearningRate>(&t)) l->warmup_ratio = false;
  return c;
}

std::vector<Candidate> candidates(bool decay_offered) {
  std::vector<Candidate> base;
  for (const auto& p : presets()) {
    if (!decay_offered && p.convention.uses_weight_decay()) continue;
    const Convention exact = exact_arithmetic(p.convention);
    auto it = std::find_if(base.begin(), base.end(), [&](const Candidate& c) { return c.convention == exact; });
    if (it == base.end()) base.push_back({p.name, exact, false});
    else it->label += ", " + p.name;
  }
  std::vector<Candidate> all = base;
  for (const Candidate& c : base) {
    if (c.convention.adam().amsgrad != AmsgradVariant::none) continue;
    for (const auto& [bc1, bc2, what] : {std::tuple{false, true, "bias correction of m"},
                                         std::tuple{true, false, "bias correction of v"},
                                         std::tuple{false, false, "bias correction"}}) {
      Candidate v = c;
      v.convention.adam().bias_correction1 = bc1;
      v.convention.adam().bias_correction2 = bc2;
      v.label = "as " + c.label + " but without " + what;
      all.push_back(v);
    }
    if (c.convention.adam().eps_placement == EpsPlacement::after_bias_correction) {
      Candidate inside = c;
      inside.eps_inside = true;
      inside.label = "as " + c.label + " but with eps inside the square root";
      all.push_back(inside);
    }
  }
  return all;
}

Setup setup_for(const Candidate& c, const Probe& p, const FloatFormat& dtype) {
  Setup s;
  s.dtype = dtype;
  s.spec.preset = c.label;
  s.spec.options = p.options;
  s.spec.hyper = p.hyper;
  s.spec.convention = c.convention;
  s.spec.convention.state_formats = p.options.state_formats;  // as the hello states them
  if (c.eps_inside) {
    s.spec.hyper.eps_root = p.hyper.eps;
    s.spec.hyper.eps = "0";
  }
  return s;
}

std::string ratio_text(double r) {
  char buf[64];
  if (std::isinf(r)) return "inf x allowed";
  std::snprintf(buf, sizeof buf, r <= 1 ? "%.2g of allowed" : "%.3g x allowed", r);
  return buf;
}

}  // namespace

std::vector<std::string> describe_axes(const Convention& c, bool eps_inside_sqrt) {
  std::vector<std::string> lines;
  const ScaleByAdam& a = c.adam();
  if (eps_inside_sqrt)
    lines.push_back("eps: inside the square root, sqrt(v_hat + eps) (Optax eps_root)");
  else if (a.eps_placement == EpsPlacement::after_bias_correction && a.eps_floor)
    lines.push_back("eps: a floor after bias correction, max(sqrt(v_hat), eps) (HeavyBall)");
  else if (a.eps_placement == EpsPlacement::after_bias_correction)
    lines.push_back("eps: after bias correction, sqrt(v_hat) + eps (Kingma & Ba Algorithm 1, PyTorch, Optax, TF.js)");
  else
    lines.push_back("eps: before bias correction, lr sqrt(bc2)/bc1 m/(sqrt(v) + eps) (\"epsilon hat\": Keras, TF, ONNX, dlib, sklearn)");
  std::string decay = "weight decay: none";
  for (const auto& [t, phase] : c.with_phases()) {
    if (std::holds_alternative<AddL2ToGradient>(*t)) decay = "weight decay: L2 through the gradient, g + wd theta (PyTorch Adam)";
    if (std::holds_alternative<AddDecayedWeights>(*t))
      decay = "weight decay: decoupled, added to the update, theta - lr (u + wd theta) (Optax)";
    if (const auto* d = std::get_if<DecayWeights>(t)) {
      const std::string factor = d->scale == DecayScale::learning_rate ? "(1 - lr wd)"
                                 : d->scale == DecayScale::schedule    ? "(1 - eta_t wd), eta_t the schedule multiplier"
                                                                       : "(1 - wd)";
      decay = "weight decay: decoupled, theta " + factor +
              (phase == Phase::applied ? ", applied to the updated theta" : ", before the update");
    }
  }
  lines.push_back(decay);
  lines.push_back(std::string("bias correction: ") +
                  (a.bias_correction1 && a.bias_correction2 ? "on" : !a.bias_correction1 && !a.bias_correction2 ? "off"
                                                                                                              : "partial"));
  if (a.amsgrad != AmsgradVariant::none) lines.push_back("AMSGrad: always on, " + to_string(a.amsgrad));
  return lines;
}

namespace {

/// What every probe of one identification shares: the implementation, what its
/// hello states, the format, and the probes of the base convention with the
/// answers they got.
struct ProbeSession {
  Implementation& impl;
  Capabilities caps;
  FloatFormat dtype;
  Setup any;              ///< the implementation reads only the hyperparameters and options of a setup
  PresetOptions stated;   ///< the options as its hello states them (state formats)
  std::vector<Probe> probes;
  std::vector<RunResult> answers;

  /// One probe's answer, the setup carrying its hyperparameters and options.
  RunResult run(const Hyperparameters& hyper, const PresetOptions& options, const RunCase& c) {
    Setup s = any;
    s.spec.hyper = hyper;
    s.spec.options = options;
    return run_checked(impl, s, c);
  }
};

/// The session for `impl` in `dtype`, and the notes on what the probes assume:
/// they use the values an implementation fixes (dlib's eps), and vary nothing
/// it does not take (a value it would ignore would only mislead the fit).
ProbeSession open_session(Implementation& impl, const FloatFormat& dtype, Identification& id) {
  ProbeSession session{.impl = impl, .caps = impl.capabilities(), .dtype = dtype, .any = {make_spec("kingma-ba"), dtype}};
  const Capabilities& caps = session.caps;
  session.any.spec.options.precision = session.any.spec.convention.precision = caps.precision;  // as its hello states
  session.any.spec.options.state_formats = session.any.spec.convention.state_formats = caps.state_formats;
  session.stated.state_formats = caps.state_formats;  // m, v, vmax in formats of their own, as its hello states
  session.any.rules().validate_state_formats();
  id.state_formats = describe(caps.state_formats);
  Hyperparameters plain = probe_hyper();
  for (const auto& [name, value] : caps.fixed) {
    plain.get(name) = value;
    id.notes.push_back("it fixes " + name + " at " + value + ": the probes use that value");
  }
  for (const std::string name : {"lr", "beta1", "beta2", "eps"})
    if (!caps.takes(name) && !caps.fixed.count(name))
      id.notes.push_back("it takes no " + name + " and states no fixed value: the probes assume " + name + " = " +
                         plain.get(name) + ", and the fit is only as good as that guess");
  session.probes.push_back(
      {"plain", "eps placement, bias correction or the moments", plain, session.stated, probe_run(dtype, false)});
  if (caps.takes("weight_decay")) {
    Probe decay = session.probes.front();
    decay.name = "decay";
    decay.axis = "weight decay";
    decay.hyper.weight_decay = "0.1";
    session.probes.push_back(decay);
  } else {
    id.notes.push_back("it takes no weight_decay: the decay probe was not run");
  }
  for (const Probe& p : session.probes) session.answers.push_back(session.run(p.hyper, p.options, p.run));
  return session;
}

/// Every candidate convention against the probes' answers: matches first,
/// best fit first; then the ones that agree on the most values.
std::vector<CandidateFit> fit_candidates(const ProbeSession& session) {
  std::vector<CandidateFit> fits;
  for (const Candidate& c : candidates(session.caps.takes("weight_decay"))) {
    CandidateFit f;
    f.label = c.label;
    f.convention = c.convention;
    f.eps_inside_sqrt = c.eps_inside;
    for (std::size_t k = 0; k < session.probes.size(); ++k) {
      const Probe& probe = session.probes[k];
      const Fit r = fit(setup_for(c, probe, session.dtype), probe.run, session.answers[k]);
      f.probes.emplace_back(probe.name, r.worst);
      f.worst = std::max(f.worst, r.worst);
      f.agreeing += r.agreeing;
      f.compared += r.compared;
    }
    fits.push_back(std::move(f));
  }
  std::stable_sort(fits.begin(), fits.end(), [](const CandidateFit& a, const CandidateFit& b) {
    if (a.matches() != b.matches()) return a.matches();
    if (a.matches()) return a.worst < b.worst;
    if (a.agreeing != b.agreeing) return a.agreeing > b.agreeing;
    return a.worst < b.worst;
  });
  return fits;
}

/// The precision convention of a storage format, with its own probe: beta2 =
/// 0.999 (1 in bfloat16, which "storage" may hold) over 300 steps, where v
/// forgets 26% of itself or none of it. Float32 opmath's bound is the tighter
/// one, so a fit there names it; else every operation is rounded. Master
/// weights, stochastic rounding and Kahan change what the answer holds (a
/// copy, a seed, a compensation): stated in the hello, checked here.
std::string identify_precision(ProbeSession& session, const CandidateFit& best, Identification& id) {
  const Capabilities& caps = session.caps;
  const FloatFormat& dtype = session.dtype;
  Probe p{"precision", "the precision convention", session.probes.front().hyper, session.stated, {}};
  p.hyper.beta1 = "0.9";
  p.hyper.beta2 = "0.999";
  p.run.theta0 = {0.5, -0.25, 1, 2};
  for (int t = 0; t < 300; ++t) {
    const double g = t < 150 ? 1.0 : 0.25;  // a falling magnitude: the remembered v shows
    p.run.grads.push_back({g, -g, t % 2 ? g : -g, 0.5 * g});
  }
  Setup ps = session.any;
  ps.spec.hyper = p.hyper;
  const RunResult answer = run_checked(session.impl, ps, p.run);
  Candidate stated{best.label, best.convention, best.eps_inside_sqrt};
  stated.convention.precision = caps.precision;
  if (caps.precision == Precision::storage || caps.precision == Precision::float32_opmath) {
    Candidate opmath = stated;
    opmath.convention.precision = Precision::float32_opmath;
    const double worst = fit(setup_for(opmath, p, dtype), p.run, answer).worst;
    id.notes.push_back("probe precision: tells apart float32 opmath and storage arithmetic (beta2 = 0.999, 300 steps)");
    return worst <= 1 ? "float32-opmath: float32 arithmetic, rounded to " + std::string(dtype.name) +
                            " once per step (fused kernels; " + ratio_text(worst) + ")"
                      : "storage: operations rounded to " + std::string(dtype.name) +
                            " (float32 opmath's bound is exceeded: " + ratio_text(worst) + ")";
  }
  const double worst = fit(setup_for(stated, p, dtype), p.run, answer).worst;
  std::string how = to_string(caps.precision) + ", as its hello states (the probe " +
                    (worst <= 1 ? "fits it: " : "exceeds its bound: ") + ratio_text(worst);
  if (caps.precision == Precision::stochastic_rounding) {
    RunCase reseeded = p.run;
    reseeded.rounding_seed = with_rounding_seeds(ps, {p.run}).front().rounding_seed ^ 2;
    const bool differs = run_checked(session.impl, ps, reseeded).theta != answer.theta;
    how += differs ? "; another rounding seed gives another trajectory"
                   : "; another rounding seed gives the same trajectory: it does not round stochastically";
  }
  id.notes.push_back("probe precision: the stated convention's bound over 300 steps (beta2 = 0.999)");
  return how + ")";
}

/// One option probe on the best base convention: the answer under `options`
/// (falling magnitudes for AMSGrad), fitted by each variant of the convention.
std::vector<double> fit_option(ProbeSession& session, const CandidateFit& best, PresetOptions options, bool falling,
                               const std::vector<Convention>& variants) {
  options.state_formats = session.caps.state_formats;
  const Probe p{"option", "", session.probes.back().hyper, options, probe_run(session.dtype, falling)};
  const RunResult r = session.run(p.hyper, options, p.run);
  std::vector<double> fits;
  for (const Convention& v : variants)
    fits.push_back(fit(setup_for(Candidate{best.label, v, best.eps_inside_sqrt}, p, session.dtype), p.run, r).worst);
  return fits;
}

/// Which maximum AMSGrad takes: of raw v (PyTorch, Keras, TF) or of v_hat (Optax).
std::string identify_amsgrad(ProbeSession& session, const CandidateFit& best) {
  Convention raw = best.convention, hat = best.convention;
  raw.adam().amsgrad = AmsgradVariant::max_of_raw_v;
  hat.adam().amsgrad = AmsgradVariant::max_of_v_hat;
  std::vector<Convention> variants{raw};
  if (hat.adam().eps_placement == EpsPlacement::after_bias_correction) variants.push_back(hat);
  const auto fits = fit_option(session, best, PresetOptions{.amsgrad = true}, true, variants);
  return fits[0] <= 1                       ? "max over raw v, bias-corrected afterwards (PyTorch, Keras, TF)"
         : fits.size() > 1 && fits[1] <= 1 ? "max over the bias-corrected v_hat (Optax scale_by_amsgrad)"
                                           : "neither known form (raw v: " + ratio_text(fits[0]) + ")";
}

/// Whether maximize negates the gradient before anything else (PyTorch).
std::string identify_maximize(ProbeSession& session, const CandidateFit& best) {
  Convention negated = best.convention;
  negated.chain.insert(negated.chain.begin(), NegateGradient{});
  const auto fits = fit_option(session, best, PresetOptions{.maximize = true}, false, {negated});
  return fits[0] <= 1 ? "negates the gradient before anything else (PyTorch)"
                      : "does not negate the gradient first (" + ratio_text(fits[0]) + ")";
}

/// What the exported state holds, which theta cannot tell: the moments m and v
/// (PyTorch, Kingma & Ba) or the moments bias-corrected (ScaleByAdam::
/// debiased_moments: optimi, HeavyBall). The plain probe once more with its
/// states recorded, judged against the best candidate held both ways; the
/// candidate's presets are narrowed to those of the one that fits. "" where
/// the implementation exports no state or the candidate cannot hold either.
std::string identify_state(ProbeSession& session, CandidateFit& best) {
  if (!session.caps.state_io) return "";
  const Probe& p = session.probes.front();
  RunCase c = p.run;
  c.record_states = true;
  const RunResult r = session.run(p.hyper, p.options, c);
  auto fits = [&](bool debiased) {
    Candidate held{best.label, best.convention, best.eps_inside_sqrt};
    held.convention.adam().debiased_moments = debiased;
    const Setup setup = setup_for(held, p, session.dtype);
    std::vector<ExactStep> exact;
    try {
      held.convention.validate();  // debiased moments need eps after bias correction and no AMSGrad
      exact = exact_trajectory(setup, c);
    } catch (const std::invalid_argument&) {
      return false;
    }
    const PrecisionRules rules = setup.rules();
    for (std::size_t t = 0; t < exact.size(); ++t)
      for (std::size_t i = 0; i < c.theta0.size(); ++i) {
        const auto& e = exact[t].record.elements[i];
        const auto& b = exact[t].bounds[i];
        if (r.states[t].m.size() != c.theta0.size() ||
            !judge(r.states[t].m[i], e.m, b.m, rules.format_of(Quantity::m)).pass ||
            !judge(r.states[t].v[i], e.v, b.v, rules.format_of(Quantity::v)).pass)
          return false;
      }
    return true;
  };
  const bool plain = fits(false), debiased = fits(true);
  if (plain == debiased) return plain ? "its exported m and v fit both the moments and the moments bias-corrected" : "";
  // Keep the presets of the candidate that hold the state so (a label of variants, "as X but ...", stays).
  if (best.label.rfind("as ", 0) != 0) {
    std::string kept;
    std::size_t from = 0;
    while (from <= best.label.size()) {
      const std::size_t comma = std::min(best.label.find(", ", from), best.label.size());
      const std::string name = best.label.substr(from, comma - from);
      const auto& all = presets();
      const auto preset = std::find_if(all.begin(), all.end(), [&](const Preset& x) { return x.name == name; });
      if (preset == all.end() || preset->convention.adam().debiased_moments == debiased)
        kept += (kept.empty() ? "" : ", ") + name;
      from = comma + 2;
    }
    if (!kept.empty()) best.label = kept;
  }
  return debiased ? "the moments held bias-corrected, m_hat and v_hat (optimi, HeavyBall): its exported state fits them, not m and v"
                  : "the moments m and v (PyTorch, Kingma & Ba): its exported state fits them, not m_hat and v_hat";
}

/// How one quantized format explains an exported quantized state tensor: the
/// codes and scales the judge accepted of those it saw, or why it could not
/// judge them (codes beyond the map, values that do not read back from them).
class CountingVerdicts : public QuantizedVerdicts {
 public:
  struct Unjudgeable {
    std::string what;
  };
  [[noreturn]] void fail(const std::string& what) override { throw Unjudgeable{what}; }
  void scale(double observed, const R& exact, const R& allowed, const std::function<std::string()>&) override {
    ++scales;
    scales_off += !judge(observed, exact, allowed, float32_format).pass;
  }
  void code(int, bool accepted, int, int, const std::function<std::string()>&) override {
    ++codes;
    codes_off += !accepted;
  }
  std::size_t codes = 0, codes_off = 0, scales = 0, scales_off = 0;
};

/// The quantized state formats, with their own probe, where the hello states
/// one (the adapter then exports codes and scales): one tensor of 8192
/// elements (whole blocks of 128 and 256, above every format's min_size), two
/// steps with their states recorded; the second step, from the first's
/// exported state, judged as quantized-each-step-agrees-with-reference judges
/// it under every known quantized format in turn, for m and for v. Names the
/// formats whose codes and scales all fit (bitsandbytes' and torchao's 8-bit
/// maps are one map: both fit either), or says that none does and how far
/// the stated one is off. "" where nothing is quantized or no state is exported.
std::string identify_quantization(ProbeSession& session, const CandidateFit& best, Identification& id) {
  Setup stated = session.any;
  if (!session.caps.state_io || !stated.rules().any_quantized()) return "";
  const std::size_t n = 8192;
  RunCase c;
  c.record_states = true;
  for (std::size_t i = 0; i < n; ++i) c.theta0.push_back(in_format(0.5 + std::ldexp(double(i % 61), -6), session.dtype));
  for (int t = 0; t < 2; ++t) {
    std::vector<double> g;
    for (std::size_t i = 0; i < n; ++i) {  // magnitudes over 2^-12..2^7 inside each block, signs mixed
      const double magnitude = std::ldexp(1 + double((i * 13 + t * 5) % 17) / 17, int((i * 7 + t * 3) % 20) - 12);
      g.push_back(in_format((i + t) % 3 == 0 ? -magnitude : magnitude, session.dtype));
    }
    c.grads.push_back(std::move(g));
  }
  const Probe& plain = session.probes.front();
  const RunResult r = session.run(plain.hyper, session.stated, c);
  if (r.states.size() < 2) return "";
  id.notes.push_back("probe quantization: tells apart the quantized state formats (8192 elements, the second step's codes)");
  const ImplementationState& before = r.states[0];
  const ImplementationState& after = r.states[1];
  // The exact step and its bounds, once: they do not depend on which quantized format stores a state (the
  // error model asks only whether one is quantized; the candidates below differ in their maps and blocks).
  Probe stated_probe = plain;
  stated_probe.options = session.stated;
  const ExactStep exact = exact_single_step(setup_for(Candidate{best.label, best.convention, best.eps_inside_sqrt},
                                                      stated_probe, session.dtype),
                                            c, r.theta[0], before, 1);
  std::string out;
  for (const auto& [q, name, exported] : {std::tuple{Quantity::m, "m", &after.m_quantized},
                                          std::tuple{Quantity::v, "v", &after.v_quantized}}) {
    const std::string stated_name = q == Quantity::m ? session.stated.state_formats.m : session.stated.state_formats.v;
    if (!quantized_format_by_name(stated_name)) continue;
    std::vector<R> exact_values, bounds;
    for (std::size_t i = 0; i < n; ++i) {
      exact_values.push_back(q == Quantity::m ? exact.record.elements[i].m : exact.record.elements[i].v);
      bounds.push_back(q == Quantity::m ? exact.bounds[i].m : exact.bounds[i].v);
    }
    std::string fitting, stated_off;
    for (const std::string& candidate : quantized_format_names()) {
      const QuantizedFormat f = *quantized_format_by_name(candidate);
      CountingVerdicts verdicts;
      std::string why;
      try {
        if (exported->empty() || exported->front().empty()) throw CountingVerdicts::Unjudgeable{"no codes exported"};
        judge_quantized_tensor(f, exported->front(), q == Quantity::m ? after.m : after.v, 0, exact_values, bounds,
                               "step 2, ", name, verdicts);
      } catch (const CountingVerdicts::Unjudgeable& e) {
        why = e.what;
      }
      const bool fits = why.empty() && verdicts.codes_off == 0 && verdicts.scales_off == 0 && verdicts.codes > 0;
      if (fits) fitting += (fitting.empty() ? "" : ", ") + candidate;
      if (candidate == stated_name && !fits)
        stated_off = !why.empty() ? why
                                  : std::to_string(verdicts.codes_off) + " of " + std::to_string(verdicts.codes) +
                                        " codes not a nearest code, " + std::to_string(verdicts.scales_off) + " of " +
                                        std::to_string(verdicts.scales) + " scales off";
    }
    out += out.empty() ? "" : "; ";
    out += std::string(name) + ": ";
    if (stated_off.empty())
      out += "its codes fit " + fitting + " (" + stated_name + " as its hello states)";
    else if (!fitting.empty())
      out += "its codes fit " + fitting + ", not " + stated_name + " as its hello states (" + stated_off + ")";
    else
      out += "no known quantized format fits its codes (" + stated_name + " as its hello states: " + stated_off + ")";
  }
  return out;
}

}  // namespace

Identification identify(Implementation& impl, const FloatFormat& dtype) {
  Identification id;
  id.implementation = impl.name();
  id.dtype = dtype.name;
  ProbeSession session = open_session(impl, dtype, id);
  id.candidates = fit_candidates(session);
  if (id.candidates.front().matches()) id.state = identify_state(session, id.candidates.front());
  const CandidateFit& best = id.candidates.front();
  if (session.any.rules().narrow()) id.precision = identify_precision(session, best, id);
  if (best.matches()) id.quantization = identify_quantization(session, best, id);
  if (session.caps.supports_option("amsgrad") && best.convention.adam().amsgrad == AmsgradVariant::none)
    id.amsgrad = identify_amsgrad(session, best);
  if (session.caps.supports_option("maximize")) id.maximize = identify_maximize(session, best);
  for (const Probe& p : session.probes) id.notes.push_back("probe " + p.name + ": tells apart " + p.axis);
  return id;
}

std::string Identification::describe() const {
  std::string out = implementation + ", probed in " + dtype + ":\n";
  auto probe_text = [](const CandidateFit& c) {
    std::string s;
    for (const auto& [name, r] : c.probes) s += (s.empty() ? "" : ", ") + name + " " + ratio_text(r);
    return s;
  };
  const CandidateFit& top = candidates.front();
  if (top.matches()) {
    out += "  convention of: " + top.label + " (" + probe_text(top) + ")\n";
    for (std::size_t k = 1; k < candidates.size() && candidates[k].matches(); ++k)
      out += "  also matches:  " + candidates[k].label + " (" + probe_text(candidates[k]) +
             "; the same arithmetic on these probes)\n";
  } else {
    out += "  no known convention matches. Closest: " + top.label + ", which agrees on " + std::to_string(top.agreeing) +
           " of " + std::to_string(top.compared) + " values (" + probe_text(top) + ")\n";
  }
  out += "  chain: " + top.convention.describe() + "\n";
  for (const auto& line : describe_axes(top.convention, top.eps_inside_sqrt)) out += "    " + line + "\n";
  if (!precision.empty()) out += "    precision: " + precision + "\n";
  if (!state.empty()) out += "    state: " + state + "\n";
  if (!state_formats.empty()) out += "    state formats: " + state_formats + ", as its hello states (every probe ran so)\n";
  if (!quantization.empty()) out += "    quantized states: " + quantization + "\n";
  if (!amsgrad.empty()) out += "    AMSGrad option: " + amsgrad + "\n";
  if (!maximize.empty()) out += "    maximize option: " + maximize + "\n";
  if (!top.matches()) {
    out += "  next closest:\n";
    for (std::size_t k = 1; k < std::min<std::size_t>(4, candidates.size()); ++k)
      out += "    " + candidates[k].label + ": agrees on " + std::to_string(candidates[k].agreeing) + " of " +
             std::to_string(candidates[k].compared) + " values\n";
  }
  for (const auto& n : notes) out += "  " + n + "\n";
  return out;
}

}  // namespace adamconf
