#!/usr/bin/python3
"""A test adapter built on minimal_adapter.py (Kingma & Ba, float64):

    held_adapter.py fixed-eps    eps fixed at 1e-8, as dlib's: its hello lists "eps=1e-8"
    held_adapter.py bad-fixed    its hello lists "eps=abc"
    held_adapter.py refuse-state it claims state export and import, but answers {"error"} to every
                                 request that starts from a state or asks for the states
    held_adapter.py per-dtype    two optimizers claim kingma-ba, "adam" for float64 and "adam-float32"
                                 for float32 (as HeavyBall's adapter offers one per dtype); a request
                                 for "adam-float32" is answered {"error"}
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "adapters", "template"))
import minimal_adapter  # noqa: E402

mode = sys.argv[1]
hello = json.loads(json.dumps(minimal_adapter.HELLO))
optimizer = hello["optimizers"][0]
if mode == "fixed-eps":
    optimizer["hyperparameters"] = ["lr", "beta1", "beta2", "eps=1e-8"]
elif mode == "bad-fixed":
    optimizer["hyperparameters"] = ["lr", "beta1", "beta2", "eps=abc"]
elif mode == "refuse-state":
    optimizer["state"] = True
elif mode == "per-dtype":
    hello["optimizers"].append(dict(optimizer, name="adam-float32", dtypes=["float32"]))


def step(h, t, lr, g, m, v, theta):
    if mode == "fixed-eps":
        h = dict(h, eps=1e-8)  # whatever the request says: the implementation's constant
    return minimal_adapter.adam_step(h, t, lr, g, m, v, theta)


for line in sys.stdin:
    request = json.loads(line)
    if request["op"] == "hello":
        answer = hello
    elif mode == "per-dtype" and request.get("optimizer") != "adam":
        answer = {"id": request["id"], "error": f"asked for {request.get('optimizer')}, which is not the float64 one"}
    elif mode == "refuse-state" and any("state" in c or c.get("record_states") for c in request["cases"]):
        answer = {"id": request["id"], "error": "this optimizer cannot export or import a state"}
    else:
        answer = {"id": request["id"], "results": [minimal_adapter.run(c, step) for c in request["cases"]]}
    print(json.dumps(answer), flush=True)
