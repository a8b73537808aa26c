// An implementation in a shared library, loaded in process through the C ABI
// of adamconf/adapter.h (`--impl lib:PATH.so`): no process, no JSON.
#pragma once

#include <string>

#include "adamconf/adapter.h"
#include "adamconf/adapter_messages.hpp"

namespace adamconf {

class LibraryImplementation : public AdapterImplementation {
 public:
  /// Loads the library and reads its table. Throws AdapterFailure naming the
  /// path and what is wrong (not found, no adamconf_adapter_v1, another ABI version, a malformed table).
  explicit LibraryImplementation(const std::string& path);
  ~LibraryImplementation() override;
  LibraryImplementation(const LibraryImplementation&) = delete;
  LibraryImplementation& operator=(const LibraryImplementation&) = delete;

  std::vector<RunResult> run(const Setup& setup, const std::vector<RunCase>& cases) override;

 private:
  template <class F>
  RunResult run_case(const Setup& setup, const RunCase& c);

  std::string path_;
  void* library_ = nullptr;
  const adamconf_adapter* table_ = nullptr;
};

}  // namespace adamconf
