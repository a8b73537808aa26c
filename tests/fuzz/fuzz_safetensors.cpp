// libFuzzer target: safetensors files and .npz archives (an input that starts
// as a ZIP is read as one, as MappedFile does; a compressed one is inflated into
// memory, at most 64 MiB, where MappedFile inflates into a temporary file). Any input must either parse or throw
// safetensors::FileError; a parsed file's every value (of at most 65536 per
// input) must read without a read past the buffer or another exception than
// FileError (an integer beyond 2^53). Anything else is a finding.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "adamconf/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace adamconf::safetensors;
  try {
    std::string inflated;
    std::optional<View> view;
    if (!is_zip(data, size)) {
      view.emplace(data, size, "fuzz.safetensors");
    } else if (npz_inflated_size(data, size, "fuzz.npz") == 0) {
      view.emplace(read_npz(data, size, "fuzz.npz"));
    } else {
      const auto entries = inflate_npz(data, size, "fuzz.npz", [&](const std::uint8_t* p, std::size_t n) {
        if (inflated.size() + n > (std::size_t{1} << 26)) throw FileError("fuzz.npz: inflates past the fuzzer's 64 MiB");
        inflated.append(reinterpret_cast<const char*>(p), n);
      });
      view.emplace(read_inflated_npz(reinterpret_cast<const std::uint8_t*>(inflated.data()), inflated.size(), entries, "fuzz.npz"));
    }
    const View& v = *view;
    std::uint64_t budget = 65536;
    for (const TensorInfo& t : v.tensors()) {
      if (!numeric(t.dtype)) continue;
      const std::uint64_t n = std::min<std::uint64_t>(t.elements, budget);
      budget -= n;
      for (std::uint64_t i = 0; i < n; ++i) {
        try {
          (void)v.value(t, i);
        } catch (const FileError&) {
        }
      }
    }
  } catch (const FileError&) {
  }
  return 0;
}
