// Judging a blockwise-quantized state tensor (quantized_format.hpp) after one
// step from the implementation's own state: every block's scale is the exact
// block maximum within the error of the float32 values it is taken of, and
// every code is a nearest code to the exact value over that maximum, either
// neighbour where the float32 arithmetic may move the value across a midpoint
// (nearest_code.hpp). docs/error-model.md, "Quantized states". The property
// checker and `adamconf audit` both judge through it, each with its own sink.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "adamconf/implementation.hpp"
#include "adamconf/nearest_code.hpp"
#include "adamconf/quantized_format.hpp"
#include "adamconf/real.hpp"

namespace adamconf {

/// Where the judgments of one quantized tensor go.
class QuantizedVerdicts {
 public:
  virtual ~QuantizedVerdicts() = default;
  /// The tensor cannot be judged (codes and scales of the wrong count, a code
  /// beyond the map, values that do not read back from the codes): must not
  /// return (throw).
  [[noreturn]] virtual void fail(const std::string& what) = 0;
  /// A block's scale against the exact block maximum, within `allowed`.
  virtual void scale(double observed, const R& exact, const R& allowed, const std::function<std::string()>& where) = 0;
  /// An element's code, acceptable or not, and the acceptable codes lowest..highest.
  virtual void code(int code, bool accepted, int lowest, int highest, const std::function<std::string()>& where) = 0;
};

/// Block b of a quantized state tensor as a correct quantizer leaves it, from
/// the exact new values and their error bounds: the exact scale (the block
/// maximum; at least the format's smallest scale; over 448 for fp8), its
/// allowed error, and per element the acceptable codes, lowest..highest by
/// value on the ordered map (codes of its map). codes_known is false where the scale is 0
/// or its error reaches it: every code reads back as 0 there, or any may.
struct BlockWindow {
  std::size_t first = 0, last = 0;  ///< elements [first, last)
  R scale, scale_error;
  bool codes_known = false;
  std::vector<CodeRange> codes;     ///< per element of the block, where codes_known
  std::vector<R> x, delta;          ///< per element: exact / scale, and how far the quantizer may move it
};
BlockWindow quantization_window(const QuantizedFormat& f, const OrderedMap& order,
                                const std::vector<R>& exact, const std::vector<R>& bounds, std::size_t b);

/// Each build of f's map (torch.linspace's two CPU roundings; one where they
/// agree) and each block's window on it, in order: what a correct quantizer
/// may store under either build, which an implementation's map is one of.
void for_each_build_window(const QuantizedFormat& f, const std::vector<R>& exact, const std::vector<R>& bounds,
                           const std::function<void(const std::vector<float>& map, const BlockWindow&)>& visit);

/// Per element, how far from its exact value x_i the value a correct
/// quantizer stores may read back: fl32(map[c] * s) for every acceptable code
/// c (under either build of the map) and every scale s within the block's
/// allowed error. The error of a quantized state between two steps of a
/// trajectory (docs/error-model.md, "Quantized states across steps").
std::vector<R> quantization_reach(const QuantizedFormat& f, const std::vector<R>& exact, const std::vector<R>& bounds);

/// The quantized state `q` of n elements (values[offset + i] what code i reads
/// back as), judged against the exact new values and their error bounds (n
/// each). `at` starts every message ("step 2, tensor 1 "), `what` names the
/// state ("m"). `first`: where q's first element lies in its whole tensor (a
/// whole number of blocks in; an audit's window), so that messages count the
/// blocks and elements of the whole tensor.
void judge_quantized_tensor(const QuantizedFormat& f, const QuantizedTensor& q, const std::vector<double>& values,
                            std::size_t offset, const std::vector<R>& exact, const std::vector<R>& bounds,
                            const std::string& at, const char* what, QuantizedVerdicts& out, std::size_t first = 0);

}  // namespace adamconf
