#include <algorithm>
// adamconf check: the property suite against an implementation, with a report
// for people, JUnit XML and JSON for CI, and an exit status (0 pass, 1 fail, 2 bad input).
#include <chrono>
#include <iostream>
#include <random>

#include "adamconf/atomic_file.hpp"
#include "check_report.hpp"
#include "html_report.hpp"
#include "commands.hpp"
#include "implementation_option.hpp"
#include "spec_options.hpp"

namespace adamconf::cli {

namespace {

struct CheckOptions {
  std::string impl;
  std::string optimizer;
  SpecOptions spec;
  std::string dtype = "float32";
  std::string seed = "1";
  int cases = 100;
  std::vector<std::string> properties;
  std::vector<std::string> skipped;
  AdapterTimeouts timeouts;
  int jobs = 0;
  bool no_fast_path = false;
  std::string round_trip;  ///< "bitwise", "within-bound", or "" (the hello's)
  std::string shard;
  std::string junit, json, html;
};

/// The properties --property and --skip-property select, in report order
/// (an unknown id is an error, for either).
std::vector<const Property*> selected_properties(const CheckOptions& o) {
  std::vector<const Property*> selected;
  for (const auto& id : o.properties) selected.push_back(&property_by_id(id));
  if (selected.empty())
    for (const auto& p : all_properties()) selected.push_back(&p);
  for (const auto& id : o.skipped) {
    const Property* skip = &property_by_id(id);
    selected.erase(std::remove(selected.begin(), selected.end(), skip), selected.end());
  }
  return selected;
}

/// --seed: a number, or 'random'.
std::uint64_t seed_of(const std::string& text) {
  if (text == "random") return std::random_device{}() % 1000000000;
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    throw std::invalid_argument("--seed " + text + ": expected a number or 'random'");
  }
}

/// What the options ask for, validated before anything runs: the preset with
/// its options and hyperparameters, the format, the pins, the shard, the seed.
CheckRun plan_run(const CheckOptions& o, const OptimizerSpec& spec, const FloatFormat& dtype) {
  std::map<std::string, std::string> pinned;
  for (const auto& s : o.spec.settings) pinned[s.substr(0, s.find('='))] = s.substr(s.find('=') + 1);
  if (const std::string why = why_not_judged(spec, pinned, dtype); !why.empty()) throw std::invalid_argument("--set: " + why);
  const Shard shard = o.shard.empty() ? Shard{} : Shard::parse(o.shard);
  return CheckRun{.impl_argument = o.impl,
                  .optimizer = o.optimizer,
                  .preset = spec.preset,
                  .dtype = dtype.name,
                  .options = spec.options,
                  .pinned = std::move(pinned),
                  .seed = seed_of(o.seed),
                  .cases = o.cases,
                  .shard = shard};
}

/// The step counter, precision and state formats: as the options give them,
/// else as the adapter's hello states them (and the report says so).
void resolve_options_from_hello(CheckRun& run, const CheckOptions& o, const Capabilities& caps, const FloatFormat& dtype) {
  run.bitwise_round_trip = o.round_trip.empty() ? caps.bitwise_round_trip : o.round_trip == "bitwise";
  if (!o.spec.step_counter_given()) {
    run.options.step_counter = caps.step_counter;
    run.step_counter_from_adapter = true;
  }
  if (!o.spec.precision_given()) {
    run.options.precision = caps.precision;
    run.precision_from_adapter = true;
  }
  if (!o.spec.subnormals_given()) {
    run.options.subnormals = caps.subnormals;
    run.subnormals_from_adapter = caps.subnormals == Subnormals::flushed;
  }
  if (!o.spec.scalars_given()) {
    run.options.scalars = caps.scalars;
    run.scalars_from_adapter = caps.scalars != Scalars::working;
  }
  if (!o.spec.state_formats_given()) {
    run.options.state_formats = caps.state_formats;
    run.state_formats_from_adapter = run.options.state_formats.any();
    if (!run.options.state_formats.any()) run.options.state_formats = preset_by_name(run.preset).state_formats;
  }
  PrecisionRules(dtype, preset_by_name(run.preset).resolve(run.options)).validate_state_formats();
}

/// What was asked against what the implementation offers: the format, the
/// flags, and every pin (a value it fixes or does not take cannot be pinned
/// to another); each a one-line error. Fills run.held.
void validate_pins(CheckRun& run, const PropertyContext& ctx, const std::string& name) {
  if (!ctx.capabilities.supports_dtype(run.dtype)) {
    std::string offered;
    for (const auto& d : ctx.capabilities.dtypes) offered += " " + d;
    const auto why = ctx.capabilities.dtypes_refused.find(run.dtype);
    throw std::invalid_argument(name + " does not offer " + run.dtype +
                                (why == ctx.capabilities.dtypes_refused.end() ? "" : ": " + why->second) + " (it offers:" + offered + ")");
  }
  for (const auto& [flag, on] : {std::pair{"amsgrad", run.options.amsgrad}, std::pair{"maximize", run.options.maximize},
                                 std::pair{"bias_correction", !run.options.bias_correction}})
    if (on && !ctx.capabilities.supports_option(flag))
      throw std::invalid_argument(name + " does not offer the option " + std::string(flag));
  for (const auto& [pin, value] : run.pinned) {
    if (const auto f = ctx.capabilities.fixed.find(pin); f != ctx.capabilities.fixed.end()) {
      if (parse_decimal<R>(value) != parse_decimal<R>(f->second))
        throw std::invalid_argument(name + " fixes " + pin + " at " + f->second + ": --set " + pin + "=" + value +
                                    " cannot apply");
    } else if (!ctx.capabilities.takes(pin) && parse_decimal<R>(value) != parse_decimal<R>(ctx.preset_info().defaults.get(pin))) {
      throw std::invalid_argument(name + " does not take " + pin + " (its hello does not list it): --set " + pin + "=" +
                                  value + " cannot apply");
    }
  }
  for (const auto& [held, value] : ctx.held())
    if (!run.pinned.count(held) && (ctx.capabilities.fixed.count(held) || ctx.preset_info().exposes(held)))
      run.held[held] = value;
}

/// Every selected property, then again under each option variant the
/// implementation offers, each verdict printed as it comes. A broken adapter
/// (crashed, hung, garbled) fails every property the same way: it is reported
/// once, and the rest are listed as not run; one that answered {"error"}
/// fails only that property.
void run_suite(CheckRun& run, const PropertyContext& ctx, const std::vector<const Property*>& selected) {
  const std::vector<OptionVariant> variants = option_variants(run.preset, run.options, ctx.capabilities);
  std::cout << render_header(run);
  if (variants.size() > 1) {
    std::cout << "  the agreement and resume properties once more with";
    for (std::size_t k = 1; k < variants.size(); ++k) std::cout << (k > 1 ? " and with --" : " --") << variants[k].name;
    std::cout << ", which the adapter offers\n\n";
  }
  std::cout << std::flush;
  std::size_t ordinal = 0;  // of the next property's case 0 in the whole run (--shard)
  for (const OptionVariant& variant : variants) {
    PropertyContext vctx = ctx;
    vctx.options = variant.options;
    for (const Property* p : selected) {
      if (!variant.name.empty() && !p->runs_under_variants) continue;
      const std::size_t first_ordinal = ordinal;
      ordinal += static_cast<std::size_t>(cases_of(*p, run.cases));
      if (!run.results.empty() && run.results.back().status == PropertyResult::Status::adapter_error &&
          !run.results.back().adapter_refused) {
        run.not_run.push_back(p->id + (variant.name.empty() ? "" : " [" + variant.name + "]"));
        continue;
      }
      run.results.push_back(run_property(
          *p, vctx, RunSettings{.seed = run.seed, .cases = run.cases, .shard = run.shard, .first_ordinal = first_ordinal}));
      run.results.back().variant = variant.name;
      std::cout << render_property(run, run.results.back()) << std::flush;
    }
  }
}

/// The summary, and the JUnit, JSON and HTML reports asked for, each written atomically.
void write_reports(CheckRun& run, const CheckOptions& o) {
  std::cout << render_summary(run);
  if (!o.json.empty() || !o.html.empty()) run.compute_traces();
  if (!o.junit.empty()) write_atomically(o.junit, render_junit(run));
  if (!o.json.empty()) write_atomically(o.json, render_json(run));
  if (!o.html.empty()) write_atomically(o.html, render_html(run));
}

void run_check(const CheckOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  const OptimizerSpec spec = o.spec.spec();  // validates preset, options and hyperparameters
  const auto dtype = format_by_name(o.dtype);
  if (!dtype) throw std::invalid_argument("--dtype " + o.dtype + ": expected float32, float64, bfloat16 or float16");
  CheckRun run = plan_run(o, spec, *dtype);
  const std::vector<const Property*> selected = selected_properties(o);
  OpenedImplementation opened;
  try {
    opened = open_implementation(o.impl, o.timeouts, o.optimizer, spec.preset, o.dtype);
  } catch (const AdapterFailure& e) {
    std::cout << "adamconf check: FAIL: the adapter did not start: " << e.what() << "\n";
    exit_status = 1;
    return;
  }
  Implementation& impl = *opened.implementation;
  run.implementation = impl.name();
  resolve_options_from_hello(run, o, impl.capabilities(), *dtype);
  PropertyContext ctx = PropertyContext::for_implementation(impl, spec.preset, run.options, *dtype);
  ctx.pinned = run.pinned;
  ctx.jobs = o.jobs;
  ctx.fast_path = !o.no_fast_path;
  ctx.capabilities.bitwise_round_trip = run.bitwise_round_trip;
  if (!ctx.capabilities.supports_preset(spec.preset)) ctx.capabilities.presets.push_back(spec.preset);  // --optimizer said so
  validate_pins(run, ctx, impl.name());
  run_suite(run, ctx, selected);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  write_reports(run, o);
  if (!run.passed()) exit_status = 1;
}

}  // namespace

