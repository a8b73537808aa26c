#!/usr/bin/python3
"""adamconf adapter for torch.optim.Adam and torch.optim.AdamW (docs/protocol.md).

    adamconf check --impl "/usr/bin/python3 adapters/torch/torch_adapter.py" --preset pytorch-adamw
    adamconf check --impl "/usr/bin/python3 adapters/torch/torch_adapter.py --foreach" --preset pytorch-adam

--foreach selects PyTorch's multi-tensor path (foreach=True); the default is
the single-tensor path. --master-weights steps a float32 master for a
bfloat16/float16 dtype and reports the model copy, master.to(dtype), beside it
(precision master-weights: apex amp O2). --state-format bfloat16 stores m, v
and vmax in bfloat16 after each step (TransformerEngine FusedAdam's
exp_avg_dtype over a float32 master or float32 parameters). Both optimizers in one adapter; for any other class
with the torch.optim API, `--impl torch:MODULE:CLASS` (torch_optim_adapter.py).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
from torch_optim_adapter import TorchOptimizer, serve  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--foreach", action="store_true", help="use the multi-tensor (foreach) path")
    parser.add_argument("--master-weights", action="store_true",
                        help="bfloat16/float16: a float32 master, the model copy rounded from it")
    parser.add_argument("--state-format", choices=["bfloat16", "float16", "float32", "float64"],
                        help="m, v and vmax rounded to this format after every step (TransformerEngine's "
                             "exp_avg_dtype); stated in the hello")
    args = parser.parse_args()
    optimizers = [TorchOptimizer("torch.optim:Adam", "pytorch-adam", {"foreach": args.foreach}, args.master_weights,
                                 args.state_format),
                  TorchOptimizer("torch.optim:AdamW", "pytorch-adamw", {"foreach": args.foreach}, args.master_weights,
                                 args.state_format)]
    path = ("foreach" if args.foreach else "single-tensor") + (", float32 master weights" if args.master_weights else "")
    if args.state_format:
        path += f", states in {args.state_format}"
    torch.set_num_threads(1)
    serve({o.name: o for o in optimizers}, f"torch {torch.__version__} ({path})")


if __name__ == "__main__":
    main()
