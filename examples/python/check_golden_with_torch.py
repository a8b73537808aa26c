#!/usr/bin/python3
"""Check torch.optim.Adam / AdamW against adamconf golden traces.

Reads golden files (golden/FORMAT.md), runs PyTorch on each file's gradient
stream from its theta0, and compares theta at every recorded step with the
exact value: |theta - exact| <= allowed, with exact and allowed read as exact
fractions. Prints one line per file; exits 1 if any value is out of bounds.

    check_golden_with_torch.py golden/traces/pytorch-adam [FILE_OR_DIR ...] [--foreach] [--results-dir DIR]

With --results-dir it also writes each run as an adamconf-results/1 file, for
`adamconf golden check FILE --results RESULTS`.
"""
import argparse
import json
import math
import os
import sys
from fractions import Fraction

import torch

OPTIMIZERS = {"pytorch-adam": torch.optim.Adam, "pytorch-adamw": torch.optim.AdamW}
DTYPES = {"float32": (torch.float32, 24, -126), "float64": (torch.float64, 53, -1022),
          "bfloat16": (torch.bfloat16, 8, -126)}


def skip_reason(golden):
    """Why PyTorch's CPU optimizers do not run a golden file, or None."""
    if golden["dtype"] not in DTYPES:
        return f"PyTorch 1.13 has no CPU {golden['dtype']} Adam"
    if golden["options"].get("state_formats"):
        return "torch.optim keeps its state in the parameter's dtype, not " + str(golden["options"]["state_formats"])
    if golden["options"].get("precision", "storage") != "storage":
        return "PyTorch's CPU kernels round every operation to the dtype (precision storage), not " + \
            golden["options"]["precision"]
    return None


def ulp(x: Fraction, precision: int, min_exponent: int) -> Fraction:
    """Spacing of the format at exact value x (the subnormal spacing below the normal range)."""
    exponent = min_exponent if x == 0 else max(math.frexp(float(x))[1] - 1, min_exponent)
    return Fraction(2) ** (exponent - precision + 1)


def run_torch(golden, foreach):
    h = golden["hyperparameters"]
    options = golden["options"]
    dtype, _, _ = DTYPES[golden["dtype"]]
    param = torch.tensor([float.fromhex(x) for x in golden["theta0"]], dtype=dtype, requires_grad=True)
    optimizer = OPTIMIZERS[golden["preset"]](
        [param], lr=float(h["lr"]), betas=(float(h["beta1"]), float(h["beta2"])), eps=float(h["eps"]),
        weight_decay=float(h["weight_decay"]), amsgrad=options["amsgrad"], maximize=options["maximize"],
        foreach=foreach)
    thetas = []
    for lr, grad in zip(golden["learning_rates"], golden["gradients"]):
        optimizer.param_groups[0]["lr"] = float(lr)
        param.grad = torch.tensor([float.fromhex(g) for g in grad], dtype=dtype)
        optimizer.step()
        thetas.append([float(x) for x in param.detach()])
    return thetas


def check(path, foreach, results_dir):
    with open(path) as f:
        golden = json.load(f)
    if golden.get("format") != "adamconf-golden/1":
        raise SystemExit(f"{path}: not an adamconf-golden/1 file")
    if golden["preset"] not in OPTIMIZERS:
        return None  # not a PyTorch preset
    why = skip_reason(golden)
    if why:
        print(f"skip {golden['name']}: {why}")
        return None
    _, precision, min_exponent = DTYPES[golden["dtype"]]
    thetas = run_torch(golden, foreach)
    worst_ulps, failures, compared = 0.0, [], 0
    for step in golden["trace"]:
        t = step["t"]
        for i, (exact_text, allowed_text) in enumerate(zip(step["theta"], step["theta_allowed"])):
            exact, allowed, x = Fraction(exact_text), Fraction(allowed_text), Fraction(thetas[t - 1][i])
            error = abs(x - exact)
            worst_ulps = max(worst_ulps, float(error / ulp(exact, precision, min_exponent)))
            compared += 1
            if error > allowed:
                failures.append(f"step {t} element {i}: {thetas[t - 1][i].hex()} vs exact {exact_text}, "
                                f"error {float(error):.3g} > allowed {allowed_text}")
    if results_dir:
        os.makedirs(results_dir, exist_ok=True)
        out = os.path.join(results_dir, golden["name"].replace("/", "--") + ".results.json")
        with open(out, "w") as f:
            json.dump({"format": "adamconf-results/1", "golden": golden["name"],
                       "theta": [[x.hex() for x in row] for row in thetas]}, f)
    return golden["name"], compared, worst_ulps, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="golden files, or directories of them")
    parser.add_argument("--foreach", action="store_true", help="use PyTorch's foreach (multi-tensor) path")
    parser.add_argument("--results-dir", help="also write adamconf-results/1 files here")
    args = parser.parse_args()
    paths = []
    for name in args.files:
        if os.path.isdir(name):
            paths += sorted(os.path.join(name, f) for f in os.listdir(name) if f.endswith(".json"))
        else:
            paths.append(name)
    bad = checked = 0
    for path in paths:
        outcome = check(path, args.foreach, args.results_dir)
        if outcome is None:
            continue
        name, compared, worst_ulps, failures = outcome
        checked += 1
        print(f"{'FAIL' if failures else 'pass'} {name}: {compared} values, max error {worst_ulps:.3g} ulps")
        for line in failures[:5]:
            print("    " + line)
        bad += bool(failures)
    path = "foreach" if args.foreach else "single-tensor"
    print(f"torch {torch.__version__} ({path}): {checked - bad} of {checked} golden files pass")
    return 1 if bad or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
