#!/usr/bin/env python3
"""adamconf adapter for tinygrad's tinygrad.nn.optim.Adam and AdamW on the CPU
(docs/protocol.md, adamconf-adapter/2).

    adamconf check --impl ".venv/bin/python adapters/tinygrad/adapter.py" --preset tinygrad-adam
    adamconf check --impl ".venv/bin/python adapters/tinygrad/adapter.py" --preset tinygrad-adamw --dtype float64
    adamconf check --impl ".venv/bin/python adapters/tinygrad/adapter.py --optim-dtype float64" --preset tinygrad-adamw --dtype float64
    adamconf check --impl ".venv/bin/python adapters/tinygrad/adapter.py --dev CPU" --preset tinygrad-adamw
    adamconf check --impl ".venv/bin/python adapters/tinygrad/adapter.py --no-jit" --preset tinygrad-adam --timeout 600
    adamconf identify --impl ".venv/bin/python adapters/tinygrad/adapter.py" --dtype float32

tinygrad's Adam and AdamW are LAMB(adam=True) (tinygrad/nn/optim.py): m and v
are float32 tensors whatever the parameter's dtype (OPTIM_DTYPE), the learning
rate is a float32 tensor, beta1^t and beta2^t are float32 running products
(b1_t *= b1), and the step is

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) (g g)
    up = (m / (1 - b1_t)) / (sqrt(v / (1 - b2_t)) + eps) + wd p
    p = p - (lr up).cast(p.dtype)

so AdamW's decay is added to the update, of the old p, before the lr scaling
(Optax's add_decayed_weights). Each division is a multiplication by a
reciprocal (Tensor.div), and on the CPU the direction is m (recip(1 - b1_t)
recip(D)): the presets say reciprocal_product. The hello states scalars=float32
(lr and the running products are float32 tensors). Its entries:

- tinygrad.nn.optim.Adam and AdamW for float32 parameters.
- "tinygrad.nn.optim.Adam (bfloat16 parameters)" and AdamW's: the
  step in float32 with float32 m and v, theta rounded to the dtype once
  (precision=float32-opmath, m_format=float32, v_format=float32), and the weak
  Python floats 1.0 - b1, 1.0 - b2 and wd held in the parameters' dtype where
  they multiply g, g g and p (scalars=weak-dtype: 0.1 is bfloat16's
  0.10009765625); a probe over 256 random elements matched tinygrad's m and v
  bit for bit. Its bfloat16-to-float32 conversion reads a subnormal as 0
  (finding tinygrad-bf16-subnormals-flushed; --subnormals flushed passes).
- "tinygrad.nn.optim.Adam (float16 parameters)" and AdamW's: float16 is
  native on the CPU, so g g, (1 - b1) g, (1 - b2) (g g) and wd p are float16
  products (rounded; g g is inf from |g| = 256 on) before the float32 sums,
  the direction and up are float32, and (lr up).cast(float16) is subtracted
  from p in float16 (precision=promoted, m_format=float32, v_format=float32,
  scalars=weak-dtype); a probe over 256 random elements and 3 steps matched
  theta, m and v bit for bit.
- "tinygrad.nn.optim.Adam (float64 parameters)" and AdamW's, the same classes
  for float64 parameters with the default float32 moments: b1 m and b2 v in
  float32, each summed with the float64 (1 - b) g and cast to float32, and the
  direction in float32 from the stored moments; it meets float64 in + wd p and
  lr up. The hello states m_format=float32, v_format=float32,
  m_decay=in-format, v_decay=in-format and direction=in-format. check picks
  this entry for --dtype float64 by itself (the one offering it).
- --optim-dtype float64 sets OPTIM_DTYPE=float64: float64 moments, offered
  for float64 parameters alone, where the step is float64 but for lr, b1_t
  and b2_t.

The device: the adapter selects DEV=CPU:X86 (tinygrad's own x86 code
emitter, no compiler) by default, the one CPU backend that runs every dtype
and every tensor size here: the default CPU device renders C for clang, and
Debian's clang 14 cannot compile bfloat16 (--dev CPU for the other dtypes);
DEV=CPU:LLVM loads libLLVM-15, which rejects the vector loads and stores
tinygrad renders for tensors of 4, 8 or 16 elements ("'%v1' defined with type
'float*' but expected '<4 x float>*'": typed pointers; --dev CPU:LLVM to see).
Each step runs through TinyJit (as tinygrad's training loops do: the step's
kernels are captured once and replayed; the numbers are the eager ones), which
is 10x faster than eager stepping; --no-jit steps eagerly (about 20 ms a step:
give adamconf a --timeout of several minutes for the long trajectories).
Subnormals: the CPU kernels keep them (1e-40 * 1.0 is 1e-40 in float32).

Each tensor gets an optimizer of its own (its group's hyperparameters, its own
m, v, b1_t and b2_t), and a tensor without a gradient is not stepped. tinygrad
keeps no step count, only b1_t and b2_t (get_state_dict: lr, b1_t, b2_t, m, v):
the adapter counts the steps it takes, and imports a state at step s by
setting m and v and b1_t, b2_t to the float32 running product of s factors,
the values tinygrad's own b1_t, b2_t hold after s steps. A schedule (`lrs`) is
assigned to the optimizer's lr tensor before each step (opt.lr.assign, as
tinygrad's LR schedulers do).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from adamconf_adapter import entry, group_of, lr_at, refuse_at_start, serve  # noqa: E402


MAX_SLOTS = 2000


class RunningProducts:
    """beta^s as tinygrad's b_t holds it after s steps: s float32 multiplications by fl32(beta), from 1."""

    def __init__(self, np):
        self.np = np
        self.cache = {}  # beta -> (s, value) of the last product computed

    def __call__(self, beta, s):
        np = self.np
        b = np.float32(beta)
        start, value = self.cache.get(beta, (0, np.float32(1.0)))
        if s < start:
            start, value = 0, np.float32(1.0)
        remaining = s - start
        chunk = 1 << 20
        while remaining > 0:
            n = min(remaining, chunk)
            if value == 0 or b == 1:
                break  # the product stays where it is
            factors = np.full(n, b, dtype=np.float32)
            factors[0] = value * b  # one float32 product, then n - 1 more
            last = np.multiply.accumulate(factors, dtype=np.float32)[-1]
            remaining -= n
            if last == value:
                break  # a fixed point of fl32(value * b): every later product is this one
            value = last
        self.cache[beta] = (s, value)
        return float(value)


