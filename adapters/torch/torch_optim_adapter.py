#!/usr/bin/python3
"""adamconf adapter for any optimizer class with the torch.optim API (docs/protocol.md).

adamconf runs it for `--impl torch:MODULE:CLASS[:ARGS]`, for example

    adamconf check --impl torch:torch.optim:AdamW --preset pytorch-adamw
    adamconf check --impl torch:torch.optim:Adam:foreach=True --preset pytorch-adam
    adamconf check --impl torch:my_optimizers:MyAdamW:fused=False --preset pytorch-adamw   (my_optimizers on PYTHONPATH)

What the class accepts is read from its constructor's signature: lr, betas
(or beta1 and beta2), eps, weight_decay, amsgrad, maximize. ARGS are extra
constructor arguments, NAME=VALUE separated by commas, each VALUE a Python
literal. Whether the state can be exported and imported is found by stepping
the class once: PyTorch's state names (step, exp_avg, exp_avg_sq,
max_exp_avg_sq) are needed.
"""
import argparse
import ast
import importlib
import inspect
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from adamconf_adapter import refuse_at_start, serve  # noqa: E402

DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16, "float16": torch.float16}
NAMES = {dtype: name for name, dtype in DTYPES.items()}

# The state layouts known: PyTorch's names, and bitsandbytes' (state1, state2; a Python int step).
# torch-optimi keeps PyTorch's names but one step count per parameter group (group["step"], an
# int32 tensor, optimi/adam.py:136), found by _probe_state.
STATE_LAYOUTS = [{"m": "exp_avg", "v": "exp_avg_sq", "vmax": "max_exp_avg_sq"}, {"m": "state1", "v": "state2"}]
STEP_COUNTERS = {torch.float32: "float32", torch.int32: "int32"}


