// Blockwise-quantized state formats (8-bit Adam): one more kind of state
// format beside the float ones (StateFormats names either).
//
// A tensor of at least `min_size` elements stores a state tensor (m or v) as
// one code per element into `map` (ascending float32 values in [-1, 1]) and
// one float32 scale per block of `block` consecutive elements, the block's
// absolute maximum; element i reads back as fl32(map[code_i] * scale_b)
// (bitsandbytes csrc/cpu_ops.cpp dequantizeBlockwise8bitCpu). A smaller
// tensor keeps its state in float32. Each step dequantizes, updates in
// float32 and quantizes again: scale = max |x| over the block, code = the
// nearest code to x / scale (csrc/common.cpp quantize_block: "find the
// closest value"; ties to the lower code). torchao's 8-bit AdamW builds the
// same maps and quantizes only tensors of whole blocks, with a scale of at
// least 1e-12 (ties to the upper code); its 4-bit AdamW uses blocks of 128,
// a 4-bit dynamic map for m and a linear map without zero for v.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "adamconf/quantization_maps.hpp"

namespace adamconf {

/// Why nothing judges AMSGrad beside a quantized state (check skips with it, audit refuses with it).
inline constexpr const char* kQuantizedAmsgradNotModelled =
    "AMSGrad beside a quantized state: torchao keeps a quantized tensor's maximum quantized too (max_exp_avg_sq), "
    "which adamconf does not model yet";

struct QuantizedFormat {
  std::string name;    ///< as --m-format / --v-format and the hello name it
  std::string source;  ///< where the library builds it
  bool is_signed = true;
  /// Code width: 8 (256 codes) or 4 (16 codes; torchao's 4-bit AdamW).
  int bits = 8;
  /// A linear map without zero, torch.linspace(0, 1, 2^bits + 1)[1:] (torchao's 4-bit v), not a dynamic one.
  bool linear = false;
  /// Codes are float8_e4m3fn bit patterns (torchao's AdamWFp8), read back as
  /// their value times the scale, and the scale is max(absmax, min_scale) /
  /// 448 (quant_utils-free subclass_fp8.py quantize_fp8); the map is then not
  /// ascending (NaN at 0x7F and 0xFF).
  bool fp8 = false;
  std::size_t block = 256;
  std::size_t min_size = 4096;
  /// Only tensors of whole blocks are quantized (torchao: numel % block_size == 0).
  bool whole_blocks_only = false;
  /// The smallest scale: max(absmax, min_scale) (torchao's amax.clip(1e-12), in float32); 0: none.
  double min_scale = 0;
  /// Where a tensor the format does not quantize keeps this state: in the
  /// parameters' dtype (torchao: torch.zeros_like(p), torchao/optim/adam.py
  /// _new_buffer, bfloat16 beside bfloat16 parameters), or in float32
  /// (bitsandbytes' 32-bit state). Over float32 parameters the two are one.
  bool small_in_dtype = false;
  /// The map as built with each of torch.linspace's CPU roundings (they differ by up to 2 ulps
  /// at a few codes, quantization_maps.hpp); an implementation's map is one of them.
  std::vector<float> map(LinspaceRounding rounding) const;
  /// Whether a tensor of `elements` elements is stored quantized.
  bool quantizes(std::size_t elements) const {
    return elements >= min_size && (!whole_blocks_only || elements % block == 0);
  }
  /// The scale of a block whose largest magnitude is `absmax` (both float32 values).
  float scale_of(float absmax) const {
    const float clipped = absmax < static_cast<float>(min_scale) ? static_cast<float>(min_scale) : absmax;
    return fp8 ? clipped / 448.0f : clipped;  // torch.finfo(float8_e4m3fn).max
  }
};

/// The codes of a map in ascending order of their values, NaN codes left
/// out: the nearest-code search for any map (an fp8 map is not ascending).
struct OrderedMap {
  std::vector<float> values;
  std::vector<int> codes;
};
OrderedMap ordered(const std::vector<float>& map);

/// The quantized format called `name` ("bnb-dynamic8-signed", "bnb-dynamic8-unsigned"); nullopt for any other.
std::optional<QuantizedFormat> quantized_format_by_name(const std::string& name);
/// Every quantized format's name, for error messages and `adamconf presets`.
std::vector<std::string> quantized_format_names();

/// fl32(map[code] * scale): a quantized element read back.
inline double dequantized(const std::vector<float>& map, int code, double scale) {
  return static_cast<double>(map.at(static_cast<std::size_t>(code)) * static_cast<float>(scale));
}

}  // namespace adamconf
