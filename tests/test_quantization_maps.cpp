// The code maps of 8-bit and 4-bit optimizer states (quantization_maps.hpp):
// their documented shape, and equality with the maps bitsandbytes and torchao
// build on this machine, under each of PyTorch's CPU kernels.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "adamconf/nearest_code.hpp"
#include "adamconf/precision_rules.hpp"
#include "adamconf/quantization_maps.hpp"

using adamconf::LinspaceRounding;

namespace {

constexpr std::array kRoundings{LinspaceRounding::fused, LinspaceRounding::separate};

// The positive codes in (10^(d-7), 10^(d-6)], the decade d of the map, d = 0..6.
int codes_in_decade(const std::vector<float>& map, int d) {
  int n = 0;
  for (float x : map)
    if (x > std::pow(10.0, d - 7) && x <= std::pow(10.0, d - 6)) ++n;
  return n;
}

}  // namespace

// bitsandbytes' docstring and Dettmers (arXiv:1511.04561): 256 codes, 0 and 1
// among them; decade i of 7 holds 2^i magnitudes (signed: each with its
// negation) or 2^(i+1) (unsigned), the extra 1.0 in the top decade.
TEST(QuantizationMaps, DynamicMapsHaveTheDocumentedShape) {
  for (LinspaceRounding rounding : kRoundings) {
    SCOPED_TRACE(adamconf::linspace_rounding_name(rounding));
    const std::vector<float> signed_map = adamconf::dynamic_map(true, 7, 8, rounding);
    const std::vector<float> unsigned_map = adamconf::dynamic_map(false, 7, 8, rounding);
    for (const auto* map : {&signed_map, &unsigned_map}) {
      ASSERT_EQ(map->size(), 256u);
      EXPECT_TRUE(std::is_sorted(map->begin(), map->end()));
      EXPECT_EQ(map->back(), 1.0f);
      EXPECT_EQ(std::count(map->begin(), map->end(), 0.0f), 1);
    }
    EXPECT_EQ(signed_map.front(), -signed_map[254]) << "signed: the negations of the magnitudes below 1";
    for (std::size_t k = 0; k < 127; ++k) EXPECT_EQ(signed_map[k], -signed_map[254 - k]) << "code " << k;
    EXPECT_GE(unsigned_map.front(), 0.0f);
    for (int d = 0; d < 7; ++d) {
      EXPECT_EQ(codes_in_decade(signed_map, d), (1 << d) + (d == 6 ? 1 : 0)) << "signed, decade " << d;
      EXPECT_EQ(codes_in_decade(unsigned_map, d), (2 << d) + (d == 6 ? 1 : 0)) << "unsigned, decade " << d;
    }
  }
}

// torchao's 4-bit maps: create_dynamic_map(True, 3, 4), 16 signed codes, and
// linspace(0, 1, 17)[1:], the sixteenths 1/16 .. 1, each exact in float32.
TEST(QuantizationMaps, FourBitMapsHaveTheDocumentedShape) {
  for (LinspaceRounding rounding : kRoundings) {
    SCOPED_TRACE(adamconf::linspace_rounding_name(rounding));
    const std::vector<float> signed_map = adamconf::dynamic_map(true, 3, 4, rounding);
    ASSERT_EQ(signed_map.size(), 16u);
    EXPECT_TRUE(std::is_sorted(signed_map.begin(), signed_map.end()));
    EXPECT_EQ(signed_map.back(), 1.0f);
    const std::vector<float> linear = adamconf::linear_map_without_zero(16, rounding);
    ASSERT_EQ(linear.size(), 16u);
    for (int k = 1; k <= 16; ++k) EXPECT_EQ(linear[k - 1], static_cast<float>(k) / 16) << "code " << k - 1;
  }
}

