"""PyTorch name maps for cross-loading, and format dispatch by file extension.

A state dict from snnTorch, SpikingJelly or plain PyTorch uses the same
parameter layouts as refsnn (``Linear.weight`` is ``[out, in]``), but its
names follow the other model's attribute names.  Renaming is all a
cross-load needs:

>>> import numpy as np
>>> sd = {"module.net.0.weight": np.zeros((2, 3)), "module.net.0.bias": np.zeros(2)}
>>> sd = strip_prefix(sd, "module.")                 # left by DataParallel / DDP
>>> sorted(rename(sd, [(r"^net\\.0\\.", "fc1.")]))
['fc1.bias', 'fc1.weight']

Rules of :func:`rename`:

* a **dict** renames exact names: ``{"old": "new"}``;
* a **list of (regex, replacement)** pairs is tried in order and the *first*
  pattern that matches a name (``re.search``) rewrites it with ``re.sub``
  (so ``\\1`` back-references work); later rules are not applied to the result;
* a replacement of ``None`` drops the entry (e.g. ``(r"num_batches_tracked$", None)``);
* names no rule matches are kept unchanged; two names mapped onto one raise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

SUPPORTED_EXTENSIONS = (".h5", ".hdf5", ".npz", ".safetensors")


def _compile_rules(mapping):
    if isinstance(mapping, Mapping):
        return None
    rules = []
    for i, rule in enumerate(mapping):
        if not isinstance(rule, (tuple, list)) or len(rule) != 2:
            raise TypeError(f"mapping rule {i} must be a (regex, replacement) pair, got {rule!r}")
        pattern, repl = rule
        if repl is not None and not isinstance(repl, str):
            raise TypeError(f"mapping rule {i}: replacement must be a str or None, got {repl!r}")
        try:
            rules.append((re.compile(pattern), repl))
        except (re.error, TypeError) as exc:
            raise ValueError(f"mapping rule {i}: invalid regex {pattern!r} ({exc})") from exc
    return rules


def rename(state: Mapping, mapping) -> dict:
    """Return a new dict with the names of ``state`` rewritten by ``mapping`` (see module doc).

    Values are passed through untouched (no copy); order follows ``state``.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a mapping, got {type(state).__name__}")
    rules = _compile_rules(mapping)
    out, origin = {}, {}
    for name, value in state.items():
        if rules is None:
            new = mapping.get(name, name)
        else:
            new = name
            for pattern, repl in rules:
                if pattern.search(name):
                    new = None if repl is None else pattern.sub(repl, name)
                    break
        if new is None:
            continue
        if not isinstance(new, str) or not new:
            raise ValueError(f"mapping turned {name!r} into an invalid name {new!r}")
        if new in out:
            raise ValueError(f"mapping sends both {origin[new]!r} and {name!r} to {new!r}")
        out[new], origin[new] = value, name
    return out


def strip_prefix(state: Mapping, prefix: str = "module.") -> dict:
    """Remove ``prefix`` from every name that starts with it; other names are kept.

    >>> strip_prefix({"module.fc.weight": 1, "step": 2})
    {'fc.weight': 1, 'step': 2}
    """
    if not isinstance(prefix, str) or not prefix:
        raise ValueError(f"prefix must be a non-empty string, got {prefix!r}")
    return rename(state, [(f"^{re.escape(prefix)}", "")])


def add_prefix(state: Mapping, prefix: str) -> dict:
    """Prepend ``prefix`` to every name (the inverse of :func:`strip_prefix`)."""
    if not isinstance(prefix, str) or not prefix:
        raise ValueError(f"prefix must be a non-empty string, got {prefix!r}")
    return {prefix + name: value for name, value in state.items()}


def weight_format(path) -> str:
    """``"h5"``, ``"npz"`` or ``"safetensors"`` from ``path``'s extension.

    Any other extension raises a ValueError that lists the supported ones.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        hint = ""
        if suffix in (".pt", ".pth", ".bin", ".ckpt"):
            hint = " (PyTorch pickles are not loaded: convert them to .safetensors first)"
        raise ValueError(
            f"{path}: unsupported weight-file extension {suffix or '(none)'!r}; "
            f"supported: {', '.join(SUPPORTED_EXTENSIONS)}{hint}"
        )
    return "h5" if suffix in (".h5", ".hdf5") else suffix[1:]


def load_weights(path) -> dict[str, np.ndarray]:
    """Load a state dict from ``.h5``/``.hdf5`` (refsnn checkpoint), ``.npz`` or ``.safetensors``."""
    from refsnn.io.checkpoint import load_checkpoint
    from refsnn.io.npz import load_npz
    from refsnn.io.safetensors import load_safetensors

    path = Path(path)
    fmt = weight_format(path)
    if fmt == "h5":
        return load_checkpoint(path).state
    if fmt == "npz":
        return load_npz(path)
    return load_safetensors(path)[0]


def save_weights(path, state) -> None:
    """Write a state dict in the format named by ``path``'s extension (atomically)."""
    from refsnn.io.checkpoint import save_checkpoint
    from refsnn.io.npz import save_npz
    from refsnn.io.safetensors import save_safetensors

    path = Path(path)
    fmt = weight_format(path)
    {"h5": save_checkpoint, "npz": save_npz, "safetensors": save_safetensors}[fmt](path, state)
