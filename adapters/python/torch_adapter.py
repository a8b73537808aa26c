#!/usr/bin/python3
"""adamconf adapter for torch.optim.Adam and torch.optim.AdamW (docs/protocol.md).

    adamconf check --impl "/usr/bin/python3 adapters/python/torch_adapter.py" --preset pytorch-adamw
    adamconf check --impl "/usr/bin/python3 adapters/python/torch_adapter.py --foreach" --preset pytorch-adam

--foreach selects PyTorch's multi-tensor path (foreach=True); the default is
the single-tensor path.
"""
import argparse
import json
import sys

import torch

OPTIMIZERS = {"torch.optim.Adam": (torch.optim.Adam, "pytorch-adam"),
              "torch.optim.AdamW": (torch.optim.AdamW, "pytorch-adamw")}
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def hello(foreach):
    path = "foreach" if foreach else "single-tensor"
    return {"protocol": "adamconf-adapter/2", "name": f"torch {torch.__version__} ({path})",
            "optimizers": [{"name": name, "presets": [preset], "dtypes": list(DTYPES),
                            "hyperparameters": ["lr", "beta1", "beta2", "eps", "weight_decay"],
                            "options": ["amsgrad", "maximize"], "state": True, "lr_schedule": True}
                           for name, (_, preset) in OPTIMIZERS.items()]}


def run_case(request, case, foreach):
    """One case (adamconf-adapter/2): a torch parameter per tensor, a param_group
    per group, grad None where the case gives no gradient."""
    cls, _ = OPTIMIZERS[request["optimizer"]]
    dtype = DTYPES[request["dtype"]]
    options = request["options"]
    if not options.get("bias_correction", True):
        raise ValueError("torch.optim has no switch for bias correction")
    params = [torch.tensor(t["theta0"], dtype=dtype, requires_grad=True) for t in case["tensors"]]
    groups = []
    for g, group in enumerate(case["groups"]):
        h = group["hyperparameters"]
        members = [p for p, t in zip(params, case["tensors"]) if t["group"] == g]
        if members:
            groups.append({"params": members, "lr": h["lr"], "betas": (h["beta1"], h["beta2"]), "eps": h["eps"],
                           "weight_decay": h["weight_decay"]})
    optimizer = cls(groups, amsgrad=options["amsgrad"], maximize=options["maximize"], foreach=foreach)
    if "state" in case:
        for param, s in zip(params, case["state"]):
            state = {"step": torch.tensor(float(s["step"])), "exp_avg": torch.tensor(s["m"], dtype=dtype),
                     "exp_avg_sq": torch.tensor(s["v"], dtype=dtype)}
            if options["amsgrad"]:
                state["max_exp_avg_sq"] = torch.tensor(s["vmax"], dtype=dtype)
            optimizer.state[param] = state
    thetas, states = [], []
    for t, grads in enumerate(case["grads"]):
        if "lrs" in case:
            for group in optimizer.param_groups:
                group["lr"] = case["lrs"][t]
        for param, grad in zip(params, grads):
            param.grad = None if grad is None else torch.tensor(grad, dtype=dtype)
        optimizer.step()
        thetas.append([p.detach().tolist() for p in params])
        if case.get("record_states"):
            states.append([tensor_state(optimizer, p, options, t) for p in params])
    return {"theta": thetas, "states": states}


def tensor_state(optimizer, param, options, t):
    s = optimizer.state.get(param)
    if not s:  # never had a gradient: torch has no state for it yet
        n = param.numel()
        return {"step": 0, "m": [0.0] * n, "v": [0.0] * n, "vmax": [0.0] * n if options["amsgrad"] else []}
    return {"step": int(s["step"].item()), "m": s["exp_avg"].tolist(), "v": s["exp_avg_sq"].tolist(),
            "vmax": s["max_exp_avg_sq"].tolist() if options["amsgrad"] else []}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--foreach", action="store_true", help="use the multi-tensor (foreach) path")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["op"] == "hello":
                answer = hello(args.foreach)
            else:
                answer = {"id": request["id"],
                          "results": [run_case(request, case, args.foreach) for case in request["cases"]]}
        except Exception as e:  # one line back to adamconf, and keep serving
            answer = {"id": request.get("id"), "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