class TinygradOptimizer:
    """tinygrad.nn.optim.Adam or AdamW, as adamconf drives it."""

    def __init__(self, name, preset, fn, decay, tg, jit, optim_dtype, dtypes, options, refused=None):
        """dtypes: the parameters' dtypes this entry offers; options: the numerics its hello states
        for them; refused: {dtype: why} for the dtypes it leaves out."""
        self.name, self.preset, self.fn, self.decay, self.tg, self.jit = name, preset, fn, decay, tg, jit
        self.dtypes = {k: getattr(tg.dtypes, k) for k in dtypes}
        self.state_dtype = getattr(tg.dtypes, optim_dtype)
        self.options, self.refused = list(options), dict(refused or {})
        self.products = RunningProducts(tg.np)
        self.io = BufferIo(tg)
        self.slots = {}

    def hello(self):
        hyper = ["lr", "beta1", "beta2", "eps"] + (["weight_decay"] if self.decay else [])
        out = entry(self.name, [self.preset], list(self.dtypes), hyper, options=self.options, state=True)
        if self.refused:
            out["dtypes_refused"] = self.refused
        return out

    def slot(self, n, dtype, h):
        """The optimizer whose kernels step a tensor of n elements of dtype with h's constants."""
        key = (n, dtype, h["beta1"], h["beta2"], h["eps"], h["weight_decay"] if self.decay else None)
        if key not in self.slots:
            self.slots[key] = Slot(self, n, dtype, h)
        return self.slots[key]

    def run_case(self, request, case):
        io = self.io
        options = request["options"]
        if options.get("amsgrad") or options.get("maximize"):
            raise ValueError(f"{self.name}: tinygrad's Adam has no amsgrad or maximize")
        if not options.get("bias_correction", True):
            raise ValueError(f"{self.name}: tinygrad's Adam has no switch for bias correction")
        dtype = self.dtypes[request["dtype"]]
        if len(self.slots) > MAX_SLOTS:  # between cases no slot holds a tensor: start afresh
            self.slots.clear()
        tensors = []
        for k, tensor in enumerate(case["tensors"]):
            h = group_of(case, k)
            if h.get("eps_root", 0.0) != 0.0:
                raise ValueError(f"{self.name}: tinygrad's Adam has no eps_root")
            given = case["state"][k] if "state" in case else None
            count = given["step"] if given else 0
            # What tinygrad's optimizer holds for this tensor: p, m, v (zeros), b1_t, b2_t (ones) and lr.
            state = {"p": io.encode(tensor["theta0"], dtype),
                     "m": io.encode(given["m"] if given else [0.0] * len(tensor["theta0"]), self.state_dtype),
                     "v": io.encode(given["v"] if given else [0.0] * len(tensor["theta0"]), self.state_dtype),
                     "b1_t": io.encode([self.products(h["beta1"], count)], self.tg.dtypes.float32),
                     "b2_t": io.encode([self.products(h["beta2"], count)], self.tg.dtypes.float32),
                     "lr": io.encode([h["lr"]], self.tg.dtypes.float32)}
            tensors.append(TensorRun(self.slot(len(tensor["theta0"]), dtype, h), state, count))
        thetas, recorded = [], []
        with self.tg.Context(TRAINING=1):
            for t, grads in enumerate(case["grads"]):
                for k, grad in enumerate(grads):
                    if grad is not None:  # None: the tensor, its moments and its b_t are left alone
                        tensors[k].step(grad, lr_at(case, t, k))
                thetas.append([x.read("p") for x in tensors])
                if case.get("record_states"):
                    recorded.append([{"step": x.count, "m": x.read("m"), "v": x.read("v"), "vmax": []} for x in tensors])
        for x in tensors:
            x.release()
        return {"theta": thetas, "states": recorded}


