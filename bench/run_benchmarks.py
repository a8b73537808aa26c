#!/usr/bin/python3
"""adamconf's benchmark table: the reference Adam step per number type next to
mpmath and plain double, the property suite, and golden regeneration.

    bench/run_benchmarks.py [--build build] [--quick] [--readme README.md]

Runs build/bench/bench_reference (Google Benchmark), bench/mpmath_adam.py (at
the same precisions, with mpmath's pure-Python backend as Debian installs it,
and with gmpy2 when present), build/bench/bench_verify, and timed adamconf commands; prints the tables as
Markdown, with the date and the machine and the targets beside the figures,
and with --readme writes them between the README's benchmarks markers.
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
    """Every property x every preset x float32/float64 against builtin:float, on 2 processes."""
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


def machine():
    """One line naming this machine: CPU model and cores."""
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {os.uname().machine}"


def verify_speeds(build, quick):
    """bench/bench_verify's verified element-steps per CPU-second (1 thread, all threads) and its target lines."""
    args = [os.path.join(build, "bench", "bench_verify")] + (["65536", "3"] if quick else [])
    out = run(args).stdout
    rates = [float(x) for x in re.findall(r"(\d+) element-steps per CPU-second", out)]
    targets = [line.strip() for line in out.split("targets", 1)[-1].splitlines()[1:] if line.strip()]
    size = re.search(r"case: (.*)", out).group(1)
    return rates, targets, size


def audit_targets(build, quick):
    """bench/bench_audit's target lines (issue 26: `adamconf audit` beside a plain float64 Adam step) and its case."""
    out = run([os.path.join(build, "bench", "bench_audit")] + (["65536"] if quick else [])).stdout
    targets = [line.strip() for line in out.split("targets", 1)[-1].splitlines()[1:] if line.strip()]
    return targets, re.search(r"case: (.*)", out).group(1)


