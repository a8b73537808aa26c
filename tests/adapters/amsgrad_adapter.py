#!/usr/bin/python3
"""PyTorch's Adam (L2 decay, AMSGrad over raw v, maximize) in plain Python
floats, offering amsgrad and maximize, with an optional planted AMSGrad bug:

    amsgrad_adapter.py [--bug no-max|max-of-g2]

no-max: the maximum is not kept (v is used as it is); max-of-g2: the maximum is
taken over g^2 instead of v. A plain `adamconf check --preset pytorch-adam`
(no --amsgrad) must fail both, and pass the adapter without --bug.
"""
import argparse
import json
import math
import sys

HELLO = {"protocol": "adamconf-adapter/1", "name": "Python PyTorch-style Adam",
         "optimizers": [{"name": "adam", "presets": ["pytorch-adam"], "dtypes": ["float64"],
                         "hyperparameters": ["lr", "beta1", "beta2", "eps", "weight_decay"],
                         "options": ["amsgrad", "maximize"], "state": False}]}


def run(h, options, case, bug):
    n = len(case["theta0"])
    theta, m, v, vmax, out = list(case["theta0"]), [0.0] * n, [0.0] * n, [0.0] * n, []
    b1, b2, eps, wd = h["beta1"], h["beta2"], h["eps"], h["weight_decay"]
    for t, grad in enumerate(case["grads"], 1):
        lr = case["lrs"][t - 1] if "lrs" in case else h["lr"]
        bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
        for i in range(n):
            g = -grad[i] if options["maximize"] else grad[i]
            g = g + wd * theta[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            second = v[i]
            if options["amsgrad"]:
                if bug == "no-max":
                    vmax[i] = v[i]
                elif bug == "max-of-g2":
                    vmax[i] = max(vmax[i], g * g)
                else:
                    vmax[i] = max(vmax[i], v[i])
                second = vmax[i]
            denom = math.sqrt(second) / math.sqrt(bc2) + eps
            theta[i] = theta[i] - (lr / bc1) * (m[i] / denom)
        out.append(list(theta))
    return {"theta": out}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", default="")
    bug = parser.parse_args().bug
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "hello":
            answer = HELLO
        else:
            answer = {"id": request["id"], "results": [run(request["hyperparameters"], request["options"], c, bug)
                                                       for c in request["cases"]]}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
