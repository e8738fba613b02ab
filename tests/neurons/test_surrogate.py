"""Surrogate gradients: formulas, smooth twins, the Numba scalar version, the spike Function."""

from __future__ import annotations

import math

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.kernels import surrogate as K
from refsnn.kernels._common import steps_since_spike
from refsnn.neurons.surrogate import (
    ArcTan,
    FastSigmoid,
    Linear,
    Sigmoid,
    SpikeTime,
    Triangle,
    get_surrogate,
    spike,
)
from refsnn.testing import gradcheck

SMOOTH = [FastSigmoid(k=7.0), ArcTan(alpha=2.0), Sigmoid(alpha=4.0), Triangle(gamma=1.3),
          Linear(a=0.3)]


def test_defaults_and_names():
    assert get_surrogate("fast_sigmoid") == FastSigmoid(k=25)
    assert get_surrogate("arctan").kernel_args() == (1, 2.0, 0.0)
    assert get_surrogate("sigmoid").kernel_args() == (2, 4.0, 0.0)
    assert get_surrogate("triangle").kernel_args() == (3, 1.0, 0.0)
    assert get_surrogate("linear").kernel_args() == (4, 0.3, 0.0)
    assert get_surrogate("spike_time").kernel_args() == (5, 0.3, 0.01)
    s = FastSigmoid(k=40)
    assert get_surrogate(s) is s


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="fast_sigmoid, arctan, sigmoid, triangle, linear"):
        get_surrogate("relu")
    with pytest.raises(ValueError, match="unknown surrogate"):
        get_surrogate(3)


@pytest.mark.parametrize("bad", [lambda: FastSigmoid(k=0), lambda: ArcTan(alpha=-1),
                                 lambda: Triangle(gamma=float("nan")),
                                 lambda: SpikeTime(beta=-0.1)])
def test_bad_parameters(bad):
    with pytest.raises(ValueError, match="must be finite and"):
        bad()


def test_formulas_at_hand_picked_points():
    x = np.array([-0.5, 0.0, 0.25], np.float64)
    np.testing.assert_allclose(FastSigmoid(k=2).grad(x), [1 / 4, 1, 1 / 2.25])
    np.testing.assert_allclose(ArcTan(alpha=2).grad(x),
                               [1 / (1 + (math.pi / 2) ** 2), 1, 1 / (1 + (math.pi / 4) ** 2)])
    sig = 1 / (1 + np.exp(-4 * x))
    np.testing.assert_allclose(Sigmoid(alpha=4).grad(x), 4 * sig * (1 - sig))
    np.testing.assert_allclose(Triangle(gamma=1).grad(x), [0.5, 1, 0.75])
    # linear: d/dU of a·max(0, 1 − |U/θ − 1|)-shaped ramp on U/θ carries 1/θ; U = x + θ, θ = 2
    np.testing.assert_allclose(Linear(a=0.3).grad(x, theta=2.0),
                               (0.3 / 2) * np.maximum(0, 1 - np.abs((x + 2) / 2 - 1)))
    np.testing.assert_allclose(Linear(a=0.3).grad(x, theta=2.0), [0.1125, 0.15, 0.13125])
    np.testing.assert_allclose(SpikeTime(0.3, 0.01).grad(x, dt=np.array([1, 5, 10])),
                               0.3 * np.exp(-0.01 * np.array([1, 5, 10])))


@pytest.mark.parametrize("sg", SMOOTH, ids=lambda s: s.name)
def test_derivative_is_finite_difference_of_smooth_twin(sg):
    x = np.linspace(-2.1, 2.1, 96)  # even count: no point at 0 (a kink of σ''), nor at ±γ, ±θ
    h = 1e-6
    numeric = (sg.primitive(x + h, theta=1.7) - sg.primitive(x - h, theta=1.7)) / (2 * h)
    np.testing.assert_allclose(sg.grad(x, theta=1.7), numeric, rtol=1e-6, atol=1e-7)
    # a smooth stand-in for Θ: increasing, ½ at the threshold
    assert sg.primitive(np.array(0.0), theta=1.7) == pytest.approx(0.5)


