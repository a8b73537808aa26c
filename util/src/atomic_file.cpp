// write_atomically: mkstemp beside the target, write, close, rename.
#include "adamconf/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace adamconf {

namespace fs = std::filesystem;

namespace {
/// The process's umask, read once (umask() can only be read by setting it).
mode_t process_umask() {
  static const mode_t mask = [] {
    const mode_t m = ::umask(022);
    ::umask(m);
    return m;
  }();
  return mask;
}
}  // namespace

bool is_temporary_name(const std::string& file_name) {
  // TARGET.tmp.XXXXXX (mkstemp) and, from earlier versions, TARGET.tmp.PID
  const auto k = file_name.rfind(".tmp.");
  if (k == std::string::npos || k + 5 >= file_name.size()) return false;
  for (std::size_t i = k + 5; i < file_name.size(); ++i)
    if (!std::isalnum(static_cast<unsigned char>(file_name[i]))) return false;
  return true;
}

void write_atomically(const std::string& path, const std::string& text) {
  if (path.empty()) throw std::runtime_error("cannot write to an empty file name");
  const fs::path target(path);
  std::error_code failed;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), failed);
    if (failed) throw std::runtime_error(target.parent_path().string() + ": cannot create the directory (" + failed.message() + ")");
  }
  // mkstemp creates a new file with O_EXCL in the target's directory: a
  // symlink planted at a predictable name is never followed.
  std::string temporary = target.string() + ".tmp.XXXXXX";
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) throw std::runtime_error(path + ": cannot create a temporary file beside it (" + std::strerror(errno) + ")");
  ::fchmod(fd, 0666 & ~process_umask());
  std::size_t done = 0;
  int error = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : ENOSPC;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error != 0) {
    ::unlink(temporary.c_str());
    throw std::runtime_error(path + ": write failed (" + std::strerror(error) + "); the file is unchanged");
  }
  if (::rename(temporary.c_str(), target.c_str()) != 0) {  // atomic within a file system
    error = errno;
    ::unlink(temporary.c_str());
    throw std::runtime_error(path + ": cannot replace (" + std::strerror(error) + ")");
  }
}

}  // namespace adamconf
