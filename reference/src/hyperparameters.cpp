#include "adamconf/hyperparameters.hpp"

#include <regex>
#include <stdexcept>

namespace adamconf {

namespace detail {
void check_decimal_syntax(const std::string& text) {
  static const std::regex decimal(R"([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)");
  if (!std::regex_match(text, decimal))
    throw std::invalid_argument("'" + text + "' is not a finite decimal number");
}
}  // namespace detail

const std::vector<std::string>& Hyperparameters::names() {
  static const std::vector<std::string> n{"lr", "beta1", "beta2", "eps", "eps_root", "weight_decay"};
  return n;
}

const std::string& Hyperparameters::get(const std::string& name) const {
  if (name == "lr") return lr;
  if (name == "beta1") return beta1;
  if (name == "beta2") return beta2;
  if (name == "eps") return eps;
  if (name == "eps_root") return eps_root;
  if (name == "weight_decay") return weight_decay;
  throw std::invalid_argument("unknown hyperparameter '" + name +
                              "' (known: lr beta1 beta2 eps eps_root weight_decay)");
}

std::string& Hyperparameters::get(const std::string& name) {
  return const_cast<std::string&>(static_cast<const Hyperparameters&>(*this).get(name));
}

void Hyperparameters::validate() const {
  using R = ReferenceReal;
  for (const auto& name : names()) {
    const std::string& text = get(name);
    R value;
    try {
      value = parse_decimal<R>(text);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("hyperparameter " + name + ": " + e.what());
    }
    const bool is_beta = name == "beta1" || name == "beta2";
    if (value < 0 || (is_beta && value >= 1))
      throw std::invalid_argument("hyperparameter " + name + " = " + text + " is outside " +
                                  (is_beta ? "[0, 1)" : "[0, inf)"));
  }
}

}  // namespace adamconf
