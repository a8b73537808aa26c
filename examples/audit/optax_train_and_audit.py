"""Record real training steps of Optax's adamw and adam and audit them with adamconf.

A small MLP built in code (no download; its first kernel has 131072 elements)
is trained a few steps in float32 on JAX's CPU backend with optax.adamw and
optax.adam, each op by op (eager) and under jax.jit (adamw also in mixed precision: the
first layer in bfloat16, the second in float32), recorded with
recorders/adamconf_optax_recorder.py, and every recorded step is audited: all
must pass. Then two planted bugs, each an adamw that is wrong in one place,
must fail, the report naming the tensor and the element:
  decay-skipped  dense0.kernel's weight decay left out of its update;
  stale-state    the first moment of dense0.kernel's elements 65536 and on left as it was.

usage: optax_train_and_audit.py ADAMCONF OUT_DIR [--steps N]
Exit 0 when every expectation holds.
"""
import argparse
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "recorders"))
from adamconf_optax_recorder import record  # noqa: E402
from audit_steps import Audits  # noqa: E402

LR, WD = 1e-3, 0.01
OPTIMIZERS = {"adamw": ("optax-adamw", lambda: optax.adamw(LR, weight_decay=WD), {"lr": LR, "weight_decay": "0.01"}),
              "adam": ("optax-adam", lambda: optax.adam(LR), {"lr": "0.001"})}


def init_mlp(key):
    k0, k1 = jax.random.split(key)
    return {"dense0": {"kernel": jax.random.normal(k0, (256, 512)) * 0.05, "bias": jnp.zeros(512)},
            "dense1": {"kernel": jax.random.normal(k1, (512, 10)) * 0.05, "bias": jnp.zeros(10)}}


def loss_fn(params, x, y):
    h = jax.nn.relu(x @ params["dense0"]["kernel"] + params["dense0"]["bias"])
    logits = h @ params["dense1"]["kernel"] + params["dense1"]["bias"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def decay_skipped(tx):
    """adamw whose update for dense0.kernel lacks its weight decay: -lr (u + wd theta) + lr wd theta."""
    def update(grads, state, params):
        updates, state = tx.update(grads, state, params)
        updates["dense0"]["kernel"] = updates["dense0"]["kernel"] + LR * WD * params["dense0"]["kernel"]
        return updates, state
    return optax.GradientTransformation(tx.init, update)


def stale_state(tx):
    """adamw whose mu of dense0.kernel stops being updated from element 65536."""
    def update(grads, state, params):
        updates, new_state = tx.update(grads, state, params)
        old = next(s for s in state if isinstance(s, optax.ScaleByAdamState)).mu["dense0"]["kernel"]

        def stale(s):
            if not isinstance(s, optax.ScaleByAdamState):
                return s
            mu = jax.tree_util.tree_map(lambda x: x, s.mu)
            mu["dense0"]["kernel"] = s.mu["dense0"]["kernel"].reshape(-1).at[65536:].set(old.reshape(-1)[65536:]).reshape(old.shape)
            return s._replace(mu=mu)
        return updates, tuple(stale(s) for s in new_state)
    return optax.GradientTransformation(tx.init, update)


def train(tx, preset, hyper, folder, steps, jit, seed=0, mixed=False):
    """`mixed`: the first layer in bfloat16, the second in float32 (one step over parameters of two dtypes)."""
    tx = record(tx, folder, preset=preset, hyperparameters=hyper)
    params = init_mlp(jax.random.PRNGKey(2 * seed))
    if mixed:
        params["dense0"] = jax.tree_util.tree_map(lambda x: x.astype(jnp.bfloat16), params["dense0"])
    state = tx.init(params)

    def step(params, state, x, y):
        grads = jax.grad(loss_fn)(params, x, y)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state
    step = jax.jit(step) if jit else step
    key = jax.random.PRNGKey(2 * seed + 1)
    for _ in range(steps):
        key, kx, ky = jax.random.split(key, 3)
        params, state = step(params, state, jax.random.normal(kx, (32, 256)), jax.random.randint(ky, (32,), 0, 10))
    jax.block_until_ready(params)
    jax.effects_barrier()  # the io_callback writes under jit
    return sorted(os.path.join(folder, d, "manifest.json") for d in os.listdir(folder))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("adamconf")
    parser.add_argument("out")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="of the model's initial weights and the batches")
    args = parser.parse_args()
    audits = Audits(args.adamconf)
    for name, (preset, make, hyper) in OPTIMIZERS.items():
        for mode in ("eager", "jit"):
            folder = os.path.join(args.out, f"mlp-{name}-{mode}-float32")
            for manifest in train(make(), preset, hyper, folder, args.steps, mode == "jit", args.seed):
                audits.expect_pass(manifest, f"{name:6} {mode:5} float32")
    preset, make, hyper = OPTIMIZERS["adamw"]
    for mode in ("eager", "jit"):  # mixed precision: the manifest names the float32 layer's own dtype
        for manifest in train(make(), preset, hyper, os.path.join(args.out, f"mlp-adamw-{mode}-mixed"), args.steps,
                              mode == "jit", args.seed, mixed=True):
            audits.expect_pass(manifest, f"adamw  {mode:5} mixed")
    for name, wrap, needle in [("decay-skipped", decay_skipped, "FAIL dense0.kernel element "),
                               ("stale-state", stale_state, "FAIL dense0.kernel element 65536: m")]:
        manifests = train(wrap(make()), preset, hyper, os.path.join(args.out, f"planted-{name}"), args.steps, jit=False)
        # decay-skipped shows from step 1; stale-state is judged at step 2, where the mu left as it was is not zero
        audits.expect_failure(manifests[1] if name == "stale-state" else manifests[0], name, needle)
    return audits.finish(f"optax {optax.__version__}, jax {jax.__version__}")


if __name__ == "__main__":
    sys.exit(main())
