// adamconf trace: the exact reference trajectory, every intermediate printed.
#include <iomanip>
#include <iostream>

#include "adamconf/reference_adam.hpp"
#include "commands.hpp"
#include "spec_options.hpp"

namespace adamconf::cli {

namespace {
struct TraceOptions {
  SpecOptions spec;
  std::string theta0 = "0.5";
  std::string grads;
  std::string lrs;
  int digits = 12;
};

void run_trace(const TraceOptions& o) {
  const OptimizerSpec spec = o.spec.spec();
  std::vector<R> theta0;
  for (const auto& x : split(o.theta0, ',')) theta0.push_back(parse_decimal<R>(x));
  std::vector<std::vector<R>> grads;
  for (const auto& step : split(o.grads, ';')) {
    std::vector<R> g;
    for (const auto& x : split(step, ',')) g.push_back(parse_decimal<R>(x));
    if (g.size() != theta0.size())
      throw std::invalid_argument("--grads step " + std::to_string(grads.size() + 1) + " has " +
                                  std::to_string(g.size()) + " values for " + std::to_string(theta0.size()) +
                                  " parameters");
    grads.push_back(std::move(g));
  }
  std::vector<std::optional<R>> lrs(grads.size());
  if (!o.lrs.empty()) {
    const auto items = split(o.lrs, ',');
    if (items.size() != grads.size())
      throw std::invalid_argument("--lrs has " + std::to_string(items.size()) + " values for " +
                                  std::to_string(grads.size()) + " steps");
    for (std::size_t t = 0; t < items.size(); ++t) lrs[t] = parse_decimal<R>(items[t]);
  }
  const Preset& preset = preset_by_name(spec.preset);
  std::cout << "preset " << spec.preset << ": " << spec.convention.describe() << "\n  source: " << preset.source
            << "\n  " << describe(spec.hyper) << "\n";
  ReferenceAdam<R> reference(spec.convention, values_of<R>(spec.hyper), theta0);
  auto show = [&](const R& x) { return to_decimal(x, o.digits); };
  for (std::size_t t = 0; t < grads.size(); ++t) {
    const auto rec = reference.step(grads[t], lrs[t]);
    const auto& s = rec.scalars;
    std::cout << "step " << s.t << "  lr=" << show(s.lr) << "  bc1=" << show(s.bias_correction1)
              << "  bc2=" << show(s.bias_correction2) << "\n";
    for (std::size_t i = 0; i < rec.elements.size(); ++i) {
      const auto& e = rec.elements[i];
      std::cout << "  [" << i << "] g=" << show(e.grad) << " m=" << show(e.m) << " v=" << show(e.v);
      if (spec.convention.adam().amsgrad != AmsgradVariant::none) std::cout << " vmax=" << show(e.vmax);
      std::cout << " m_hat=" << show(e.m_hat) << " v_hat=" << show(e.v_hat) << " update=" << show(e.update)
                << " theta=" << show(e.theta) << "\n";
    }
  }
}
}  // namespace

void add_trace_command(CLI::App& app) {
  auto options = std::make_shared<TraceOptions>();
  auto* cmd = app.add_subcommand("trace", "print the exact reference trajectory with every intermediate");
  options->spec.add_to(*cmd);
  cmd->add_option("--theta0", options->theta0, "initial parameters, comma separated decimals")->capture_default_str();
  cmd->add_option("--grads", options->grads, "gradients: steps separated by ';', elements by ','")->required();
  cmd->add_option("--lrs", options->lrs, "learning rate per step, comma separated (default: the constant lr)");
  cmd->add_option("--digits", options->digits, "significant digits printed")->check(CLI::Range(1, 77))->capture_default_str();
  cmd->callback([options] { run_trace(*options); });
}

}  // namespace adamconf::cli
