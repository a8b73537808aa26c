"""Optimizers written the way users write them, subclassing torch.optim.Optimizer,
for `--impl torch:user_optimizers:CLASS` (tests/cli/check_torch_class.sh puts
this directory on PYTHONPATH)."""
import math

import torch


class PlainAdamW(torch.optim.Optimizer):
    """AdamW (Loshchilov & Hutter, PyTorch's convention: theta (1 - lr wd)), one
    tensor at a time, its own names for beta1 and beta2, and no AMSGrad, no
    maximize, no state export in PyTorch's names."""

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
        super().__init__(params, dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                s = self.state[p]
                if not s:
                    s["t"], s["m"], s["v"] = 0, torch.zeros_like(p), torch.zeros_like(p)
                s["t"] += 1
                t, b1, b2 = s["t"], group["beta1"], group["beta2"]
                p.mul_(1 - group["lr"] * group["weight_decay"])
                s["m"].mul_(b1).add_(p.grad, alpha=1 - b1)
                s["v"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                denom = self.denominator(s["v"], 1 - b2 ** t, group["eps"])
                p.addcdiv_(s["m"], denom, value=-group["lr"] / (1 - b1 ** t))

    @staticmethod
    def denominator(v, bias_correction2, eps):
        return (v / bias_correction2).sqrt().add_(eps)


class ForgetfulAdamW(PlainAdamW):
    """The same with a planted bug: v is not bias-corrected."""

    @staticmethod
    def denominator(v, bias_correction2, eps):
        return v.sqrt().add_(eps)  # BUG: v, not v / (1 - beta2^t)
