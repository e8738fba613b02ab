"""Shared fixtures: the path of ../shared/data and a seeded Generator."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

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
