"""Numba kernels == NumPy twins, for every LIF form, mode, surrogate and dtype.

Spikes and forward membranes must be bit-identical (both compute the same
float operations in the array dtype); BPTT gradients agree to float rounding
(the sigmoid surrogate's ``exp`` differs between NumPy and LLVM by an ulp).
"""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.backend import kernel, registered_kernels
from refsnn.kernels._common import BLOCK, count_nonfinite
from refsnn.neurons.forms import FORMS

DTYPES = (np.float32, np.float64)
SURROGATES = [(0, 25.0, 0.0), (1, 2.0, 0.0), (2, 4.0, 0.0), (3, 1.0, 0.0), (4, 0.3, 0.0),
              (5, 0.3, 0.01)]
RTOL = {np.float32: 1e-6, np.float64: 1e-12}


class _Kernels:
    """``K.<name>_forward`` / ``_backward`` / ``_forward_twin`` / ``_backward_twin`` of one form."""

    def __init__(self, name):
        form = FORMS[name]
        for part in ("forward", "backward", "forward_twin", "backward_twin"):
            setattr(self, f"{name}_{part}", getattr(form, part))


K1, K2, K3, K4 = (_Kernels(n) for n in ("lif_delayed", "lif_immediate", "lif_decay", "lif_sj"))


def _inputs(rng, dtype, T=13, N=50):
    X = (0.7 * rng.standard_normal((T, N)) + 0.35).astype(dtype)
    gS = rng.standard_normal((T, N)).astype(dtype)
    gU = rng.standard_normal((T, N)).astype(dtype)
    return X, gS, gU


