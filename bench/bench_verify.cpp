// The issue-9 targets, measured: verifying a 2^20-element, 3-step
// pytorch-adamw float32 case (reference + error bounds + comparison) with 1
// thread and with every core, its peak memory, and the builtin:float run of
// the same case. Prints each target beside the measured figure.
//
//   build/bench/bench_verify [elements] [steps]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "adamconf/float_adam.hpp"
#include "adamconf/structure_generators.hpp"
#include "adamconf/verify.hpp"

namespace {

using namespace adamconf;

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double peak_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // kilobytes on Linux
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : (1u << 20);
  const std::size_t steps = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 3;
  const Preset& preset = preset_by_name("pytorch-adamw");
  Setup setup{OptimizerSpec{preset.name, {}, preset.defaults, preset.convention}, float32_format};
  setup.spec.hyper.weight_decay = "0.01";
  RunCase c;
  c.theta0 = gen::seeded_theta0(42, float32_format, n);
  c.grads = gen::seeded_gradients(42, float32_format, 1e-8, steps, n);
  c.tensors = {Tensor{n / 2, 0}, Tensor{0, 0}, Tensor{n - n / 2, 0}};
  std::printf("case: pytorch-adamw float32, %zu elements in 3 tensors (one empty), %zu steps = %.3g element-steps\n", n,
              steps, double(n * steps));

  FloatImplementation impl("builtin:float");
  double w0 = wall_seconds();
  const RunResult result = impl.run(setup, {c}).front();
  const double run_wall = wall_seconds() - w0;
  std::printf("builtin:float run: %.2f s wall\n", run_wall);

  const int cores = resolve_jobs(0);
  double one_thread_rate = 0, wall_all = 0;
  for (int jobs : {1, cores}) {
    if (jobs == 1 && n * steps > (1u << 20) * 3 + 100) continue;
    VerifySettings s;
    s.jobs = jobs;
    const double c0 = cpu_seconds(), t0 = wall_seconds();
    const Verification v = verify_trajectory(setup, c, result, s);
    const double cpu = cpu_seconds() - c0, wall = wall_seconds() - t0;
    const double rate = double(n * steps) / cpu;  // per CPU-second = per core-second
    if (jobs == 1) one_thread_rate = double(n * steps) / wall;
    else wall_all = wall;
    std::printf("verify, %d thread%s: %.2f s wall, %.2f CPU-s, %.0f element-steps per CPU-second, %zu values, %s\n", jobs,
                jobs == 1 ? "" : "s", wall, cpu, rate, v.statistics.count, v.failure ? "FAILED" : "all within bounds");
  }
  if (one_thread_rate > 0 && wall_all > 0)
    std::printf("speed-up with %d threads: %.2fx\n", cores, double(n * steps) / wall_all / one_thread_rate);
  std::printf("\ntargets (issue 9, this %d-core machine):\n", cores);
  std::printf("  >= 500000 verified element-steps per CPU-second per core: see the rates above\n");
  std::printf("  <= 300 MB peak memory for 2^20 x 3:  measured %.0f MB (the process, run and results included)\n", peak_mb());
  std::printf("  builtin:float check of the 2^20 case <= 5 s wall: run %.2f s + verify %.2f s = %.2f s\n", run_wall,
              wall_all, run_wall + wall_all);
  return 0;
}
