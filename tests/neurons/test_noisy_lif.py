"""Noisy LIF neuron (form 5): gradcheck of the expectation mode, an autograd-ops reference for
every mode (straight-through spikes, detached or live reset), Module behaviour and errors."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn import autograd as ag
from refsnn.autograd import Tensor
from refsnn.neurons.noisy import NoisyLIF, noisy_lif
from refsnn.testing import gradcheck


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_gradcheck_expectation_mode(rng, reset):
    x = Tensor(0.8 * rng.standard_normal((5, 2, 3)) + 0.6, requires_grad=True)

    def f(x):
        s, h = noisy_lif(x, 0.8, 1.0, 0.3, reset, training=False, detach_reset=False,
                         v_reset=0.2, expectation=True, return_membrane=True)
        return s * 1.5 + h * 0.5

    assert gradcheck(f, [x], eps=1e-6, atol=1e-7, rtol=1e-5)


def _reference(x, u, lam, theta, tn, reset, vr, mode, detach):
    """The same neuron from autograd primitives: S = p + const (value S, gradient dp/dH)."""
    T = x.shape[0]
    v = Tensor(np.zeros(x.shape[1:]))
    S, H = [], []
    for t in range(T):
        h = v * lam + x[t]
        p = ag.sigmoid((h - theta) * (1.0 / tn))
        if mode == "expectation":
            value = p.data
        elif mode == "bernoulli":
            value = (u[t] < p.data).astype(np.float64)
        else:
            value = (h.data > theta).astype(np.float64)
        s = p + Tensor(value - p.data)
        r = s.detach() if detach else s
        v = h - r * theta if reset == "soft" else (1.0 - r) * h + r * vr
        S.append(s)
        H.append(h)
    return ag.stack(S), ag.stack(H)


@pytest.mark.parametrize("mode", ["threshold", "bernoulli", "expectation"])
@pytest.mark.parametrize("reset", ["soft", "hard"])
@pytest.mark.parametrize("detach", [True, False])
def test_matches_autograd_reference(rng, mode, reset, detach):
    lam, theta, tn, vr = 0.9, 1.0, 0.25, 0.1
    x0 = 0.7 * rng.standard_normal((8, 3, 4)) + 0.5
    a, b = rng.standard_normal(x0.shape), rng.standard_normal(x0.shape)
    u = np.random.default_rng(7).random((8, 12)).reshape(x0.shape)

    x1 = Tensor(x0.copy(), requires_grad=True)
    s1, h1 = noisy_lif(x1, lam, theta, tn, reset, rng=np.random.default_rng(7),
                       training=(mode == "bernoulli"), detach_reset=detach, v_reset=vr,
                       expectation=(mode == "expectation"), return_membrane=True)
    ((s1 * a).sum() + (h1 * b).sum()).backward()

    x2 = Tensor(x0.copy(), requires_grad=True)
    s2, h2 = _reference(x2, u, lam, theta, tn, reset, vr, mode, detach)
    ((s2 * a).sum() + (h2 * b).sum()).backward()

    np.testing.assert_allclose(s1.data, s2.data, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h1.data, h2.data, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(x1.grad, x2.grad, rtol=1e-9, atol=1e-12)
    if mode != "expectation":
        assert set(np.unique(s1.data)) <= {0.0, 1.0} and 0 < s1.data.mean() < 1


def test_float32_in_float32_out(rng):
    x = Tensor(rng.standard_normal((4, 2, 5)).astype(np.float32), requires_grad=True)
    s, h = noisy_lif(x, rng=0, return_membrane=True)
    assert s.dtype == np.float32 and h.dtype == np.float32 and s.shape == (4, 2, 5)
    s.sum().backward()
    assert x.grad.dtype == np.float32 and np.isfinite(x.grad).all()


def test_module_training_and_eval(rng):
    x = (rng.standard_normal((30, 4, 5)) * 0.5 + 0.8).astype(np.float32)
    a = NoisyLIF(lam=0.9, theta=1.0, t_noise=0.3, rng=3)
    b = NoisyLIF(lam=0.9, theta=1.0, t_noise=0.3, rng=3)
    sa, sb = a(x).data, b(x).data
    np.testing.assert_array_equal(sa, sb)  # same seed, same bits
    assert not np.array_equal(a(x).data, sa)  # the Generator advances
    a.eval()
    det = a(x).data
    thr = noisy_lif(x, 0.9, 1.0, 0.3, training=False).data
    np.testing.assert_array_equal(det, thr)
    # the deterministic threshold by hand on the first step: S[0] = [x[0] > theta]
    np.testing.assert_array_equal(det[0], (x[0] > 1.0).astype(np.float32))
    a.stochastic_eval = True
    assert not np.array_equal(a(x).data, det)


def test_module_membrane_and_repr():
    layer = NoisyLIF(return_membrane=True, reset="hard")
    layer.eval()
    s, h = layer(np.full((3, 1, 2), 0.7, np.float32))
    assert s.shape == h.shape == (3, 1, 2)
    np.testing.assert_allclose(h.data[:, 0, 0], [0.7, 1.05, 0.7], rtol=1e-6)  # lam = 0.5, reset to 0
    assert "t_noise=0.1" in repr(layer)


def test_errors(rng):
    x = rng.standard_normal((3, 2)).astype(np.float32)
    with pytest.raises(TypeError, match="rng"):
        noisy_lif(x, training=True)
    with pytest.raises(ValueError, match="reset"):
        noisy_lif(x, reset="sideways", training=False)
    with pytest.raises(ValueError, match="t_noise"):
        noisy_lif(x, t_noise=-1.0, training=False)
    with pytest.raises(TypeError, match="float32 or float64"):
        noisy_lif(np.ones((3, 2), np.int64), training=False)
    with pytest.raises(ValueError, match="T, B"):
        noisy_lif(np.ones(3, np.float32), training=False)
    with pytest.raises(TypeError, match="rng"):
        NoisyLIF()(x)  # training mode without a Generator
    with pytest.raises(ValueError, match="t_noise"):
        NoisyLIF(t_noise=0.0)


@pytest.mark.parametrize("stochastic", [False, True])
@pytest.mark.parametrize("reset", ["soft", "hard"])
@pytest.mark.parametrize("detach", [True, False])
def test_single_step_equals_fused_multi_step(rng, stochastic, reset, detach):
    """``step`` (autograd ops, one draw per step) == the fused kernel (one [T, N] draw)."""
    x0 = 0.5 * rng.standard_normal((9, 2, 4)) + 0.7
    out = []
    for path in ("multi", "steps"):
        layer = NoisyLIF(lam=0.9, theta=1.0, t_noise=0.3, reset=reset, v_reset=0.1,
                         detach_reset=detach, rng=5, return_membrane=True)
        layer.train(stochastic)
        x = Tensor(x0.copy(), requires_grad=True)
        s, h = layer(x) if path == "multi" else layer.run_steps(x)
        (s * np.cos(x0) + h * np.sin(x0)).sum().backward()
        out.append((s.data, h.data, x.grad))
    (s1, h1, g1), (s2, h2, g2) = out
    np.testing.assert_array_equal(s1, s2)
    assert 0 < s1.mean() < 1
    np.testing.assert_allclose(h1, h2, rtol=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-9, atol=1e-12)


def test_range_validation_and_nan_input():
    x = np.full((3, 2), 0.5, np.float32)
    with pytest.raises(ValueError, match="noisy_lif: lam must be in"):
        noisy_lif(x, lam=5, training=False)
    with pytest.raises(ValueError, match="noisy_lif: theta must be > 0"):
        noisy_lif(x, theta=-1, training=False)
    with pytest.raises(ValueError, match="NoisyLIF: lam must be in"):
        NoisyLIF(lam=0.0)
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match="noisy_lif: x contains 1 non-finite"):
        noisy_lif(x, training=False)
    layer = NoisyLIF(rng=0)
    with pytest.raises(ValueError, match="NoisyLIF: x contains 1 non-finite"):
        layer(x)
