// libFuzzer target: safetensors files and .npz archives (an input that starts
// as a ZIP is read as one, as MappedFile does). Any input must either parse or throw
// safetensors::FileError; a parsed file's every value (of at most 65536 per
// input) must read without a read past the buffer or another exception than
// FileError (an integer beyond 2^53). Anything else is a finding.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "adamconf/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace adamconf::safetensors;
  try {
    const View v = is_zip(data, size) ? read_npz(data, size, "fuzz.npz") : View(data, size, "fuzz.safetensors");
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
