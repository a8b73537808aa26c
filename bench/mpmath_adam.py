#!/usr/bin/python3
"""The baseline a user would otherwise reach for: the same Adam trajectory as
bench/bench_reference.cpp (pytorch-adamw, 64 elements, the same gradient
stream) in Python's mpmath at a given precision. Prints JSON: element-steps per
second per precision, and theta[0] after the run to show it is the same
trajectory.

    mpmath_adam.py --bits 131 257 513 [--seconds 2]
"""
import argparse
import json
import time

import mpmath
from mpmath import mp, mpf

ELEMENTS, STREAM_STEPS = 64, 256


def run(bits, seconds):
    mp.prec = bits
    lr, b1, b2, eps, wd = mpf("0.001"), mpf("0.9"), mpf("0.999"), mpf("1e-8"), mpf("0.01")
    grads = [[mpf((37 * i + 11 * t) % 101 - 50) / 64 for i in range(ELEMENTS)] for t in range(STREAM_STEPS)]
    theta = [mpf(i - 32) / 16 for i in range(ELEMENTS)]
    m, v = [mpf(0)] * ELEMENTS, [mpf(0)] * ELEMENTS
    c1, c2 = 1 - b1, 1 - b2
    steps, start = 0, time.perf_counter()
    while True:
        t = steps + 1
        bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
        g_t = grads[steps % STREAM_STEPS]
        for i in range(ELEMENTS):
            theta[i] = theta[i] * (1 - lr * wd)  # PyTorch AdamW: decoupled decay first
            m[i] = b1 * m[i] + c1 * g_t[i]
            v[i] = b2 * v[i] + c2 * g_t[i] * g_t[i]
            theta[i] = theta[i] - lr * (m[i] / bc1) / (mpmath.sqrt(v[i] / bc2) + eps)
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and steps >= 16:
            break
    return {"bits": bits, "steps": steps, "element_steps_per_second": steps * ELEMENTS / elapsed,
            "theta0_after": mpmath.nstr(theta[0], 20), "backend": mpmath.libmp.BACKEND}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, nargs="+", default=[131, 257, 513])
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    print(json.dumps({"mpmath": mpmath.__version__, "runs": [run(b, args.seconds) for b in args.bits]}))


if __name__ == "__main__":
    main()
