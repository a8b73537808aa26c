// quantized_judge.hpp: judging a blockwise-quantized state tensor (quantized_format.hpp) after one
// step from the implementation's own state: every block's scale is the
// exact block maximum within the error of the float32 values it is taken
// of, and every code is a nearest code to the exact value over that maximum,
// either neighbour where the float32 arithmetic may move the value across a
// midpoint (nearest_code.hpp). docs/error-model.md, "Quantized states".
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "adamconf/judge.hpp"
#include "adamconf/nearest_code.hpp"
#include "adamconf/quantized_judge.hpp"

namespace adamconf {

namespace {

/// The gap between the two codes around x on the map (0 beyond its ends).
double local_gap(const std::vector<float>& map, double x) {
  const auto above = std::lower_bound(map.begin(), map.end(), static_cast<float>(x));
  if (above == map.begin() || above == map.end()) return 0;
  return static_cast<double>(*above) - static_cast<double>(*(above - 1));
}

/// Which of the map's two builds the implementation's values read back with:
/// every value fl32(map[code] * scale). nullopt when neither.
std::optional<std::vector<float>> map_in_use(const QuantizedFormat& f, const QuantizedTensor& q,
                                             const std::vector<double>& values, std::size_t offset, std::size_t n) {
  for (const LinspaceRounding rounding : {LinspaceRounding::fused, LinspaceRounding::separate}) {
    std::vector<float> map = f.map(rounding);
    bool all = true;
    for (std::size_t i = 0; i < n && all; ++i) {
      if (static_cast<std::size_t>(q.codes[i]) >= map.size()) return std::nullopt;
      const double back = dequantized(map, q.codes[i], q.scales[i / f.block]);
      all = back == values[offset + i] || (std::isnan(back) && std::isnan(values[offset + i]));
    }
    if (all) return map;
  }
  return std::nullopt;
}

}  // namespace

BlockWindow quantization_window(const QuantizedFormat& f, const OrderedMap& order,
                                const std::vector<R>& exact, const std::vector<R>& bounds, std::size_t b) {
  BlockWindow w;
  w.first = b * f.block;
  w.last = std::min(exact.size(), w.first + f.block);
  const double u = std::ldexp(1.0, -24);  // the quantizer's float32 arithmetic
  R top = 0, error = 0;  // the exact block maximum, and the largest error of a value it is taken of
  for (std::size_t i = w.first; i < w.last; ++i) {
    top = std::max(top, R(abs(exact[i])));
    error = std::max(error, bounds[i]);
  }
  // The scale: the block maximum, or the format's smallest scale above it (torchao's clip(1e-12)),
  // max(S, c) within the same error (1-Lipschitz).
  const R floor = R(static_cast<float>(f.min_scale));
  if (top < floor) top = floor;
  R scale_error = error;
  if (f.fp8) {  // scale = fl32(max / 448): the maximum's error over 448, and the division's rounding
    top /= 448;
    scale_error = error / 448 + u * top;
  }
  w.scale = top;
  w.scale_error = scale_error;
  w.codes_known = !(top == 0 || scale_error >= top);  // else every code reads back as 0, or the scale is not known
  if (!w.codes_known) return w;
  const R low = top - scale_error;
  for (std::size_t i = w.first; i < w.last; ++i) {
    const R x = exact[i] / top;  // the value the code stands for: exact / scale
    // x~ = fl32(m~ / s~): |m~/s~ - m/s| <= (E_i + |x| E_s)/(s - E_s), its rounding u|x|, and the
    // distance comparison's roundings, which can pick either code within u gap / 2 of a midpoint.
    const R delta = (bounds[i] + abs(x) * scale_error) / low + u * abs(x) + u * local_gap(order.values, static_cast<double>(x));
    // The acceptable codes by value (an fp8 map is not ascending, and reads 0 at two codes).
    const CodeRange range = acceptable_codes(order.values, x, delta);
    w.codes.push_back({.lowest = order.codes[static_cast<std::size_t>(range.lowest)],
                       .highest = order.codes[static_cast<std::size_t>(range.highest)]});
    w.x.push_back(x);
    w.delta.push_back(delta);
  }
  return w;
}

void for_each_build_window(const QuantizedFormat& f, const std::vector<R>& exact, const std::vector<R>& bounds,
                           const std::function<void(const std::vector<float>&, const BlockWindow&)>& visit) {
  const std::size_t blocks = (exact.size() + f.block - 1) / f.block;
  const std::vector<float> fused = f.map(LinspaceRounding::fused), separate = f.map(LinspaceRounding::separate);
  for (const std::vector<float>* map : {&fused, &separate}) {
    if (map == &separate && separate == fused) break;  // one build
    const OrderedMap order = ordered(*map);
    for (std::size_t b = 0; b < blocks; ++b) visit(*map, quantization_window(f, order, exact, bounds, b));
  }
}

std::vector<R> quantization_reach(const QuantizedFormat& f, const std::vector<R>& exact, const std::vector<R>& bounds) {
  const R u = ldexp(R(1), -24), tiny = ldexp(R(1), -149);  // float32: relative rounding, and the subnormal spacing
  std::vector<R> reach(exact.size(), R(0));
  // Over either build (an implementation uses one), each on its own window: delta reads its map's gaps.
  for_each_build_window(f, exact, bounds, [&](const std::vector<float>& map, const BlockWindow& w) {
    const R s_lo = w.scale - w.scale_error, s_hi = w.scale + w.scale_error;
    R largest = 0;  // the largest magnitude a code reads (1, or 448 for fp8)
    if (!w.codes_known)
      for (const float c : map)
        if (!std::isnan(c)) largest = std::max(largest, R(std::fabs(c)));
    for (std::size_t i = w.first; i < w.last; ++i) {
      R lo, hi;  // the stored value fl32(map[c] * s) lies in [lo, hi]
      if (!w.codes_known) {
        hi = largest * s_hi;
        lo = -hi;
      } else {
        const CodeRange& r = w.codes[i - w.first];
        const R v_lo = R(map[static_cast<std::size_t>(r.lowest)]), v_hi = R(map[static_cast<std::size_t>(r.highest)]);
        lo = std::min(v_lo * s_lo, v_lo * s_hi);
        hi = std::max(v_hi * s_lo, v_hi * s_hi);
      }
      lo -= u * abs(lo) + tiny;
      hi += u * abs(hi) + tiny;
      reach[i] = std::max({reach[i], R(exact[i] - lo), R(hi - exact[i])});
    }
  });
  return reach;
}

void judge_quantized_tensor(const QuantizedFormat& f, const QuantizedTensor& q, const std::vector<double>& values,
                            std::size_t offset, const std::vector<R>& exact, const std::vector<R>& bounds,
                            const std::string& at, const char* what, QuantizedVerdicts& out, std::size_t first) {
  const std::size_t n = exact.size(), blocks = (n + f.block - 1) / f.block;
  // Blocks and elements as the whole tensor counts them.
  const auto block_name = [&](std::size_t b) { return "block " + std::to_string(first / f.block + b); };
  const auto element_name = [&](std::size_t i) { return "element " + std::to_string(first + i); };
  if (q.codes.size() != n || q.scales.size() != blocks)
    out.fail(at + std::string(what) + ": " + std::to_string(q.codes.size()) + " codes and " +
             std::to_string(q.scales.size()) + " scales for " + std::to_string(n) + " elements, where " + f.name +
             " has " + std::to_string(blocks) + " blocks of " + std::to_string(f.block));
  const std::size_t codes = std::size_t{1} << f.bits;
  for (std::size_t i = 0; i < n; ++i)
    if (static_cast<std::size_t>(q.codes[i]) >= codes)
      out.fail(at + element_name(i) + ": " + what + " code " + std::to_string(q.codes[i]) + ", where " +
               f.name + " has " + std::to_string(codes) + " codes");
  const std::optional<std::vector<float>> map = map_in_use(f, q, values, offset, n);
  if (!map)
    out.fail(at + std::string(what) + ": the values do not read back as fl32(map[code] * scale) on " + f.name +
             "'s map (either build of torch.linspace)");
  const OrderedMap order = ordered(*map);
  for (std::size_t b = 0; b < blocks; ++b) {
    const BlockWindow w = quantization_window(f, order, exact, bounds, b);
    const auto block_where = [&] {
      return at + block_name(b) + " (elements " + std::to_string(first + w.first) + ".." +
             std::to_string(first + w.last - 1) + "): " + what + " scale";
    };
    out.scale(q.scales[b], w.scale, w.scale_error, block_where);
    if (!w.codes_known) continue;
    for (std::size_t i = w.first; i < w.last; ++i) {
      const CodeRange& range = w.codes[i - w.first];
      const float value = (*map)[static_cast<std::size_t>(q.codes[i])];
      const bool accepted = value >= (*map)[static_cast<std::size_t>(range.lowest)] &&
                            value <= (*map)[static_cast<std::size_t>(range.highest)];
      out.code(q.codes[i], accepted, range.lowest, range.highest, [&] {
        return at + block_name(b) + " " + element_name(i) + ": " + what + " (exact " +
               show_value(static_cast<double>(exact[i])) + ", / scale = " + show_value(static_cast<double>(w.x[i - w.first])) +
               ", map[" + std::to_string(range.lowest) + "] = " + show_value((*map)[static_cast<std::size_t>(range.lowest)]) +
               ", map[" + std::to_string(q.codes[i]) + "] = " + show_value(value) + ")";
      });
    }
  }
}

}  // namespace adamconf
