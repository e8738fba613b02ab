"""Noisy-LIF kernels (form 5): Numba kernel == NumPy twin, hand values, independent recursions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from refsnn.backend import kernel
from refsnn.neurons.noisy import (
    noisy_lif_backward,
    noisy_lif_backward_twin,
    noisy_lif_forward,
    noisy_lif_forward_twin,
)

CFG = (0.9, 0.5, 0.2, 0.1)  # lam, theta, t_noise, v_reset (v_reset used by hard reset)


def _inputs(rng, T, N, dtype):
    X = (0.6 * rng.standard_normal((T, N)) + 0.3).astype(dtype)
    U = rng.random((T, N), dtype=dtype)
    return X, U


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reset", [0, 1])
@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("noise", [0, 1], ids=["logistic", "gaussian"])
def test_kernel_equals_twin(rng, dtype, reset, mode, noise):
    lam, theta, tn, vr = CFG
    X, U = _inputs(rng, 7, 2100, dtype)  # N > BLOCK: two neuron blocks
    S, H = noisy_lif_forward(X, U, lam, theta, tn, reset, vr, mode, noise)
    S2, H2 = noisy_lif_forward_twin(X, U, lam, theta, tn, reset, vr, mode, noise)
    assert S.dtype == dtype and H.dtype == dtype
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    if mode == 2:
        np.testing.assert_allclose(S, S2, rtol=rtol, atol=0)
    else:
        np.testing.assert_array_equal(S, S2)
        assert 0.05 < S.mean() < 0.6
    np.testing.assert_allclose(H, H2, rtol=rtol, atol=1e-12)
    gS = rng.standard_normal(X.shape).astype(dtype)
    gH = rng.standard_normal(X.shape).astype(dtype)
    for detach in (True, False):
        for gs, gh in ((gS, gH), (gS, None), (None, gH)):
            d1 = noisy_lif_backward(gs, gh, S, H, lam, theta, tn, reset, vr, detach, noise)
            d2 = noisy_lif_backward_twin(gs, gh, S, H, lam, theta, tn, reset, vr, detach, noise)
            assert d1.dtype == dtype
            np.testing.assert_allclose(d1, d2, rtol=10 * rtol, atol=10 * rtol * np.abs(d2).max())


def _reference_forward(X, U, lam, theta, tn, reset, vr, mode):
    """Scalar Python loop, float64, written independently of the kernel and twin."""
    T, N = X.shape
    S = np.zeros((T, N))
    H = np.zeros((T, N))
    for n in range(N):
        v = 0.0
        for t in range(T):
            h = lam * v + float(X[t, n])
            p = 1.0 / (1.0 + math.exp(-(h - theta) / tn))
            s = {0: float(h > theta), 1: float(U[t, n] < p), 2: p}[mode]
            v = h - theta * s if reset == 0 else (1 - s) * h + s * vr
            S[t, n], H[t, n] = s, h
    return S, H


@pytest.mark.parametrize("reset", [0, 1])
@pytest.mark.parametrize("mode", [0, 1, 2])
def test_forward_matches_scalar_loop(rng, reset, mode):
    X, U = _inputs(rng, 12, 40, np.float64)
    S, H = noisy_lif_forward(X, U, *CFG[:3], reset, CFG[3], mode)
    S_ref, H_ref = _reference_forward(X, U, *CFG[:3], reset, CFG[3], mode)
    np.testing.assert_allclose(H, H_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(S.astype(np.float64), S_ref, rtol=1e-12, atol=1e-15)


def test_hand_values_threshold_mode():
    # lam = 1, theta = 1, x = 0.6: H = 0.6, 1.2 (fire, V = 0.2), 0.8, 1.4 (fire) ...
    X = np.full((4, 1), 0.6)
    S, H = noisy_lif_forward(X, None, 1.0, 1.0, 0.1, 0, 0.0, 0)
    assert S.ravel().tolist() == [0, 1, 0, 1]
    np.testing.assert_allclose(H.ravel(), [0.6, 1.2, 0.8, 1.4], rtol=1e-12)
    S, H = noisy_lif_forward(X, None, 1.0, 1.0, 0.1, 1, 0.0, 0)  # hard reset to 0
    np.testing.assert_allclose(H.ravel(), [0.6, 1.2, 0.6, 1.2], rtol=1e-12)


def test_bernoulli_rate_matches_sigmoid(rng):
    # lam = 0: H[t] = X[t], so P(S = 1) = sigma((x - theta) / T_noise) exactly.
    theta, tn, T = 1.0, 0.25, 20000
    x = np.array([0.5, 0.9, 1.0, 1.2, 1.6])
    X = np.tile(x, (T, 1))
    U = rng.random(X.shape)
    S, _ = noisy_lif_forward(X, U, 0.0, theta, tn, 0, 0.0, 1)
    p = 1 / (1 + np.exp(-(x - theta) / tn))
    se = np.sqrt(p * (1 - p) / T)
    assert np.all(np.abs(S.mean(axis=0) - p) < 5 * se + 1e-12)


def test_extreme_probabilities():
    X = np.array([[-50.0, 50.0]] * 3)
    U = np.array([[0.0, 0.999999]] * 3)
    S, _ = noisy_lif_forward(X, U, 0.0, 0.0, 0.01, 0, 0.0, 1)
    assert S[:, 0].tolist() == [0, 0, 0] and S[:, 1].tolist() == [1, 1, 1]


def test_backward_two_steps_by_hand():
    lam, theta, tn = 0.5, 1.0, 0.5
    X = np.array([[0.8], [0.9]])
    S, H = noisy_lif_forward(X, None, lam, theta, tn, 0, 0.0, 0)
    assert S.ravel().tolist() == [0, 1] and np.allclose(H.ravel(), [0.8, 1.3])
    g = [math.exp(-(h - theta) / tn) / (1 + math.exp(-(h - theta) / tn)) ** 2 / tn for h in H.ravel()]
    gS = np.array([[1.0], [2.0]])
    gH = np.array([[0.3], [0.0]])
    dX = noisy_lif_backward(gS, gH, S, H, lam, theta, tn, 0, 0.0, True)
    d1 = g[1] * 2.0  # δH[2]
    d0 = 0.3 + g[0] * 1.0 + lam * d1  # soft, detached: ∂V/∂H = 1
    np.testing.assert_allclose(dX.ravel(), [d0, d1], rtol=1e-12)
    dX = noisy_lif_backward(gS, gH, S, H, lam, theta, tn, 0, 0.0, False)
    d0 = 0.3 + g[0] * (1.0 + lam * d1 * (-theta)) + lam * d1
    np.testing.assert_allclose(dX.ravel(), [d0, d1], rtol=1e-12)


def test_registered():
    assert kernel("noisy_lif_forward", "numpy") is noisy_lif_forward
    assert kernel("noisy_lif_backward", "numpy") is noisy_lif_backward


def test_errors(rng):
    X, U = _inputs(rng, 3, 4, np.float32)
    with pytest.raises(ValueError, match="mode"):
        noisy_lif_forward(X, U, 0.9, 1.0, 0.2, 0, 0.0, 3)
    with pytest.raises(ValueError, match="unknown mode"):
        noisy_lif_forward(X, U, 0.9, 1.0, 0.2, 0, 0.0, "gibbs")
    with pytest.raises(ValueError, match="t_noise"):
        noisy_lif_forward(X, U, 0.9, 1.0, 0.0, 0, 0.0, 1)
    with pytest.raises(TypeError, match="needs U"):
        noisy_lif_forward(X, None, 0.9, 1.0, 0.2, 0, 0.0, 1)
    with pytest.raises(ValueError, match="U has shape"):
        noisy_lif_forward(X, U[:2], 0.9, 1.0, 0.2, 0, 0.0, 1)
    with pytest.raises(ValueError, match="reset"):
        noisy_lif_forward(X, U, 0.9, 1.0, 0.2, 2, 0.0, 1)
    with pytest.raises(ValueError, match="2-D"):
        noisy_lif_forward(X[0], U, 0.9, 1.0, 0.2, 0, 0.0, 0)
    S, H = noisy_lif_forward(X, U, 0.9, 1.0, 0.2, 0, 0.0, 1)
    with pytest.raises(ValueError, match="S must be"):
        noisy_lif_backward(None, None, S[:2], H, 0.9, 1.0, 0.2, 0, 0.0, True)
    with pytest.raises(ValueError, match="gS has shape"):
        noisy_lif_backward(H[:1], None, S, H, 0.9, 1.0, 0.2, 0, 0.0, True)
