// The issue-26 targets of `adamconf audit`, measured side by side in one run:
// a recorded pytorch-adamw float32 step of N elements (written by
// builtin:float into safetensors files), audited on one thread and on every
// core, beside a plain float64 Adam step over the same N elements; the peak
// memory of audits of N and 4N elements (each in a child process); the
// 10^9-element step extrapolated from the measured rates. Prints each target
// beside its figure, "met" or "NOT met".
//
//   build/bench/bench_audit [elements]      (default 2^20)
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <thread>

#include "adamconf/atomic_file.hpp"
#include "adamconf/audit.hpp"
#include "adamconf/fast_step.hpp"
#include "adamconf/float_adam.hpp"
#include "bench_clock.hpp"
#include "adamconf/safetensors.hpp"
#include "adamconf/structure_generators.hpp"

namespace {

using namespace adamconf;

using bench::cpu_seconds;
using bench::wall_seconds;

/// Step 2 of a pytorch-adamw float32 run of n elements, recorded in `folder`.
std::string record(const std::filesystem::path& folder, std::size_t n) {
  const Preset& p = preset_by_name("pytorch-adamw");
  Setup setup{OptimizerSpec{p.name, {}, p.defaults, p.convention}, float32_format};
  RunCase c;
  c.theta0 = gen::seeded_theta0(5, float32_format, n);
  c.grads = gen::seeded_gradients(5, float32_format, 1e-8, 2, n);
  c.record_states = true;
  const RunResult r = FloatImplementation("float").run(setup, {c}).front();
  namespace st = safetensors;
  const auto scalar = std::vector<std::uint64_t>{};
  write_atomically((folder / "before.safetensors").string(),
                   st::serialize({{.name = "theta/w", .dtype = st::DType::F32, .values = r.theta[0]},
                                  {.name = "grad/w", .dtype = st::DType::F32, .values = c.grads[1]},
                                  {.name = "m/w", .dtype = st::DType::F32, .values = r.states[0].m},
                                  {.name = "v/w", .dtype = st::DType::F32, .values = r.states[0].v},
                                  {.name = "step/w", .dtype = st::DType::I64, .values = {1}, .shape = scalar}}));
  write_atomically((folder / "after.safetensors").string(),
                   st::serialize({{.name = "theta/w", .dtype = st::DType::F32, .values = r.theta[1]},
                                  {.name = "m/w", .dtype = st::DType::F32, .values = r.states[1].m},
                                  {.name = "v/w", .dtype = st::DType::F32, .values = r.states[1].v},
                                  {.name = "step/w", .dtype = st::DType::I64, .values = {2}, .shape = scalar}}));
  const std::string manifest = (folder / "manifest.json").string();
  write_atomically(manifest, R"({"adamconf_audit": 1, "preset": "pytorch-adamw", "dtype": "float32",
    "before": "before.safetensors", "after": "after.safetensors"})");
  return manifest;
}

/// A plain float64 Adam step (the PyTorch AdamW update) over n elements, repeated: element-steps per second.
double plain_float64_rate(std::size_t n) {
  std::vector<double> theta(n, 0.5), m(n, 0.01), v(n, 1e-4), g(n);
  for (std::size_t i = 0; i < n; ++i) g[i] = std::sin(double(i)) * 1e-3;
  const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
  std::size_t steps = 0;
  const double t0 = cpu_seconds();
  double t = 0;
  while ((t = cpu_seconds() - t0) < 0.5) {
    ++steps;
    const double bc1 = 1 - std::pow(b1, double(steps)), bc2 = 1 - std::pow(b2, double(steps));
    for (std::size_t i = 0; i < n; ++i) {
      theta[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      theta[i] -= lr / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + eps);
    }
  }
  volatile double sink = theta[n / 2];
  (void)sink;
  return double(n) * double(steps) / t;
}

