#!/usr/bin/python3
"""adamconf adapter (docs/protocol.md, adamconf-adapter/2) for scikit-learn's
AdamOptimizer (sklearn/neural_network/_stochastic_optimizers.py), the optimizer
MLPClassifier and MLPRegressor use with solver="adam":

    adamconf check --impl "python3 adapters/sklearn/sklearn_adapter.py" --preset sklearn-adam

Each tensor gets an AdamOptimizer of its own (its own t, ms and vs, as adamconf
keeps a step count per tensor); a step is sklearn's update_params, which adds
_get_updates' -lr_t m/(sqrt(v) + eps) to the parameter in place. weight_decay
is the MLP's alpha: the MLP adds alpha * coef to the gradient before the
optimizer sees it (_backprop, then divides both by n_samples; here n_samples
is 1), and this adapter does the same. A learning rate per step is set as
learning_rate_init, which _get_updates reads every step. The state (t, ms, vs)
is the optimizer's own attributes, read and written as they are.
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer

DTYPES = {"float32": np.float32, "float64": np.float64}
HELLO = {"protocol": "adamconf-adapter/2", "name": f"scikit-learn {sklearn.__version__} AdamOptimizer",
         "optimizers": [{"name": "sklearn.AdamOptimizer", "presets": ["sklearn-adam"],
                         "dtypes": ["float32", "float64"],
                         "hyperparameters": ["lr", "beta1", "beta2", "eps", "weight_decay"],
                         "options": [], "state": True, "lr_schedule": True}]}


def run_case(request, case):
    dtype = DTYPES[request["dtype"]]
    if request["options"].get("amsgrad") or request["options"].get("maximize") \
            or not request["options"].get("bias_correction", True):
        raise ValueError("sklearn's AdamOptimizer has no amsgrad, maximize or bias-correction switch")
    params = [np.array(t["theta0"], dtype=dtype) for t in case["tensors"]]
    hypers = [case["groups"][t["group"]]["hyperparameters"] for t in case["tensors"]]
    optimizers = [AdamOptimizer([p], learning_rate_init=h["lr"], beta_1=h["beta1"], beta_2=h["beta2"],
                                epsilon=h["eps"]) for p, h in zip(params, hypers)]
    for k, s in enumerate(case.get("state", [])):
        optimizers[k].t = int(s["step"])
        optimizers[k].ms = [np.array(s["m"], dtype=dtype)]
        optimizers[k].vs = [np.array(s["v"], dtype=dtype)]
    thetas, states = [], []
    for t, grads in enumerate(case["grads"]):
        for k, grad in enumerate(grads):
            if grad is None:  # no gradient: the tensor, its moments and its t stay as they are
                continue
            g = np.array(grad, dtype=dtype)
            if hypers[k]["weight_decay"] != 0:  # the MLP's L2 term, alpha * coef (sklearn _backprop)
                g = g + hypers[k]["weight_decay"] * params[k]
            if "lrs" in case:
                optimizers[k].learning_rate_init = case["lrs"][t]
            optimizers[k].update_params([params[k]], [g])
        thetas.append([p.tolist() for p in params])
        if case.get("record_states"):
            states.append([{"step": o.t, "m": o.ms[0].tolist(), "v": o.vs[0].tolist(), "vmax": []} for o in optimizers])
    return {"theta": thetas, "states": states}


def serve():
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["op"] == "hello":
                answer = HELLO
            else:
                answer = {"id": request["id"], "results": [run_case(request, c) for c in request["cases"]]}
        except Exception as e:  # one line back to adamconf, and keep serving
            answer = {"id": request.get("id"), "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
