// libFuzzer target: decimal text as users type it (--set, --theta0, --grads,
// --lrs) and golden files hold it. Any text must parse or throw
// std::invalid_argument, in bounded time and stack.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "adamconf/hyperparameters.hpp"
#include "adamconf/float_format.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace adamconf;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)parse_decimal<ReferenceReal>(text);
    (void)parse_decimal<double>(text);
  } catch (const std::invalid_argument&) {
  }
  Hyperparameters h;
  h.lr = text;
  try {
    h.validate();
  } catch (const std::invalid_argument&) {
  }
  (void)parse_double(text);
  return 0;
}
