#include "adamconf/float_format.hpp"

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace adamconf {

const FloatFormat* known_format(const std::string& name) {
  for (const FloatFormat* f : {&float32_format, &float64_format, &bfloat16_format, &float16_format})
    if (name == f->name) return f;
  return nullptr;
}

std::optional<FloatFormat> format_by_name(const std::string& name) {
  if (const FloatFormat* f = known_format(name)) return *f;
  return std::nullopt;
}

std::string hex_float(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  std::uint64_t bits = 0;
  std::memcpy(&bits, &x, sizeof bits);
  const bool negative = bits >> 63;
  const int biased = static_cast<int>((bits >> 52) & 0x7ff);
  const std::uint64_t mantissa = bits & ((std::uint64_t{1} << 52) - 1);
  std::string out = negative ? "-" : "";
  if (biased == 0 && mantissa == 0) return out + "0x0.0p+0";
  const int exponent = biased == 0 ? -1022 : biased - 1023;
  char buf[64];
  std::snprintf(buf, sizeof buf, "0x%d.%013" PRIx64 "p%+d", biased == 0 ? 0 : 1, mantissa, exponent);
  return out + buf;
}

std::string hex_float_short(double x) {
  std::string s = hex_float(x);
  const auto p = s.find('p');
  if (p == std::string::npos) return s;
  std::size_t end = p;
  while (s[end - 1] == '0') --end;
  if (s[end - 1] == '.') --end;
  return s.substr(0, end) + s.substr(p);
}

std::optional<double> parse_double(const std::string& text) {
  if (text.empty()) return std::nullopt;
  const char* begin = text.c_str();
  char* end = nullptr;
  const double value = std::strtod(begin, &end);
  if (end != begin + text.size()) return std::nullopt;
  return value;
}

}  // namespace adamconf
