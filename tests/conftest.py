"""Shared fixtures (the path of ../shared/data, a seeded Generator) and the doctest scope."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from _pytest.doctest import DoctestModule

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("REFSNN_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def shared_data():
    """Directory with mnist-5k/ and fashion-mnist/; skips when it is absent."""
    if not (SHARED_DATA / "mnist-5k").is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.hookimpl(hookwrapper=True)  # old-style wrapper: works on every pytest >= 7
def pytest_collect_file(file_path, parent):
    """``--doctest-modules`` (pyproject addopts) is for the packages' docstrings; under tests/
    a file is collected as tests only (test files and conftests are not imported twice)."""
    outcome = yield
    outcome.force_result([c for c in outcome.get_result() if not isinstance(c, DoctestModule)])
