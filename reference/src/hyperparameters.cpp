#include "adamconf/hyperparameters.hpp"

#include "adamconf/excerpt.hpp"

#include <cfloat>
#include <stdexcept>

namespace adamconf {

namespace detail {

std::string quoted_prefix(const std::string& text, std::size_t limit) { return "'" + excerpt(text, limit) + "'"; }

// A finite decimal: [+-] (digits [. digits*] | . digits) [(e|E) [+-] digits].
// Scanned by hand, in one pass: std::regex recursed once per character and
// overflowed the stack on long inputs.
void check_decimal_syntax(const std::string& text) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument(quoted_prefix(text, 40) + " is not a finite decimal number" + why);
  };
  if (text.size() > kMaxDecimalLength)
    fail(" of at most " + std::to_string(kMaxDecimalLength) + " characters");
  std::size_t k = 0;
  const std::size_t n = text.size();
  auto digits = [&] {
    const std::size_t start = k;
    while (k < n && text[k] >= '0' && text[k] <= '9') ++k;
    return k - start;
  };
  if (k < n && (text[k] == '+' || text[k] == '-')) ++k;
  std::size_t mantissa = digits();
  if (k < n && text[k] == '.') {
    ++k;
    mantissa += digits();
  }
  if (mantissa == 0) fail("");
  if (k < n && (text[k] == 'e' || text[k] == 'E')) {
    ++k;
    if (k < n && (text[k] == '+' || text[k] == '-')) ++k;
    const std::size_t exponent_start = k;
    const std::size_t exponent_digits = digits();
    if (exponent_digits == 0) fail("");
    // |exponent| <= 9999: far beyond float64's range, and no overflow in the
    // conversion (1e999999999 used to become inf).
    std::size_t first = exponent_start;
    while (first + 1 < k && text[first] == '0') ++first;
    if (k - first > 4) fail(" (exponent beyond +-9999)");
  }
  if (k != n) fail("");
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
  throw std::invalid_argument("unknown hyperparameter " + detail::quoted_prefix(name, 40) +
                              " (known: lr beta1 beta2 eps eps_root weight_decay)");
}

std::string& Hyperparameters::get(const std::string& name) {
  return const_cast<std::string&>(static_cast<const Hyperparameters&>(*this).get(name));
}

void Hyperparameters::validate() const {
  for (const auto& name : names()) {
    const std::string& text = get(name);
    R value;
    try {
      value = parse_decimal<R>(text);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("hyperparameter " + name + ": " + e.what());
    }
    const std::string shown = text.size() <= 40 ? text : detail::quoted_prefix(text, 40);
    const bool is_beta = name == "beta1" || name == "beta2";
    if (value < 0 || (is_beta && value >= 1))
      throw std::invalid_argument("hyperparameter " + name + " = " + shown + " is outside " +
                                  (is_beta ? "[0, 1)" : "[0, inf)"));
    // Implementations receive hyperparameters as doubles: a value that is
    // not a finite, non-zero double is not the value the user asked for.
    if (value > R(DBL_MAX))
      throw std::invalid_argument("hyperparameter " + name + " = " + shown + " overflows float64");
    if (value != 0 && value < R(DBL_TRUE_MIN) / 2)
      throw std::invalid_argument("hyperparameter " + name + " = " + shown + " underflows to 0 in float64");
  }
}

}  // namespace adamconf
