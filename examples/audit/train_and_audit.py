"""Record real training steps of PyTorch's AdamW and audit them with adamconf.

Two small models built in code (no download): an MLP whose first weight has
131072 elements, and a small transformer (torch.nn.TransformerEncoderLayer).
Each is trained a few steps with torch.optim.AdamW on every CPU path
(for-loop, foreach, fused) in float32 and bfloat16, once plainly and once as
fine-tuning scripts do (two parameter groups, a learning-rate warmup, AMSGrad), and
in mixed precision (bfloat16 with a float32 last layer: a step over tensors of two dtypes), recorded with
recorders/adamconf_torch_recorder.py, and every recorded step is audited:
all must pass. Then two planted bugs, each an AdamW that is wrong in one
place, must fail, the report naming the tensor and the element:
  decay-skipped  one parameter's decoupled weight decay undone after the step;
  stale-state    the first moment of elements 65536 and on left as it was.

usage: train_and_audit.py ADAMCONF OUT_DIR [--steps N] [--models mlp,transformer] [--seed S]
Exit 0 when every expectation holds.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "recorders"))
from adamconf_torch_recorder import StepRecorder  # noqa: E402
from audit_steps import Audits  # noqa: E402

# oneMKL 2024.2 (in PyTorch's wheels) picks each VML function's kernel on its first call, and first calls racing on
# the intra-op threads can run one thread's chunk in a low-accuracy kernel (pytorch/pytorch#188792): AdamW's sqrt
# then puts half a tensor's updates off by up to 3.2e-4 relative, and the audit fails that step (3 of 79 runs of
# this example under load, its first step; tests/data/pytorch-vml-race). This example is about AdamW's formula on
# each path, so it resolves sqrt's kernels first, on one element, as the proposed fix (#188791) does.
for _dtype in (torch.float32, torch.float64):
    torch.ones(1, dtype=_dtype).sqrt()

PATHS = {"for-loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}
# "mixed": a bfloat16 model whose last layer is kept in float32 (Float32Head).
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "mixed": "mixed"}


class TinyTransformer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Linear(16, 64)
        self.encoder = torch.nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, dropout=0.0,
                                                        batch_first=True)
        self.head = torch.nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.encoder(self.embed(x)).mean(dim=1))


def make_model(kind):
    if kind == "mlp":
        return torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
    return TinyTransformer()


class Float32Head(torch.nn.Module):
    """A bfloat16 model whose last layer is kept in float32, as mixed-precision recipes keep a classifier head: one
    step updates tensors of two dtypes, and the manifest names the head's own (float32) beside its bfloat16."""

    def __init__(self, kind):
        super().__init__()
        model = make_model(kind)
        if kind == "mlp":
            self.body, self.head = model[:2], model[2]
        else:
            self.body, self.head = model, model.head
            model.head = torch.nn.Identity()
        self.body.to(torch.bfloat16)

    def forward(self, x):
        return self.head(self.body(x.to(torch.bfloat16)).float())


def batch(kind, dtype):
    x = torch.randn(32, 256) if kind == "mlp" else torch.randn(32, 8, 16)
    return x.to(dtype), torch.randint(0, 10, (32,))


class DecaySkipped(torch.optim.AdamW):
    """AdamW that undoes the decoupled decay of its first parameter: theta += lr wd theta_before."""

    def step(self, closure=None):
        group = self.param_groups[0]
        p = group["params"][0]
        before = p.detach().clone()
        out = super().step(closure)
        with torch.no_grad():
            p.add_(before, alpha=group["lr"] * group["weight_decay"])
        return out


class StaleState(torch.optim.AdamW):
    """AdamW whose first moment stops being updated from element 65536 of its first parameter."""

    def step(self, closure=None):
        p = self.param_groups[0]["params"][0]
        state = self.state.get(p, {})
        old = state["exp_avg"].detach().clone() if "exp_avg" in state else None
        out = super().step(closure)
        if old is not None:
            with torch.no_grad():
                self.state[p]["exp_avg"].view(-1)[65536:] = old.view(-1)[65536:]
        return out


def _codes_off_by_one():
    """torchao's AdamW8bit whose quantizer stores the next code up for the first parameter's m from element 65536."""
    import torchao.optim

    class CodesOffByOne(torchao.optim.AdamW8bit):
        def step(self, closure=None):
            out = super().step(closure)
            m = self.state[self.param_groups[0]["params"][0]]["exp_avg"]
            with torch.no_grad():
                codes = m.codes.view(-1)
                codes[65536:] = (codes[65536:].int() + 1).clamp(max=255).to(torch.uint8)
            return out
    return CodesOffByOne


