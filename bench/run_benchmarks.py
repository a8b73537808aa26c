#!/usr/bin/python3
"""adamconf's benchmark table: the reference Adam step per number type next to
mpmath and plain double, the property suite, and golden regeneration.

    bench/run_benchmarks.py [--build build] [--quick]

Runs build/bench/bench_reference (Google Benchmark), bench/mpmath_adam.py (at
the same precisions, with mpmath's pure-Python backend as Debian installs it,
and with gmpy2 when present), and timed adamconf commands; prints one table
with the targets of the benchmark issue and whether each is met.
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = "/usr/bin/python3"


def run(cmd, env=None, check=True):
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result


def reference_speeds(build, min_time, repetitions):
    """The median of `repetitions` runs per number type: this machine is shared and noisy."""
    out = run([os.path.join(build, "bench", "bench_reference"), "--benchmark_format=json",
               f"--benchmark_min_time={min_time}", f"--benchmark_repetitions={repetitions}",
               "--benchmark_report_aggregates_only=true"]).stdout
    speeds = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name", "median") == "median":
            speeds[b["run_name"] if "run_name" in b else b["name"]] = (b["items_per_second"], int(b["bits"]))
    return speeds


def mpmath_speeds(bits, seconds, gmpy):
    env = dict(os.environ)
    if not gmpy:
        env["MPMATH_NOGMPY"] = "1"
    out = run([PYTHON, os.path.join(ROOT, "bench", "mpmath_adam.py"), "--bits", *map(str, bits),
               "--seconds", str(seconds)], env=env).stdout
    data = json.loads(out)
    return {r["bits"]: r for r in data["runs"]}, data["runs"][0]["backend"]


def same_trajectory(adamconf, steps=20):
    """theta[0] after `steps` steps: adamconf trace versus mpmath at 257 bits."""
    theta0 = ",".join(str((i - 32) / 16) for i in range(64))
    grads = ";".join(",".join(str(((37 * i + 11 * t) % 101 - 50) / 64) for i in range(64)) for t in range(steps))
    out = run([adamconf, "trace", "--preset", "pytorch-adamw", "--set", "lr=0.001", "--set", "weight_decay=0.01",
               "--theta0", theta0, "--grads", grads, "--digits", "25"]).stdout
    ours = re.findall(r"\[0\] .* theta=(\S+)", out)[-1]
    check = ("import mpmath; from mpmath import mp, mpf; mp.prec = 257\n"
             "lr, b1, b2, eps, wd = mpf('0.001'), mpf('0.9'), mpf('0.999'), mpf('1e-8'), mpf('0.01')\n"
             "th, m, v = mpf(-32) / 16, mpf(0), mpf(0)\n"
             f"for t in range(1, {steps} + 1):\n"
             "    g = mpf((11 * (t - 1)) % 101 - 50) / 64\n"
             "    th = th * (1 - lr * wd); m = b1 * m + (1 - b1) * g; v = b2 * v + (1 - b2) * g * g\n"
             "    th = th - lr * (m / (1 - b1 ** t)) / (mpmath.sqrt(v / (1 - b2 ** t)) + eps)\n"
             "print(mpmath.nstr(th, 25))\n")
    theirs = run([PYTHON, "-c", check]).stdout.strip()
    return ours, theirs


def timed(cmd):
    start = time.perf_counter()
    result = run(cmd, check=False)
    return time.perf_counter() - start, result


def property_suite(adamconf, cases):
    """All 20 properties x every preset x float32/float64 against builtin:float, on 2 processes."""
    jobs = [(p, d) for p in presets(adamconf) for d in ("float32", "float64")]
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda job: run([adamconf, "check", "--impl", "builtin:float", "--preset", job[0],
                                                 "--dtype", job[1], "--cases", str(cases)], check=False), jobs))
    wall = time.perf_counter() - start
    failed = [j for j, r in zip(jobs, results) if r.returncode != 0]
    return wall, len(jobs), failed


def presets(adamconf):
    return [line for line in run([adamconf, "presets"]).stdout.splitlines() if line and not line.startswith(" ")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--quick", action="store_true", help="shorter measurements (for a smoke test)")
    args = parser.parse_args()
    adamconf = os.path.join(args.build, "adamconf")
    seconds = 0.3 if args.quick else 2.0

    speeds = reference_speeds(args.build, 0.1 if args.quick else 0.3, 1 if args.quick else 5)
    bits = sorted({b for name, (_, b) in speeds.items() if name.startswith("mpfr_float") and "model" not in name})
    mp_python, backend_python = mpmath_speeds(bits, seconds, gmpy=False)
    mp_gmpy, backend_gmpy = mpmath_speeds(bits, seconds, gmpy=True)
    double = speeds["double"][0]

    print("Reference Adam step (pytorch-adamw, 64 elements), element-steps per second, one core (median of 5)")
    print(f"  {'number type':<30} {'bits':>5} {'element-steps/s':>16} {'slower than double':>19} "
          f"{'vs mpmath':>11} {'vs mpmath+gmpy':>15}")
    for name, (rate, b) in speeds.items():
        line = f"  {name:<30} {b:>5} {rate:>16,.0f} {double / rate:>18.1f}x"
        if b in mp_python and "model" not in name:
            line += f" {rate / mp_python[b]['element_steps_per_second']:>10.1f}x"
            if backend_gmpy == "gmpy":
                line += f" {rate / mp_gmpy[b]['element_steps_per_second']:>14.1f}x"
        print(line)
    for label, table, backend in (("mpmath (Debian python3-mpmath)", mp_python, backend_python),
                                  ("mpmath with gmpy2", mp_gmpy, backend_gmpy)):
        if label.endswith("gmpy2") and backend != "gmpy":
            print("  mpmath with gmpy2: python3-gmpy2 is not installed")
            continue
        for b in bits:
            rate = table[b]["element_steps_per_second"]
            print(f"  {label + ' [' + backend + ']':<30} {b:>5} {rate:>16,.0f} {double / rate:>18.1f}x")
    ours, theirs = same_trajectory(adamconf)
    print(f"  same trajectory: theta[0] after 20 steps, adamconf {ours}, mpmath {theirs}")

    default = speeds["mpfr_float 256"][0]
    vs_mpmath = default / mp_python[speeds["mpfr_float 256"][1]]["element_steps_per_second"]
    vs_double = double / default

    suite_one, result = timed([adamconf, "check", "--impl", "builtin:float", "--preset", "pytorch-adamw"])
    cases = 20 if args.quick else 100
    suite_wall, suite_jobs, suite_failed = property_suite(adamconf, cases)
    torch_wall, torch = timed([adamconf, "check", "--impl", f"{PYTHON} {ROOT}/adapters/torch/torch_adapter.py",
                               "--preset", "pytorch-adamw"])
    with tempfile.TemporaryDirectory() as tmp:
        regenerate_wall, _ = timed([adamconf, "golden", "regenerate", "--dir", tmp])
        verify_wall, _ = timed([adamconf, "golden", "verify", "--dir", tmp])

    print()
    print(f"Property suite (20 properties, 100 cases each unless --quick), {os.cpu_count()} cores")
    print(f"  one preset, one format (pytorch-adamw float32, builtin:float): {suite_one:6.1f} s")
    print(f"  every preset x float32/float64 ({suite_jobs} runs, {cases} cases, 2 processes): {suite_wall:6.1f} s"
          + (f"  FAILURES: {suite_failed}" if suite_failed else ""))
    print(f"  PyTorch adapter, pytorch-adamw float32 (out of process): {torch_wall:6.1f} s"
          + ("" if torch.returncode == 0 else "  (failed)"))
    print(f"Golden traces (183 files): regenerate {regenerate_wall:.1f} s, verify {verify_wall:.1f} s")

    print()
    print("Targets")
    targets = [
        (f"default reference (MPFR 257 bits) >= 50x faster than mpmath: {vs_mpmath:.1f}x", vs_mpmath >= 50),
        (f"default reference within 300x of plain double: {vs_double:.0f}x", vs_double <= 300),
        (f"full property suite under 60 s on 2 cores: {suite_wall:.1f} s", suite_wall < 60),
        (f"golden regeneration under 30 s: {regenerate_wall:.1f} s", regenerate_wall < 30),
    ]
    for text, met in targets:
        print(f"  {'met    ' if met else 'NOT MET'}  {text}")


if __name__ == "__main__":
    main()
