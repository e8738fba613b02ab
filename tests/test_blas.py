"""refsnn.blas: the BLAS thread limit is applied by the first spike kernel, overridable and restorable."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from refsnn import blas
from refsnn.kernels.spikemm import spike_matmul


def blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.delenv(blas.ENV, raising=False)
    _kernel()  # a kernel's first run may load more BLAS libraries (SciPy's): load them first
    blas._reset_for_tests()
    before = blas_threads()
    yield before
    blas._reset_for_tests()
    assert blas_threads() == before  # every test leaves BLAS as it found it


def _kernel():
    spike_matmul(np.ones((4, 3), np.uint8), np.ones((3, 2), np.float32))


def test_first_kernel_limits_blas_and_restore_gives_it_back(fresh):
    assert fresh, "NumPy's BLAS not visible to threadpoolctl"
    _kernel()
    assert blas.state() == {"engaged": True, "threads": 1}
    assert blas_threads() == [1] * len(fresh)
    blas.restore()
    assert blas_threads() == fresh and blas.state() == {"engaged": True, "threads": None}
    _kernel()  # after restore() refsnn leaves BLAS alone
    assert blas_threads() == fresh


def test_env_sets_the_limit_or_turns_it_off(monkeypatch, fresh):
    monkeypatch.setenv(blas.ENV, "off")
    _kernel()
    assert blas_threads() == fresh and blas.state()["threads"] is None
    blas._reset_for_tests()
    monkeypatch.setenv(blas.ENV, "3")
    _kernel()
    assert blas_threads() == [3] * len(fresh) and blas.state()["threads"] == 3
    blas._reset_for_tests()
    monkeypatch.setenv(blas.ENV, "-1")
    with pytest.raises(ValueError, match="REFSNN_BLAS_THREADS"):
        _kernel()


def test_limit_and_scoped_threads(fresh):
    blas.limit(2)
    assert blas_threads() == [2] * len(fresh)
    _kernel()  # an explicit limit is not overridden by the automatic one
    assert blas_threads() == [2] * len(fresh)
    with blas.threads(1):
        assert blas_threads() == [1] * len(fresh)
    assert blas_threads() == [2] * len(fresh)
    blas.limit(None)
    assert blas_threads() == fresh
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="positive int"):
            blas.limit(bad)
