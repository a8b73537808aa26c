"""Record Optax adam, adamw and amsgrad steps for `adamconf audit` (docs/audit.md).

Two lines in a JAX training script:

    from adamconf_optax_recorder import record            # recorders/ on sys.path
    tx = record(optax.adamw(1e-3, weight_decay=1e-4), "audit-steps", preset="optax-adamw",
                hyperparameters={"lr": "0.001", "weight_decay": "0.0001"})

`record` wraps the GradientTransformation: tx.init is Optax's, and each
tx.update(grads, state, params) runs Optax's update and writes the step to
audit-steps/step-000003/ (the number is Optax's count after the step, so
step-000001 is the first): before.safetensors (theta/NAME = params, grad/NAME =
the grads given to update, and the state Optax held before: m/NAME = mu,
v/NAME = nu, vmax/NAME = nu_max for amsgrad, step/NAME = count as int32; zeros
and count 0 before the first step), after.safetensors (theta and the new state)
and manifest.json. NAME is the leaf's pytree path joined with '.'
("params.Dense_0.kernel"). Then

    adamconf audit audit-steps/step-000003/manifest.json

What the recorder cannot see, the caller states, and the audit trusts:
  * hyperparameters: Optax closes over them. Give every value given to Optax
    that differs from the preset's default (adamconf presets; for these presets
    Optax's own defaults), and lr always, as decimal text ("0.001") or a Python
    float (written as its repr, the same double); names lr, beta1, beta2, eps,
    eps_root, weight_decay (or Optax's learning_rate, b1, b2). With a schedule,
    pass a function of the step number returning the dict for that step.
  * theta after the step is computed here as optax.apply_updates(params,
    updates): the audit judges the step as a training loop that applies the
    updates that way does it. A loop that applies them otherwise is not what
    is recorded.
  * the grads given to the wrapped update are what Adam sees, and its updates
    are what is applied: wrap the Adam alias itself, and chain anything that
    comes before it outside, optax.chain(optax.clip_by_global_norm(1.0),
    record(optax.adam(...), ...)); record(optax.chain(clip, adam)) records
    the unclipped grads, and the audit fails.
The manifest's options are the facts adapters/optax/adapter.py's hello states
for the same optimizer and dtype on JAX's CPU backend: step_counter=int32 and
subnormals=flushed. On another backend pass options= with that backend's facts.
Refused: a mu_dtype other than the parameters' dtype (the manifest cannot state
m_decay=in-format), a weight-decay mask (one group), inject_hyperparams (its
hyperparameters are float32 arrays, not the Python floats the preset assumes).

Under jax.jit the files are written from a host callback (io_callback); call
jax.effects_barrier() before reading them. All of the step is copied to the
host every update, recorded or not. Files are written through a temporary
name and renamed, the manifest last: a folder with a manifest is complete.
Tensors are written with safetensors.numpy.save_file.
"""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental import io_callback
from safetensors.numpy import save_file

from adamconf_recording import write_atomically

# The presets adapters/optax/adapter.py claims, and their hyperparameters (adamconf's names).
PRESETS = {"optax-adam": ("lr", "beta1", "beta2", "eps", "eps_root"),
           "optax-adamw": ("lr", "beta1", "beta2", "eps", "eps_root", "weight_decay"),
           "optax-amsgrad": ("lr", "beta1", "beta2", "eps", "eps_root")}
ALIASES = {"learning_rate": "lr", "b1": "beta1", "b2": "beta2"}
DTYPES = ("float32", "float64", "bfloat16", "float16")
ADAM_STATES = (optax.ScaleByAdamState, optax.ScaleByAmsgradState)


def _decimal(name, x):
    if isinstance(x, str):
        float(x)  # raises for text that is not a number
        return x
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return repr(float(x))
    raise ValueError(f"adamconf recorder: hyperparameter {name} is {x!r}: give decimal text or a Python float")


def _hyperparameters(preset, given):
    out = {}
    for k, x in given.items():
        name = ALIASES.get(k, k)
        if name not in PRESETS[preset]:
            raise ValueError(f"adamconf recorder: {preset} has no hyperparameter {k} (it has {', '.join(PRESETS[preset])})")
        out[name] = _decimal(k, x)
    if "lr" not in out:
        raise ValueError("adamconf recorder: give lr, the learning rate given to Optax")
    return out


def _name(path):
    parts = [str(getattr(k, "key", getattr(k, "idx", getattr(k, "name", k)))) for k in path]
    return ".".join(parts) or "param"


def _adam_state(state):
    """The one ScaleByAdamState (or ScaleByAmsgradState) inside a (chain's, wrapper's) state."""
    nodes = jax.tree_util.tree_leaves(state, is_leaf=lambda x: isinstance(x, ADAM_STATES + (
        optax.MaskedState, optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)))
    if any(isinstance(x, optax.MaskedState) for x in nodes):
        raise ValueError("adamconf recorder: a masked transformation (weight_decay_mask): a manifest has one group")
    if any(isinstance(x, (optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)) for x in nodes):
        raise ValueError("adamconf recorder: inject_hyperparams holds float32 hyperparameters; the presets assume floats")
    found = [x for x in nodes if isinstance(x, ADAM_STATES)]
    if len(found) != 1:
        raise ValueError(f"adamconf recorder: {len(found)} Adam states in the optimizer state; expected one")
    return found[0]