def train(kind, dtype, optimizer_class, options, folder, steps, seed=0, setup="plain"):
    """`setup` plain: one group, lr 1e-3, weight decay 0.01. groups: as fine-tuning scripts do, weight decay
    0.01 on the matrices and none on biases and norms (two parameter groups), a linear warmup of the learning
    rate (LambdaLR: it changes every step) and AMSGrad."""
    torch.manual_seed(seed)
    model = Float32Head(kind) if dtype == "mixed" else make_model(kind).to(dtype)
    if setup == "groups":
        matrices = [p for p in model.parameters() if p.dim() >= 2]
        others = [p for p in model.parameters() if p.dim() < 2]
        optimizer = optimizer_class([{"params": matrices, "weight_decay": 0.01}, {"params": others, "weight_decay": 0.0}],
                                    lr=2e-3, amsgrad=True, **options)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: (s + 1) / (steps + 1))
    else:
        optimizer = optimizer_class(model.parameters(), lr=1e-3, weight_decay=0.01, **options)
        schedule = None
    StepRecorder(optimizer, folder, model=model)
    for _ in range(steps):
        x, y = batch(kind, torch.float32 if dtype == "mixed" else dtype)
        loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if schedule:
            schedule.step()
    return sorted(os.path.join(folder, d, "manifest.json") for d in os.listdir(folder))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("adamconf")
    parser.add_argument("out")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--models", default="mlp,transformer")
    parser.add_argument("--seed", type=int, default=0, help="of the models' initial weights and the batches")
    parser.add_argument("--setups", default="plain,groups", help="plain (one group) and groups (two groups, warmup, AMSGrad)")
    parser.add_argument("--bitsandbytes", action="store_true", help="also record bitsandbytes' AdamW and AdamW8bit (CPU)")
    parser.add_argument("--torchao", action="store_true",
                        help="also record torchao's AdamW, AdamW8bit, AdamW4bit and AdamWFp8 (CPU, torch.compile)")
    parser.add_argument("--torchao-models", default="mlp", help="the models --torchao trains (mlp,transformer)")
    args = parser.parse_args()
    audits = Audits(args.adamconf)
    for kind in args.models.split(","):
        for dtype_name, dtype in DTYPES.items():
            for path, options in PATHS.items():
                for setup in args.setups.split(",") if dtype_name != "mixed" else ["plain"]:
                    folder = os.path.join(args.out, f"{kind}-{path}-{dtype_name}" + ("" if setup == "plain" else f"-{setup}"))
                    for manifest in train(kind, dtype, torch.optim.AdamW, options, folder, args.steps, args.seed, setup):
                        audits.expect_pass(manifest, f"{kind:12} {path:9} {dtype_name:9} {setup:6}")
    # The planted bugs: the MLP's first weight (131072 elements) is the parameter each gets wrong.
    for name, cls, needle in [("decay-skipped", DecaySkipped, "FAIL 0.weight element "),
                              ("stale-state", StaleState, "FAIL 0.weight element 65536: m")]:
        manifests = train("mlp", torch.float32, cls, {"foreach": False}, os.path.join(args.out, f"planted-{name}"), args.steps)
        # decay-skipped shows from step 1; stale-state from step 2 (step 1 starts from no state)
        audits.expect_failure(manifests[1] if name == "stale-state" else manifests[0], name, needle)
    # bitsandbytes on the CPU: its 32-bit AdamW passes; its 8-bit AdamW's codes are not the nearest
    # (the README's finding bnb-8bit-cpu-not-nearest), which the audit of a real step shows too.
    if args.bitsandbytes:
        import bitsandbytes
        for cls, expect in [(bitsandbytes.optim.AdamW, None), (bitsandbytes.optim.AdamW8bit, "expected code")]:
            folder = os.path.join(args.out, f"bitsandbytes-{cls.__name__}")
            for k, manifest in enumerate(train("mlp", torch.float32, cls, {}, folder, args.steps, args.seed)):
                if expect is None:
                    audits.expect_pass(manifest, f"bitsandbytes {cls.__name__:9}")
                elif k == 0:
                    audits.expect_failure(manifest, "bnb-8bit-cpu-not-nearest", expect, kind="finding")
    # torchao's low-bit AdamW (quantized m and v for the MLP's two weights, plain states for its biases) in float32
    # and bfloat16: every recorded step passes, codes and block scales included; a quantizer that stores the
    # next code up from element 65536 of the first weight's m on fails, naming the tensor, block and code.
    if args.torchao:
        import torchao.optim
        for cls in (torchao.optim._AdamW, torchao.optim.AdamW8bit, torchao.optim.AdamW4bit, torchao.optim.AdamWFp8):
            for dtype_name in ("float32", "bfloat16"):
                for kind in args.torchao_models.split(","):
                    folder = os.path.join(args.out, f"torchao-{kind}-{cls.__name__}-{dtype_name}")
                    for manifest in train(kind, DTYPES[dtype_name], cls, {}, folder, args.steps, args.seed):
                        audits.expect_pass(manifest, f"torchao {kind:12} {cls.__name__:9} {dtype_name:9}")
        manifests = train("mlp", torch.float32, _codes_off_by_one(), {}, os.path.join(args.out, "planted-torchao-codes"), args.steps)
        audits.expect_failure(manifests[0], "torchao-codes-off-by-one", "FAIL 0.weight block 256 element 65536: m")
    return audits.finish(f"torch {torch.__version__}")


if __name__ == "__main__":
    sys.exit(main())
