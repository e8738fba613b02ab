"""Initialisation: bounds, moments on large draws (formulas derived by hand), seeding, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.nn import Conv2d, Linear, init


def test_fans():
    assert init.fan_in_and_fan_out((30, 20)) == (20, 30)
    assert init.fan_in_and_fan_out((8, 3, 5, 5)) == (75, 200)
    with pytest.raises(ValueError, match="at least 2"):
        init.fan_in_and_fan_out((5,))


def test_gains():
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(1 / math.sqrt(3))
    assert init.calculate_gain("sigmoid") == 1.0
    with pytest.raises(ValueError, match="swish"):
        init.calculate_gain("swish")


def _uniform_checks(w, bound):
    """U(-b, b): |w| <= b, mean 0, variance b²/3 (within large-sample tolerances)."""
    assert np.abs(w).max() <= bound * (1 + 1e-6)
    assert np.abs(w).max() > 0.99 * bound  # the draws reach the bound
    n = w.size
    assert abs(w.mean()) < 5 * bound / math.sqrt(3 * n)
    assert w.var() == pytest.approx(bound**2 / 3, rel=0.02)


def test_linear_default_init_bounds_and_moments():
    fc = Linear(400, 300, rng=0)
    bound = 1 / math.sqrt(400)
    _uniform_checks(fc.weight.data, bound)
    assert np.abs(fc.bias.data).max() <= bound
    assert fc.weight.dtype == np.float32


def test_conv_default_init_uses_fan_in_with_kernel():
    conv = Conv2d(16, 64, 5, rng=1)
    bound = 1 / math.sqrt(16 * 25)
    _uniform_checks(conv.weight.data, bound)
    assert np.abs(conv.bias.data).max() <= bound
    assert np.abs(conv.bias.data).max() > 0.5 * bound


def test_kaiming_and_xavier_uniform():
    w = np.empty((500, 400))
    init.kaiming_uniform_(w, 0, nonlinearity="relu")
    _uniform_checks(w, math.sqrt(2) * math.sqrt(3 / 400))
    init.kaiming_uniform_(w, 0, mode="fan_out", nonlinearity="relu")
    _uniform_checks(w, math.sqrt(2) * math.sqrt(3 / 500))
    init.xavier_uniform_(w, 1, gain=2.0)
    _uniform_checks(w, 2.0 * math.sqrt(6 / 900))


def test_normal_inits_moments():
    t = Tensor(np.empty((600, 500), np.float32), requires_grad=True)
    init.kaiming_normal_(t, 3, nonlinearity="relu")
    std = math.sqrt(2) / math.sqrt(500)
    assert abs(float(t.data.mean())) < 5 * std / math.sqrt(t.size)
    assert float(t.data.std()) == pytest.approx(std, rel=0.01)
    init.xavier_normal_(t, 4)
    assert float(t.data.std()) == pytest.approx(math.sqrt(2 / 1100), rel=0.01)
    init.normal_(t, 5, mean=3.0, std=0.5)
    assert float(t.data.mean()) == pytest.approx(3.0, abs=5 * 0.5 / math.sqrt(t.size))
    assert float(t.data.std()) == pytest.approx(0.5, rel=0.01)
    init.uniform_(t, 6, -1.0, 3.0)
    assert t.data.min() >= -1.0 and t.data.max() <= 3.0
    assert float(t.data.mean()) == pytest.approx(1.0, abs=0.01)


def test_zeros_ones_and_return_value():
    w = np.full((2, 3), 5.0)
    assert init.zeros_(w) is w and not w.any()
    t = Tensor(np.zeros(4))
    assert init.ones_(t) is t and (t.data == 1).all()


def test_seeded_and_generator_equivalence():
    a, b = Linear(20, 10, rng=7), Linear(20, 10, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    c = Linear(20, 10, rng=8)
    assert not np.array_equal(a.weight.data, c.weight.data)
    # weight drawn first, then bias, from the same generator: replay it by hand
    gen = np.random.default_rng(7)
    w = gen.uniform(-1 / math.sqrt(20), 1 / math.sqrt(20), size=(10, 20)).astype(np.float32)
    bias = gen.uniform(-1 / math.sqrt(20), 1 / math.sqrt(20), size=10).astype(np.float32)
    np.testing.assert_array_equal(a.weight.data, w)
    np.testing.assert_array_equal(a.bias.data, bias)


def test_rng_is_required_and_checked():
    with pytest.raises(TypeError, match="Generator or an int seed"):
        Linear(2, 2)
    with pytest.raises(TypeError, match="rng"):
        init.normal_(np.zeros(3), None)
    with pytest.raises(TypeError, match="rng"):
        Conv2d(1, 1, 3, rng=1.5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_uniform_(np.zeros((2, 2)), 0, mode="fan_avg")
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform_(np.zeros(2), 0, 1.0, -1.0)
    with pytest.raises(ValueError, match="std"):
        init.normal_(np.zeros(2), 0, std=-1.0)
    with pytest.raises(TypeError, match="floating"):
        init.zeros_(np.zeros(3, np.int64))