/// The peak resident memory of `adamconf audit MANIFEST --jobs 1` (the command beside this
/// benchmark, build/adamconf), in MB: its VmHWM read from /proc while it runs (the rusage of a
/// child forked from this process would count what this process holds at the fork).
double audit_peak_mb(const std::string& adamconf, const std::string& manifest) {
  const pid_t child = fork();
  if (child == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(adamconf.c_str(), adamconf.c_str(), "audit", manifest.c_str(), "--jobs", "1", static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  int status = 0;
  double peak_kb = 0;
  const std::string proc = "/proc/" + std::to_string(child) + "/status";
  while (waitpid(child, &status, WNOHANG) == 0) {
    if (std::FILE* f = std::fopen(proc.c_str(), "r")) {
      char line[256], name[64] = "";
      double kb = 0, hwm = 0;
      while (std::fgets(line, sizeof line, f)) {
        std::sscanf(line, "Name: %63s", name);
        if (std::sscanf(line, "VmHWM: %lf kB", &kb) == 1) hwm = kb;
      }
      // only once exec'd: before, the child is this process's copy (and its memory)
      if (std::string(name) == "adamconf") peak_kb = std::max(peak_kb, hwm);
      std::fclose(f);
    }
    usleep(20000);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return peak_kb / 1024.0;
}

/// The fast exact path alone (FastStep over a pytorch-adamw float32 step of n elements from a
/// resumed state) in batches of lanes and one element at a time: CPU seconds of each, side by side.
std::pair<double, double> fast_step_seconds(std::size_t n) {
  const Preset& p = preset_by_name("pytorch-adamw");
  const Setup setup{OptimizerSpec{p.name, {}, p.defaults, p.convention}, float32_format};
  RunCase c;
  c.theta0 = gen::seeded_theta0(7, float32_format, n);
  c.grads = {gen::seeded_gradients(7, float32_format, 1e-8, 1, n).front()};
  ImplementationState state{.step = 9};
  for (std::size_t i = 0; i < n; ++i) {
    state.m.push_back(static_cast<float>(c.grads[0][i] * 0.5));
    state.v.push_back(static_cast<float>(c.grads[0][i] * c.grads[0][i] * 0.25 + 1e-12));
  }
  c.initial_state = state;
  auto time = [&](FastStep::Batching batching) {
    const double t0 = cpu_seconds();
    const FastStep fast(setup, c, 0, batching);
    volatile std::size_t sink = fast.batched();
    (void)sink;
    return cpu_seconds() - t0;
  };
  const double alone = time(FastStep::Batching::one_at_a_time), lanes = time(FastStep::Batching::lanes);
  return {lanes, alone};
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : (1u << 20);
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("adamconf-bench-audit-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir / "n");
  std::filesystem::create_directories(dir / "4n");
  const std::string manifest = record(dir / "n", n);
  std::printf("case: a recorded pytorch-adamw float32 step of %zu elements (builtin:float's, safetensors files)\n", n);

  const double plain = plain_float64_rate(n);
  std::printf("plain float64 Adam step: %.3g element-steps per CPU-second\n", plain);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto run = [&](int jobs, bool fast) {
    const double c0 = cpu_seconds(), w0 = wall_seconds();
    const audit::AuditReport r = audit::run_audit(audit::load_manifest(manifest), {.jobs = jobs, .fast_path = fast});
    const double cpu = cpu_seconds() - c0, wall = wall_seconds() - w0;
    std::printf("audit%s, %d thread%s: %.2f s wall, %.2f CPU-s, %.3g element-steps per CPU-second, %llu values "
                "(%llu certified by the fast path, %llu judged in MPFR), %s\n",
                fast ? "" : " --no-fast-path", jobs, jobs == 1 ? "" : "s", wall, cpu, double(n) / cpu,
                static_cast<unsigned long long>(r.values()), static_cast<unsigned long long>(r.fast_values()),
                static_cast<unsigned long long>(r.mpfr_values()), r.passed() ? "all within bounds" : "FAILED");
    return std::pair{wall, cpu};
  };
  const auto [wall_mpfr, cpu_mpfr] = run(1, false);
  (void)wall_mpfr;
  const auto [wall1, cpu1] = run(1, true);
  const auto [wall_all, cpu_all] = run(cores, true);
  (void)cpu_all;
  const double rate = double(n) / cpu1;
  std::printf("fast exact path against every value in MPFR, one thread: %.1fx\n", cpu_mpfr / cpu1);
  const std::size_t fast_n = std::min<std::size_t>(n, 1u << 18);
  const auto [lanes_s, alone_s] = fast_step_seconds(fast_n);
  std::printf("fast exact path (FastStep, %zu elements) in batches of %d lanes (%s) against one element at a time: "
              "%.2f CPU-s against %.2f, %.2fx\n",
              fast_n, kBatchLanes, kBatchLanes == 8 ? "AVX-512" : kBatchLanes == 4 ? "AVX2" : "SSE2", lanes_s, alone_s,
              alone_s / lanes_s);
  const std::string adamconf = (std::filesystem::path(argv[0]).parent_path() / ".." / "adamconf").string();
  const double peak_n = audit_peak_mb(adamconf, manifest);
  const std::string manifest4 = record(dir / "4n", 4 * n);
  const double peak_4n = audit_peak_mb(adamconf, manifest4);
  if (!std::getenv("ADAMCONF_BENCH_KEEP")) std::filesystem::remove_all(dir);  // kept: the files to rerun by hand

  auto verdict = [](bool met) { return met ? "met" : "NOT met"; };
  const double billion = 1e9;
  const double audit_billion = billion / n * wall_all;  // wall time on this machine's cores
  const double plain_billion = billion / plain;
  std::printf("\ntargets (issue 26, this %d-core machine):\n", cores);
  std::printf("  verified element-steps per second per core >= 1/10 of a plain float64 Adam step's (%.3g): %.3g (1/%.0f of it), %s\n",
              plain / 10, rate, plain / rate, verdict(rate >= plain / 10));
  std::printf("  a 10^9-element float32 AdamW step audited within 20x a plain float64 step's time (%.1f s): %.0f s "
              "(extrapolated from %zu elements on %d threads, %.0fx), %s\n",
              20 * plain_billion, audit_billion, n, cores, audit_billion / plain_billion, verdict(audit_billion <= 20 * plain_billion));
  if (peak_n < 0 || peak_4n < 0)
    std::printf("  peak memory <= 1 GB whatever the number of elements: not measured (%s did not run)\n", adamconf.c_str());
  else
    std::printf("  peak memory <= 1 GB whatever the number of elements: %.0f MB at %zu elements, %.0f MB at %zu "
                "(adamconf audit --jobs 1), %s\n",
                peak_n, n, peak_4n, 4 * n, verdict(peak_4n <= 1024 && peak_4n < 1.25 * peak_n + 16));
  // check's each-step properties, with and without the fast path (the same verdicts), on builtin:float.
  auto timed_check = [&](const char* dtype, bool fast) {
    const std::string command = adamconf + " check --impl builtin:float --preset pytorch-adamw --dtype " + dtype +
                                " --cases 300 --seed 1 --property each-step-agrees-with-reference" +
                                (fast ? "" : " --no-fast-path") + " >/dev/null 2>&1";
    const double w0 = wall_seconds();
    const int status = std::system(command.c_str());
    return status == 0 ? wall_seconds() - w0 : -1.0;
  };
  for (const char* dtype : {"float32", "bfloat16"}) {  // float64 is judged in MPFR either way (FastStep::takes)
    const double slow = timed_check(dtype, false), fast = timed_check(dtype, true);
    if (slow < 0 || fast < 0)
      std::printf("  check's each-step-agrees-with-reference sped up by the fast exact path (%s): not measured\n", dtype);
    else
      std::printf("  check's each-step-agrees-with-reference sped up by the fast exact path (%s, 300 cases): %.2f s against "
                  "%.2f s in MPFR, %.1fx\n", dtype, fast, slow, slow / fast);
  }
  return 0;
}
