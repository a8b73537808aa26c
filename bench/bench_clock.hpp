// The clocks the benchmarks read: CPU seconds of this process (all its
// threads) and wall seconds.
#pragma once

#include <chrono>
#include <ctime>

namespace adamconf::bench {

inline double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

inline double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace adamconf::bench
