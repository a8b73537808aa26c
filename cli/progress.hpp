// Progress of long runs on stderr: an overwritten line on a terminal (at most
// ten a second, and the last), a line per quarter otherwise (so CI logs stay
// short). `done` may advance by many at once (an audit counts elements, a
// window at a time): a quarter is printed when `done` passes into it.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace adamconf::cli {

class Progress {
 public:
  explicit Progress(std::string what) : what_(std::move(what)), tty_(::isatty(2)) {}
  void operator()(std::size_t done, std::size_t total, const std::string& item) {
    if (total == 0) return;
    if (tty_) {
      const auto now = std::chrono::steady_clock::now();
      if (done < total && printed_ && now - last_ < std::chrono::milliseconds(100)) return;
      last_ = now;
      printed_ = true;
      std::fprintf(stderr, "\r%s %zu/%zu %-60.60s", what_.c_str(), done, total, item.c_str());
      if (done >= total) std::fprintf(stderr, "\n");
    } else {
      // the quarter done is in: 0 before the first quarter is complete, 4 at the end
      const std::size_t quarter = done >= total ? 4 : static_cast<std::size_t>(4.0 * double(done) / double(total));
      if (quarter <= quarter_) return;
      quarter_ = quarter;
      std::fprintf(stderr, "%s %zu/%zu\n", what_.c_str(), done, total);
    }
    std::fflush(stderr);
  }

 private:
  std::string what_;
  bool tty_;
  bool printed_ = false;
  std::chrono::steady_clock::time_point last_{};
  std::size_t quarter_ = 0;  ///< the last quarter printed
};

}  // namespace adamconf::cli
