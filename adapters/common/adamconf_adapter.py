"""What every Python adapter of a real library shares: the adapter side of
adamconf's JSON Lines protocol (docs/protocol.md, adamconf-adapter/2).

An adapter module defines one class per optimizer it offers, with

    name                       the optimizer's name in the hello
    hello() -> dict            its entry in the hello's "optimizers" (see entry())
    run_case(request, case)    one case: {"theta": [...], "states": [...]} per step

and calls serve({name: optimizer}, "library 1.2.3"). A case of protocol /2 has
"tensors" (each {"theta0": [...], "group": g}), "groups" (each
{"hyperparameters": {...}}), "grads" (per step, per tensor, a list or None for
no gradient), optionally "lrs" (per step), "state" (per tensor, {"step", "m",
"v", "vmax", "compensation"}) and "record_states". The answer gives, per step,
theta per tensor and, when record_states, the state per tensor.
"""
import json
import sys
import traceback

PROTOCOL = "adamconf-adapter/2"
HYPERPARAMETERS = ("lr", "beta1", "beta2", "eps", "eps_root", "weight_decay")


def entry(name, presets, dtypes, hyperparameters, options=(), state=False, lr_schedule=True, fixed=None):
    """One optimizer's entry in the hello. options: flags it offers ("amsgrad",
    "maximize", "bias_correction") and numerics it states ("step_counter=float32",
    "precision=float32-opmath", "m_format=float32", ...); fixed: hyperparameters it
    holds at a value it cannot change ({"eps": "1e-8"})."""
    out = {"name": name, "presets": list(presets), "dtypes": list(dtypes),
           "hyperparameters": list(hyperparameters), "options": list(options), "state": bool(state),
           "lr_schedule": bool(lr_schedule)}
    if fixed:
        out["fixed"] = dict(fixed)
    return out


def group_of(case, k):
    """The hyperparameters (numbers) of tensor k's group."""
    return case["groups"][case["tensors"][k]["group"]]["hyperparameters"]


def lr_at(case, t, k):
    """The learning rate of step t for tensor k: the schedule's, else its group's."""
    return case["lrs"][t] if "lrs" in case else group_of(case, k)["lr"]


def zero_state(n, amsgrad):
    """The state of a tensor that never had a gradient (the implementation keeps none yet)."""
    return {"step": 0, "m": [0.0] * n, "v": [0.0] * n, "vmax": [0.0] * n if amsgrad else []}


def serve(optimizers, name):
    """Answers adamconf's requests on stdin until it closes them; an exception
    becomes the request's one-line {"error"}, and the adapter keeps serving."""
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["op"] == "hello":
                answer = {"protocol": PROTOCOL, "name": name, "optimizers": [o.hello() for o in optimizers.values()]}
            else:
                optimizer = optimizers[request["optimizer"]]
                answer = {"id": request["id"], "results": [optimizer.run_case(request, c) for c in request["cases"]]}
        except Exception as e:  # one line back to adamconf
            where = traceback.extract_tb(e.__traceback__)[-1]
            answer = {"id": request.get("id"), "error": f"{type(e).__name__}: {e} ({where.name}, line {where.lineno})"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def refuse_at_start(what, error):
    """A library that does not import or an argument it does not take: said in
    the hello's place, so that adamconf reports it in one line."""
    sys.stdout.write(json.dumps({"error": f"{what}: {type(error).__name__}: {error}"}) + "\n")
    sys.stdout.flush()
    return 1