namespace {

// Runs a script of tests/python/ with the project's .venv Python
// (scripts/install-deps.sh), after `environment` ("NAME=value " or ""), and
// parses what it prints; on failure, `skip_reason` says why and the JSON is discarded.
nlohmann::json run_venv_script(const std::string& script, const std::string& environment, std::string& skip_reason) {
  const std::string source = ADAMCONF_SOURCE_DIR;
  const std::string python = source + "/.venv/bin/python";
  if (!std::filesystem::exists(python)) {
    skip_reason = python + " is not installed (scripts/install-deps.sh)";
    return nlohmann::json::value_t::discarded;
  }
  const std::string command = environment + python + " " + source + "/tests/python/" + script + " 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string text;
  std::array<char, 65536> buffer;
  while (pipe && std::fgets(buffer.data(), buffer.size(), pipe.get())) text += buffer.data();
  nlohmann::json dump = nlohmann::json::parse(text, nullptr, false);
  if (dump.is_discarded()) skip_reason = script + " printed no JSON: " + text.substr(0, 200);
  return dump;
}

struct LibraryMaps {
  std::string capability;
  nlohmann::json maps;
  std::string skip_reason;
};

// The maps of tests/python/dump_quantization_maps.py, under PyTorch's default kernels if asked.
LibraryMaps library_maps(bool default_kernels) {
  std::string skip_reason;
  const nlohmann::json dump =
      run_venv_script("dump_quantization_maps.py", default_kernels ? "ATEN_CPU_CAPABILITY=default " : "", skip_reason);
  if (!skip_reason.empty()) return {.skip_reason = skip_reason};
  if (dump["maps"].empty()) return {.skip_reason = "neither bitsandbytes nor torchao is importable in .venv"};
  return {.capability = dump["capability"], .maps = dump["maps"]};
}

std::vector<float> expected_map(const std::string& name, LinspaceRounding rounding) {
  if (name.find("4bit-unsigned") != std::string::npos) return adamconf::linear_map_without_zero(16, rounding);
  if (name.find("4bit-signed") != std::string::npos) return adamconf::dynamic_map(true, 3, 4, rounding);
  return adamconf::dynamic_map(name.find("unsigned") == std::string::npos, 7, 8, rounding);
}

}  // namespace

// Every map the libraries build equals ours, bit for bit, under the rounding
// of the kernel PyTorch dispatched: fused on AVX2 and AVX-512, separate on
// its default kernel. Prints how many codes the two kernels' maps differ in
// (the libraries' maps depend on the CPU: 42 signed and 31 unsigned codes, up
// to 2 ulps, on an AVX2 machine with torch 2.15).
TEST(QuantizationMaps, EqualTheMapsBitsandbytesAndTorchaoBuildUnderEachCpuKernel) {
  int compared = 0;
  std::vector<nlohmann::json> maps_by_kernel;
  for (bool default_kernels : {false, true}) {
    const LibraryMaps library = library_maps(default_kernels);
    if (!library.skip_reason.empty()) GTEST_SKIP() << library.skip_reason;
    const LinspaceRounding rounding =
        library.capability == "DEFAULT" ? LinspaceRounding::separate : LinspaceRounding::fused;
    for (const auto& [name, hex_values] : library.maps.items()) {
      SCOPED_TRACE(name + " on PyTorch's " + library.capability + " kernels");
      const std::vector<float> ours = expected_map(name, rounding);
      ASSERT_EQ(hex_values.size(), ours.size());
      for (std::size_t k = 0; k < ours.size(); ++k) {
        const double theirs = std::strtod(hex_values[k].get<std::string>().c_str(), nullptr);
        EXPECT_EQ(theirs, static_cast<double>(ours[k])) << "code " << k << ": " << hex_values[k];
        ++compared;
      }
    }
    maps_by_kernel.push_back(library.maps);
  }
  EXPECT_GT(compared, 0);
  std::printf("compared %d codes of the libraries' maps\n", compared);
  for (const auto& [name, native] : maps_by_kernel[0].items()) {
    int differing = 0;
    for (std::size_t k = 0; k < native.size(); ++k) differing += native[k] != maps_by_kernel[1][name][k];
    std::printf("%s: %d of %zu codes differ between PyTorch's native and default CPU kernels\n", name.c_str(),
                differing, native.size());
  }
}