# The numerics each entry's hello states (docs/protocol.md). lr, b1_t and b2_t are float32 tensors
# whatever the parameters' dtype (scalars=float32).
SCALARS = ["scalars=float32"]
# Float32 m and v beside float64 parameters (the default OPTIM_DTYPE): `self.b1 * self.m[i]` is
# float32 and `(1.0 - self.b1) * g` float64, their sum float64 cast to m's float32 (likewise v);
# m_hat, v_hat and the direction are float32 (m, v, b1_t, b2_t and eps are), and it meets float64
# only in `+ self.wd * t` and `self.lr * r * up` (tinygrad/nn/optim.py LAMB._step).
FLOAT32_MOMENTS_OF_FLOAT64 = ["m_format=float32", "v_format=float32", "m_decay=in-format", "v_decay=in-format",
                              "direction=in-format"] + SCALARS
# bfloat16 parameters: float32 m and v, and every operation that meets them in float32 (the
# kernels compute the whole step in float32 and round theta once when they store it); the weak Python floats
# (1.0 - self.b1), (1.0 - self.b2) and self.wd take the parameters' dtype where they multiply g, g g and t
# (0.1 is bfloat16's 0.10009765625), the products then in float32 (scalars=weak-dtype).
NARROW = ["precision=float32-opmath", "m_format=float32", "v_format=float32", "scalars=weak-dtype"]
# float16 is native on the CPU: g * g, (1.0 - b1) * g, (1.0 - b2) * (g * g) and wd * t are float16 products,
# rounded (and g * g overflowing) in float16 before the float32 sums, and (lr * r * up).cast(float16) is
# subtracted from t in float16 (precision=promoted: each operation in its operands' promoted dtype).
FLOAT16 = ["precision=promoted", "m_format=float32", "v_format=float32", "scalars=weak-dtype"]


