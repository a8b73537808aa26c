#!/usr/bin/python3
"""A minimal adamconf adapter (docs/protocol.md) to copy: Kingma & Ba's Algorithm 1
in plain Python floats (float64). Replace adam_step with a call into your
optimizer and say in HELLO what it offers; then run

    adamconf check --impl "python3 my_adapter.py" --preset kingma-ba --dtype float64
"""
import json
import math
import sys

HELLO = {"protocol": "adamconf-adapter/1", "name": "minimal Python Adam",
         "optimizers": [{"name": "adam", "presets": ["kingma-ba"], "dtypes": ["float64"],
                         "hyperparameters": ["lr", "beta1", "beta2", "eps"], "options": [], "state": False}]}


def adam_step(h, t, lr, g, m, v, theta):
    """One element, one step; returns the new m, v, theta."""
    m = h["beta1"] * m + (1 - h["beta1"]) * g
    v = h["beta2"] * v + (1 - h["beta2"]) * g * g
    m_hat, v_hat = m / (1 - h["beta1"] ** t), v / (1 - h["beta2"] ** t)
    return m, v, theta - lr * m_hat / (math.sqrt(v_hat) + h["eps"])


def run(h, case, step=adam_step):
    n = len(case["theta0"])
    theta, m, v, out = list(case["theta0"]), [0.0] * n, [0.0] * n, []
    for t, grad in enumerate(case["grads"], 1):
        lr = case["lrs"][t - 1] if "lrs" in case else h["lr"]
        for i in range(n):
            m[i], v[i], theta[i] = step(h, t, lr, grad[i], m[i], v[i], theta[i])
        out.append(list(theta))
    return {"theta": out}


def serve(step=adam_step, hello=HELLO):
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "hello":
            answer = hello
        else:
            answer = {"id": request["id"], "results": [run(request["hyperparameters"], c, step) for c in request["cases"]]}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    serve()
