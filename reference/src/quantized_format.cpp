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
  return {
      QuantizedFormat{.name = "bnb-dynamic8-signed", .source = source, .is_signed = true, .block = 256, .min_size = 4096},
      QuantizedFormat{.name = "bnb-dynamic8-unsigned", .source = source, .is_signed = false, .block = 256, .min_size = 4096},
      QuantizedFormat{.name = "torchao-dynamic8-signed", .source = torchao, .is_signed = true, .block = 256, .min_size = 4096,
                      .whole_blocks_only = true, .min_scale = 1e-12},
      QuantizedFormat{.name = "torchao-dynamic8-unsigned", .source = torchao, .is_signed = false, .block = 256,
                      .min_size = 4096, .whole_blocks_only = true, .min_scale = 1e-12},
  };
}

}  // namespace

std::vector<float> QuantizedFormat::map(LinspaceRounding rounding) const { return dynamic_map(is_signed, 7, 8, rounding); }

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