def optimizers_of(tg, jit, optim_dtype):
    """The hello's entries: Adam and AdamW, and with the default float32 moments a second entry of
    each for float64 parameters, whose direction tinygrad computes in float32 (its own numerics)."""
    out = []
    for cls, preset, decay in (("Adam", "tinygrad-adam", False), ("AdamW", "tinygrad-adamw", True)):
        name, fn = f"tinygrad.nn.optim.{cls}", getattr(tg.optim, cls)
        if optim_dtype == "float64":  # OPTIM_DTYPE=float64: float64 moments, offered for float64 parameters only
            out.append(TinygradOptimizer(name, preset, fn, decay, tg, jit, "float64", ["float64"], SCALARS))
            continue
        out.append(TinygradOptimizer(name, preset, fn, decay, tg, jit, "float32", ["float32"], SCALARS,
                                     {"float64": f"offered by '{name} (float64 parameters)', whose float32 moments "
                                                 "and direction its hello states"}))
        out.append(TinygradOptimizer(f"{name} (bfloat16 parameters)", preset, fn, decay, tg, jit, "float32",
                                     ["bfloat16"], NARROW,
                                     {"float16": f"offered by '{name} (float16 parameters)', whose float16 products "
                                                 "its hello states"}))
        out.append(TinygradOptimizer(f"{name} (float16 parameters)", preset, fn, decay, tg, jit, "float32",
                                     ["float16"], FLOAT16))
        out.append(TinygradOptimizer(f"{name} (float64 parameters)", preset, fn, decay, tg, jit, "float32", ["float64"],
                                     FLOAT32_MOMENTS_OF_FLOAT64))
    return out


class Slot:
    """One tinygrad optimizer over one parameter tensor, with its step as a TinyJit (or eager): the
    kernels for a tensor size, a dtype and the hyperparameters tinygrad bakes into them as
    constants (b1, b2, eps, wd; lr is a tensor). A case's tensors take turns in it: the bytes of
    a tensor's p, m, v, b1_t, b2_t and lr are copied in before its step and out when another
    tensor needs the slot, so the kernels are captured once per session, not once per tensor."""

    NAMES = ("p", "m", "v", "b1_t", "b2_t", "lr")

    def __init__(self, owner, n, dtype, h):
        tg = owner.tg
        Tensor = tg.Tensor
        self.io = owner.io
        self.p = Tensor.empty(n, dtype=dtype).is_param_(True)
        kwargs = dict(lr=h["lr"], b1=h["beta1"], b2=h["beta2"], eps=h["eps"])
        if owner.decay:
            kwargs["weight_decay"] = h["weight_decay"]
        self.opt = owner.fn([self.p], **kwargs)
        self.g = Tensor.empty(n, dtype=dtype)
        Tensor.realize(self.p, self.g, self.opt.lr, self.opt.b1_t, self.opt.b2_t, *self.opt.m, *self.opt.v)
        self.tensors = {"p": self.p, "m": self.opt.m[0], "v": self.opt.v[0], "b1_t": self.opt.b1_t,
                        "b2_t": self.opt.b2_t, "lr": self.opt.lr}

        def step(g):
            self.p.grad = g
            Tensor.realize(*self.opt.schedule_step())
        self.step = tg.TinyJit(step) if owner.jit else step
        self.holder = None  # the TensorRun whose state is in the buffers now

    def take(self, run):
        if self.holder is run:
            return
        if self.holder is not None:
            self.holder.state = {name: self.io.raw(self.tensors[name]) for name in self.NAMES}
            self.holder.held = False
        for name in self.NAMES:
            self.io.put(self.tensors[name], run.state[name])
        self.holder, run.held = run, True


class TensorRun:
    """One tensor of a case: its state (raw bytes) while it is not in its slot, and its step count
    (tinygrad keeps none; b1_t and b2_t are its running products)."""

    def __init__(self, slot, state, count):
        self.slot, self.state, self.count, self.held = slot, state, count, False
        self.lr = None

    def step(self, grad, lr):
        slot = self.slot
        slot.take(self)
        if lr != self.lr:  # opt.lr.assign(Tensor([lr])): fl32(lr) into lr's float32 buffer
            slot.io.write(slot.tensors["lr"], [lr])
            self.lr = lr
        slot.io.write(slot.g, grad)
        slot.step(slot.g)
        self.count += 1

    def read(self, name):
        if self.held:
            return self.slot.io.read(self.slot.tensors[name])
        return self.slot.io.decode(self.state[name], self.slot.tensors[name].dtype)

    def release(self):
        if self.held:
            self.slot.holder, self.held = None, False


