"""Fixtures for the accel tests: a device namespace that is either real CuPy or the host emulator.

``device`` is parametrised twice:

* ``emu`` (default run): ``cupy`` is replaced in ``sys.modules`` by the host
  emulator of ``cuda_host_emulation`` — the CUDA sources run on the CPU
  through ``g++`` (skipped when ``g++`` is absent);
* ``gpu`` (marker ``gpu``): real CuPy on a CUDA device, skipped with the
  reason "no CUDA GPU / CuPy" where ``accel.available()`` lacks ``"cupy"``.

Either way the test gets a :class:`Device` with ``put`` (host → device),
``get`` (device → host) and ``kernel(name)`` (the accel.cupy wrapper).
"""

from __future__ import annotations

import sys

import cuda_host_emulation as emu
import pytest
from accel_devices import NO_GPU_REASON, Device, gpu_available


@pytest.fixture
def emulated_cupy(monkeypatch):
    """Install the host emulator as ``cupy`` for one test (compiled modules are forgotten after)."""
    if emu.compiler() is None:
        pytest.skip("g++ not found: cannot emulate the CUDA kernels on the host")
    from accel.cupy import _core

    fake = emu.fake_cupy()
    monkeypatch.setitem(sys.modules, "cupy", fake)
    _core.clear_cache()
    yield fake
    _core.clear_cache()


@pytest.fixture(params=["emu", pytest.param("gpu", marks=pytest.mark.gpu)])
def device(request):
    """A :class:`Device`: host emulation (default run) or a real GPU (``-m gpu``)."""
    if request.param == "emu":
        fake = request.getfixturevalue("emulated_cupy")
        return Device("emu", fake)
    if not gpu_available():
        pytest.skip(NO_GPU_REASON)
    import cupy

    from accel.cupy import _core

    _core.clear_cache()
    return Device("gpu", cupy)
