// Which codes of a quantization map (quantization_maps.hpp) a correct
// quantizer may store for a value: the nearest code, and where the value lies
// within the quantizer's arithmetic error of a midpoint between two codes,
// either neighbour (as stochastic rounding's two neighbours are judged).
//
// A blockwise quantizer stores code k for the normalized value x = a / scale
// (scale the block's absmax). It computes x in float32 and compares it with
// the codes and their midpoints in float32, so the code it picks is the
// nearest code to some value within delta of the exact x; every code nearest
// to a value in [x - delta, x + delta] is therefore accepted. The range is
// contiguous because the nearest code is monotone in the value.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace adamconf {

/// Codes lowest..highest, inclusive.
struct CodeRange {
  int lowest;
  int highest;
  bool contains(int code) const { return lowest <= code && code <= highest; }
};

/// The codes nearest to y on the ascending map: one, or both neighbours
/// where y is exactly their midpoint (a tie, which the convention settles).
template <class Real>
CodeRange nearest_codes(const std::vector<float>& map, const Real& y) {
  const auto above = std::lower_bound(map.begin(), map.end(), y,
                                      [](float code, const Real& value) { return Real(code) < value; });
  const int upper = static_cast<int>(above - map.begin());
  if (upper == 0) return {.lowest = 0, .highest = 0};
  const int last = static_cast<int>(map.size()) - 1;
  if (upper > last) return {.lowest = last, .highest = last};
  const Real below_distance = y - Real(map[static_cast<std::size_t>(upper - 1)]);
  const Real above_distance = Real(map[static_cast<std::size_t>(upper)]) - y;
  if (below_distance < above_distance) return {.lowest = upper - 1, .highest = upper - 1};
  if (above_distance < below_distance) return {.lowest = upper, .highest = upper};
  return {.lowest = upper - 1, .highest = upper};
}

/// The codes a quantizer whose arithmetic may move x by up to delta may store.
template <class Real>
CodeRange acceptable_codes(const std::vector<float>& map, const Real& x, const Real& delta) {
  return {.lowest = nearest_codes(map, Real(x - delta)).lowest, .highest = nearest_codes(map, Real(x + delta)).highest};
}

}  // namespace adamconf
