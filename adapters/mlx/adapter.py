#!/usr/bin/env python3
"""adamconf adapter for MLX's mlx.optimizers.Adam and AdamW on the CPU
(docs/protocol.md, adamconf-adapter/2).

    adamconf check --impl ".venv/bin/python adapters/mlx/adapter.py" --preset mlx-adam
    adamconf check --impl ".venv/bin/python adapters/mlx/adapter.py" --preset mlx-adamw --dtype bfloat16
    adamconf check --impl ".venv/bin/python adapters/mlx/adapter.py" --preset mlx-adam-bias-corrected
    adamconf check --impl ".venv/bin/python adapters/mlx/adapter.py" --preset mlx-adamw-bias-corrected --dtype float64
    adamconf identify --impl ".venv/bin/python adapters/mlx/adapter.py"

Four optimizers, one per preset: Adam and AdamW with MLX's default
bias_correction=False (mlx-adam, mlx-adamw) and with bias_correction=True
(mlx-adam-bias-corrected, mlx-adamw-bias-corrected). The arithmetic is MLX's
own (mlx/optimizers/optimizers.py, Adam.apply_single and AdamW.apply_single),
run eagerly on mx.cpu, one operation at a time, exactly as a user's
`optimizer.apply_gradients(grads, params)` runs it:

- the learning rate is what the constructor and the `learning_rate` setter
  make of a Python float, `mx.array(lr)` (a float32 array), cast to the
  gradient's dtype in every step; a schedule (`lrs`) is set through
  `optimizer.learning_rate = lr_t` before each step;
- beta1, beta2, eps and weight_decay are Python floats, which MLX's weak
  scalars turn into the array's dtype (1 - beta is formed in double first);
- with bias correction, beta ** step is a float32 power of the uint64 step.

bfloat16 and float16 are computed op by op in the dtype (MLX's CPU kernels
round every result to it): adamconf's default "storage" precision, so the hello
states none. MLX on the CPU keeps subnormals (1e-40 * 1.0 is 1e-40 in float32),
so the hello does not state subnormals=flushed.

MLX keeps one step counter per optimizer (state["step"]), shared by every
parameter it updates, and has no parameter groups. As the protocol asks for
PyTorch's per-tensor counts, each tensor gets an optimizer of its own (its
group's hyperparameters, its own m, v and step), and a tensor without a
gradient is not passed to it that step. State is imported and exported through
`optimizer.state` ({"step": uint64, "learning_rate": float32, "w": {"m", "v"}}).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from adamconf_adapter import entry, group_of, lr_at, refuse_at_start, serve  # noqa: E402


class MlxOptimizer:
    """One of mlx.optimizers.Adam / AdamW with a fixed bias_correction, as adamconf drives it."""

    def __init__(self, name, preset, cls, decay, bias_correction, mx, np):
        self.name, self.preset, self.cls, self.decay, self.bias_correction = name, preset, cls, decay, bias_correction
        self.mx, self.np = mx, np
        self.dtypes = {"float32": mx.float32, "float64": mx.float64, "bfloat16": mx.bfloat16, "float16": mx.float16}

    def hello(self):
        hyper = ["lr", "beta1", "beta2", "eps"] + (["weight_decay"] if self.decay else [])
        # lr is an mx.array (float32) cast to the gradient's dtype, beta ** step a float32 power
        return entry(self.name, [self.preset], list(self.dtypes), hyper, options=["scalars=float32"], state=True)

    def make(self, h):
        kwargs = dict(learning_rate=h["lr"], betas=[h["beta1"], h["beta2"]], eps=h["eps"],
                      bias_correction=self.bias_correction)
        if self.decay:
            kwargs["weight_decay"] = h["weight_decay"]
        return self.cls(**kwargs)

    def run_case(self, request, case):
        mx = self.mx
        if request["options"].get("amsgrad") or request["options"].get("maximize"):
            raise ValueError(f"{self.name}: MLX's Adam has no amsgrad or maximize")
        dtype = self.dtypes[request["dtype"]]
        optimizers, params = [], []
        for k, tensor in enumerate(case["tensors"]):
            h = group_of(case, k)
            if h.get("eps_root", 0.0) != 0.0:
                raise ValueError(f"{self.name}: MLX's Adam has no eps_root")
            opt = self.make(h)
            p = mx.array(tensor["theta0"], dtype=dtype)
            if "state" in case:
                given = case["state"][k]
                # Optimizer.state's setter: init() then keeps the given m and v, and the step.
                opt.state = {"step": mx.array(given["step"], mx.uint64), "learning_rate": mx.array(h["lr"]),
                             "w": {"m": mx.array(given["m"], dtype=dtype), "v": mx.array(given["v"], dtype=dtype)}}
            else:
                opt.init({"w": p})
            optimizers.append(opt)
            params.append(p)
        thetas, recorded = [], []
        for t, grads in enumerate(case["grads"]):
            for k, grad in enumerate(grads):
                if grad is None:  # no gradient: the tensor, its moments and its step are left alone
                    continue
                opt = optimizers[k]
                if "lrs" in case:
                    opt.learning_rate = lr_at(case, t, k)  # mx.array(lr_t): float32, as a user's setter call
                out = opt.apply_gradients({"w": mx.array(grad, dtype=dtype)}, {"w": params[k]})
                params[k] = out["w"]
                mx.eval(params[k], opt.state)
            thetas.append([self.values(p) for p in params])
            if case.get("record_states"):
                recorded.append([self.state_of(opt) for opt in optimizers])
        return {"theta": thetas, "states": recorded}

    def values(self, x):
        mx = self.mx
        if x.dtype != mx.float64:
            x = x.astype(mx.float32)  # exact for float32, bfloat16 and float16
        return [float(v) for v in self.np.array(x).reshape(-1).tolist()]

    def state_of(self, opt):
        s = opt.state
        return {"step": int(s["step"].item()), "m": self.values(s["w"]["m"]), "v": self.values(s["w"]["v"]), "vmax": []}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    try:
        import mlx.core as mx
        import mlx.optimizers as optim
        import numpy as np
        mx.set_default_device(mx.cpu)
    except Exception as e:
        return refuse_at_start("mlx", e)
    optimizers = [
        MlxOptimizer("mlx.optimizers.Adam", "mlx-adam", optim.Adam, False, False, mx, np),
        MlxOptimizer("mlx.optimizers.AdamW", "mlx-adamw", optim.AdamW, True, False, mx, np),
        MlxOptimizer("mlx.optimizers.Adam(bias_correction=True)", "mlx-adam-bias-corrected", optim.Adam, False, True, mx, np),
        MlxOptimizer("mlx.optimizers.AdamW(bias_correction=True)", "mlx-adamw-bias-corrected", optim.AdamW, True, True,
                     mx, np)]
    serve({o.name: o for o in optimizers}, f"mlx {mx.__version__} (eager, {mx.default_device()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
