// libFuzzer target: audit manifests and audit reports (what `audit merge`
// reads). Any input must either load or throw audit::InputError; a loaded
// report must merge with itself as another shard or throw InputError.
#include <cstddef>
#include <cstdint>
#include <string>

#include "adamconf/audit.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace adamconf::audit;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const Manifest m = parse_manifest(text, "/tmp/fuzz/manifest.json");
    (void)m.tensors.size();
  } catch (const InputError&) {
  }
  try {
    const AuditReport r = report_from_json(text, "report.json");
    (void)to_json(r);
    (void)merge({{"a.json", r}, {"b.json", r}});
  } catch (const InputError&) {
  }
  return 0;
}
