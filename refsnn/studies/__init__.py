"""The paper studies, one module each, run as ``refsnn reproduce NAME [options]``.

A study module ``refsnn/studies/<name>.py`` defines ``main(argv=None) -> dict``:
it parses its own options (small CPU defaults; ``--paper`` for the paper's
settings), prints progress and a table with the paper's numbers beside ours,
writes JSON and PNG under ``results/<name>/`` and returns the summary it wrote.
``examples/<name>.py`` is the same ``main`` for people who read the examples
first; the studies live in the package so ``refsnn reproduce`` works after a
plain ``pip install``.

>>> "nosuch" in available()
False
"""

from __future__ import annotations

import importlib
import pkgutil


def available() -> list[str]:
    """Names of the installed studies (the modules of this package), sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def run(name: str, argv=None) -> dict:
    """Run study ``name`` with options ``argv``; an unknown name is a ValueError naming the known ones."""
    names = available()
    if name not in names:
        raise ValueError(f"refsnn reproduce: unknown study {name!r}; available: {', '.join(names) or 'none'}")
    return importlib.import_module(f"refsnn.studies.{name}").main(argv)
