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
#include "bench_clock.hpp"
#include "adamconf/structure_generators.hpp"
#include "adamconf/verify.hpp"

namespace {

using namespace adamconf;

using bench::cpu_seconds;
using bench::wall_seconds;
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
  const double work = double(n * steps);
  struct Run {
    double wall, cpu;
  };
  auto verify = [&](int jobs, BoundArithmetic bound) {
    VerifySettings s;
    s.jobs = jobs;
    s.bound = bound;
    const double c0 = cpu_seconds(), t0 = wall_seconds();
    const Verification v = verify_trajectory(setup, c, result, s);
    const Run r{wall_seconds() - t0, cpu_seconds() - c0};
    std::printf("verify, bound in %s, %d thread%s: %.2f s wall, %.2f CPU-s, %.0f element-steps per CPU-second, %zu values, %s\n",
                bound == BoundArithmetic::mpfr ? "MPFR" : "double (float32 target)", jobs, jobs == 1 ? "" : "s", r.wall,
                r.cpu, work / r.cpu, v.statistics.count, v.failure ? "FAILED" : "all within bounds");
    return r;
  };
  const bool small = work <= 3.0 * 65536;
  if (small) verify(1, BoundArithmetic::mpfr);
  else std::printf("verify, bound in MPFR: not run at this size (run with 65536 3 to compare)\n");
  const Run one = verify(1, BoundArithmetic::hardware);
  const Run all = verify(cores, BoundArithmetic::hardware);
  const double rate = work / one.cpu;
  std::printf("speed-up with %d threads: %.2fx\n", cores, one.wall / all.wall);
  auto verdict = [](bool met) { return met ? "met" : "NOT met"; };
  std::printf("\ntargets (issue 9, this %d-core machine):\n", cores);
  std::printf("  >= 500000 verified element-steps per CPU-second per core: %.0f, %s\n", rate, verdict(rate >= 500000));
  if (n >= (1u << 20) && steps == 3)
    std::printf("  <= 300 MB peak memory for 2^20 x 3: %.0f MB (the process: case, run, results and verifier), %s\n",
                peak_mb(), verdict(peak_mb() <= 300));
  else
    std::printf("  <= 300 MB peak memory for 2^20 x 3: not this size (%.0f MB here; run without arguments)\n", peak_mb());
  std::printf("  builtin:float run and verify of this case <= 5 s wall: %.2f s + %.2f s = %.2f s, %s\n", run_wall, all.wall,
              run_wall + all.wall, verdict(run_wall + all.wall <= 5));
  return 0;
}
