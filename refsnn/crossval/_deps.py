"""Import the optional torch-side frameworks on request, with an error that says what to install.

``import refsnn`` and ``import refsnn.crossval`` never import torch, snnTorch
or SpikingJelly: every function that needs one of them calls
:func:`require` first, inside its body::

    >>> from refsnn.crossval._deps import require
    >>> torch = require("torch")          # doctest: +SKIP

A missing package (or one blocked by ``sys.modules[name] = None``) raises
``ImportError`` naming the package, the caller and the extra to install::

    ImportError: build_snntorch needs snntorch, which is not installed;
    install the cross-validation extra: pip install -e .[crossval]
"""

from __future__ import annotations

import importlib

INSTALL_HINT = "pip install -e .[crossval]"

_MODULES = {
    "torch": "torch",
    "snntorch": "snntorch",
    "spikingjelly": "spikingjelly.activation_based",
}


def require(name: str, where: str | None = None):
    """Import and return the module behind ``name`` (``torch`` | ``snntorch`` | ``spikingjelly``).

    For ``spikingjelly`` the returned module is ``spikingjelly.activation_based``
    (the package of ``neuron``, ``surrogate`` and ``functional``).
    """
    if name not in _MODULES:
        raise ValueError(f"require: unknown optional dependency {name!r}; expected one of {sorted(_MODULES)}")
    who = where or "refsnn.crossval"
    try:
        module = importlib.import_module(_MODULES[name])
        if name == "spikingjelly":  # the submodules are not imported by the package itself
            for sub in ("neuron", "surrogate", "functional"):
                importlib.import_module(f"{_MODULES[name]}.{sub}")
        return module
    except ImportError as exc:  # ModuleNotFoundError, or sys.modules[name] = None
        raise ImportError(
            f"{who} needs {name}, which is not installed (or failed to import: {exc}); "
            f"install the cross-validation extra: {INSTALL_HINT}"
        ) from exc


def torch_dtype(dtype: str):
    """The torch dtype for ``"float32"`` / ``"float64"``."""
    torch = require("torch", "torch_dtype")
    return {"float32": torch.float32, "float64": torch.float64}[dtype]
