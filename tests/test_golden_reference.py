"""The NumPy/Numba reference reproduces tests/golden/*.npz (written by tests/golden/make_golden.py).

Golden files pin the reference's semantics: any change to a neuron, kernel or
the GAMIN SNN that alters an output fails here (spikes exactly, values to
1e-5, BPTT gradients to 1e-4 relative to the array's scale).  The same files
are the targets of the CuPy backend's ``gpu`` parity tests.  Case runner and
tolerances are shared with tests/accel/test_golden_parity.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "accel"))
from test_golden_parity import GOLDEN, golden_cases, load_meta, run_case

from refsnn import backend


class ReferenceDevice:
    """The reference backend in the runner's device interface (host arrays, numpy kernels)."""

    kind = "reference"

    @staticmethod
    def put(a):
        return None if a is None else np.array(a, copy=True)

    @staticmethod
    def get(a):
        return None if a is None else np.asarray(a)

    @staticmethod
    def kernel(name):
        return backend.kernel(name, "numpy")


CASES = golden_cases()


def test_golden_files_present():
    names = sorted(p.name for p in GOLDEN.glob("*.npz"))
    assert names == ["kernels.npz", "snn.npz"], names
    kernels = {spec["kernel"] for spec in load_meta(GOLDEN / "kernels.npz")["cases"].values()}
    missing = set(backend.registered_kernels("numpy")) - kernels
    assert not missing, f"kernels without a golden case: {sorted(missing)}"


@pytest.mark.parametrize("path,case", CASES, ids=[f"{p.stem}:{c}" for p, c in CASES])
def test_reference_matches_golden(path, case):
    assert run_case(path, case, ReferenceDevice()) > 0


def test_golden_snn_still_classifies():
    """Independent sanity check of the stored SNN: its logits beat chance on the stored labels."""
    with np.load(GOLDEN / "snn.npz", allow_pickle=False) as z:
        acc = (z["snn__logits"].argmax(1) == z["snn__labels"]).mean()
    assert acc >= 0.5, f"golden SNN accuracy {acc:.2f} on 16 test digits"
