#!/usr/bin/python3
"""A minimal adamconf adapter (docs/protocol.md, adamconf-adapter/2) to copy:
Kingma & Ba's Algorithm 1 in plain Python floats (float64). Replace adam_step
with a call into your optimizer and say in HELLO what it offers; then run

    adamconf check --impl "python3 my_adapter.py" --preset kingma-ba --dtype float64
"""
import json
import math
import sys

HELLO = {"protocol": "adamconf-adapter/2", "name": "minimal Python Adam",
         "optimizers": [{"name": "adam", "presets": ["kingma-ba"], "dtypes": ["float64"],
                         "hyperparameters": ["lr", "beta1", "beta2", "eps"], "options": [], "state": False}]}


def adam_step(h, t, lr, g, m, v, theta):
    """One element, one step; returns the new m, v, theta."""
    m = h["beta1"] * m + (1 - h["beta1"]) * g
    v = h["beta2"] * v + (1 - h["beta2"]) * g * g
    m_hat, v_hat = m / (1 - h["beta1"] ** t), v / (1 - h["beta2"] ** t)
    return m, v, theta - lr * m_hat / (math.sqrt(v_hat) + h["eps"])


def run(case, step=adam_step):
    """One case. Each tensor is an optimizer of its own: its group's
    hyperparameters, its own moments and step count. A tensor whose gradient is
    null this step is left alone, its step count included."""
    tensors = case["tensors"]
    theta = [list(x["theta0"]) for x in tensors]
    m = [[0.0] * len(x) for x in theta]
    v = [[0.0] * len(x) for x in theta]
    steps = [0] * len(tensors)
    out = []
    for s, grads in enumerate(case["grads"]):
        for k, g in enumerate(grads):
            if g is None:
                continue
            h = case["groups"][tensors[k]["group"]]["hyperparameters"]
            lr = case["lrs"][s] if "lrs" in case else h["lr"]
            steps[k] += 1
            for i in range(len(g)):
                m[k][i], v[k][i], theta[k][i] = step(h, steps[k], lr, g[i], m[k][i], v[k][i], theta[k][i])
        out.append([list(x) for x in theta])
    return {"theta": out}


def serve(step=adam_step, hello=HELLO):
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "hello":
            answer = hello
        else:
            answer = {"id": request["id"], "results": [run(c, step) for c in request["cases"]]}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    serve()
