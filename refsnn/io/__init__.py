"""Weight files and checkpoints for plain ``dict[str, numpy.ndarray]`` state dicts.

Names and layouts are PyTorch's (``"fc1.weight"`` is ``[out, in]``), so a
state dict moves between refsnn, snnTorch, SpikingJelly and PyTorch by
renaming at most.

=====================  ===========================================================
``.h5`` / ``.hdf5``    :func:`save_checkpoint` / :func:`load_checkpoint` — params,
                       optimizer state, config, seed, step; atomic; resumable via
                       :func:`latest_checkpoint`
``.safetensors``       :func:`save_safetensors` / :func:`load_safetensors`, parsed
                       directly (no torch); BF16 widened to float32
``.npz``               :func:`save_npz` / :func:`load_npz`, never unpickles
any of them            :func:`load_weights` / :func:`save_weights` by extension;
                       :func:`rename`, :func:`strip_prefix` for name maps
=====================  ===========================================================

:func:`save_module` / :func:`load_module` wrap a model's ``state_dict()`` and
``load_state_dict(state, strict=...)`` (any object with those two methods)::

    save_module("run/step100.h5", model, step=100, config={"beta": 0.7})
    ck = load_module("run/step100.h5", model)        # ck.step == 100
    load_module("snntorch.safetensors", model, prefix="module.",
                mapping=[(r"^lif(\\d)\\.", r"sn\\1.")])
"""

from __future__ import annotations

from pathlib import Path

from refsnn.io.atomic import atomic_write, check_writable, stale_temps
from refsnn.io.checkpoint import (
    Checkpoint,
    checkpoint_step,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from refsnn.io.names import (
    SUPPORTED_EXTENSIONS,
    add_prefix,
    load_weights,
    rename,
    save_weights,
    strip_prefix,
    weight_format,
)
from refsnn.io.npz import load_npz, save_npz
from refsnn.io.safetensors import bf16_to_float32, load_safetensors, read_safetensors_header, save_safetensors


def _require(module, method: str):
    if not callable(getattr(module, method, None)):
        raise TypeError(f"module must have a {method}() method, got {type(module).__name__}")


def save_module(path, module, **attrs) -> None:
    """Save ``module.state_dict()`` to ``path`` in the format its extension names.

    ``attrs`` go to :func:`save_checkpoint` for ``.h5``/``.hdf5`` (``config``,
    ``seed``, ``step``, ``optimizer``, ``extra``); ``.safetensors`` accepts only
    ``metadata`` (str -> str); ``.npz`` takes none.
    """
    _require(module, "state_dict")
    path = Path(path)
    fmt = weight_format(path)
    state = module.state_dict()
    if fmt == "h5":
        save_checkpoint(path, state, **attrs)
    elif fmt == "safetensors":
        unknown = set(attrs) - {"metadata"}
        if unknown:
            raise TypeError(f"{path}: .safetensors files take only 'metadata', got {sorted(unknown)}")
        save_safetensors(path, state, metadata=attrs.get("metadata"))
    else:
        if attrs:
            raise TypeError(f"{path}: .npz files store no attributes, got {sorted(attrs)}")
        save_npz(path, state)


def load_module(path, module, strict: bool = True, *, prefix: str | None = None, mapping=None) -> Checkpoint:
    """Load weights from ``path`` into ``module`` via ``module.load_state_dict(state, strict=strict)``.

    ``prefix`` is stripped from the names first (e.g. ``"module."``), then
    ``mapping`` (see :func:`rename`) is applied.  Returns a :class:`Checkpoint`:
    for ``.h5`` files with config/seed/step/optimizer/extra filled in, for the
    other formats with ``state`` only (and ``metadata`` for ``.safetensors``).
    """
    _require(module, "load_state_dict")
    path = Path(path)
    fmt = weight_format(path)
    if fmt == "h5":
        ck = load_checkpoint(path)
    elif fmt == "safetensors":
        state, metadata = load_safetensors(path)
        ck = Checkpoint(state=state, path=path, metadata=metadata)
    else:
        ck = Checkpoint(state=load_npz(path), path=path)
    if prefix is not None:
        ck.state = strip_prefix(ck.state, prefix)
    if mapping is not None:
        ck.state = rename(ck.state, mapping)
    module.load_state_dict(ck.state, strict=strict)
    return ck


__all__ = [
    "Checkpoint", "save_checkpoint", "load_checkpoint", "latest_checkpoint", "checkpoint_step",
    "atomic_write", "check_writable", "stale_temps",
    "load_safetensors", "save_safetensors", "read_safetensors_header",
    "bf16_to_float32", "load_npz", "save_npz", "rename", "strip_prefix", "add_prefix",
    "load_weights", "save_weights", "weight_format", "save_module", "load_module", "SUPPORTED_EXTENSIONS",
]
