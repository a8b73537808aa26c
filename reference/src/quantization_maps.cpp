#include "adamconf/quantization_maps.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace adamconf {

namespace {

// a + b * c as the kernel's rounding gives it. The project compiles with
// -ffp-contract=off, so the separate form is two roundings as written.
float multiply_add(float a, float b, float c, LinspaceRounding rounding) {
  if (rounding == LinspaceRounding::fused) return std::fma(b, c, a);
  const float product = b * c;
  return a + product;
}

}  // namespace

std::vector<float> torch_linspace(float start, float end, int steps, LinspaceRounding rounding) {
  if (steps < 1) throw std::invalid_argument("torch_linspace: steps must be at least 1");
  if (steps == 1) return {start};
  // const step_t step = (end - start) / (steps - 1); in float32.
  const float step = (end - start) / static_cast<float>(steps - 1);
  const std::int64_t halfway = steps / 2;
  std::vector<float> values(static_cast<std::size_t>(steps));
  for (std::int64_t i = 0; i < steps; ++i) {
    values[static_cast<std::size_t>(i)] =
        i < halfway ? multiply_add(start, step, static_cast<float>(i), rounding)
                    : multiply_add(end, -step, static_cast<float>(steps - i - 1), rounding);
  }
  return values;
}

std::vector<float> dynamic_map(bool is_signed, int max_exponent_bits, int total_bits, LinspaceRounding rounding) {
  if (total_bits < 2 || total_bits > 8 || max_exponent_bits < 1 || max_exponent_bits > total_bits - 1)
    throw std::invalid_argument("dynamic_map: needs 1 <= max_exponent_bits < total_bits <= 8");
  const int non_sign_bits = total_bits - 1;
  std::vector<float> data;
  // The decade of item i: Python's 10 ** (-(E - 1) + i), a double (or an
  // int), multiplied into a float32 tensor as a float32 scalar.
  const auto decade = [&](int i) { return static_cast<float>(std::pow(10.0, -(max_exponent_bits - 1) + i)); };
  // The midpoints of linspace(0.1, 1, items), scaled by the decade (and negated).
  const auto add_means = [&](int items, int i) {
    const std::vector<float> boundaries = torch_linspace(0.1f, 1.0f, items, rounding);
    const float scale = decade(i);
    for (std::size_t j = 0; j + 1 < boundaries.size(); ++j) {
      const float mean = (boundaries[j] + boundaries[j + 1]) / 2.0f;
      data.push_back(scale * mean);
      if (is_signed) data.push_back(-scale * mean);
    }
  };
  int i = 0;
  for (; i < max_exponent_bits; ++i) {
    const int shift = i + non_sign_bits - max_exponent_bits + (is_signed ? 0 : 1);
    add_means((1 << shift) + 1, i);
  }
  // Items where every exponent bit is zero (none in bitsandbytes' defaults);
  // the library reuses the loop's last i.
  const int additional_items = (1 << (non_sign_bits - max_exponent_bits)) - 1;
  if (additional_items > 0) add_means(additional_items + 1, i - 1);
  data.push_back(0.0f);
  data.push_back(1.0f);
  if (data.size() != (std::size_t{1} << total_bits))
    throw std::logic_error("dynamic_map: the construction gave " + std::to_string(data.size()) + " codes");
  std::sort(data.begin(), data.end());
  return data;
}

std::vector<float> linear_map_without_zero(int codes, LinspaceRounding rounding) {
  std::vector<float> values = torch_linspace(0.0f, 1.0f, codes + 1, rounding);
  values.erase(values.begin());
  return values;
}

const char* linspace_rounding_name(LinspaceRounding rounding) {
  return rounding == LinspaceRounding::fused ? "fused" : "separate";
}

}  // namespace adamconf
