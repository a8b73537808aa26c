#include "adamconf/excerpt.hpp"

namespace adamconf {

std::string excerpt(const std::string& text, std::size_t limit) {
  std::string out;
  for (std::size_t k = 0; k < text.size() && k < limit; ++k) {
    const unsigned char c = static_cast<unsigned char>(text[k]);
    out += c < 32 || c == 127 ? '?' : static_cast<char>(c);
  }
  if (text.size() > limit) out += "... (" + std::to_string(text.size()) + " characters)";
  return out;
}

}  // namespace adamconf