namespace {

// Fixed inputs quantized by torchao and by bitsandbytes' CPU quantizer (tests/python/quantize_with_libraries.py).
nlohmann::json library_quantizations(std::string& skip_reason) {
  nlohmann::json dump = run_venv_script("quantize_with_libraries.py", "", skip_reason);
  if (skip_reason.empty() && dump.empty()) skip_reason = "neither torchao nor bitsandbytes quantized anything";
  return dump;
}

double from_hex(const nlohmann::json& value) { return std::strtod(value.get<std::string>().c_str(), nullptr); }

struct QuantizerVerdict {
  long judged = 0;            // elements whose code was judged
  long not_acceptable = 0;    // codes outside the acceptable range
  long two_acceptable = 0;    // elements where either neighbour is accepted
  long wrong_scales = 0;      // blocks whose scale is not the block's absmax
  std::string first_failure;  // inputs => observed  expected, for the report
};

// Judges a library's codes and scales against the nearest-code rule. The
// quantizer computes x' = fl32(a / scale) (|x' - x| <= u|x| + 2^-149) and
// decides between the codes below and above x' by comparing fl32(x' - c_lo)
// with fl32(c_hi - c_lo) * 0.5, each rounding within u of its value; the gap
// between neighbouring codes is at most 1, so the decision is the exact one
// for some value within u(|x| + 2) + 2^-149 of x. x itself is formed here in
// double, within 2^-53 |x| of a / scale.
QuantizerVerdict judge_quantizer(const nlohmann::json& entry, float scale_floor) {
  std::vector<float> map;
  for (const auto& value : entry["map"]) map.push_back(static_cast<float>(from_hex(value)));
  const std::size_t block = entry["block"];
  const auto& inputs = entry["inputs"];
  const auto& codes = entry["codes"];
  const double u = std::ldexp(1.0, -24);
  QuantizerVerdict verdict;
  for (std::size_t start = 0; start < inputs.size(); start += block) {
    const std::size_t end = std::min(inputs.size(), start + block);
    float absmax = 0;
    for (std::size_t i = start; i < end; ++i) absmax = std::max(absmax, std::fabs(static_cast<float>(from_hex(inputs[i]))));
    const double scale = from_hex(entry["scales"][start / block]);
    if (scale != std::max(absmax, scale_floor)) ++verdict.wrong_scales;
    for (std::size_t i = start; i < end; ++i) {
      const double a = from_hex(inputs[i]);
      const double x = a / scale;
      const double delta = u * (std::fabs(x) + 2) + std::ldexp(1.0, -149) + std::ldexp(std::fabs(x), -53);
      const adamconf::CodeRange accepted = adamconf::acceptable_codes(map, x, delta);
      const int code = codes[i];
      ++verdict.judged;
      if (accepted.lowest != accepted.highest) ++verdict.two_acceptable;
      if (!accepted.contains(code)) {
        if (verdict.not_acceptable++ == 0) {
          char line[256];
          std::snprintf(line, sizeof line, "element %zu: a = %a, scale %a (x = %.9g) => code %d (%.9g)  expected %d..%d (%.9g)",
                        i, a, scale, x, code, map[static_cast<std::size_t>(code)], accepted.lowest, accepted.highest,
                        map[static_cast<std::size_t>(accepted.lowest)]);
          verdict.first_failure = line;
        }
      }
    }
  }
  return verdict;
}

}  // namespace

// The nearest code of a value, ties both ways, and the acceptable range,
// on cases whose answer is known without the code under test.
TEST(NearestCode, IsTheClosestCodeAndBothNeighboursAtAMidpoint) {
  const std::vector<float> map = adamconf::linear_map_without_zero(16, LinspaceRounding::fused);  // k/16
  EXPECT_EQ(adamconf::nearest_codes(map, 0.0).lowest, 0);     // below the first code
  EXPECT_EQ(adamconf::nearest_codes(map, 2.0).highest, 15);   // above the last
  EXPECT_EQ(adamconf::nearest_codes(map, 3.0 / 16).lowest, 2);  // a code itself
  EXPECT_EQ(adamconf::nearest_codes(map, 3.4 / 16).highest, 2);
  EXPECT_EQ(adamconf::nearest_codes(map, 3.6 / 16).lowest, 3);
  const adamconf::CodeRange tie = adamconf::nearest_codes(map, 3.5 / 16);
  EXPECT_EQ(tie.lowest, 2);
  EXPECT_EQ(tie.highest, 3);
  const adamconf::CodeRange near_tie = adamconf::acceptable_codes(map, 3.5 / 16 + 1e-9, 1e-8);
  EXPECT_EQ(near_tie.lowest, 2);
  EXPECT_EQ(near_tie.highest, 3);
  const adamconf::CodeRange far = adamconf::acceptable_codes(map, 3.5 / 16 + 1e-6, 1e-8);
  EXPECT_EQ(far.lowest, 3);
  EXPECT_EQ(far.highest, 3);
}

