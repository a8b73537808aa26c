// Progress of long runs on stderr: an overwritten line on a terminal, a line
// per quarter otherwise (so CI logs stay short).
#pragma once

#include <unistd.h>

#include <cstdio>
#include <string>

namespace adamconf::cli {

class Progress {
 public:
  explicit Progress(std::string what) : what_(std::move(what)), tty_(::isatty(2)) {}
  void operator()(std::size_t done, std::size_t total, const std::string& item) {
    if (tty_) {
      std::fprintf(stderr, "\r%s %zu/%zu %-60.60s", what_.c_str(), done, total, item.c_str());
      if (done == total) std::fprintf(stderr, "\n");
    } else if (total > 0 && (done * 4 / total != (done - 1) * 4 / total || done == total)) {
      std::fprintf(stderr, "%s %zu/%zu\n", what_.c_str(), done, total);
    }
    std::fflush(stderr);
  }

 private:
  std::string what_;
  bool tty_;
};

}  // namespace adamconf::cli
