"""The generic checks every registered neuron form gets (``refsnn.neurons.forms.FORMS``).

Each takes a :class:`~refsnn.neurons.forms.Form` and one of its ``examples`` (layer keyword
arguments, the form's test parameters), so a new form file is tested by adding nothing but
those parameters:

* :func:`check_kernel_equals_twin` — the registered Numba kernels against the NumPy twins:
  spikes and membranes bit for bit, BPTT (and ``dL/dk``) to float rounding;
* :func:`check_gradcheck` — finite differences of the smooth twin against its BPTT;
* :func:`check_step_equals_fused` — a Python loop of the layer's ``step`` against the fused
  multi-step path: values bit for bit, gradients to 1e-10;
* :func:`check_cuda_matches_reference` — the CUDA kernels from the template (host-emulated
  by default, ``-m gpu`` on a device) against the reference;
* :func:`check_golden` — golden cases of the form's kernels in a golden file reproduce.

Used by ``tests/neurons/test_forms.py`` (every registered form, and a throwaway one) and
``tests/accel/test_forms_cuda.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.backend import kernel
from refsnn.neurons.base import run_form
from refsnn.neurons.surrogate import get_surrogate
from refsnn.testing import gradcheck

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "accel"))
from test_golden_parity import golden_cases, run_case

SURROGATES = [(0, 25.0, 0.0), (1, 2.0, 0.0), (2, 4.0, 0.0), (3, 1.0, 0.0), (4, 0.3, 0.0),
              (5, 0.3, 0.01)]
SMOOTH = ["fast_sigmoid", "arctan", "sigmoid", "triangle", "linear"]
EXP_FREE = {0, 1, 3, 4, 5}  # surrogates without exp(): bit-exact on a GPU too
RTOL = {np.float32: 1e-6, np.float64: 1e-12}


def make_layer(form, example, surrogate="fast_sigmoid", detach=True):
    return form.layer(**example, surrogate=surrogate, detach_reset=detach, return_membrane=True)


def kernel_args(form, example) -> tuple:
    return tuple(make_layer(form, example).kernel_args())


def inputs(form, rng, shape, dtype):
    X = (form.drive * (0.6 * rng.standard_normal(shape) + 0.4)).astype(dtype)
    gS, gM = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    return X, gS, gM


def close(a, b, dtype):
    scale = max(1.0, float(np.abs(b).max()))
    np.testing.assert_allclose(a, b, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


def _backward(fn, form, gs, gm, S, M, X, args, sg, detach):
    """``(dX, dk)`` from a form's backward kernel or twin (``dk = None`` without a learnable)."""
    if form.learnable:
        return fn(gs, gm, S, M, X, *args, *sg, detach, True)
    return fn(gs, gm, S, M, *args, *sg, detach), None


def check_kernel_equals_twin(form, example, dtype, sg, rng):
    args = kernel_args(form, example)
    X, gS, gM = inputs(form, rng, (13, 50), dtype)
    S, M = kernel(f"{form.name}_forward")(X, *args)
    S2, M2 = form.forward_twin(X, *args)
    assert S.dtype == dtype and M.dtype == dtype and set(np.unique(S)) <= {0.0, 1.0}
    np.testing.assert_array_equal(S, S2)
    np.testing.assert_array_equal(M, M2)
    assert 0 < S.sum() < S.size  # the trace exercises both branches
    backward = kernel(f"{form.name}_backward")
    for detach in (True, False):
        for gs, gm in ((gS, gM), (gS, None), (None, gM)):
            d1, k1 = _backward(backward, form, gs, gm, S, M, X, args, sg, detach)
            d2, k2 = _backward(form.backward_twin, form, gs, gm, S, M, X, args, sg, detach)
            assert d1.dtype == dtype
            close(d1, d2, dtype)
            if form.learnable:
                assert k1 == pytest.approx(k2, rel=1e-9 if dtype == np.float64 else 1e-5)