def _close(a, b, dtype):
    scale = max(1.0, float(np.abs(b).max()))
    np.testing.assert_allclose(a, b, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


def test_all_kernels_registered():
    names = registered_kernels("numpy")
    for form in ("lif_delayed", "lif_immediate", "lif_decay", "lif_sj"):
        assert f"{form}_forward" in names and f"{form}_backward" in names
        assert kernel(f"{form}_forward") is FORMS[form].forward
        assert kernel(f"{form}_backward") is FORMS[form].backward


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reset", [0, 1])
@pytest.mark.parametrize("sg", SURROGATES, ids=lambda s: str(s[0]))
def test_delayed_kernel_equals_twin(rng, dtype, reset, sg):
    X, gS, gU = _inputs(rng, dtype)
    S, U = K1.lif_delayed_forward(X, 0.8, 1.0, reset)
    S2, U2 = K1.lif_delayed_forward_twin(X, 0.8, 1.0, reset)
    assert S.dtype == dtype and U.dtype == dtype and set(np.unique(S)) == {0.0, 1.0}
    np.testing.assert_array_equal(S, S2)
    np.testing.assert_array_equal(U, U2)
    assert 0 < S.sum() < S.size  # the trace exercises both branches
    for detach in (True, False):
        for gs, gu in ((gS, gU), (gS, None), (None, gU)):
            d1 = K1.lif_delayed_backward(gs, gu, S, U, 0.8, 1.0, reset, *sg, detach)
            d2 = K1.lif_delayed_backward_twin(gs, gu, S, U, 0.8, 1.0, reset, *sg, detach)
            assert d1.dtype == dtype
            _close(d1, d2, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reset", [0, 1])
@pytest.mark.parametrize("sg", SURROGATES, ids=lambda s: str(s[0]))
def test_immediate_kernel_equals_twin(rng, dtype, reset, sg):
    X, gS, gH = _inputs(rng, dtype)
    S, H = K2.lif_immediate_forward(X, 0.9, 1.0, reset, -0.3)
    S2, H2 = K2.lif_immediate_forward_twin(X, 0.9, 1.0, reset, -0.3)
    np.testing.assert_array_equal(S, S2)
    np.testing.assert_array_equal(H, H2)
    assert 0 < S.sum() < S.size
    for detach in (True, False):
        for gs, gh in ((gS, gH), (gS, None), (None, gH)):
            d1 = K2.lif_immediate_backward(gs, gh, S, H, 0.9, 1.0, reset, -0.3, *sg, detach)
            d2 = K2.lif_immediate_backward_twin(gs, gh, S, H, 0.9, 1.0, reset, -0.3, *sg, detach)
            _close(d1, d2, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sg", SURROGATES, ids=lambda s: str(s[0]))
def test_decay_kernel_equals_twin(rng, dtype, sg):
    X, gS, gU = _inputs(rng, dtype)
    for v_thr, tau in ((1.0, 0.5), (0.6, 0.9)):
        S, U = K3.lif_decay_forward(X, v_thr, tau)
        S2, U2 = K3.lif_decay_forward_twin(X, v_thr, tau)
        np.testing.assert_array_equal(S, S2)
        np.testing.assert_array_equal(U, U2)
        for detach in (True, False):
            d1 = K3.lif_decay_backward(gS, gU, S, U, v_thr, tau, *sg, detach)
            d2 = K3.lif_decay_backward_twin(gS, gU, S, U, v_thr, tau, *sg, detach)
            _close(d1, d2, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reset", [0, 1])
@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("sg", SURROGATES, ids=lambda s: str(s[0]))
def test_sj_kernel_equals_twin(rng, dtype, reset, decay_input, sg):
    X, gS, gH = _inputs(rng, dtype)
    X = X * 2
    args = (0.45, 1.0, -0.2, reset, decay_input)
    S, H = K4.lif_sj_forward(X, *args)
    S2, H2 = K4.lif_sj_forward_twin(X, *args)
    np.testing.assert_array_equal(S, S2)
    np.testing.assert_array_equal(H, H2)
    assert 0 < S.sum() < S.size
    for detach in (True, False):
        for gs, gh in ((gS, gH), (None, gH)):
            d1, k1 = K4.lif_sj_backward(gs, gh, S, H, X, *args, *sg, detach, True)
            d2, k2 = K4.lif_sj_backward_twin(gs, gh, S, H, X, *args, *sg, detach, True)
            _close(d1, d2, dtype)
            assert k1 == pytest.approx(k2, rel=1e-9 if dtype == np.float64 else 1e-5)
        d3, k3 = K4.lif_sj_backward(gS, gH, S, H, None, *args, *sg, False, False)
        assert k3 == 0.0


@pytest.mark.parametrize("form", ["delayed", "immediate", "sj"])
def test_block_boundaries_and_wide_layers(rng, form):
    """N spanning several Numba blocks plus a ragged tail: same as the twin."""
    N = 2 * BLOCK + 37
    X, gS, _ = _inputs(rng, np.float32, T=6, N=N)
    if form == "delayed":
        S, U = K1.lif_delayed_forward(X, 0.7, 1.0, 0)
        S2, U2 = K1.lif_delayed_forward_twin(X, 0.7, 1.0, 0)
        d1 = K1.lif_delayed_backward(gS, None, S, U, 0.7, 1.0, 0, 5, 0.3, 0.01, False)
        d2 = K1.lif_delayed_backward_twin(gS, None, S, U, 0.7, 1.0, 0, 5, 0.3, 0.01, False)
    elif form == "immediate":
        S, U = K2.lif_immediate_forward(X, 0.9, 1.0, 1, 0.0)
        S2, U2 = K2.lif_immediate_forward_twin(X, 0.9, 1.0, 1, 0.0)
        d1 = K2.lif_immediate_backward(gS, None, S, U, 0.9, 1.0, 1, 0.0, 5, 0.3, 0.01, True)
        d2 = K2.lif_immediate_backward_twin(gS, None, S, U, 0.9, 1.0, 1, 0.0, 5, 0.3, 0.01, True)
    else:
        S, U = K4.lif_sj_forward(X, 0.5, 1.0, 0.0, 1, True)
        S2, U2 = K4.lif_sj_forward_twin(X, 0.5, 1.0, 0.0, 1, True)
        d1, _ = K4.lif_sj_backward(gS, None, S, U, X, 0.5, 1.0, 0.0, 1, True, 5, 0.3, 0.01,
                                   False, False)
        d2, _ = K4.lif_sj_backward_twin(gS, None, S, U, X, 0.5, 1.0, 0.0, 1, True, 5, 0.3,
                                        0.01, False, False)
    np.testing.assert_array_equal(S, S2)
    np.testing.assert_array_equal(U, U2)
    _close(d1, d2, np.float32)


def test_no_upstream_gradient_gives_zero(rng):
    X, _, _ = _inputs(rng, np.float32)
    S, U = K1.lif_delayed_forward(X, 0.7, 1.0, 0)
    dX = K1.lif_delayed_backward(None, None, S, U, 0.7, 1.0, 0, 0, 25.0, 0.0, False)
    assert dX.shape == X.shape and not dX.any()


def test_spike_time_surrogate_uses_steps_since_last_spike():
    """One neuron, hand trace: spikes at i = 1 and 2 (0-based) → Δt = 1000, 1001, 1, 1, 2.

    Before the first spike the last one counts as 1,000 steps before step 0.
    """
    X = np.array([[0.6], [0.6], [1.5], [0.1], [0.1]], np.float32)  # IF, soft reset
    S, H = K2.lif_immediate_forward(X, 1.0, 1.0, 0, 0.0)
    assert S.ravel().tolist() == [0, 1, 1, 0, 0]
    gS = np.ones_like(X)
    a, b = 0.3, 0.002
    dX = K2.lif_immediate_backward(gS, None, S, H, 1.0, 1.0, 0, 0.0, 5, a, b, True)
    g = [a * np.exp(-b * d) for d in (1000, 1001, 1, 1, 2)]
    # detached soft reset, λ = 1: δH[t] = g[t] + δH[t+1]
    expected = np.cumsum(g[::-1])[::-1]
    np.testing.assert_allclose(dX.ravel(), expected, rtol=1e-6)


def test_kernel_argument_errors():
    X = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="2-D"):
        K1.lif_delayed_forward(np.zeros(4, np.float32), 0.7, 1.0, 0)
    with pytest.raises(TypeError, match="float32 or float64"):
        K1.lif_delayed_forward(np.zeros((3, 4), np.int32), 0.7, 1.0, 0)
    with pytest.raises(ValueError, match="T = 0"):
        K2.lif_immediate_forward(np.zeros((0, 4), np.float32), 1.0, 1.0, 0, 0.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        K1.lif_delayed_forward(np.zeros((4, 3), np.float32).T, 0.7, 1.0, 0)
    with pytest.raises(ValueError, match="reset code"):
        K1.lif_delayed_forward(X, 0.7, 1.0, 2)
    S, U = K1.lif_delayed_forward(X, 0.7, 1.0, 0)
    with pytest.raises(ValueError, match="sg_kind=9"):
        K1.lif_delayed_backward(U, None, S, U, 0.7, 1.0, 0, 9, 1.0, 0.0, True)
    with pytest.raises(ValueError, match="gU has shape"):
        K1.lif_delayed_backward(U, U[:2], S, U, 0.7, 1.0, 0, 0, 1.0, 0.0, True)
    with pytest.raises(ValueError, match="X is needed"):
        K4.lif_sj_backward(U, None, S, U, None, 0.5, 1.0, 0.0, 1, True, 2, 4.0, 0.0, False, True)


@pytest.mark.parametrize("form", ["delayed", "immediate", "decay", "sj"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_counts_nonfinite_inputs_in_its_pass(form, dtype):
    X = np.full((4, 2 * BLOCK + 5), 0.3, dtype)
    X[1, 3], X[2, BLOCK + 1], X[3, -1] = np.nan, np.inf, -np.inf
    call = {"delayed": lambda: K1.lif_delayed_forward(X, 0.7, 1.0, 0),
            "immediate": lambda: K2.lif_immediate_forward(X, 1.0, 1.0, 1, 0.0),
            "decay": lambda: K3.lif_decay_forward(X, 1.0, 0.5),
            "sj": lambda: K4.lif_sj_forward(X, 0.5, 1.0, 0.0, 1, True)}[form]
    with pytest.raises(ValueError, match=r"_forward: X contains 3 non-finite"):
        call()
    X[1, 3] = X[2, BLOCK + 1] = X[3, -1] = np.finfo(dtype).max  # the largest finite: fine
    S, _ = call()
    assert S.dtype == dtype


def test_helpers():
    X = np.ones((5, 7))
    assert count_nonfinite(X) == 0
    X[1, 2], X[4, 6], X[0, 0] = np.nan, np.inf, -np.inf
    assert count_nonfinite(X) == 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_count_nonfinite_bit_test_per_dtype(dtype):
    x = np.linspace(-3, 3, 70001).astype(dtype)
    x[[4, 77, 70000]] = [np.nan, np.inf, -np.inf]
    x[5] = np.finfo(dtype).max  # the largest finite value is not counted
    x[6] = np.finfo(dtype).tiny / 2  # nor a subnormal
    assert count_nonfinite(x) == 3
    assert count_nonfinite(x[::2]) == 2  # strided view: indices 4 and 70000
