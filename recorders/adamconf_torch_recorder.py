"""Record torch.optim Adam/AdamW steps for `adamconf audit` (docs/audit.md).

Two lines in a training script:

    from adamconf_torch_recorder import StepRecorder      # recorders/ on sys.path
    StepRecorder(optimizer, "audit-steps", model=model)   # records every step; steps={3, 100} for some

Each recorded step is a folder audit-steps/step-000003/ holding before.safetensors
(theta/NAME, grad/NAME, and the state m/NAME, v/NAME, vmax/NAME, step/NAME the
optimizer held before the step; none before its first), after.safetensors
(theta and the state after it) and manifest.json (the preset, options and every
parameter group's hyperparameters as the optimizer held them at that step). Then

    adamconf audit audit-steps/step-000003/manifest.json

bitsandbytes' Adam/AdamW/Adam8bit/AdamW8bit and torchao's _AdamW/AdamW8bit/AdamW4bit/AdamWFp8 are recorded
with their own presets; a quantized state as its codes, block scales and the float32 values they read back as.

The hooks are torch.optim.Optimizer.register_step_pre_hook and
register_step_post_hook (PyTorch >= 2.0). Files are written through a
temporary name and renamed, the manifest last: a folder with a manifest is
complete. Tensors are written with safetensors.torch.save_file.
"""
import json
import os

import torch
from safetensors.torch import save_file

from adamconf_recording import write_atomically

DTYPES = {torch.float32: "float32", torch.float64: "float64", torch.bfloat16: "bfloat16", torch.float16: "float16"}
# The optimizer's state keys (torch/optim/adam.py: exp_avg, exp_avg_sq, max_exp_avg_sq, step).
STATE_KEYS = {"m": "exp_avg", "v": "exp_avg_sq", "vmax": "max_exp_avg_sq", "step": "step"}
# bitsandbytes' (optim/optimizer.py Optimizer2State): state1, state2, a Python int step; in its 8-bit
# optimizers, from min_8bit_size = 4096 elements, uint8 codes with absmax1/absmax2 per block of 256 and
# the maps qmap1/qmap2 (dequantized on the CPU as qmap[code] * absmax in float32).
BNB_KEYS = {"m": ("state1", "absmax1", "qmap1"), "v": ("state2", "absmax2", "qmap2")}
BNB_PRESETS = {"Adam": "bitsandbytes-adam", "AdamW": "bitsandbytes-adamw", "Adam8bit": "bitsandbytes-adam8bit",
               "AdamW8bit": "bitsandbytes-adamw8bit"}
# torchao's (optim/adam.py _AdamBase): the state keys of torch.optim (step a float32 tensor, lr a float32 tensor); in
# its low-bit classes a tensor of 4096 elements and more in whole blocks keeps exp_avg and exp_avg_sq as
# OptimState8bit / OptimState4bit / OptimStateFp8 (codes, a float32 scale per block; subclass_*.py), a smaller one
# plain tensors of the parameter's dtype. Its Adam8bit/4bit/Fp8 (L2 decay) have no preset here.
TORCHAO_PRESETS = {"_AdamW": "torchao-adamw", "AdamW8bit": "torchao-adamw8bit", "AdamW4bit": "torchao-adamw4bit",
                   "AdamWFp8": "torchao-adamw-fp8"}


def _library_of(optimizer):
    """Whose numerics the optimizer's are: "bitsandbytes" or "torchao" where one of its classes (a subclass's
    bases included) comes from there, else "torch"."""
    for cls in type(optimizer).__mro__:
        if cls.__module__.split(".")[0] in ("bitsandbytes", "torchao"):
            return cls.__module__.split(".")[0]
    return "torch"


def _library_preset(optimizer):
    """The preset of the first bitsandbytes or torchao class among the optimizer's (a subclass's bases included)
    that has one, or None."""
    for cls in type(optimizer).__mro__:
        presets = {"bitsandbytes": BNB_PRESETS, "torchao": TORCHAO_PRESETS}.get(cls.__module__.split(".")[0], {})
        if cls.__name__ in presets:
            return presets[cls.__name__]
    return None


def _torchao_quantized(x, field, name, shape):
    """A torchao quantized state tensor as the audit reads one: one code per element (OptimState4bit packs two a
    byte, the high nibble first; OptimStateFp8's codes are float8_e4m3fn bit patterns), the block scales, and
    the float32 values they read back as (dequantize())."""
    codes = x.codes.detach().reshape(-1)
    if codes.dtype == torch.float8_e4m3fn:
        codes = codes.view(torch.uint8)
    elif x.qmap.numel() == 16:
        codes = torch.stack([codes >> 4, codes & 0b1111], dim=-1).reshape(-1)
    return {f"{field}_codes/{name}": codes.clone().reshape(shape).contiguous(),
            f"{field}_scales/{name}": x.scale.detach().reshape(-1).float().clone().contiguous(),
            f"{field}/{name}": x.dequantize().float().reshape(shape).contiguous()}