class BufferIo:
    """Values into and out of a realized tensor's CPU buffer, bytes copied without a kernel (a
    tensor made from a list, or a cast for .numpy(), costs a schedule: milliseconds a step). The
    values adamconf sends are exact in the tensor's dtype, so the encoding is exact."""

    def __init__(self, tg):
        self.tg = tg
        np, d = tg.np, tg.dtypes
        self.np_of = {d.float32: np.float32, d.float64: np.float64, d.float16: np.float16}
        self.bf16 = d.bfloat16

    def encode(self, values, dtype):
        """values (exact in dtype) as the bytes of a dtype buffer, a numpy array."""
        np = self.tg.np
        if dtype == self.bf16:
            return (np.asarray(values, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)
        return np.asarray(values, dtype=self.np_of[dtype])

    def decode(self, data, dtype):
        np = self.tg.np
        if dtype == self.bf16:
            data = (np.asarray(data, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        return data.astype(np.float64).tolist()

    def buffer(self, t):
        return t.uop.base.buffer.ensure_allocated()

    def put(self, t, data):
        """data (encode's array) into t's buffer."""
        np = self.tg.np
        if data.nbytes == 0:
            return
        b = self.buffer(t)
        assert b.nbytes == data.nbytes, f"{b.nbytes} bytes for {data.nbytes}"
        b.allocator._copyin(b._buf, memoryview(np.ascontiguousarray(data)).cast("B"))

    def raw(self, t):
        """t's buffer as encode's array."""
        np = self.tg.np
        kind = np.uint16 if t.dtype == self.bf16 else self.np_of[t.dtype]
        if t.numel() == 0:
            return np.zeros(0, dtype=kind)
        return np.frombuffer(self.buffer(t).as_memoryview(), dtype=kind).copy()

    def write(self, t, values):
        self.put(t, self.encode(values, t.dtype))

    def read(self, t):
        return self.decode(self.raw(t), t.dtype)


class Tinygrad:
    """The modules the adapter uses, imported after DEV is set."""

    def __init__(self):
        import numpy as np
        from tinygrad import Context, Device, Tensor, TinyJit, dtypes
        from tinygrad.nn import optim
        self.np, self.Context, self.Device, self.Tensor, self.TinyJit, self.dtypes = np, Context, Device, Tensor, TinyJit, dtypes
        self.optim = optim


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", default="CPU:X86",
                        help="tinygrad's DEV: CPU:X86 (default, tinygrad's x86 emitter), CPU (clang) or CPU:LLVM (libLLVM)")
    parser.add_argument("--no-jit", action="store_true", help="step eagerly instead of through TinyJit")
    parser.add_argument("--optim-dtype", choices=["float32", "float64"], default="float32",
                        help="tinygrad's OPTIM_DTYPE, the moments' dtype: float64 offers float64 parameters alone, "
                             "stepped in float64 throughout")
    args = parser.parse_args()
    try:
        os.environ["DEV"] = args.dev
        os.environ["OPTIM_DTYPE"] = args.optim_dtype
        # Compile kernels in this process: tinygrad's default worker pool (PARALLEL) restarts its
        # processes every 16 kernels, and a case of new constants compiles new kernels.
        os.environ.setdefault("PARALLEL", "0")
        tg = Tinygrad()
        from importlib.metadata import version
        tg.Tensor([1.0, 2.0]).realize()  # the device compiles, or says why not
        renderer = type(tg.Device[tg.Device.DEFAULT].renderer).__name__
        optim = "" if args.optim_dtype == "float32" else f", OPTIM_DTYPE={args.optim_dtype}"
        name = f"tinygrad {version('tinygrad')} (DEV={args.dev}, {renderer}, {'eager' if args.no_jit else 'TinyJit'}{optim})"
    except Exception as e:
        return refuse_at_start("tinygrad", e)
    serve({o.name: o for o in optimizers_of(tg, not args.no_jit, args.optim_dtype)}, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
