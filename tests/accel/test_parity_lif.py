"""CuPy LIF kernels (forms 1 and 2) against the reference NumPy/Numba kernels, on random inputs.

Runs twice: on the host emulator of the CUDA source (default run) and on a
real GPU (``-m gpu``).  The reference is ``refsnn.backend.kernel(name,
"numpy")``.  Spikes must match exactly, forward membranes bit for bit (the
kernels use only ``+ − ×`` and comparisons, compiled without FMA
contraction), BPTT gradients to 1e-4 (exactly, too, except where the
surrogate calls ``exp``).
"""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.backend import kernel

SHAPES = [(1, 1), (7, 5), (25, 300), (40, 513)]
SURROGATES = [(0, 25.0, 0.0), (1, 2.0, 0.0), (2, 4.0, 0.0), (3, 1.0, 0.0), (4, 0.3, 0.0),
              (5, 0.3, 0.01)]
EXP_FREE = {0, 1, 3, 4, 5}  # surrogates without exp(): bit-exact even on the GPU


def ref(name):
    return kernel(name, "numpy")


def inputs(rng, shape, dtype, scale=0.8, bias=0.35):
    X = (scale * rng.standard_normal(shape) + bias).astype(dtype)
    gS = rng.standard_normal(shape).astype(dtype)
    gU = rng.standard_normal(shape).astype(dtype)
    return X, gS, gU


def assert_grad_close(got, want, exact: bool):
    if exact:
        np.testing.assert_array_equal(got, want)
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reset", [0, 1])
def test_lif_delayed_forward(device, rng, shape, dtype, reset):
    X, _, _ = inputs(rng, shape, dtype)
    S_ref, U_ref = ref("lif_delayed_forward")(X, 0.7, 1.0, reset)
    S, U = device.kernel("lif_delayed_forward")(device.put(X), 0.7, 1.0, reset)
    S, U = device.get(S), device.get(U)
    assert S.dtype == dtype and U.dtype == dtype and S.shape == shape
    np.testing.assert_array_equal(S, S_ref)
    np.testing.assert_array_equal(U, U_ref)
    assert S_ref.any() or shape == (1, 1)  # the inputs do make neurons fire


@pytest.mark.parametrize("sg", SURROGATES, ids=lambda s: f"sg{s[0]}")
@pytest.mark.parametrize("reset", [0, 1])
@pytest.mark.parametrize("detach", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lif_delayed_backward(device, rng, sg, reset, detach, dtype):
    X, gS, gU = inputs(rng, (30, 257), dtype)
    S, U = ref("lif_delayed_forward")(X, 0.7, 1.0, reset)
    for gs, gu in ((gS, gU), (gS, None), (None, gU)):
        want = ref("lif_delayed_backward")(gs, gu, S, U, 0.7, 1.0, reset, *sg, detach)
        got = device.kernel("lif_delayed_backward")(device.put(gs), device.put(gu), device.put(S),
                                                    device.put(U), 0.7, 1.0, reset, *sg, detach)
        assert_grad_close(device.get(got), want, exact=sg[0] in EXP_FREE or device.kind == "emu")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reset,v_reset", [(0, 0.0), (1, 0.0), (1, -0.2)])
@pytest.mark.parametrize("lam", [1.0, 0.99])
def test_lif_immediate_forward(device, rng, shape, dtype, reset, v_reset, lam):
    X, _, _ = inputs(rng, shape, dtype)
    S_ref, H_ref = ref("lif_immediate_forward")(X, lam, 1.0, reset, v_reset)
    S, H = device.kernel("lif_immediate_forward")(device.put(X), lam, 1.0, reset, v_reset)
    np.testing.assert_array_equal(device.get(S), S_ref)
    np.testing.assert_array_equal(device.get(H), H_ref)


@pytest.mark.parametrize("sg", SURROGATES, ids=lambda s: f"sg{s[0]}")
@pytest.mark.parametrize("reset,v_reset", [(0, 0.0), (1, -0.2)])
@pytest.mark.parametrize("detach", [True, False])
def test_lif_immediate_backward(device, rng, sg, reset, v_reset, detach):
    X, gS, gH = inputs(rng, (30, 257), np.float32)
    S, H = ref("lif_immediate_forward")(X, 0.99, 1.0, reset, v_reset)
    for gs, gh in ((gS, gH), (gS, None)):
        args = (0.99, 1.0, reset, v_reset, *sg, detach)
        want = ref("lif_immediate_backward")(gs, gh, S, H, *args)
        got = device.kernel("lif_immediate_backward")(device.put(gs), device.put(gh), device.put(S),
                                                      device.put(H), *args)
        assert_grad_close(device.get(got), want, exact=sg[0] in EXP_FREE or device.kind == "emu")


def test_backward_accepts_bool_spikes_and_noncontiguous_grads(device, rng):
    X, gS, _ = inputs(rng, (12, 40), np.float32)
    S, U = ref("lif_delayed_forward")(X, 0.7, 1.0, 0)
    want = ref("lif_delayed_backward")(gS, None, S, U, 0.7, 1.0, 0, 0, 25.0, 0.0, True)
    gS_f = np.asfortranarray(gS)  # same values, other layout: made contiguous, like the reference
    got = device.kernel("lif_delayed_backward")(device.put(gS_f), None, device.put(S.astype(bool)),
                                                device.put(U), 0.7, 1.0, 0, 0, 25.0, 0.0, True)
    np.testing.assert_array_equal(device.get(got), want)
