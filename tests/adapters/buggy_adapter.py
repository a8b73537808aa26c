#!/usr/bin/python3
"""The minimal adapter with a planted bug: v is not bias-corrected (v_hat = v).
adamconf check must fail it with a readable report."""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "adapters", "template"))
import minimal_adapter  # noqa: E402


def buggy_step(h, t, lr, g, m, v, theta):
    m = h["beta1"] * m + (1 - h["beta1"]) * g
    v = h["beta2"] * v + (1 - h["beta2"]) * g * g
    m_hat = m / (1 - h["beta1"] ** t)
    return m, v, theta - lr * m_hat / (math.sqrt(v) + h["eps"])  # BUG: v, not v / (1 - beta2^t)


if __name__ == "__main__":
    minimal_adapter.serve(buggy_step)
