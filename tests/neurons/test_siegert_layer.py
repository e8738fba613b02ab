"""Siegert neuron functional and layer: noise, exact mode, no gradient, module plumbing, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.kernels.siegert import siegert_forward
from refsnn.neurons.siegert import SiegertLayer, siegert

P = dict(tau_m=5.0, tau_s=0.001, t_ref=0.002, v_th=0.005, v_reset=0.0, v_rest=0.0)


def _data(rng, B=6, n_in=30, n_out=8):
    x = rng.random((B, n_in)).astype(np.float32)
    W = (0.01 * rng.standard_normal((n_in, n_out)) + 0.005).astype(np.float32)
    return x, W


def test_functional_matches_kernel(rng):
    x, W = _data(rng)
    y = siegert(x, W)
    assert isinstance(y, Tensor) and y.dtype == np.float32 and y.shape == (6, 8)
    np.testing.assert_array_equal(y.data, siegert_forward(x, W, None, *P.values()))
    assert 0 < y.data.max() < 1


def test_single_unit_by_hand():
    # one input of rate 1 through w = 0.05: μ = 0.25, σ = sqrt(5·0.0025/2) = 0.0790569
    mu, sigma = 5 * 0.05, math.sqrt(5 * 0.05**2 / 2)
    k = math.sqrt(0.001 / 5) * 1.4603545088095868
    from scipy.special import erfcx

    a, c = k * sigma, 0.005 + k * sigma
    f = [erfcx((mu - u) / (sigma * math.sqrt(2))) for u in (a, (a + c) / 2, c)]
    integral = (c - a) / 6 * (f[0] + 4 * f[1] + f[2])
    want = 0.002 / (0.002 + 5 / sigma * math.sqrt(math.pi / 2) * integral)
    y = siegert(np.array([1.0]), np.array([[0.05]]))
    assert y.shape == (1,) and float(y.data[0]) == pytest.approx(want, rel=1e-12)


def test_exact_mode_close_to_simpson(rng):
    x, W = _data(rng, B=3, n_in=30, n_out=4)
    W = W * 5  # σ ≈ 0.05: the regime where 3-point Simpson is accurate to 1e-6
    a = siegert(x.astype(np.float64), W.astype(np.float64)).data
    b = siegert(x.astype(np.float64), W.astype(np.float64), exact=True).data
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_noise_is_seeded_and_matches_by_hand(rng):
    x, W = _data(rng)
    y1 = siegert(x, W, noise=True, temp=0.05, rng=11).data
    y2 = siegert(x, W, noise=True, temp=0.05, rng=np.random.default_rng(11)).data
    np.testing.assert_array_equal(y1, y2)
    z = np.random.default_rng(11).standard_normal(x.shape)
    x_noisy = np.maximum(x + (0.05 * z).astype(np.float32), 0).astype(np.float32)
    np.testing.assert_array_equal(y1, siegert(x_noisy, W).data)
    assert not np.array_equal(y1, siegert(x, W).data)


def test_no_gradient(rng):
    x, W = _data(rng)
    y = siegert(Tensor(x), Tensor(W, requires_grad=True))
    assert not y.requires_grad
    with pytest.raises(RuntimeError):
        y.sum().backward()


def test_layer(rng):
    layer = SiegertLayer(30, 8, rng=0)
    assert layer.weight.shape == (30, 8) and layer.bias is None
    assert set(layer.state_dict()) == {"weight"}
    x, _ = _data(rng)
    y = layer(x)
    np.testing.assert_array_equal(y.data, siegert(x, layer.weight.data).data)
    assert layer(np.zeros((2, 30), np.float32)).data.tolist() == [[0.0] * 8] * 2
    zero = SiegertLayer(4, 3, bias=True)
    assert not zero.weight.data.any() and zero.bias.shape == (3,)
    noisy = SiegertLayer(30, 8, rng=0, noise=True, temp=0.1, v_th=0.01)
    assert noisy.params["v_th"] == 0.01
    assert not np.array_equal(noisy(x).data, noisy(x).data)  # fresh noise each call
    assert "n_in=30" in repr(layer)


def test_errors(rng):
    x, W = _data(rng)
    with pytest.raises(ValueError, match="rates >= 0"):
        siegert(-x, W)
    with pytest.raises(TypeError, match="rng"):
        siegert(x, W, noise=True)
    with pytest.raises(ValueError, match="n_in"):
        siegert(x, W.T, exact=True)
    with pytest.raises(ValueError, match="B, n_in"):
        siegert(x[None], W)
    with pytest.raises(TypeError, match="noise=True"):
        SiegertLayer(3, 2, noise=True)
    with pytest.raises(TypeError, match="unknown parameter"):
        SiegertLayer(3, 2, v_thresh=1.0)
    with pytest.raises(ValueError, match="v_reset < v_th"):
        SiegertLayer(3, 2, v_th=-1.0)
    with pytest.raises(ValueError, match=">= 1"):
        SiegertLayer(0, 2)
    with pytest.raises(ValueError, match="expected input"):
        SiegertLayer(3, 2)(np.ones((2, 4), np.float32))
