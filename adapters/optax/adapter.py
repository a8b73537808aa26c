#!/usr/bin/env python3
"""adamconf adapter for Optax's adam, adamw and amsgrad on JAX's CPU backend
(docs/protocol.md, adamconf-adapter/2).

    adamconf check --impl ".venv/bin/python adapters/optax/adapter.py" --preset optax-adamw
    adamconf check --impl ".venv/bin/python adapters/optax/adapter.py --x64" --preset optax-adam --dtype float64
    adamconf check --impl ".venv/bin/python adapters/optax/adapter.py --jit" --preset optax-adam

Each tensor is one parameter array with an Optax state of its own (the update
is elementwise, so a pytree of them computes the same numbers), so that a
tensor without a gradient is left alone with its count, as the protocol asks.
The update runs op by op (eager) by default, as Optax's Python code reads;
--jit compiles `update` and `apply_updates` with jax.jit, as training loops
do (XLA then contracts a*b + c into a fused multiply-add). XLA computes on the
CPU with subnormals flushed to zero, which the hello states. float64 needs JAX's
64-bit mode: --x64 (jax_enable_x64, which also makes Optax's bias correction
1 - b**count a float64 before it is cast to the parameters' dtype).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from adamconf_adapter import entry, group_of, lr_at, refuse_at_start, serve  # noqa: E402


class OptaxOptimizer:
    """One Optax alias (adam, adamw or amsgrad), as adamconf drives it."""

    def __init__(self, name, preset, alias, decay, jax, jnp, optax, dtypes, jit, mu_dtype=None):
        self.name, self.preset, self.alias, self.decay = name, preset, alias, decay
        self.jax, self.jnp, self.optax, self.dtypes, self.jit = jax, jnp, optax, dtypes, jit
        # mu_dtype (adam, adamw): the first moment kept in a format of its own (state format m)
        self.mu_dtype = mu_dtype
        self.compiled = {}

    def hello(self):
        hyper = ["lr", "beta1", "beta2", "eps", "eps_root"] + (["weight_decay"] if self.decay else [])
        # XLA runs every CPU computation with subnormals flushed to zero (flush-to-zero and
        # denormals-are-zero: tsl::port::ScopedFlushDenormal in xla/service/cpu).
        # JAX computes decay * mu in mu_dtype (a weak-typed Python float takes the array's dtype), then adds
        # (1 - decay) g in the parameters' dtype: m_decay=in-format
        formats = [f"m_format={self.mu_dtype}", "m_decay=in-format"] if self.mu_dtype else []
        return entry(self.name, [self.preset], list(self.dtypes), hyper,
                     options=["subnormals=flushed", "step_counter=int32"] + formats, state=True)

    def transform(self, h, lr):
        kwargs = dict(b1=h["beta1"], b2=h["beta2"], eps=h["eps"], eps_root=h["eps_root"])
        if self.decay:
            kwargs["weight_decay"] = h["weight_decay"]
        if self.mu_dtype:
            kwargs["mu_dtype"] = getattr(self.jnp, self.mu_dtype)
        return self.alias(lr, **kwargs)

    def update(self, tx, key):
        """tx.update then apply_updates, compiled once per (tensor key, hyperparameters) under --jit."""
        def step(grad, state, params):
            updates, state = tx.update(grad, state, params)
            return self.optax.apply_updates(params, updates), state
        if not self.jit:
            return step
        if key not in self.compiled:
            self.compiled[key] = self.jax.jit(step)
        return self.compiled[key]

    def adam_state(self, state):
        """The ScaleByAdamState (or ScaleByAmsgradState) inside a chain's state."""
        return next(s for s in state if hasattr(s, "mu") and hasattr(s, "nu"))

    def with_adam_state(self, state, **fields):
        return tuple(s._replace(**fields) if hasattr(s, "mu") and hasattr(s, "nu") else s for s in state)

    def run_case(self, request, case):
        if not request["options"].get("bias_correction", True):
            raise ValueError(f"{self.name}: this adapter does not switch bias correction off")
        jnp = self.jnp
        dtype = self.dtypes[request["dtype"]]
        current_lr = [None]
        params, states, updates = [], [], []
        for k, tensor in enumerate(case["tensors"]):
            h = group_of(case, k)
            # A per-step learning rate through a schedule, read as a Python float: the same
            # arithmetic as a constant lr (Optax multiplies the update by it).
            lr = (lambda count: current_lr[0]) if "lrs" in case else h["lr"]
            tx = self.transform(h, lr)
            p = jnp.asarray(tensor["theta0"], dtype=dtype)
            s = tx.init(p)
            if "state" in case:
                given = case["state"][k]
                mu_dtype = getattr(jnp, self.mu_dtype) if self.mu_dtype else dtype
                fields = {"count": jnp.asarray(given["step"], dtype=jnp.int32),
                          "mu": jnp.asarray(given["m"], dtype=mu_dtype), "nu": jnp.asarray(given["v"], dtype=dtype)}
                if hasattr(self.adam_state(s), "nu_max"):
                    fields["nu_max"] = jnp.asarray(given["vmax"], dtype=dtype)
                s = self.with_adam_state(s, **fields)
            params.append(p)
            states.append(s)
            key = (len(tensor["theta0"]), request["dtype"], tuple(sorted(h.items())), "lrs" in case)
            updates.append(self.update(tx, key) if "lrs" not in case else self.update(tx, None))
        thetas, recorded = [], []
        for t, grads in enumerate(case["grads"]):
            for k, grad in enumerate(grads):
                if grad is None:  # no gradient: the tensor and its state are left alone
                    continue
                current_lr[0] = lr_at(case, t, k)
                params[k], states[k] = updates[k](jnp.asarray(grad, dtype=dtype), states[k], params[k])
            thetas.append([self.values(p) for p in params])
            if case.get("record_states"):
                recorded.append([self.state_of(s) for s in states])
        return {"theta": thetas, "states": recorded}

    def values(self, x):
        return [float(v) for v in self.jnp.asarray(x, dtype=self.jnp.float64 if self.jax.config.jax_enable_x64
                                                    else self.jnp.float32).tolist()]

    def state_of(self, state):
        s = self.adam_state(state)
        return {"step": int(s.count), "m": self.values(s.mu), "v": self.values(s.nu),
                "vmax": self.values(s.nu_max) if hasattr(s, "nu_max") else []}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--x64", action="store_true", help="JAX's 64-bit mode: float64 parameters")
    parser.add_argument("--jit", action="store_true", help="compile each update with jax.jit")
    parser.add_argument("--mu-dtype", choices=["bfloat16", "float16", "float32"],
                        help="adam's and adamw's mu_dtype: the first moment kept in this format (the hello states m_format)")
    args = parser.parse_args()
    try:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        import jax
        jax.config.update("jax_enable_x64", args.x64)
        import jax.numpy as jnp
        import optax
    except Exception as e:
        return refuse_at_start("optax", e)
    dtypes = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}
    if args.x64:
        dtypes["float64"] = jnp.float64
    optimizers = [OptaxOptimizer("optax.adam", "optax-adam", optax.adam, False, jax, jnp, optax, dtypes, args.jit, args.mu_dtype),
                  OptaxOptimizer("optax.adamw", "optax-adamw", optax.adamw, True, jax, jnp, optax, dtypes, args.jit, args.mu_dtype)]
    if not args.mu_dtype:  # amsgrad takes no mu_dtype
        optimizers.append(OptaxOptimizer("optax.amsgrad", "optax-amsgrad", optax.amsgrad, False, jax, jnp, optax, dtypes,
                                         args.jit))
    mode = ("jit" if args.jit else "eager") + (", x64" if args.x64 else "") + (
        f", mu_dtype={args.mu_dtype}" if args.mu_dtype else "")
    serve({o.name: o for o in optimizers}, f"optax {optax.__version__}, jax {jax.__version__} ({mode}, cpu)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