def record(tx, directory, preset, hyperparameters, steps=None, options=None):
    """tx with an update that records each step (those whose number is in `steps`, when given) in `directory`."""
    if preset not in PRESETS:
        raise ValueError(f"adamconf recorder: preset {preset!r}; this recorder writes {', '.join(PRESETS)}")
    if options is None and jax.default_backend() != "cpu":
        raise ValueError(f"adamconf recorder: the options stated are JAX's CPU backend's; on {jax.default_backend()} "
                         "pass options={...} with its facts (subnormals, step_counter)")
    if not callable(hyperparameters):
        _hyperparameters(preset, hyperparameters)  # refused now rather than at the first step
    steps = None if steps is None else set(steps)

    def write(count, names, dtype, own, amsgrad, before, after):
        count = int(count)
        if steps is not None and count not in steps:
            return
        hyper = _hyperparameters(preset, hyperparameters(count) if callable(hyperparameters) else hyperparameters)
        stated = {"amsgrad": amsgrad, "maximize": False, "step_counter": "int32", "subnormals": "flushed"}
        manifest = {"adamconf_audit": 1, "preset": preset, "dtype": dtype, "options": {**stated, **(options or {})},
                    "hyperparameters": hyper, "groups": [hyper], "before": "before.safetensors",
                    "after": "after.safetensors",
                    "tensors": [{"name": n, "group": 0, **({"dtype": own[n]} if n in own else {})} for n in names],
                    "recorded_by": f"adamconf_optax_recorder, optax {optax.__version__}, jax {jax.__version__}"}
        folder = os.path.join(directory, f"step-{count:06d}")
        os.makedirs(folder, exist_ok=True)
        for file, tensors in (("before.safetensors", before), ("after.safetensors", after)):
            flat = {f"{field}/{n}": np.ascontiguousarray(x) for field, xs in tensors.items() for n, x in zip(names, xs)}
            write_atomically(os.path.join(folder, file), lambda f: save_file(flat, f))
        write_atomically(os.path.join(folder, "manifest.json"),
                          lambda f: open(f, "w").write(json.dumps(manifest, indent=1) + "\n"))

    def update(grads, state, params=None, **extra):
        if params is None:
            raise ValueError("adamconf recorder: call update(grads, state, params): theta is recorded")
        updates, new_state = tx.update(grads, state, params, **extra)
        after = optax.apply_updates(params, updates)
        paths, treedef = jax.tree_util.tree_flatten_with_path(params)
        names = [_name(p) for p, _ in paths]
        if len(set(names)) != len(names):
            raise ValueError("adamconf recorder: two parameters with one name: " + ", ".join(names))
        # The manifest's dtype is the one most elements have (the first such); a parameter of another dtype names
        # its own in its "tensors" entry (mixed precision: float32 parameters beside bfloat16 ones).
        leaf_dtypes = [str(x.dtype) for _, x in paths]
        elements = {}
        for (_, x), d in zip(paths, leaf_dtypes):
            elements[d] = elements.get(d, 0) + int(np.prod(x.shape))
        unknown = sorted(d for d in elements if d not in DTYPES)
        if not elements or unknown:
            raise ValueError(f"adamconf recorder: parameters of dtype {unknown or 'none'}: a manifest takes {DTYPES}")
        dtype = max(elements, key=elements.get)
        own = {n: d for n, d in zip(names, leaf_dtypes) if d != dtype}
        s0, s1 = _adam_state(state), _adam_state(new_state)
        amsgrad = isinstance(s0, optax.ScaleByAmsgradState)
        if amsgrad != (preset == "optax-amsgrad"):
            raise ValueError(f"adamconf recorder: preset {preset} for an Optax {type(s0).__name__}")
        if [str(x.dtype) for x in treedef.flatten_up_to(s0.mu)] != leaf_dtypes:
            raise ValueError("adamconf recorder: mu_dtype other than the parameters' dtype (m_decay=in-format)")

        def tensors(theta, s, grad=None):
            out = {"theta": treedef.flatten_up_to(theta)}
            if grad is not None:
                out["grad"] = treedef.flatten_up_to(grad)
            out.update(m=treedef.flatten_up_to(s.mu), v=treedef.flatten_up_to(s.nu),
                       step=[jnp.asarray(s.count, jnp.int32)] * len(names))
            if amsgrad:
                out["vmax"] = treedef.flatten_up_to(s.nu_max)
            return out

        def host(count, before, after):
            to_numpy = lambda t: jax.tree_util.tree_map(np.asarray, t)  # noqa: E731
            write(count, names, dtype, own, amsgrad, to_numpy(before), to_numpy(after))

        args = (s1.count, tensors(params, s0, grads), tensors(after, s1))
        if any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(args)):
            io_callback(host, None, *args)
        else:
            host(*args)
        return updates, new_state

    return optax.GradientTransformationExtraArgs(tx.init, update)
