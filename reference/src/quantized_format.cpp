#include "adamconf/quantized_format.hpp"

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
  return {
      QuantizedFormat{.name = "bnb-dynamic8-signed", .source = source, .is_signed = true, .block = 256, .min_size = 4096},
      QuantizedFormat{.name = "bnb-dynamic8-unsigned", .source = source, .is_signed = false, .block = 256, .min_size = 4096},
      QuantizedFormat{.name = "torchao-dynamic8-signed", .source = torchao, .is_signed = true, .block = 256, .min_size = 4096,
                      .whole_blocks_only = true, .min_scale = 1e-12},
      QuantizedFormat{.name = "torchao-dynamic8-unsigned", .source = torchao, .is_signed = false, .block = 256,
                      .min_size = 4096, .whole_blocks_only = true, .min_scale = 1e-12},
      QuantizedFormat{.name = "torchao-dynamic4-signed", .source = torchao4, .is_signed = true, .bits = 4, .block = 128,
                      .min_size = 4096, .whole_blocks_only = true, .min_scale = 1e-12},
      QuantizedFormat{.name = "torchao-linear4-unsigned", .source = torchao4, .is_signed = false, .bits = 4, .linear = true,
                      .block = 128, .min_size = 4096, .whole_blocks_only = true, .min_scale = 1e-12},
  };
}

}  // namespace

std::vector<float> QuantizedFormat::map(LinspaceRounding rounding) const {
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
