// libFuzzer target: golden files of both kinds (trajectories, quantized steps)
// and results files. Any input must either load or throw golden::FileError; a
// loaded results file must check against a real golden file of each kind or
// throw FileError. Anything else (another exception, a crash,
// a sanitizer report, a hang) is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "adamconf/golden.hpp"

namespace {
const adamconf::golden::GoldenTrace& reference_trace() {
  static const auto g = adamconf::golden::load(std::string(ADAMCONF_SOURCE_DIR) + "/golden/traces/kingma-ba/float32-random.json");
  return g;
}
const adamconf::golden::QuantizedGolden& quantized_trace() {
  static const auto g = std::get<adamconf::golden::QuantizedGolden>(adamconf::golden::load_any(
      std::string(ADAMCONF_SOURCE_DIR) + "/golden/traces/torchao-adamw4bit/float32-quantized-steps.json"));
  return g;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace adamconf::golden;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const GoldenTrace g = load_text(text, "fuzz.json");
    (void)g.trace.size();
  } catch (const FileError&) {
  }
  try {
    const QuantizedGolden g = load_quantized_text(text, "fuzz.json");
    (void)g.steps.size();
  } catch (const FileError&) {
  }
  try {
    Results r = load_results_text(text, "results.json");
    r.golden = quantized_trace().name;  // a quantized-steps file's shapes and codes
    (void)check(quantized_trace(), r);
  } catch (const FileError&) {
  }
  try {
    Results r = load_results_text(text, "results.json");
    r.golden = reference_trace().name;  // reach the shape and value checks too
    (void)check(reference_trace(), r);
  } catch (const FileError&) {
  }
  return 0;
}
