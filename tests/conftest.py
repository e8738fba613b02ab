"""Shared fixtures (the path of ../shared/data, a seeded Generator, the ``fakedev`` test backend)
and the doctest scope."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from _pytest.doctest import DoctestModule

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("REFSNN_SHARED_DATA", ROOT.parent / "shared" / "data"))
HOW_TO_GET_DATA = (
    "set REFSNN_SHARED_DATA to a directory holding mnist-5k/ and fashion-mnist/ (IDX files), "
    "or place that data at ../shared/data beside the checkout"
)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def shared_data():
    """Directory with mnist-5k/ and fashion-mnist/; skips (saying how to get it) when absent."""
    if not (SHARED_DATA / "mnist-5k").is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}: {HOW_TO_GET_DATA}")
    return SHARED_DATA


@pytest.hookimpl(hookwrapper=True)  # old-style wrapper: works on every pytest >= 7
def pytest_collect_file(file_path, parent):
    """``--doctest-modules`` (pyproject addopts) is for the packages' docstrings; under tests/
    a file is collected as tests only (test files and conftests are not imported twice)."""
    outcome = yield
    outcome.force_result([c for c in outcome.get_result() if not isinstance(c, DoctestModule)])


@pytest.fixture
def fakedev():
    """The ``fakedev`` stand-in GPU backend (``tests/fakedev.py``), registered and made the default.

    Yields the ``fakedev`` module; afterwards the backend is unregistered and
    the default backend is what it was before.
    """
    import fakedev as fd

    from refsnn import backend

    before = backend._ACTIVE  # None: not chosen yet (REFSNN_BACKEND is read on first use)
    backend.register_backend(fd.BACKEND)
    backend.set_backend(fd.NAME)
    try:
        yield fd
    finally:
        backend.unregister_backend(fd.NAME)
        backend._ACTIVE = before
