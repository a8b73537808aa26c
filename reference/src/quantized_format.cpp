#include "adamconf/quantized_format.hpp"

namespace adamconf {

namespace {

std::vector<QuantizedFormat> all_formats() {
  const std::string source =
      "bitsandbytes 0.50.2 optim/optimizer.py Optimizer8bit (min_8bit_size 4096; qmap1 = create_dynamic_map(signed=True), "
      "qmap2 = create_dynamic_map(signed=False)); backends/cpu/ops.py _optimizer_update_8bit_blockwise_cpu (blocksize 256)";
  return {
      QuantizedFormat{.name = "bnb-dynamic8-signed", .source = source, .is_signed = true, .block = 256, .min_size = 4096},
      QuantizedFormat{.name = "bnb-dynamic8-unsigned", .source = source, .is_signed = false, .block = 256, .min_size = 4096},
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
