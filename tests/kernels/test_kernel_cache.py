"""The Numba cache cannot serve a stale kernel: editing an inlined callee recompiles.

The fused kernels (defined in the form files, e.g. ``refsnn/neurons/lif_delayed.py``) are
``cache=True`` and inline ``sg_row`` from ``refsnn/kernels/surrogate.py``.  This test
copies the package to a temporary directory, compiles and caches a kernel in one
subprocess, checks that a second subprocess loads it from the cache, then edits the
fast-sigmoid line of ``sg_row`` in the copy (``1/q²`` → ``2/q²``) and requires a third subprocess to
see the edit.  With Numba's default key (the kernel file's own mtime and size)
the third run loads the stale kernel and this test fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import refsnn

SCRIPT = r"""
import importlib, json, sys
import numpy as np
from refsnn.backend import kernel
K = importlib.import_module("refsnn.neurons.lif_delayed")  # the form file (its _backward_nb)
rng = np.random.default_rng(0)
X = (0.7 * rng.standard_normal((6, 40)) + 0.4).astype(np.float32)
S, U = kernel("lif_delayed_forward")(X, 0.8, 1.0, 0)
dX = kernel("lif_delayed_backward")(np.ones_like(U), None, S, U, 0.8, 1.0, 0, 0, 25.0, 0.0, True)
print(json.dumps({"grad": dX.astype(float).ravel().tolist(),
                  "hits": sum(K._backward_nb.stats.cache_hits.values()),
                  "file": K.__file__}))
"""
OLD = "            out[j] = one / (q * q)\n"
NEW = "            out[j] = (one + one) / (q * q)\n"


def _run(root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env["PYTHONPATH"] = str(root)
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_editing_an_inlined_callee_invalidates_the_cached_kernel(tmp_path):
    src = Path(refsnn.__file__).resolve().parent
    for package in ("refsnn", "data_tools"):  # refsnn.nn.init imports data_tools
        shutil.copytree(src.parent / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    first = _run(tmp_path)
    assert Path(first["file"]).resolve().is_relative_to(tmp_path)  # the copy, not the checkout
    assert first["hits"] == 0
    second = _run(tmp_path)
    assert second["hits"] >= 1 and second["grad"] == first["grad"]  # served from the cache

    surrogate = tmp_path / "refsnn" / "kernels" / "surrogate.py"
    text = surrogate.read_text()
    assert text.count(OLD) == 1, "the fast-sigmoid line of sg_row moved; update this test"
    surrogate.write_text(text.replace(OLD, NEW))
    third = _run(tmp_path)
    assert third["hits"] == 0  # recompiled, not loaded
    # detached subtract reset, gS = 1: δ[t] = g[t] + β·δ[t+1], linear in g — so exactly 2×
    assert third["grad"] == pytest.approx([2 * g for g in first["grad"]], rel=1e-6)
