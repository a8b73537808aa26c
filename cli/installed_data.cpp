#include "installed_data.hpp"

#include <filesystem>

namespace adamconf::cli {

std::optional<std::string> installed_data(const std::string& relative) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return std::nullopt;
  const fs::path path = exe.parent_path().parent_path() / "share/adamconf" / relative;
  if (!fs::exists(path, ec)) return std::nullopt;
  return path.string();
}

}  // namespace adamconf::cli