void add_check_command(CLI::App& app) {
  auto o = std::make_shared<CheckOptions>();
  auto* cmd = app.add_subcommand("check", "run the property suite against an implementation");
  cmd->add_option("--impl", o->impl, "adapter command (docs/protocol.md), or builtin:float")->required();
  cmd->add_option("--optimizer", o->optimizer, "which of the adapter's optimizers (default: the one offering --preset)");
  o->spec.add_to(*cmd);
  cmd->add_option("--dtype", o->dtype, "float32, float64, bfloat16 or float16 (bfloat16 and float16: every operation rounded to the format, its scalars in the format, float32 or float64, as PyTorch's CPU kernels)")->capture_default_str();
  cmd->add_option("--seed", o->seed, "RapidCheck seed, or 'random'")->capture_default_str();
  cmd->add_option("--cases", o->cases, "successful cases per property")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--property", o->properties, "run only this property (repeatable); see `adamconf properties`");
  cmd->add_option("--skip-property", o->skipped, "do not run this property (repeatable)");
  add_timeout_options(*cmd, o->timeouts);
  cmd->add_option("--round-trip", o->round_trip,
                  "whether a step resumed from an exported state must equal the uninterrupted step bit for bit "
                  "(bitwise, the default) or only within its bound (within-bound: the state exported is not all the "
                  "optimizer holds, as TF.js's setWeights re-derives beta^t); an adapter may state it in its hello "
                  "(round_trip=within-bound)")
      ->check(CLI::IsMember({"bitwise", "within-bound"}));
  cmd->add_option("--jobs", o->jobs, "threads for the reference and error bounds of large cases (0: every core)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  cmd->add_flag("--no-fast-path", o->no_fast_path,
                "judge every value of the each-step properties in MPFR (slower, the same verdict; docs/error-model.md)");
  cmd->add_option("--shard", o->shard,
                  "run only the I-th of N deterministic parts of the cases (I/N, 1-based); the N shards together run "
                  "every case of the whole run exactly once");
  cmd->add_option("--junit", o->junit, "also write a JUnit XML report here");
  cmd->add_option("--json", o->json, "also write a JSON report here");
  cmd->add_option("--html", o->html,
                  "also write a self-contained HTML report here: the verdicts, and a plot of each failing or worst "
                  "trajectory against the exact one and its allowed band");
  cmd->callback([o] { run_check(*o); });
}

void add_properties_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("properties", "list the properties `adamconf check` runs");
  cmd->callback([] {
    for (const auto& p : all_properties()) std::cout << p.id << "\n    " << p.claim << "\n";
  });
}

}  // namespace adamconf::cli
