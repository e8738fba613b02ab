"""The accel package on a machine without a GPU: discovery, isolation, moves, registration, nvcc.

All of these run in the default test selection.  The CUDA sources are
compiled to PTX for sm_90 (the H200) with ``nvcc`` when it is installed —
the same translation unit NVRTC would see (prelude + source), with every
``name<F>`` that CuPy instantiates forced to instantiate here too.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import accel
import accel.cupy
from accel.cupy import _core
from refsnn.autograd import Tensor
from refsnn.backend import BackendError, registered_kernels

ROOT = Path(__file__).resolve().parents[2]
NVCC = shutil.which("nvcc") or ("/usr/local/bin/nvcc" if os.path.exists("/usr/local/bin/nvcc") else None)


def cupy_importable() -> bool:
    try:
        importlib.import_module("cupy")
        return True
    except ImportError:
        return False


# ---------------------------------------------------------------- discovery


def test_available_lists_numpy_first_and_only_real_backends():
    found = accel.available()
    assert found[0] == "numpy"
    assert set(found) <= {"numpy", "cupy"}
    if not cupy_importable():
        assert found == ["numpy"]


@pytest.mark.parametrize("error", [ImportError("no cupy"), RuntimeError("CUDA driver too old"),
                                   OSError("libcuda.so not found"), ValueError("odd")])
def test_available_never_raises(monkeypatch, error):
    real = importlib.import_module

    def broken(name, *args, **kw):
        if name == "cupy":
            raise error
        return real(name, *args, **kw)

    monkeypatch.setattr(importlib, "import_module", broken)
    assert accel.available() == ["numpy"]


def test_available_without_a_device(monkeypatch):
    import types

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 0))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    assert accel.available() == ["numpy"]
    fake.cuda.runtime.getDeviceCount = lambda: 1
    assert accel.available() == ["numpy", "cupy"]


def test_import_does_not_import_cupy():
    checks = [
        "import sys, refsnn, accel; assert 'cupy' not in sys.modules",
        # the whole backend package, its CUDA sources and the reference kernels: still no CuPy
        "import sys, refsnn, refsnn.backend as rb, accel, accel.cupy; accel.cupy.declared_kernels(); "
        "accel.cupy._core.all_sources(); rb.registered_kernels('numpy'); "
        "assert 'cupy' not in sys.modules, 'cupy imported'",
    ]
    for code in checks:
        proc = subprocess.run([sys.executable, "-c", code + "; print('ok')"], capture_output=True,
                              text=True, cwd=ROOT, env={**os.environ, "REFSNN_BACKEND": "numpy"})
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.strip() == "ok"


# -------------------------------------------------------------------- moves


@pytest.mark.skipif(cupy_importable(), reason="CuPy is installed here")
def test_to_device_without_cupy_names_the_extra():
    with pytest.raises(ImportError, match=r"pip install -e \.\[cupy\]"):
        accel.to_device(np.zeros(3))
    with pytest.raises(ImportError, match=r"pip install -e \.\[cupy\]"):
        accel.to_device(Tensor(np.zeros(3, np.float32)))


@pytest.mark.skipif(cupy_importable(), reason="CuPy is installed here")
def test_register_without_cupy_names_the_extra():
    with pytest.raises(ImportError, match=r"pip install -e \.\[cupy\]"):
        accel.cupy.register()
    with pytest.raises(ImportError, match=r"\.\[cupy\]"):
        accel.register("cupy")


def test_backend_switch_to_cupy_without_gpu_is_a_clear_error():
    if "cupy" in accel.available():
        pytest.skip("a GPU is present")
    import refsnn.backend as rb

    with pytest.raises(BackendError, match=r"cupy.*not available.*Installed here: numpy") as info:
        rb.set_backend("cupy")
    assert str(info.value).count("pip install -e .[cupy]") == 1  # the install hint, said once
    assert rb.active_backend() == "numpy"


def test_register_unknown_backend():
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        accel.register("tpu")
    accel.register("numpy")  # nothing to do beyond the reference kernels
    assert "lif_delayed_forward" in registered_kernels("numpy")


def test_to_host_passes_host_data_through():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert accel.to_host(a) is a
    assert accel.to_host([1, 2]).tolist() == [1, 2]
    t = Tensor(a, requires_grad=True)
    h = accel.to_host(t)
    assert isinstance(h, Tensor) and h.requires_grad and h.data is a and h.is_leaf


def test_moves_with_emulated_cupy(emulated_cupy):
    a = np.arange(4, dtype=np.float32)
    d = accel.to_device(a)
    assert isinstance(d, emulated_cupy.ndarray) and d.tolist() == a.tolist()
    t = accel.to_device(Tensor(a, requires_grad=True))
    assert isinstance(t, Tensor) and t.requires_grad
    with pytest.raises(TypeError, match="dtype object"):
        accel.to_device([object(), "a"])


# ------------------------------------------------------------- registration


def test_every_reference_kernel_has_a_cupy_twin():
    reference = set(registered_kernels("numpy"))
    ours = set(accel.cupy.declared_kernels())
    missing = sorted(reference - ours)
    assert not missing, f"kernels registered for numpy but not declared by accel.cupy: {missing}"
    extra = sorted(ours - reference)
    assert not extra, f"accel.cupy declares kernels the reference lacks: {extra}"


def test_register_fills_the_cupy_table(emulated_cupy, monkeypatch):
    import refsnn.backend as rb

    monkeypatch.setitem(rb._KERNELS, "cupy", {})
    accel.cupy.register()
    assert sorted(rb._KERNELS["cupy"]) == sorted(registered_kernels("numpy"))
    assert rb.kernel("spike_matmul", "cupy") is accel.cupy.kernel_table()["spike_matmul"]


def test_register_refuses_when_no_device(emulated_cupy, monkeypatch):
    monkeypatch.setattr(emulated_cupy.cuda.runtime, "getDeviceCount", lambda: 0)
    with pytest.raises(RuntimeError, match="no CUDA device"):
        accel.cupy.register()


def test_kernel_wrappers_reject_host_arrays_and_bad_layouts(emulated_cupy, monkeypatch):
    fwd = accel.cupy.kernel_table()["lif_delayed_forward"]
    import refsnn.backend as rb

    # a genuine NumPy array (not the emulator's device type) must be refused
    monkeypatch.setattr(emulated_cupy, "ndarray", type("DeviceArray", (np.ndarray,), {}))
    with pytest.raises(TypeError, match=r"X must be a cupy.ndarray.*accel.to_device"):
        fwd(np.zeros((2, 3), np.float32), 0.7, 1.0, 0)
    monkeypatch.setattr(emulated_cupy, "ndarray", np.ndarray)
    with pytest.raises(ValueError, match="X must be C-contiguous"):
        fwd(np.zeros((3, 2), np.float32).T, 0.7, 1.0, 0)
    with pytest.raises(TypeError, match="float32 or float64, got int32"):
        fwd(np.zeros((2, 3), np.int32), 0.7, 1.0, 0)
    with pytest.raises(ValueError, match=r"2-D \[T, N\]"):
        fwd(np.zeros(3, np.float32), 0.7, 1.0, 0)
    with pytest.raises(ValueError, match="reset code"):
        fwd(np.zeros((2, 3), np.float32), 0.7, 1.0, 2)
    bwd = accel.cupy.kernel_table()["lif_delayed_backward"]
    U = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"gS has shape \(3, 2\)"):
        bwd(np.zeros((3, 2), np.float32), None, U, U, 0.7, 1.0, 0, 0, 25.0, 0.0, True)
    with pytest.raises(ValueError, match="sg_kind"):
        bwd(None, None, U, U, 0.7, 1.0, 0, 9, 25.0, 0.0, True)
    bad = np.ones((2, 3), np.float32)
    bad[1, 2] = np.inf
    with pytest.raises(ValueError, match="lif_delayed_forward: X contains 1 non-finite"):
        fwd(bad, 0.7, 1.0, 0)
    assert rb.xp_of(U) is np


def test_launch_checks_buffers():
    class Buf:
        def __init__(self, contiguous, dtype):
            self.flags = type("F", (), {"c_contiguous": contiguous})()
            self.dtype = np.dtype(dtype)

    calls = []
    _core.launch("k", lambda *a: calls.append(a), 600, (), {"A": (Buf(True, np.float32), np.float32)})
    assert calls == [((3,), (256,), ())]  # ceil(600 / 256) blocks of 256 threads
    with pytest.raises(ValueError, match="buffer B is not C-contiguous"):
        _core.launch("k", lambda *a: None, 1, (), {"B": (Buf(False, np.float32), np.float32)})
    with pytest.raises(TypeError, match="buffer C has dtype float64, expected"):
        _core.launch("k", lambda *a: None, 1, (), {"C": (Buf(True, np.float64), np.float32)})
    _core.launch("k", lambda *a: calls.append(a), 0, ())
    assert len(calls) == 1  # nothing launched for zero items


# -------------------------------------------------------------------- nvcc


SOURCES = sorted(_core.all_sources())


@pytest.mark.skipif(NVCC is None, reason="nvcc not found")
@pytest.mark.parametrize("key", SOURCES)
def test_cuda_source_compiles_to_ptx_for_sm90(key, tmp_path):
    src = _core.all_sources()[key]
    # Force every template instantiation CuPy will ask NVRTC for (name_expressions).
    refs = ", ".join(f"(void*)&{expr}" for expr in src.name_expressions)
    cu = tmp_path / f"{key}.cu"
    cu.write_text(src.full_code + f"\nvoid* refsnn_instantiate_{key}[] = {{{refs}}};\n")
    ptx = tmp_path / f"{key}.ptx"
    cmd = [NVCC, "-arch=sm_90", "--ptx", *_core.NVRTC_OPTIONS, "-Werror", "all-warnings",
           "-o", str(ptx), str(cu)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"nvcc failed on {key}:\n{proc.stderr}"
    text = ptx.read_text()
    entries = [line for line in text.splitlines() if line.startswith(".visible .entry")]
    assert len(entries) == len(src.name_expressions), entries
    assert ".target sm_90" in text


def test_host_emulator_checks_arguments_like_a_strict_launch(emulated_cupy):
    # The test double must catch marshalling mistakes a real launch would turn into garbage.
    src = _core.all_sources()["lif_delayed"]
    fn = src.function("lif_delayed_forward", np.float32)
    X = np.ones((2, 3), np.float32)
    S, U = np.empty((2, 3), np.float32), np.empty((2, 3), np.float32)
    bad = np.full(3, 7, np.uint32)
    X[0, 1] = np.nan
    # template arguments: X, S, M, bad, T, N, p = (theta, v_reset, beta), reset, v0
    good = (X, S, U, bad, np.int64(2), np.int64(3), np.float32(1.0), np.float32(0.0),
            np.float32(0.7), np.int32(0), np.float32(0.0))
    fn((1,), (256,), good)
    assert U[1, ::2].tolist() == pytest.approx([1.7] * 2) and S[1, ::2].tolist() == [1.0, 1.0]
    assert bad.tolist() == [0, 1, 0]  # the non-finite count, per neuron, from the same pass
    with pytest.raises(TypeError, match="argument reset must be int32, got int64"):
        fn((1,), (256,), good[:9] + (np.int64(0),) + good[10:])
    with pytest.raises(TypeError, match="argument beta must be float32, got float"):
        fn((1,), (256,), good[:8] + (0.7,) + good[9:])
    with pytest.raises(TypeError, match="argument M has dtype float64"):
        fn((1,), (256,), good[:2] + (U.astype(np.float64),) + good[3:])
    with pytest.raises(TypeError, match="expected 11 arguments"):
        fn((1,), (256,), good[:10])
    with pytest.raises(KeyError, match="no CUDA kernel"):
        src.function("lif_delayed_sideways", np.float32)
    with pytest.raises(TypeError, match="no lif_delayed_forward kernel for dtype float16"):
        src.function("lif_delayed_forward", np.float16)