def check_gradcheck(form, example, surrogate, detach, T, seed):
    """Central differences of the smooth twin (float64) against its BPTT, to ``x`` (and ``k``)."""
    rng = np.random.default_rng(seed)
    args = kernel_args(form, example)
    x = Tensor(form.drive * (0.8 * rng.standard_normal((T, 2, 3)) + 0.5), requires_grad=True)
    v = rng.standard_normal((T, 2, 3))
    sg = get_surrogate(surrogate)
    extra = [Tensor(np.array(args[0]), requires_grad=True)] if form.learnable else []

    def f(x, *k):
        s, m = run_form("gradcheck", form, x, args, sg, detach, smooth=True,
                        k=k[0] if k else None)
        return s + m * v  # gradient enters through the spikes and through the membrane

    assert gradcheck(f, [x, *extra], eps=1e-6, atol=1e-6, rtol=1e-5)


def check_step_equals_fused(form, example, surrogate, detach, rng):
    layer = make_layer(form, example, surrogate, detach)
    x_np = form.drive * (0.6 * rng.standard_normal((9, 2, 5)) + 0.4)
    vs, vm = rng.standard_normal((2, 9, 2, 5))
    runs = []
    for path in ("multi", "steps"):
        x = Tensor(x_np.copy(), requires_grad=True)
        s, m = layer(x) if path == "multi" else layer.run_steps(x)
        (s * vs + m * vm).sum().backward()
        runs.append((s.data, m.data, x.grad))
    (s1, m1, g1), (s2, m2, g2) = runs
    assert 0 < s1.sum() < s1.size
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_allclose(g1, g2, rtol=1e-10, atol=1e-12)


def check_cuda_matches_reference(form, example, device, rng, dtype=np.float32):
    """The CUDA pair built from the form's snippets against the registered reference kernels."""
    from accel.cupy._fused import form_kernels

    cuda = form_kernels(form)
    args = kernel_args(form, example)
    X, gS, gM = inputs(form, rng, (20, 131), dtype)
    S_ref, M_ref = kernel(f"{form.name}_forward")(X, *args)
    S, M = cuda[f"{form.name}_forward"](device.put(X), *args)
    np.testing.assert_array_equal(device.get(S), S_ref)
    np.testing.assert_array_equal(device.get(M), M_ref)
    assert S_ref.any()
    ref_bwd, cuda_bwd = kernel(f"{form.name}_backward"), cuda[f"{form.name}_backward"]
    for sg in SURROGATES:
        for detach in (False, True):
            want, k_want = _backward(ref_bwd, form, gS, gM, S_ref, M_ref, X, args, sg, detach)
            got, k_got = _backward(cuda_bwd, form, device.put(gS), device.put(gM),
                                   device.put(S_ref), device.put(M_ref), device.put(X), args, sg,
                                   detach)
            got = device.get(got)
            if sg[0] in EXP_FREE or device.kind == "emu":
                np.testing.assert_array_equal(got, want)
            scale = max(1.0, float(np.abs(want).max()))
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * scale)
            if form.learnable:
                assert k_got == pytest.approx(k_want, rel=1e-6, abs=1e-6)


def check_golden(form, directory, device):
    """Every golden case of the form's two kernels in ``directory`` reproduces on ``device``."""
    cases = [(path, case) for path, case in golden_cases(directory)
             if case_kernel(path, case) in (f"{form.name}_forward", f"{form.name}_backward")]
    want = {f"{form.name}_forward", f"{form.name}_backward"}
    missing = want - {case_kernel(p, c) for p, c in cases}
    assert not missing, (f"form {form.name!r}: no golden case for {sorted(missing)} — record "
                         "them with tests/golden/make_golden.py")
    for path, case in cases:
        assert run_case(path, case, device) > 0


def case_kernel(path, case) -> str:
    from test_golden_parity import load_meta

    return load_meta(path)["cases"][case].get("kernel", "")


class ReferenceDevice:
    """The reference backend in the golden runner's device interface."""

    kind = "reference"

    @staticmethod
    def put(a):
        return None if a is None else np.array(a, copy=True)

    @staticmethod
    def get(a):
        return None if a is None else np.asarray(a)

    @staticmethod
    def kernel(name):
        return kernel(name, "numpy")
