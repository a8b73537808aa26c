#!/usr/bin/env python3
"""adamconf adapter for HeavyBall's AdamW (docs/protocol.md, adamconf-adapter/2).

    adamconf check --impl "$PWD/.venv/bin/python adapters/heavyball/adapter.py" --preset heavyball-adamw

heavyball.AdamW has the torch.optim API, so the torch adapter's TorchOptimizer
drives it; what differs is where HeavyBall keeps its state: per parameter under
a view index, opt.state[p][0] = {"step", "update_by_adam_exp_avg_0",
"update_by_adam_exp_avg_sq_0", "is_initialized"} (heavyball/chainable.py, the
names of update_by_adam's zero_guard), and one step count per parameter group,
group["step_count"] (an int64 tensor, chainable.py:2579-2593), from which it
recomputes lr as a float32 tensor every step (lr t / t: scalars=float32).

It offers four optimizers, one per parameter dtype, since HeavyBall computes
the low-precision ones in float32 with float32 moments and stores theta
differently (adamconf picks the one offering --dtype):
- heavyball.AdamW, float32;
- heavyball.AdamW:bfloat16, stored by stochastic rounding (utils.py copy_stochastic_,
  stochastic_round_: 16 random low bits added to the float32 pattern, then cut,
  dither_steps = 1): precision=stochastic-rounding, m_format=v_format=float32; the
  case's rounding_seed seeds torch's generator, so a request is answered alike twice;
- heavyball.AdamW:float16, stored to nearest (source.to(float16)):
  precision=float32-opmath, m_format=v_format=float32;
- heavyball.AdamW:float64, made with storage_dtype="float64" (its documented
  argument), so that the moments are float64 and the step float64 throughout.
  With the default storage_dtype="float32" a float64 parameter gets a float32
  Adam direction applied in float64, which no precision convention here
  describes (see HeavyBallAdamW.__init__).

HeavyBall compiles every step with torch.compile by default (about 24 s for the
first step of each shape); the adapter runs it eagerly
(heavyball.utils.compile_mode = None: the same operations, unfused) unless
--compile is given.
"""
import argparse
import importlib.metadata
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, os.path.join(HERE, "..", "torch"))
from adamconf_adapter import refuse_at_start, serve  # noqa: E402
from torch_optim_adapter import TorchOptimizer, group_of_param  # noqa: E402

M, V = "update_by_adam_exp_avg_0", "update_by_adam_exp_avg_sq_0"


# How HeavyBall stores a parameter of each dtype it computes in float32 (module docstring).
STORAGE_OPTIONS = {"bfloat16": ["precision=stochastic-rounding", "m_format=float32", "v_format=float32"],
                   "float16": ["precision=float32-opmath", "m_format=float32", "v_format=float32"]}


class HeavyBallAdamW(TorchOptimizer):
    def __init__(self, *args, storage=None):
        super().__init__(*args)
        self.storage = storage
        if storage:  # one dtype each; float64 is made with storage_dtype="float64" (main)
            self.name = f"{self.name}:{storage}"
            self.dtypes = [d for d in self.dtypes if d == storage]
            return
        # float32 only. The moments are float32 tensors whatever the parameters' dtype (storage_dtype =
        # "float32", the default), and _lerp computes them in float32 from the gradient cast to float32
        # (utils.py:1086-1092): a float64 step is a float32 Adam direction applied in float64, which no
        # precision convention here describes (it is not m_format=float32, where the moments are computed
        # in theta's arithmetic and rounded when stored). bfloat16 parameters are stepped in float32 and
        # stored by stochastic rounding, float16 ones to nearest.
        self.dtypes = [d for d in self.dtypes if d == "float32"]

    def hello(self):
        out = super().hello()
        out["options"] += STORAGE_OPTIONS.get(self.storage, [])
        return out

    def run_case(self, request, case):
        if "rounding_seed" in case:  # stochastic rounding: the same request, the same random bits
            torch.manual_seed(int(case["rounding_seed"]))
        return super().run_case(request, case)

    def _probe_state(self):
        """HeavyBall's layout, checked on one step: the moments under update_by_adam's names."""
        p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        optimizer = self.make([{"params": [p]}], {})
        p.grad = torch.ones(2, dtype=torch.float64)
        optimizer.step()
        s = optimizer.state[p][0]
        if not {M, V} <= set(s) or not torch.is_tensor(optimizer.param_groups[0].get("step_count")):
            raise ValueError(f"heavyball {self.name}: state {sorted(s)} has not the layout this adapter reads")
        self.float32_lr = True  # group["lr"] = base_lr * step / step.clamp(...): a float32 tensor
        return {"layout": {"m": M, "v": V}, "group_step": True, "step_dtype": None, "other": {}, "state_dtype": None}

    def import_state(self, optimizer, param, s, options, dtype):
        group = group_of_param(optimizer, param)
        step = torch.tensor(int(s["step"]), dtype=torch.int64)
        if "step_count" in group and int(group["step_count"]) != int(step):
            raise ValueError(f"{self.name} keeps one step count per parameter group: tensors of one group "
                             f"imported at steps {int(group['step_count'])} and {int(step)}")
        group["step_count"] = step
        moments = torch.float32 if self.storage in STORAGE_OPTIONS else dtype  # float32 beside bfloat16/float16
        optimizer.state[param] = {0: {"step": step, M: torch.tensor(s["m"], dtype=moments),
                                      V: torch.tensor(s["v"], dtype=moments), "is_initialized": {0}}}

    def tensor_state(self, optimizer, param, options, layout):
        s = optimizer.state.get(param, {}).get(0)
        if not s or M not in s:  # never had a gradient: no state yet
            n = param.numel()
            return {"step": 0, "m": [0.0] * n, "v": [0.0] * n, "vmax": []}
        step = group_of_param(optimizer, param)["step_count"]
        return {"step": int(step), "m": s[M].tolist(), "v": s[V].tolist(), "vmax": []}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compile", action="store_true", help="keep HeavyBall's torch.compile (slow: per shape)")
    args = parser.parse_args()
    try:
        import heavyball
        if not args.compile:
            heavyball.utils.compile_mode = None
        optimizers = [HeavyBallAdamW("heavyball:AdamW", "heavyball-adamw", {}, storage=storage)
                      for storage in (None, "bfloat16", "float16")]
        optimizers.append(HeavyBallAdamW("heavyball:AdamW", "heavyball-adamw", {"storage_dtype": "float64"},
                                         storage="float64"))
    except Exception as e:  # said in the hello's place, so adamconf reports it in one line
        return refuse_at_start("heavyball:AdamW", e)
    torch.set_num_threads(1)
    mode = "torch.compile" if args.compile else "eager"
    serve({o.name: o for o in optimizers if o.dtypes}, f"heavyball {importlib.metadata.version('heavyball')} ({mode}), torch {torch.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
