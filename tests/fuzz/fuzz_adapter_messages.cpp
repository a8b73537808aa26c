// libFuzzer target: an adapter's hello and run answers. Any line must either
// be read or throw ImplementationError (AdapterFailure is one); answers that
// are read go through validate_results as check and identify do.
#include <cstddef>
#include <cstdint>
#include <string>

#include "adamconf/adapter_messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace adamconf;
  const std::string line(reinterpret_cast<const char*>(data), size);
  try {
    (void)parse_hello(line, "fuzz");
  } catch (const ImplementationError&) {
  }
  try {
    const std::vector<RunResult> results = parse_run_answer(line, 1);
    RunCase c;
    c.theta0 = {0.5, -1.0};
    c.grads = {{0.1, 0.2}, {0.3, -0.4}};
    c.record_states = true;
    validate_results({c}, results);
  } catch (const ImplementationError&) {
  }
  (void)quote_non_finite_tokens(line);
  return 0;
}