def _decimal(x):
    """The value the optimizer holds as decimal text: a Python float's repr (it reads back as the same double),
    a tensor's value through float() (exact: float32 and bfloat16 are doubles)."""
    return repr(float(x.item() if torch.is_tensor(x) else x))


class StepRecorder:
    """Records steps of a torch.optim.Adam or AdamW (any path: for-loop, foreach, fused) for adamconf audit."""

    def __init__(self, optimizer, directory, model=None, names=None, steps=None, preset=None):
        self.optimizer = optimizer
        self.directory = directory
        self.steps = None if steps is None else set(steps)
        self.count = 0
        self.preset = preset or self._preset_of(optimizer)
        self.library = _library_of(optimizer)
        if self.library == "torchao":
            # What the audit cannot judge, refused before any step. A low-bit class (a finite block_size; _AdamW's
            # is inf) keeps max_exp_avg_sq of a quantized tensor quantized too (torchao/optim/adam.py:127-128).
            kind = type(optimizer).__name__
            if getattr(optimizer, "block_size", float("inf")) != float("inf") and any(
                    g.get("amsgrad", False) for g in optimizer.param_groups):
                raise ValueError(f"adamconf recorder: torchao's {kind} with amsgrad=True keeps max_exp_avg_sq "
                                 "quantized, which adamconf does not model yet; record it without amsgrad")
            # bf16_stochastic_round rounds bfloat16 parameters stochastically (adam.py:207, _fp32_to_bf16_sr): no preset models it.
            if getattr(optimizer, "bf16_stochastic_round", False) and any(
                    p.dtype == torch.bfloat16 for g in optimizer.param_groups for p in g["params"]):
                raise ValueError(f"adamconf recorder: torchao's {kind} with bf16_stochastic_round=True over bfloat16 "
                                 "parameters rounds them stochastically, which no torchao preset models yet")
        self.names = dict(names or {})
        if model is not None:
            self.names.update({id(p): n for n, p in model.named_parameters()})
        self._pending = None
        self._depth = 0  # a subclass's step() calling super().step() runs the hooks twice: record the outer step
        optimizer.register_step_pre_hook(self._before)
        optimizer.register_step_post_hook(self._after)

    @staticmethod
    def _preset_of(optimizer):
        # A subclass claims its base class's convention (the one it is audited against).
        kind = type(optimizer).__name__
        library_preset = _library_preset(optimizer)
        if library_preset is not None:
            return library_preset
        decoupled = any(g.get("decoupled_weight_decay", False) for g in optimizer.param_groups)
        if isinstance(optimizer, torch.optim.AdamW) or (isinstance(optimizer, torch.optim.Adam) and decoupled):
            return "pytorch-adamw"
        if isinstance(optimizer, torch.optim.Adam):
            return "pytorch-adam"
        raise ValueError(f"adamconf recorder: no preset known for {kind}; pass preset='...' (adamconf presets lists them)")

    def _params(self):
        for g, group in enumerate(self.optimizer.param_groups):
            for i, p in enumerate(group["params"]):
                yield g, self.names.get(id(p), f"group{g}.param{i}"), p

    def _tensors(self, with_grad):
        out = {}
        for _, name, p in self._params():
            out[f"theta/{name}"] = p.detach().clone().contiguous()
            if with_grad and p.grad is not None:
                out[f"grad/{name}"] = p.grad.detach().clone().contiguous()
            state = self.optimizer.state.get(p, {})
            if "state1" in state:  # bitsandbytes
                for field, (key, absmax, qmap) in BNB_KEYS.items():
                    x = state[key].detach()
                    if x.dtype == torch.uint8:  # codes, scales, and the values they read back as
                        scales = state[absmax].detach().reshape(-1).float()
                        out[f"{field}_codes/{name}"] = x.clone().contiguous()
                        out[f"{field}_scales/{name}"] = scales.clone().contiguous()
                        out[f"{field}/{name}"] = (state[qmap][x.reshape(-1).long()].float()
                                                  * scales.repeat_interleave(256)[: x.numel()]).reshape(x.shape).contiguous()
                    else:
                        out[f"{field}/{name}"] = x.clone().contiguous()
                out[f"step/{name}"] = torch.tensor(float(state["step"]), dtype=torch.float64)
                continue
            for field, key in STATE_KEYS.items():
                if key in state:
                    value = state[key]
                    if hasattr(value, "codes"):  # torchao's OptimState8bit/4bit/Fp8
                        out.update(_torchao_quantized(value, field, name, p.shape))
                        continue
                    out[f"{field}/{name}"] = (value.detach().clone().contiguous() if torch.is_tensor(value)
                                              else torch.tensor(float(value), dtype=torch.float64))
        return out

    def _manifest(self):
        groups = self.optimizer.param_groups
        # The manifest's dtype is the one most elements have (the first such); a tensor of another dtype (a
        # float32 head or norm beside bfloat16 weights) names its own in its "tensors" entry.
        elements = {}
        for _, _, p in self._params():
            elements[p.dtype] = elements.get(p.dtype, 0) + p.numel()
        unknown = sorted(str(d) for d in elements if d not in DTYPES)
        if not elements or unknown:
            raise ValueError(f"adamconf recorder: parameters of dtype {unknown or 'none'}: a manifest takes "
                             f"{sorted(DTYPES.values())}")
        dtype = max(elements, key=elements.get)
        for flag in ("amsgrad", "maximize"):
            if len({bool(g.get(flag, False)) for g in groups}) > 1:
                raise ValueError(f"adamconf recorder: parameter groups differ in {flag}; a manifest has one value")
        options = {"amsgrad": bool(groups[0].get("amsgrad", False)), "maximize": bool(groups[0].get("maximize", False))}
        if any(d in (torch.bfloat16, torch.float16) for d in elements):
            # The fused CPU kernel computes in float32 and rounds once when it stores (FusedAdamKernel.cpp: opmath);
            # the for-loop and foreach paths round each operation to the dtype; bitsandbytes computes every
            # dtype in float32 (backends/cpu/ops.py casts g and p to float32 and copies p back).
            # torchao computes in float32 too (single_param_adam, torchao/optim/adam.py:178-180) and rounds once.
            float32_math = self.library in ("bitsandbytes", "torchao")
            options["precision"] = "float32-opmath" if groups[0].get("fused") or float32_math else "storage"
        steps = [s[STATE_KEYS["step"]] for s in self.optimizer.state.values() if STATE_KEYS["step"] in s]
        if steps and torch.is_tensor(steps[0]) and steps[0].dtype == torch.float32:
            options["step_counter"] = "float32"  # state['step'] a float32 tensor (torch/optim/adam.py _init_group)
        if any(torch.is_tensor(g["lr"]) and g["lr"].dtype == torch.float32 for g in groups):
            options["scalars"] = "float32"
        hyper = [{"lr": _decimal(g["lr"]), "beta1": _decimal(g["betas"][0]), "beta2": _decimal(g["betas"][1]),
                  "eps": _decimal(g["eps"]), "weight_decay": _decimal(g["weight_decay"])} for g in groups]
        return {"adamconf_audit": 1, "preset": self.preset, "dtype": DTYPES[dtype], "options": options,
                "hyperparameters": hyper[0], "groups": hyper, "before": "before.safetensors",
                "after": "after.safetensors",
                "tensors": [{"name": name, "group": g, **({"dtype": DTYPES[p.dtype]} if p.dtype != dtype else {})}
                            for g, name, p in self._params()],
                "recorded_by": f"adamconf_torch_recorder, torch {torch.__version__}, {type(self.optimizer).__name__}"}

    def _folder(self):
        return os.path.join(self.directory, f"step-{self.count:06d}")

    def _before(self, optimizer, args, kwargs):
        self._depth += 1
        if self._depth > 1:
            return
        self.count += 1
        if self.steps is not None and self.count not in self.steps:
            return
        os.makedirs(self._folder(), exist_ok=True)
        # The hyperparameters of this step (a scheduler may change them before the next).
        self._pending = self._manifest()
        tensors = self._tensors(with_grad=True)
        write_atomically(os.path.join(self._folder(), "before.safetensors"), lambda f: save_file(tensors, f))

    def _after(self, optimizer, args, kwargs):
        self._depth -= 1
        if self._depth > 0 or self._pending is None:
            return
        manifest, self._pending = self._pending, None
        # The step counter's type is known after the first step (the state is empty before it).
        manifest["options"].update({k: v for k, v in self._manifest()["options"].items() if k == "step_counter"})
        tensors = self._tensors(with_grad=False)
        write_atomically(os.path.join(self._folder(), "after.safetensors"), lambda f: save_file(tensors, f))
        write_atomically(os.path.join(self._folder(), "manifest.json"),
                          lambda f: open(f, "w").write(json.dumps(manifest, indent=1) + "\n"))
