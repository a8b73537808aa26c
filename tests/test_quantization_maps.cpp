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

struct LibraryMaps {
  std::string capability;
  nlohmann::json maps;
  std::string skip_reason;
};

// Runs tests/python/dump_quantization_maps.py with the project's .venv Python
// (scripts/install-deps.sh), under PyTorch's default kernels if asked.
LibraryMaps library_maps(bool default_kernels) {
  const std::string source = ADAMCONF_SOURCE_DIR;
  const std::string python = source + "/.venv/bin/python";
  if (!std::filesystem::exists(python)) return {.skip_reason = python + " is not installed (scripts/install-deps.sh)"};
  const std::string command = std::string(default_kernels ? "ATEN_CPU_CAPABILITY=default " : "") + python + " " +
                              source + "/tests/python/dump_quantization_maps.py 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string text;
  std::array<char, 4096> buffer;
  while (pipe && std::fgets(buffer.data(), buffer.size(), pipe.get())) text += buffer.data();
  const nlohmann::json dump = nlohmann::json::parse(text, nullptr, false);
  if (dump.is_discarded()) return {.skip_reason = "the map dump printed no JSON: " + text.substr(0, 200)};
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