def count(adamconf, command):
    return len([line for line in run([adamconf, command]).stdout.splitlines() if line and not line.startswith(" ")])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--quick", action="store_true", help="shorter measurements (for a smoke test)")
    parser.add_argument("--readme", help="also write the table between this README's benchmarks markers")
    args = parser.parse_args()
    adamconf = os.path.join(args.build, "adamconf")
    seconds = 0.3 if args.quick else 2.0
    repetitions = 1 if args.quick else 5

    speeds = reference_speeds(args.build, 0.1 if args.quick else 0.3, repetitions)
    bits = sorted({b for name, (_, b) in speeds.items() if name.startswith("mpfr_float") and "model" not in name})
    mp_python, backend_python = mpmath_speeds(bits, seconds, gmpy=False)
    mp_gmpy, backend_gmpy = mpmath_speeds(bits, seconds, gmpy=True)
    double = speeds["double"][0]
    lines = [f"Measured {time.strftime('%Y-%m-%d')} on {machine()} by `scripts/bench.sh`"
             f"{' --quick' if args.quick else ''} (medians of {repetitions} runs).", ""]

    lines += ["Reference Adam step (pytorch-adamw, 64 elements), element-steps per second, one core:", "",
              "| number type | bits | element-steps/s | slower than double | vs mpmath | vs mpmath + gmpy2 |",
              "|---|---|---|---|---|---|"]
    for name, (rate, b) in speeds.items():
        row = f"| {name} | {b} | {rate:,.0f} | {double / rate:.1f}x |"
        if b in mp_python and "model" not in name:
            row += f" {rate / mp_python[b]['element_steps_per_second']:.1f}x |"
            row += f" {rate / mp_gmpy[b]['element_steps_per_second']:.1f}x |" if backend_gmpy == "gmpy" else " |"
        else:
            row += " | |"
        lines.append(row)
    for label, table, backend in (("mpmath (Debian python3-mpmath)", mp_python, backend_python),
                                  ("mpmath with gmpy2", mp_gmpy, backend_gmpy)):
        if label.endswith("gmpy2") and backend != "gmpy":
            continue
        for b in bits:
            rate = table[b]["element_steps_per_second"]
            lines.append(f"| {label} [{backend}] | {b} | {rate:,.0f} | {double / rate:.1f}x | | |")
    ours, theirs = same_trajectory(adamconf)
    lines += ["", f"The same trajectory: theta[0] after 20 steps is {ours} in adamconf, {theirs} in mpmath."]

    default = speeds["mpfr_float 256"][0]
    vs_mpmath = default / mp_python[speeds["mpfr_float 256"][1]]["element_steps_per_second"]
    vs_double = double / default
    rates, verify_targets, verify_case = verify_speeds(args.build, args.quick)
    audit_lines, audit_case = audit_targets(args.build, args.quick)

    properties = count(adamconf, "properties")
    suite_one, _ = timed([adamconf, "check", "--impl", "builtin:float", "--preset", "pytorch-adamw"])
    cases = 20 if args.quick else 100
    suite_wall, suite_jobs, suite_failed = property_suite(adamconf, cases)
    torch_wall, torch = timed([adamconf, "check", "--impl", f"{PYTHON} {ROOT}/adapters/torch/torch_adapter.py",
                               "--preset", "pytorch-adamw", "--skip-property", "large-tensors-agree-with-reference"])
    with tempfile.TemporaryDirectory() as tmp:
        regenerate_wall, _ = timed([adamconf, "golden", "regenerate", "--dir", tmp])
        golden_files = sum(len([f for f in files if f.endswith(".json")]) for _, _, files in os.walk(tmp)) - 1
        verify_wall, _ = timed([adamconf, "golden", "verify", "--dir", tmp])

    lines += ["", f"The verifier (`build/bench/bench_verify`, {verify_case}): "
              f"{rates[0]:,.0f} verified element-steps per CPU-second on 1 thread"
              + (f", {rates[1]:,.0f} on {os.cpu_count()}" if len(rates) > 1 else "") + ".", ""]
    lines += [f"Property suite ({properties} properties), {os.cpu_count()} cores:", "",
              "| run | time |", "|---|---|",
              f"| pytorch-adamw float32 against builtin:float, 100 cases | {suite_one:.1f} s |",
              f"| every preset x float32/float64 ({suite_jobs} runs, {cases} cases, 2 processes) | {suite_wall:.1f} s"
              + (f" (FAILURES: {suite_failed})" if suite_failed else "") + " |",
              f"| PyTorch adapter, pytorch-adamw float32, 100 cases, large tensors left out | {torch_wall:.1f} s"
              + ("" if torch.returncode == 0 else " (failed)") + " |",
              f"| golden regenerate, {golden_files} files | {regenerate_wall:.1f} s |",
              f"| golden verify | {verify_wall:.1f} s |", ""]
    targets = [
        (f"default reference (MPFR 257 bits) >= 50x faster than mpmath: {vs_mpmath:.1f}x", vs_mpmath >= 50),
        (f"default reference within 300x of plain double: {vs_double:.0f}x", vs_double <= 300),
        (f"full property suite under 60 s on 2 cores: {suite_wall:.1f} s", suite_wall < 60),
        (f"golden regeneration under 30 s: {regenerate_wall:.1f} s", regenerate_wall < 30),
    ]
    lines += ["| target | met |", "|---|---|"]
    lines += [f"| {text} | {'yes' if met else 'no'} |" for text, met in targets]
    # bench_verify prints each target as "<target>: <figure>, met" (or "NOT met").
    lines += [f"| bench_verify: {t.rsplit(', ', 1)[0]} | {'no' if t.endswith('NOT met') else 'yes'} |" for t in verify_targets]
    # bench_audit likewise (`adamconf audit`, issue 26; its case in the first line).
    lines += [f"| bench_audit ({audit_case.split(' (')[0]}): {t.rsplit(', ', 1)[0]} | {'no' if t.endswith('NOT met') else 'yes'} |"
              for t in audit_lines]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.readme:
        with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False) as f:
            f.write(report)
        try:
            run([PYTHON, os.path.join(ROOT, "scripts", "splice_readme.py"), "benchmarks", f.name, args.readme])
        finally:
            os.unlink(f.name)


if __name__ == "__main__":
    main()