def test_spike_time_has_no_smooth_twin():
    with pytest.raises(ValueError, match="no smooth twin"):
        SpikeTime().primitive(np.zeros(3))


@pytest.mark.parametrize("kind", range(6))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_row_equals_array_formula(kind, dtype):
    rng = np.random.default_rng(kind)
    x = (1.5 * rng.standard_normal(64)).astype(dtype)
    dt = rng.integers(1, 1030, size=64)  # Δt up to T − 1 + 1000 (no spike yet)
    a, b, theta = (0.3, 0.005, 1.2) if kind == 5 else (1.7, 0.0, 1.2)
    c0, c1, table = K.sg_constants(kind, a, b, theta, 40, dtype)
    assert table.shape == ((40 + 1000,) if kind == 5 else (1,))
    one, zero = dtype(1), dtype(0)
    row = np.empty(64, dtype)
    K.sg_row(kind, c0, c1, x + dtype(theta), dtype(theta), dt.astype(np.int32), table, one, zero,
             row)
    want = K.surrogate_grad(kind, a, b, x, theta, dt)
    assert want.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-13
    # the row sees (x + θ) − θ, not x: a rounding of x near the linear ramp's kink is absolute
    np.testing.assert_allclose(row, want, rtol=tol * 4, atol=tol * 4)


def test_steps_since_spike_definition():
    S = np.array([[0, 1], [1, 0], [0, 0], [1, 1], [0, 0]], np.float32)
    # 0-based steps, last spike at −1000 before the first one (DESIGN: spike-time surrogate)
    # neuron 0: spikes at i=1,3 → Δt = 1000, 1001, 1, 2, 1;  neuron 1: spikes at i=0,3 → 1000, 1, 2, 3, 1
    want = [[1000, 1000], [1001, 1], [1, 2], [2, 3], [1, 1]]
    np.testing.assert_array_equal(steps_since_spike(S), want)
    # the kernels' streaming version, on a column slice of a wider array
    wide = np.zeros((5, 5), np.float32)
    wide[:, 2:4] = S
    np.testing.assert_array_equal(K.block_dt(5, wide, 2, 2), want)
    assert K.block_dt(0, wide, 2, 2).shape == (1, 2)


def test_spike_function_forward_and_backward():
    x = Tensor(np.array([-0.3, 0.0, 0.2]), requires_grad=True)
    s = spike(x, FastSigmoid(k=2))
    assert s.data.tolist() == [0.0, 0.0, 1.0]  # strict: Θ(0) = 0
    assert spike(x, "sigmoid", strict=False).data.tolist() == [0.0, 1.0, 1.0]
    s.backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.grad, [1 / 1.6 ** 2, 2.0, 3 / 1.4 ** 2])


def test_spike_function_gradient_is_surrogate_of_smooth_composition():
    """d/dx Σ v·Θ(x) by the surrogate == d/dx Σ v·σ(x) by finite differences (gradcheck)."""
    sg = Sigmoid(alpha=2.0)
    x = Tensor(np.random.default_rng(0).standard_normal(6), requires_grad=True)
    v = np.random.default_rng(1).standard_normal(6)
    analytic = (spike(x, sg) * v).sum()
    analytic.backward()
    from refsnn.autograd import sigmoid

    y = Tensor(x.data.copy(), requires_grad=True)
    assert gradcheck(lambda t: (sigmoid(t * 2.0) * v).sum(), [y])
    y.grad = None
    (sigmoid(y * 2.0) * v).sum().backward()
    np.testing.assert_allclose(x.grad, y.grad, rtol=1e-12)


def test_spike_time_needs_dt():
    with pytest.raises(ValueError, match="needs dt"):
        spike(Tensor(np.zeros(2)), "spike_time")