def parse_args_text(text):
    """'foreach=True,capturable=False' -> {'foreach': True, 'capturable': False}"""
    out = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise ValueError(f"constructor argument {item!r}: expected NAME=VALUE")
        try:
            out[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise ValueError(f"constructor argument {name}={value}: the value is not a Python literal") from None
    return out


class TorchOptimizer:
    """One class with the torch.optim API, as adamconf drives it."""

    def __init__(self, spec, preset, extra, master_weights=False, state_format=None):
        module_name, _, class_name = spec.rpartition(":")
        module = importlib.import_module(module_name)
        self.cls = getattr(module, class_name)
        self.name = f"{module_name}.{class_name}"
        self.extra = extra
        self.preset = preset
        # Mixed-precision training with float32 master weights (apex amp O2): the
        # optimizer steps a float32 master; the bfloat16/float16 model copy is
        # master.to(dtype) after every step, and the gradient is the model's, cast up.
        self.master_weights = master_weights
        # State tensors stored in a format of their own (TransformerEngine's FusedAdam:
        # exp_avg_dtype, exp_avg_sq_dtype): torch computes them in the dtype it steps,
        # and each is rounded to its format (to nearest even, .to(format)) after every
        # step. The hello states --state-format; a request's "state_formats" rules.
        self.state_format = state_format
        parameters = inspect.signature(self.cls).parameters
        self.accepts = set(parameters)
        self.lr_required = "lr" in parameters and parameters["lr"].default is inspect.Parameter.empty
        for name in extra:
            if name not in self.accepts and not any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
                raise ValueError(f"{self.name} takes no argument {name!r} (it takes: {', '.join(parameters)})")
        self.hyperparameters = [h for h, needs in (("lr", "lr"), ("beta1", "betas"), ("beta2", "betas"),
                                                    ("eps", "eps"), ("weight_decay", "weight_decay"))
                                if needs in self.accepts or (h in ("beta1", "beta2") and h in self.accepts)]
        self.options = [o for o in ("amsgrad", "maximize") if o in self.accepts and o not in extra]
        if "amsgrad" in self.options and not self._takes_amsgrad():
            self.options.remove("amsgrad")  # bitsandbytes' 8-bit classes take the argument and refuse True
        self.state_names = self._probe_state()
        self.quantized = self._probe_quantized()
        self.module = module_name
        self.library = module_name.split(".")[0]  # optimi, torchao, bitsandbytes, torch: whose numerics
        self.dtypes = [d for d in DTYPES if master_weights or self._steps_in(DTYPES[d])]
        # Dtypes the class steps but in a way no convention models: not offered, and the hello says why
        # ("dtypes_refused"), which check quotes; none today. Under master weights the class steps a float32 master.
        self.dtypes_refused = {}
        # optimi's default (kahan_sum None, optimi/adam.py:100) turns Kahan summation on for bfloat16 and
        # float16 parameters: storage arithmetic, the update accumulated into kahan_comp and theta moved by it
        # (precision=storage-kahan; kahan_comp is the state's "compensation"). kahan_sum=False: storage arithmetic.
        self.kahan = (not master_weights and self.library == "optimi"
                      and self.extra.get("kahan_sum", None) is not False)
        # torchao keeps a small tensor's state (below 4096 elements, or not whole blocks) in the parameters'
        # dtype (torch.zeros_like(p), torchao/optim/adam.py:78): its quantized formats say so (small_in_dtype).

    def _takes_amsgrad(self):
        try:
            self.make([{"params": [torch.zeros(2, requires_grad=True)]}], {"amsgrad": True, "maximize": False})
            return True
        except ValueError:
            return False

    def _steps_in(self, dtype):
        """Whether the class runs in dtype here (PyTorch 1.13 on CPU has no float16 addcmul_)."""
        p = torch.zeros(2, dtype=dtype, requires_grad=True)
        try:
            optimizer = self.make([{"params": [p]}], {"amsgrad": False, "maximize": False})
            p.grad = torch.ones(2, dtype=dtype)
            optimizer.step()
            return True
        except (RuntimeError, TypeError):
            return False

    def group_arguments(self, h):
        """The hyperparameters of one group, under the names the class takes."""
        out = {}
        if "lr" in self.accepts:
            out["lr"] = h["lr"]
        if "betas" in self.accepts:
            out["betas"] = (h["beta1"], h["beta2"])
        else:
            out.update({b: h[b] for b in ("beta1", "beta2") if b in self.accepts})
        out.update({k: h[k] for k in ("eps", "weight_decay") if k in self.accepts})
        return out

    def make(self, groups, options):
        kwargs = dict(self.extra)
        kwargs.update({o: options[o] for o in self.options})
        if self.lr_required and "lr" not in kwargs:  # optimi: lr has no default; each group gives its own
            kwargs["lr"] = groups[0].get("lr", 1e-3)
        optimizer = self.cls(groups, **kwargs)
        # optimi takes betas=(b1, b2) but keeps group["beta1"], group["beta2"] (optimi/adam.py), and a
        # group's own "betas" entry would be ignored: each group gets its betas under those names.
        for given, group in zip(groups, optimizer.param_groups):
            if "betas" in given and "beta1" in group and "beta2" in group:
                group["beta1"], group["beta2"] = given["betas"]
            # optimi's decouple_lr decays by (lr_t / max_lr) wd with max_lr the constructor's lr for every
            # group: each group's own lr is its maximum here (the schedule multiplier of the convention)
            if group.get("decouple_lr") and "lr" in given:
                group["max_lr"] = given["lr"]
        return optimizer

    def _probe_state(self):
        """PyTorch's state layout, if the class keeps it: one step on a scratch parameter."""
        p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        optimizer = self.make([{"params": [p]}], {"amsgrad": "amsgrad" in self.options, "maximize": False})
        p.grad = torch.ones(2, dtype=torch.float64)
        optimizer.step()
        s = optimizer.state.get(p, {})
        group = optimizer.param_groups[0]
        # torchao holds lr as a float32 tensor (torchao/optim/adam.py:59) whatever the parameters' dtype
        self.float32_lr = torch.is_tensor(group.get("lr")) and group["lr"].dtype == torch.float32
        for layout in STATE_LAYOUTS:
            group_step = "step" not in s and torch.is_tensor(group.get("step"))
            if {layout["m"], layout["v"]} <= set(s) and ("step" in s or group_step):
                step = group["step"] if group_step else s["step"]
                return {"layout": layout, "group_step": group_step,
                        # PyTorch 1.12+ keeps state['step'] as a float32 tensor: the count stops at 2^24;
                        # optimi's is an int32 tensor
                        "step_dtype": step.dtype if torch.is_tensor(step) else None,
                        # what else the class keeps per parameter (optimi: kahan_comp, None outside bfloat16/float16)
                        "other": {k: None for k, v in s.items() if v is None},
                        # a state kept in a format of its own whatever the parameters' (bitsandbytes: float32)
                        "state_dtype": self._state_dtype(layout)}
        return None

    def _probe_quantized(self):
        """Whether the class keeps a large tensor's state as 8-bit codes (bitsandbytes' 8-bit
        optimizers: state1, state2 uint8 with absmax1, absmax2 per block of 256 and the maps
        qmap1, qmap2, optim/optimizer.py Optimizer8bit, from min_8bit_size = 4096 elements)."""
        if not self.state_names:
            return None
        layout = self.state_names["layout"]
        p = torch.zeros(4096, dtype=torch.float32, requires_grad=True)
        optimizer = self.make([{"params": [p]}], {"amsgrad": False, "maximize": False})
        p.grad = torch.ones(4096, dtype=torch.float32)
        optimizer.step()
        s = optimizer.state[p]
        if layout["m"] == "state1" and s["state1"].dtype == torch.uint8 and {"absmax1", "qmap1", "absmax2", "qmap2"} <= set(s):
            return "bnb-dynamic8"
        # torchao's AdamW8bit / AdamW4bit: OptimState8bit / OptimState4bit tensors (codes, scale, qmap;
        # torchao/optim/subclass_8bit.py, subclass_4bit.py)
        if all(hasattr(s.get(layout[k]), "codes") for k in ("m", "v")):
            if s[layout["m"]].codes.dtype == torch.float8_e4m3fn:  # AdamWFp8 (subclass_fp8.py): codes are fp8 values
                return "torchao-fp8"
            return "torchao-4bit" if s[layout["m"]].qmap.numel() == 16 else "torchao-dynamic8"
        return None

    def _state_dtype(self, layout):
        """The dtype the class keeps m in for bfloat16 parameters, if it is not the parameters' (float32 in bitsandbytes)."""
        p = torch.zeros(2, dtype=torch.bfloat16, requires_grad=True)
        try:
            optimizer = self.make([{"params": [p]}], {"amsgrad": False, "maximize": False})
            p.grad = torch.ones(2, dtype=torch.bfloat16)
            optimizer.step()
            m = optimizer.state[p][layout["m"]]
        except (RuntimeError, TypeError, KeyError):
            return None
        return NAMES.get(m.dtype) if m.dtype != torch.bfloat16 else None

    def hello(self):
        counter = STEP_COUNTERS.get((self.state_names or {}).get("step_dtype"))
        counter = [f"step_counter={counter}"] if counter else []
        if self.float32_lr:
            counter.append("scalars=float32")
        # The fused CPU kernel (PyTorch >= 2.4, aten/src/ATen/native/cpu/FusedAdamKernel.cpp) loads a
        # bfloat16/float16 element into float32, computes the step there and rounds theta, m and v
        # once when it stores them: float32 opmath. The single-tensor and foreach paths round each op.
        # bitsandbytes computes every parameter dtype in float32 (backends/cpu/ops.py casts g and p to float32
        # and copies p back) and keeps its states in float32.
        # torchao likewise (single_param_adam, torchao/optim/adam.py:178-180: "compute in FP32"), rounding
        # theta, and m and v (held in the parameters' dtype by _AdamW), to that dtype once, to nearest.
        float32_math = self.extra.get("fused") or self.library in ("bitsandbytes", "torchao")
        precision = (["precision=master-weights"] if self.master_weights
                     else ["precision=float32-opmath"] if float32_math
                     else ["precision=storage-kahan"] if self.kahan else [])
        state_format = self.state_format or (self.state_names or {}).get("state_dtype")
        formats = [f"{k}_format={state_format}" for k in ("m", "v", "vmax")] if state_format else []
        if self.quantized == "torchao-fp8":  # float8_e4m3fn codes, scale absmax / 448
            formats = ["m_format=torchao-fp8-e4m3", "v_format=torchao-fp8-e4m3"]
        elif self.quantized == "torchao-4bit":  # m on a 4-bit dynamic map, v on a linear one
            formats = ["m_format=torchao-dynamic4-signed", "v_format=torchao-linear4-unsigned"]
        elif self.quantized:  # 8-bit classes: m and v blockwise-quantized from 4096 elements
            formats = [f"m_format={self.quantized}-signed", f"v_format={self.quantized}-unsigned"]
        return {"name": self.name, "presets": [self.preset], "dtypes": self.dtypes,
                **({"dtypes_refused": self.dtypes_refused} if self.dtypes_refused else {}),
                "hyperparameters": self.hyperparameters, "options": self.options + counter + precision + formats,
                "state": self.state_names is not None, "lr_schedule": "lr" in self.accepts}

    def run_case(self, request, case):
        """One case (adamconf-adapter/2): a torch parameter per tensor, a param_group
        per group, grad None where the case gives no gradient."""
        storage = DTYPES[request["dtype"]]
        master = self.master_weights and storage in (torch.bfloat16, torch.float16)
        dtype = torch.float32 if master else storage  # what the optimizer steps
        options = request["options"]
        if not options.get("bias_correction", True):
            raise ValueError(f"{self.name} has no switch for bias correction")
        params = [torch.tensor(t["theta0"], dtype=dtype, requires_grad=True) for t in case["tensors"]]
        groups = []
        for g, group in enumerate(case["groups"]):
            members = [p for p, t in zip(params, case["tensors"]) if t["group"] == g]
            if members:
                groups.append({"params": members, **self.group_arguments(group["hyperparameters"])})
        optimizer = self.make(groups, options)
        if "state" in case:
            for param, s in zip(params, case["state"]):
                self.import_state(optimizer, param, s, options, dtype)
        thetas, copies, states = [], [], []
        for t, grads in enumerate(case["grads"]):
            if "lrs" in case:
                for group in optimizer.param_groups:
                    if torch.is_tensor(group["lr"]):  # torchao keeps lr as a float32 tensor: refilled, not replaced
                        group["lr"].fill_(case["lrs"][t])
                    else:
                        group["lr"] = case["lrs"][t]
            for param, grad in zip(params, grads):
                param.grad = None if grad is None else torch.tensor(grad, dtype=storage).to(dtype)
            optimizer.step()
            self.store_states(optimizer, params, request.get("state_formats", {}),
                              self.state_names["layout"] if self.state_names else STATE_LAYOUTS[0])
            thetas.append([p.detach().tolist() for p in params])
            if master:  # model.copy_(master): float32 to bfloat16/float16, to nearest even
                copies.append([p.detach().to(storage).tolist() for p in params])
            if case.get("record_states"):
                states.append([self.tensor_state(optimizer, p, options, self.state_names["layout"]) for p in params])
        answer = {"theta": thetas, "states": states}
        if master:
            answer["theta_copy"] = copies
        return answer

    def import_state(self, optimizer, param, s, options, dtype):
        """One tensor's state (step, m, v, vmax) given to the optimizer, in the class's layout."""
        layout = self.state_names["layout"]
        state_dtype = DTYPES[self.state_names["state_dtype"]] if self.state_names["state_dtype"] else dtype
        step_dtype = self.state_names["step_dtype"]
        step = torch.tensor(s["step"], dtype=step_dtype) if step_dtype else int(s["step"])
        if "m_codes" in s or "v_codes" in s:  # a quantized state: its codes and block scales, exactly
            self.import_quantized(optimizer, param, s, layout, step)
            return
        state = {layout["m"]: torch.tensor(s["m"], dtype=state_dtype),
                 layout["v"]: torch.tensor(s["v"], dtype=state_dtype), **self.state_names["other"]}
        if options.get("amsgrad"):
            state[layout["vmax"]] = torch.tensor(s["vmax"], dtype=state_dtype)
        if self.kahan and dtype in (torch.bfloat16, torch.float16):
            # optimi's compensation, and the group marked as summing with it (its first step would
            # otherwise find kahan_comp set and kahan_sum still None, and step without it)
            n = param.numel()
            state["kahan_comp"] = torch.tensor(s.get("compensation") or [0.0] * n, dtype=dtype)
            group_of_param(optimizer, param)["kahan_sum"] = True
        if self.state_names["group_step"]:
            self.set_group_step(optimizer, param, step)
        else:
            state["step"] = step
        optimizer.state[param] = state

    def import_quantized(self, optimizer, param, s, layout, step):
        """A quantized state as the class itself lays it out, the codes and scales copied in: bitsandbytes'
        init_state (state1/state2 codes, absmax1/absmax2, its qmaps), torchao's _new_buffer
        (OptimState8bit/4bit/Fp8: codes, scale, qmap), the inverses of quantized_state and
        torchao_quantized_state."""
        if "m_codes" not in s or "v_codes" not in s:
            raise ValueError(f"{self.name}: a state with codes for only one of m and v")
        if self.library == "bitsandbytes":
            group = group_of_param(optimizer, param)
            gindex = next(i for i, g in enumerate(optimizer.param_groups) if g is group)
            pindex = next(i for i, p in enumerate(group["params"]) if p is param)
            optimizer.state[param] = {}
            optimizer.init_state(group, param, gindex, pindex)
            state = optimizer.state[param]
            state["step"] = step
            for name, codes, absmax in (("m", "state1", "absmax1"), ("v", "state2", "absmax2")):
                state[codes].copy_(torch.tensor(s[f"{name}_codes"], dtype=torch.uint8).reshape(state[codes].shape))
                state[absmax].copy_(torch.tensor(s[f"{name}_scales"], dtype=torch.float32).reshape(state[absmax].shape))
            return
        state = {"step": step}
        for name, key, signed in (("m", layout["m"], True), ("v", layout["v"], False)):
            buffer = optimizer._new_buffer(param, signed)
            codes = torch.tensor(s[f"{name}_codes"], dtype=torch.uint8)
            if buffer.codes.dtype == torch.float8_e4m3fn:  # OptimStateFp8: the codes' bit patterns
                codes = codes.view(torch.float8_e4m3fn)
            elif buffer.qmap.numel() == 16:  # OptimState4bit: two codes a byte, the high nibble first
                codes = (codes[0::2] << 4) | codes[1::2]
            buffer.codes.copy_(codes.reshape(buffer.codes.shape))
            buffer.scale.copy_(torch.tensor(s[f"{name}_scales"], dtype=torch.float32).reshape(buffer.scale.shape))
            state[key] = buffer
        optimizer.state[param] = state

    @staticmethod
    def set_group_step(optimizer, param, step):
        """optimi: the group's count, and the group marked set up (else its first step resets the count)."""
        group = group_of_param(optimizer, param)
        if group.get("setup") and int(group["step"]) != int(step):
            raise ValueError(f"{optimizer.__class__.__name__} keeps one step count per parameter group: "
                             f"tensors of one group imported at steps {int(group['step'])} and {int(step)}")
        group["step"] = step
        group["setup"] = True

    @staticmethod
    def store_states(optimizer, params, formats, layout):
        """Each state tensor rounded to its own format, where the request gives one."""
        for param in params:
            s = optimizer.state.get(param) or {}
            for what, name in formats.items():
                key = layout.get(what)
                if key in s and DTYPES[name] != s[key].dtype:
                    with torch.no_grad():
                        s[key].copy_(s[key].to(DTYPES[name]))  # to nearest even, and back exactly

    def tensor_state(self, optimizer, param, options, layout):
        out = self.plain_tensor_state(optimizer, param, options, layout)
        if self.kahan and param.dtype in (torch.bfloat16, torch.float16):  # optimi's kahan_comp
            comp = (optimizer.state.get(param) or {}).get("kahan_comp")
            out["compensation"] = comp.tolist() if torch.is_tensor(comp) else [0.0] * param.numel()
        return out

    @staticmethod
    def plain_tensor_state(optimizer, param, options, layout):
        s = optimizer.state.get(param)
        if not s:  # never had a gradient: torch has no state for it yet
            n = param.numel()
            return {"step": 0, "m": [0.0] * n, "v": [0.0] * n, "vmax": [0.0] * n if options.get("amsgrad") else []}
        step = s["step"] if "step" in s else group_of_param(optimizer, param)["step"]
        step = step.item() if torch.is_tensor(step) else step
        if s[layout["m"]].dtype == torch.uint8:  # bitsandbytes' 8-bit state: codes and scales, carried exactly
            return {"step": int(step), **quantized_state(s, "m", "state1", "absmax1", "qmap1"),
                    **quantized_state(s, "v", "state2", "absmax2", "qmap2"), "vmax": []}
        if hasattr(s[layout["m"]], "codes"):  # torchao's OptimState8bit: codes, scale, qmap
            return {"step": int(step), **torchao_quantized_state(s[layout["m"]], "m"),
                    **torchao_quantized_state(s[layout["v"]], "v"), "vmax": []}
        return {"step": int(step), "m": s[layout["m"]].tolist(), "v": s[layout["v"]].tolist(),
                "vmax": s[layout["vmax"]].tolist() if options.get("amsgrad") else []}


def torchao_quantized_state(x, name):
    """torchao's OptimState8bit, OptimState4bit or OptimStateFp8: its codes, its block scales, and
    what they read back as (qmap[codes] * scale, or the fp8 value times the scale, in float32)."""
    values = x.dequantize().reshape(-1)
    codes = x.codes.reshape(-1)
    if codes.dtype == torch.float8_e4m3fn:  # OptimStateFp8: the codes' bit patterns
        codes = codes.view(torch.uint8)
    elif x.qmap.numel() == 16:  # OptimState4bit: two codes a byte, the high nibble first
        codes = torch.stack([codes >> 4, codes & 0b1111], dim=-1).reshape(-1)
    return {name: values.tolist(), f"{name}_codes": codes.tolist(), f"{name}_scales": x.scale.reshape(-1).tolist()}


def quantized_state(s, name, codes, absmax, qmap, block=256):
    """One quantized state tensor: its codes, its block scales, and the values they read back as,
    qmap[code] * absmax in float32 (bitsandbytes' dequantize_blockwise on the CPU)."""
    c = s[codes].reshape(-1)
    scales = s[absmax].reshape(-1)
    values = s[qmap][c.long()] * scales.repeat_interleave(block)[: c.numel()]
    return {name: values.tolist(), f"{name}_codes": c.tolist(), f"{name}_scales": scales.tolist()}


def group_of_param(optimizer, param):
    """The parameter group that holds `param`."""
    return next(g for g in optimizer.param_groups if any(p is param for p in g["params"]))


def default_preset(class_name):
    return "pytorch-adamw" if "adamw" in class_name.lower() else "pytorch-adam"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", help="MODULE:CLASS, e.g. torch.optim:AdamW")
    parser.add_argument("--preset", help="the convention it claims (default: pytorch-adamw for a class named *AdamW*, else pytorch-adam)")
    parser.add_argument("--args", default="", help="extra constructor arguments: NAME=VALUE,... (Python literals)")
    args = parser.parse_args()
    try:
        if ":" not in args.spec:
            raise ValueError(f"{args.spec!r}: expected MODULE:CLASS")
        optimizer = TorchOptimizer(args.spec, args.preset or default_preset(args.spec), parse_args_text(args.args))
    except Exception as e:  # said in the hello's place, so adamconf reports it in one line
        return refuse_at_start(f"torch:{args.spec}", e)
    extra = "".join(f", {k}={v!r}" for k, v in optimizer.extra.items())
    torch.set_num_threads(1)
    serve({optimizer.name: optimizer}, f"torch {torch.__version__}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
