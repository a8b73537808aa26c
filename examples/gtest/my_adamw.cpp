#include "my_adamw.hpp"

#include <cmath>
#include <string>

namespace {

// torch.optim.AdamW's single-tensor step in the parameter's own type T, the
// bias corrections in double as PyTorch computes them from Python floats.
template <class T>
std::vector<std::vector<double>> adamw(const adamconf::Hyperparameters& h, const adamconf::RunCase& c) {
  const double beta1 = std::stod(h.beta1), beta2 = std::stod(h.beta2), eps = std::stod(h.eps),
               wd = std::stod(h.weight_decay);
  const std::size_t n = c.theta0.size();
  std::vector<T> theta(c.theta0.begin(), c.theta0.end()), m(n, T(0)), v(n, T(0));
  std::vector<std::vector<double>> out;
  for (std::size_t s = 0; s < c.grads.size(); ++s) {
    const double lr = std::stod(c.lrs.empty() ? h.lr : c.lrs[s]);
    const int t = static_cast<int>(s) + 1;
    const double bc1 = 1 - std::pow(beta1, t), bc2 = 1 - std::pow(beta2, t);
    const T step_size = static_cast<T>(lr / bc1), bc2_sqrt = static_cast<T>(std::sqrt(bc2));
    for (std::size_t i = 0; i < n; ++i) {
      const T g = static_cast<T>(c.grads[s][i]);
      theta[i] *= static_cast<T>(1 - lr * wd);
      m[i] += (g - m[i]) * static_cast<T>(1 - beta1);                    // m.lerp_(g, 1 - beta1)
      v[i] = v[i] * static_cast<T>(beta2) + g * g * static_cast<T>(1 - beta2);
      const T denom = std::sqrt(v[i]) / bc2_sqrt + static_cast<T>(eps);
      theta[i] += -step_size * (m[i] / denom);                             // addcdiv_(m, denom, -step_size)
    }
    out.emplace_back(theta.begin(), theta.end());
  }
  return out;
}

}  // namespace

adamconf::Capabilities MyAdamW::capabilities() const {
  adamconf::Capabilities c;
  c.presets = {"pytorch-adamw"};
  c.dtypes = {"float32", "float64"};
  c.hyperparameters = {"lr", "beta1", "beta2", "eps", "weight_decay"};
  return c;  // no state export, one tensor per case: the properties that need more are skipped
}

std::vector<adamconf::RunResult> MyAdamW::run(const adamconf::Setup& setup, const std::vector<adamconf::RunCase>& cases) {
  std::vector<adamconf::RunResult> results;
  for (const auto& c : cases) {
    adamconf::RunResult r;
    r.theta = setup.dtype.name == "float32" ? adamw<float>(setup.spec.hyper, c) : adamw<double>(setup.spec.hyper, c);
    results.push_back(std::move(r));
  }
  return results;
}
