"""Encoders: seeded bits equal an independent draw, empirical rates, latency hand values, errors."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.encoding import bernoulli, direct, encode, latency, rate, signed_poisson


def test_rate_bits_equal_independent_draw(rng):
    x = rng.random((4, 2, 3)) * 1.4 - 0.2  # includes values below 0 and above 1
    S = rate(x, 6, rng=42)
    u = np.random.default_rng(42).random((6, 4, 2, 3))
    np.testing.assert_array_equal(S, (u < np.clip(x, 0, 1)).astype(np.float32))
    assert S.dtype == np.float32 and S.shape == (6, 4, 2, 3)
    np.testing.assert_array_equal(S, rate(x, 6, np.random.default_rng(42)))  # same seed
    assert not np.array_equal(S, rate(x, 6, 43))
    assert not S[:, x <= 0].any() and S[:, x >= 1].all()  # clip is the definition
    assert bernoulli is rate and rate(x, 2, 0, dtype=np.uint8).dtype == np.uint8


def test_rate_empirical_probability(rng):
    p = np.array([0.0, 0.05, 0.17, 0.5, 0.9, 1.0])
    T = 20000
    S = rate(p, T, rng)
    se = np.sqrt(p * (1 - p) / T)
    assert np.all(np.abs(S.mean(axis=0) - p) <= 5 * se + 1e-12)


def test_signed_poisson(rng):
    x = np.array([-1.0, -0.6, -0.2, 0.0, 0.3, 0.8, 1.0])
    T = 20000
    S = signed_poisson(x, T, rng=5)
    u = np.random.default_rng(5).random((T, x.size))
    np.testing.assert_array_equal(S, (np.sign(x) * (u <= np.abs(x))).astype(np.float32))
    assert set(np.unique(S[:, x < 0])) <= {-1.0, 0.0} and set(np.unique(S[:, x > 0])) <= {0.0, 1.0}
    assert not S[:, 3].any()
    rates = np.abs(S).mean(axis=0)
    se = np.sqrt(np.abs(x) * (1 - np.abs(x)) / T)
    assert np.all(np.abs(rates - np.abs(x)) <= 5 * se + 1e-12)


def test_direct_arrays_and_gradient():
    x = np.array([[0.25, -1.5]], np.float32)
    S = direct(x, 3)
    assert S.shape == (3, 1, 2) and S.dtype == np.float32
    np.testing.assert_array_equal(S, np.stack([x, x, x]))
    assert direct(x, 2, dtype=np.float64).dtype == np.float64
    xt = Tensor(x.astype(np.float64), requires_grad=True)
    St = direct(xt, 4)
    assert isinstance(St, Tensor) and St.shape == (4, 1, 2)
    w = np.arange(8.0).reshape(4, 1, 2)
    (St * w).sum().backward()
    np.testing.assert_allclose(xt.grad, w.sum(axis=0))  # dL/dx = Σ_t w[t]


def test_latency_linear_hand_values():
    x = np.array([1.0, 0.75, 0.5, 0.25, 0.0])
    S = latency(x, T=5)
    # t_f = rint((1 − x)·4) = 0, 1, 2, 3; x = 0 never fires
    assert S.shape == (5, 5)
    assert S.T.tolist() == [[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0],
                            [0, 0, 0, 0, 0]]
    # rounding half to even: (1 − 0.5)·3 = 1.5 → 2; (1 − 0.5)·5 = 2.5 → 2
    assert np.argmax(latency(np.array([0.5]), T=4)[:, 0]) == 2
    assert np.argmax(latency(np.array([0.5]), T=6)[:, 0]) == 2
    assert latency(np.array([0.3]), T=1).tolist() == [[1.0]]


def test_latency_log_hand_values():
    T = 11
    tau = 10 / np.log(100.0)
    x = np.array([1.0, np.exp(-3 / tau), 0.01, 0.005, 0.0])
    S = latency(x, T, method="log")
    assert S.sum(axis=0).tolist() == [1, 1, 1, 0, 0]  # 0.005 → t_f = 11.5 > 10: no spike
    assert [int(np.argmax(S[:, i])) for i in range(3)] == [0, 3, 10]
    S2 = latency(np.array([np.exp(-2.0)]), T=5, method="log", tau=1.0)
    assert np.argmax(S2[:, 0]) == 2


def test_encode_dispatch(rng):
    x = np.full((2, 3), 0.4)
    np.testing.assert_array_equal(encode(x, 5, "rate", rng=3), rate(x, 5, 3))
    np.testing.assert_array_equal(encode(x, 5, "poisson", rng=3), signed_poisson(x, 5, 3))
    np.testing.assert_array_equal(encode(x, 5, "direct"), direct(x, 5))
    np.testing.assert_array_equal(encode(x, 5, "latency", latency_method="log"),
                                  latency(x, 5, method="log"))
    with pytest.raises(ValueError, match="unknown method 'phase'"):
        encode(x, 5, "phase")


def test_validation():
    x = np.full((2, 3), 0.4)
    for T in (0, -3):
        with pytest.raises(ValueError, match="T must be >= 1"):
            rate(x, T, 0)
    with pytest.raises(TypeError, match="T must be an int"):
        direct(x, 2.5)
    with pytest.raises(TypeError, match="T must be an int"):
        latency(x, True)
    with pytest.raises(ValueError, match="1 NaN"):
        rate(np.array([0.1, np.nan]), 3, 0)
    with pytest.raises(ValueError, match="inf"):
        signed_poisson(np.array([np.inf]), 3, 0)
    with pytest.raises(TypeError, match="floating point"):
        rate(np.array([0, 255], np.uint8), 3, 0)
    with pytest.raises(TypeError, match="rng"):
        rate(x, 3, None)
    with pytest.raises(TypeError, match="rng"):
        signed_poisson(x, 3, 1.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        latency(np.array([1.2]), 3)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        latency(np.array([-0.1]), 3, method="log")
    with pytest.raises(ValueError, match="unknown method 'cubic'"):
        latency(x, 3, method="cubic")
    with pytest.raises(ValueError, match="tau"):
        latency(x, 3, method="log", tau=-1.0)
