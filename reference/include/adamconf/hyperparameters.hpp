// Hyperparameters as exact decimal text: "0.999" means 999/1000. They are
// parsed into a Real once (correctly rounded to the Real's precision), never
// through a double.
#pragma once

#include <string>
#include <vector>

#include "adamconf/real.hpp"

namespace adamconf {

struct Hyperparameters {
  std::string lr = "0.001";
  std::string beta1 = "0.9";
  std::string beta2 = "0.999";
  std::string eps = "1e-8";
  std::string eps_root = "0";  ///< Optax: added to v_hat inside the square root
  std::string weight_decay = "0";

  /// The names users type, in this order: lr beta1 beta2 eps eps_root weight_decay.
  static const std::vector<std::string>& names();
  /// The field called `name`; throws std::invalid_argument for an unknown name.
  const std::string& get(const std::string& name) const;
  std::string& get(const std::string& name);

  /// Throws std::invalid_argument with a one-line message naming the field
  /// unless every value is a finite decimal number in its domain:
  /// lr >= 0, 0 <= beta1, beta2 < 1, eps >= 0, eps_root >= 0, weight_decay >= 0.
  void validate() const;

  friend bool operator==(const Hyperparameters&, const Hyperparameters&) = default;
};

template <class Real>
struct HyperValues {
  Real lr, beta1, beta2, eps, eps_root, weight_decay;
};

template <class Real>
HyperValues<Real> values_of(const Hyperparameters& h) {
  return {parse_decimal<Real>(h.lr),  parse_decimal<Real>(h.beta1),
          parse_decimal<Real>(h.beta2), parse_decimal<Real>(h.eps),
          parse_decimal<Real>(h.eps_root), parse_decimal<Real>(h.weight_decay)};
}

}  // namespace adamconf