// torchao's 8-bit and 4-bit quantizers store a nearest code for every
// element (either neighbour within their float32 arithmetic of a midpoint),
// and each block's scale is its absmax (clipped at 1e-12). bitsandbytes' CPU
// quantizer does not (README finding bnb-8bit-cpu-not-nearest): this test
// fails when it starts to, so that the finding is removed.
TEST(NearestCode, TorchaoStoresTheNearestCodeAndBitsandbytesCpuDoesNot) {
  std::string skip_reason;
  const nlohmann::json quantized = library_quantizations(skip_reason);
  if (!skip_reason.empty()) GTEST_SKIP() << skip_reason;
  for (const auto& [name, entry] : quantized.items()) {
    SCOPED_TRACE(name);
    const bool is_torchao = name.rfind("torchao", 0) == 0;
    const QuantizerVerdict verdict = judge_quantizer(entry, is_torchao ? 1e-12f : 0.0f);
    std::printf("%s: %ld codes judged, %ld with either neighbour accepted, %ld not a nearest code, %ld wrong scales\n",
                name.c_str(), verdict.judged, verdict.two_acceptable, verdict.not_acceptable, verdict.wrong_scales);
    EXPECT_GT(verdict.judged, 0);
    EXPECT_EQ(verdict.wrong_scales, 0);
    if (is_torchao) {
      EXPECT_EQ(verdict.not_acceptable, 0) << verdict.first_failure;
    } else {
      EXPECT_GT(verdict.not_acceptable, 0) << "finding bnb-8bit-cpu-not-nearest no longer reproduces: update the README";
      if (!verdict.first_failure.empty()) std::printf("  first: %s\n", verdict.first_failure.c_str());
    }
  }
}

// A tensor below a quantized format's size keeps that state where its library keeps it: torchao in
// the parameters' dtype (torch.zeros_like(p), torchao/optim/adam.py _new_buffer), bitsandbytes in
// float32 (its 32-bit state); over float32 parameters the two are one.
TEST(QuantizedFormats, SmallTensorsKeepTheirStateWhereTheLibraryKeepsIt) {
  using namespace adamconf;
  const StateFormats torchao{.m = "torchao-dynamic8-signed", .v = "torchao-dynamic8-unsigned"};
  const StateFormats bnb{.m = "bnb-dynamic8-signed", .v = "bnb-dynamic8-unsigned"};
  for (const FloatFormat& dtype : {bfloat16_format, float16_format}) {
    const PrecisionRules torchao_rules(dtype, Precision::float32_opmath, torchao);
    EXPECT_EQ(std::string(torchao_rules.format_of(Quantity::m).name), dtype.name);
    EXPECT_EQ(std::string(torchao_rules.format_of(Quantity::v).name), dtype.name);
    EXPECT_EQ(std::string(PrecisionRules(dtype, Precision::float32_opmath, bnb).format_of(Quantity::v).name), "float32");
  }
  EXPECT_EQ(std::string(PrecisionRules(float32_format, Precision::storage, torchao).format_of(Quantity::m).name), "float32");
  for (const char* name : {"torchao-dynamic8-signed", "torchao-dynamic4-signed", "torchao-linear4-unsigned", "torchao-fp8-e4m3"})
    EXPECT_TRUE(quantized_format_by_name(name)->small_in_dtype) << name;
  EXPECT_FALSE(quantized_format_by_name("bnb-dynamic8-signed")->small_in_dtype);
}
