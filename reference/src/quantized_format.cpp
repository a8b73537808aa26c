#include "adamconf/quantized_format.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace adamconf {

namespace {

std::vector<QuantizedFormat> all_formats() {
  const std::string source =
      "bitsandbytes 0.50.2 optim/optimizer.py Optimizer8bit (min_8bit_size 4096; qmap1 = create_dynamic_map(signed=True), "
      "qmap2 = create_dynamic_map(signed=False)); backends/cpu/ops.py _optimizer_update_8bit_blockwise_cpu (blocksize 256)";
  const std::string torchao =
      "torchao 0.18 torchao/optim/subclass_8bit.py get_qmap_signed/get_qmap_unsigned (create_dynamic_map), adam.py:75 "
      "(numel >= 4096 and numel % block_size == 0, block_size 256), quant_utils.py:70 scale_tensor (amax.clip(1e-12)), "
      "quantize_8bit_with_qmap (binary search, residual >= half the gap: ties up)";
  const std::string torchao4 =
      "torchao 0.18 torchao/optim/subclass_4bit.py get_qmap_signed (create_dynamic_map(True, 3, 4)), get_qmap_unsigned "
      "(torch.linspace(0, 1, 17)[1:], no zero), two codes per byte (high nibble first); adam.py AdamW4bit block_size 128";
  const std::string torchao_fp8 =
      "torchao 0.18 torchao/optim/subclass_fp8.py quantize_fp8: scale = amax.clip(1e-12) / 448, codes = (x / "
      "scale).to(float8_e4m3fn) (to nearest even); dequantize codes.float() * scale; adam.py AdamWFp8 block_size 256";
  return {
      QuantizedFormat{.name = "bnb-dynamic8-signed", .source = source, .is_signed = true, .block = 256, .min_size = 4096},
      QuantizedFormat{.name = "bnb-dynamic8-unsigned", .source = source, .is_signed = false, .block = 256, .min_size = 4096},
      QuantizedFormat{.name = "torchao-dynamic8-signed", .source = torchao, .is_signed = true, .block = 256, .min_size = 4096,
                      .whole_blocks_only = true, .min_scale = 1e-12,
                      .small_in_dtype = true},
      QuantizedFormat{.name = "torchao-dynamic8-unsigned", .source = torchao, .is_signed = false, .block = 256,
                      .min_size = 4096, .whole_blocks_only = true, .min_scale = 1e-12,
                      .small_in_dtype = true},
      QuantizedFormat{.name = "torchao-dynamic4-signed", .source = torchao4, .is_signed = true, .bits = 4, .block = 128,
                      .min_size = 4096, .whole_blocks_only = true, .min_scale = 1e-12,
                      .small_in_dtype = true},
      QuantizedFormat{.name = "torchao-linear4-unsigned", .source = torchao4, .is_signed = false, .bits = 4, .linear = true,
                      .block = 128, .min_size = 4096, .whole_blocks_only = true, .min_scale = 1e-12,
                      .small_in_dtype = true},
      QuantizedFormat{.name = "torchao-fp8-e4m3", .source = torchao_fp8, .is_signed = true, .bits = 8, .fp8 = true,
                      .block = 256, .min_size = 4096, .whole_blocks_only = true, .min_scale = 1e-12,
                      .small_in_dtype = true},
  };
}

}  // namespace

namespace {
/// The value of float8_e4m3fn bit pattern `code`: 4 exponent bits (bias 7), 3 mantissa bits,
/// subnormals, no infinities, NaN at S.1111.111.
float e4m3fn_value(int code) {
  const int sign = code >> 7, exponent = (code >> 3) & 15, mantissa = code & 7;
  if (exponent == 15 && mantissa == 7) return std::numeric_limits<float>::quiet_NaN();
  const float magnitude = exponent == 0 ? std::ldexp(static_cast<float>(mantissa), -9)
                                        : std::ldexp(static_cast<float>(8 + mantissa), exponent - 10);
  return sign ? -magnitude : magnitude;
}
}  // namespace

OrderedMap ordered(const std::vector<float>& map) {
  OrderedMap out;
  std::vector<int> codes(map.size());
  std::iota(codes.begin(), codes.end(), 0);
  std::erase_if(codes, [&](int c) { return std::isnan(map[static_cast<std::size_t>(c)]); });
  std::stable_sort(codes.begin(), codes.end(),
                   [&](int a, int b) { return map[static_cast<std::size_t>(a)] < map[static_cast<std::size_t>(b)]; });
  for (int c : codes) out.values.push_back(map[static_cast<std::size_t>(c)]);
  out.codes = std::move(codes);
  return out;
}

std::vector<float> QuantizedFormat::map(LinspaceRounding rounding) const {
  if (fp8) {
    std::vector<float> values(256);
    for (int c = 0; c < 256; ++c) values[static_cast<std::size_t>(c)] = e4m3fn_value(c);
    return values;
  }
  if (linear) return linear_map_without_zero(1 << bits, rounding);
  return dynamic_map(is_signed, bits == 8 ? 7 : 3, bits, rounding);
}

std::optional<QuantizedFormat> quantized_format_by_name(const std::string& name) {
  for (const QuantizedFormat& f : all_formats())
    if (f.name == name) return f;
  return std::nullopt;
}

std::vector<std::string> quantized_format_names() {
  std::vector<std::string> names;
  for (const QuantizedFormat& f : all_formats()) names.push_back(f.name);
  return names;
}

}  // namespace adamconf
