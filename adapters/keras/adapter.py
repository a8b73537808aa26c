#!/usr/bin/env python3
"""adamconf adapter for Keras 3's keras.optimizers.Adam and AdamW on one backend
(jax, torch or tensorflow; docs/protocol.md, adamconf-adapter/2).

    adamconf check --impl ".venv/bin/python adapters/keras/adapter.py --backend jax" --preset keras-adamw
    adamconf check --impl ".venv/bin/python adapters/keras/adapter.py --backend jax --x64" --preset keras-adam --dtype float64
    adamconf check --impl ".venv/bin/python adapters/keras/adapter.py --backend torch" --preset keras-adam --dtype bfloat16
    adamconf check --impl ".venv/bin/python adapters/keras/adapter.py --backend tensorflow" --preset keras-adamw --amsgrad
    adamconf identify --impl ".venv/bin/python adapters/keras/adapter.py --backend torch"

One backend per process: KERAS_BACKEND is set from --backend before Keras is
imported (importing tensorflow and then triton in one process crashes in LLVM).
Every parameter tensor is a keras.Variable with an optimizer of its own, as a
user would build it (Adam(learning_rate=..., beta_1=..., beta_2=..., epsilon=...,
amsgrad=..., weight_decay=...)), stepped by optimizer.apply([grad], [variable])
in eager mode, so that a tensor without a gradient is left alone with its own
step count (Keras counts `iterations` per optimizer, and counts a step even for
a variable whose gradient is None). A per-step learning rate is assigned to
`optimizer.learning_rate` before the step, as a user's callback does. The
optimizers are built once per (tensor size, dtype, class, amsgrad) and reused:
a case assigns the variable, `iterations`, the moments and the hyperparameter
attributes, which is the state Keras's own save/load_own_variables restores.

Keras's learning rate is a Variable of keras.backend.floatx() (float32 unless
--floatx says otherwise), so a float64 variable is stepped with a float32
learning rate; --floatx float64 is what a float64 user sets
(keras.backend.set_floatx). JAX computes float32 unless --x64 (jax_enable_x64),
which float64 needs. XLA (jax) and TensorFlow flush subnormals to zero on the
CPU, which the hello states; the torch backend computes with gradual underflow.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from adamconf_adapter import entry, group_of, lr_at, refuse_at_start, serve  # noqa: E402


class KerasOptimizer:
    """keras.optimizers.Adam or AdamW, as adamconf drives it."""

    def __init__(self, name, preset, cls, adamw, env):
        self.name, self.preset, self.cls, self.adamw = name, preset, cls, adamw
        self.keras, self.np, self.backend, self.dtypes, self.flushes, self.floatx = env
        self.pool = {}  # (size, dtype, amsgrad) -> [(variable, optimizer), ...]

    def hello(self):
        # Keras holds the learning rate in a float32 variable (floatx), cast to the
        # variable's dtype each step: a float64 step moves by float32(lr).
        # `iterations` is a variable of dtype "int": int32 on the jax and torch backends
        # (a state at 2^31 steps does not load), int64 on tensorflow.
        options = ["amsgrad"] + (["scalars=float32"] if self.floatx == "float32" else []) + \
            (["subnormals=flushed"] if self.flushes else []) + \
            (["step_counter=int32"] if self.keras.backend.backend() in ("jax", "torch") else [])
        return entry(self.name, [self.preset], list(self.dtypes), ["lr", "beta1", "beta2", "eps", "weight_decay"],
                     options=options, state=True)

    def slot(self, size, dtype, amsgrad, index):
        """The index-th (variable, optimizer) pair of this size, dtype and amsgrad, built on first use."""
        keras = self.keras
        pairs = self.pool.setdefault((size, dtype, amsgrad), [])
        while len(pairs) <= index:
            variable = keras.Variable(self.np.zeros((size,), dtype="float32"), dtype=dtype, trainable=True,
                                      name=f"theta{len(pairs)}")
            kwargs = dict(learning_rate=0.001, amsgrad=amsgrad)
            if self.adamw:
                kwargs["weight_decay"] = 0.004
            optimizer = self.cls(**kwargs)
            optimizer.build([variable])
            pairs.append((variable, optimizer))
        return pairs[index]

    def tensor(self, values, dtype):
        np = self.np
        host = np.asarray(values, dtype=np.float64 if dtype == "float64" else np.float32)
        return self.keras.ops.cast(self.keras.ops.convert_to_tensor(host), dtype)

    def run_case(self, request, case):
        options = request["options"]
        if not options.get("bias_correction", True):
            raise ValueError(f"{self.name}: Keras has no switch for bias correction")
        if options.get("maximize", False):
            raise ValueError(f"{self.name}: Keras has no maximize")
        amsgrad = bool(options.get("amsgrad", False))
        dtype = request["dtype"]
        if dtype not in self.dtypes:
            raise ValueError(f"{self.name}: dtype {dtype} is not offered on this backend")
        used, slots = {}, []
        for k, tensor in enumerate(case["tensors"]):
            h = group_of(case, k)
            size = len(tensor["theta0"])
            index = used.get(size, 0)
            used[size] = index + 1
            variable, optimizer = self.slot(size, dtype, amsgrad, index)
            optimizer.beta_1 = h["beta1"]
            optimizer.beta_2 = h["beta2"]
            optimizer.epsilon = h["eps"]
            wd = h.get("weight_decay", 0.0)
            # Adam's weight_decay is None unless a user asks for one; AdamW's is always a float.
            optimizer.weight_decay = wd if (self.adamw or wd != 0.0) else None
            optimizer.learning_rate = h["lr"]
            variable.assign(self.tensor(tensor["theta0"], dtype))
            given = case["state"][k] if "state" in case else None
            optimizer.iterations.assign(given["step"] if given else 0)
            index_in = optimizer._get_variable_index(variable)
            moments = [optimizer._momentums[index_in], optimizer._velocities[index_in]]
            keys = ["m", "v"]
            if amsgrad:
                moments.append(optimizer._velocity_hats[index_in])
                keys.append("vmax")
            for moment, key in zip(moments, keys):
                moment.assign(self.tensor(given[key] if given else [0.0] * size, dtype))
            slots.append((variable, optimizer, moments))
        thetas, recorded = [], []
        for t, grads in enumerate(case["grads"]):
            for k, grad in enumerate(grads):
                if grad is None:  # no gradient: the tensor and its optimizer are left alone
                    continue
                variable, optimizer, _ = slots[k]
                if "lrs" in case:
                    optimizer.learning_rate = lr_at(case, t, k)
                optimizer.apply([self.tensor(grad, dtype)], [variable])
            thetas.append([self.values(variable) for variable, _, _ in slots])
            if case.get("record_states"):
                recorded.append([self.state_of(optimizer, moments, amsgrad) for _, optimizer, moments in slots])
        return {"theta": thetas, "states": recorded}

    def values(self, x):
        keras = self.keras
        if x.dtype in ("bfloat16", "float16"):
            x = keras.ops.cast(x, "float32")
        return [float(v) for v in keras.ops.convert_to_numpy(x).astype(self.np.float64).tolist()]

    def state_of(self, optimizer, moments, amsgrad):
        step = int(self.keras.ops.convert_to_numpy(optimizer.iterations))
        return {"step": step, "m": self.values(moments[0]), "v": self.values(moments[1]),
                "vmax": self.values(moments[2]) if amsgrad else []}


def protocol_stdout():
    """Keeps fd 1 for the protocol alone: C++ logging and stray prints of the
    backends go to stderr, the answers to a duplicate of the original stdout."""
    protocol = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(protocol, "w", buffering=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["jax", "torch", "tensorflow"], required=True)
    parser.add_argument("--x64", action="store_true", help="jax: 64-bit mode (jax_enable_x64), which float64 needs")
    parser.add_argument("--floatx", choices=["float32", "float64"], default="float32",
                        help="keras.backend.floatx(): the dtype of the learning-rate variable")
    args = parser.parse_args()
    protocol_stdout()
    os.environ["KERAS_BACKEND"] = args.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    if args.backend == "jax" and args.x64:
        os.environ["JAX_ENABLE_X64"] = "1"
    try:
        import numpy as np
        import keras
        keras.backend.set_floatx(args.floatx)
        if args.backend == "jax":
            import jax
            jax.config.update("jax_enable_x64", args.x64)
            version = f"jax {jax.__version__}" + (", x64" if args.x64 else "")
        elif args.backend == "torch":
            import torch
            torch.set_num_threads(1)
            version = f"torch {torch.__version__}"
        else:
            import tensorflow as tf
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
            version = f"tensorflow {tf.__version__}"
    except Exception as e:
        return refuse_at_start(f"keras ({args.backend})", e)
    dtypes = ["float32", "bfloat16", "float16"]
    if args.backend != "jax" or args.x64:
        dtypes.insert(1, "float64")
    env = (keras, np, args.backend, dtypes, args.backend in ("jax", "tensorflow"), args.floatx)
    optimizers = [KerasOptimizer("keras.optimizers.Adam", "keras-adam", keras.optimizers.Adam, False, env),
                  KerasOptimizer("keras.optimizers.AdamW", "keras-adamw", keras.optimizers.AdamW, True, env)]
    floatx = "" if args.floatx == "float32" else f", floatx {args.floatx}"
    serve({o.name: o for o in optimizers}, f"keras {keras.__version__}, {version} (eager, cpu{floatx})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
