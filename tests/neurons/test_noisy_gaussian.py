"""Form 5 with Gaussian membrane noise (TGO's NLIF): P(fire) = Φ((H − θ)/σ), gradient φ/σ.

Independent checks: hand values of Φ from ``math.erf``, finite-difference gradcheck of the
expectation mode, a Monte-Carlo firing rate, single step == fused, and errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.neurons.noisy import NoisyLIF, noisy_lif
from refsnn.testing import gradcheck


def _phi(z):
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def test_expectation_is_gaussian_cdf_by_hand():
    # T = 1: H = X, p = Φ((X − θ)/σ) written with math.erf
    x = np.array([[0.7, 1.0, 1.3, 2.0]])
    s = noisy_lif(x[:, None, :], 0.5, 1.0, 0.2, training=False, expectation=True, noise="gaussian")
    want = [_phi((v - 1.0) / 0.2) for v in x[0]]
    np.testing.assert_allclose(s.data[0, 0], want, rtol=1e-12)


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_gradcheck_expectation_mode(rng, reset):
    x = Tensor(0.8 * rng.standard_normal((5, 2, 3)) + 0.6, requires_grad=True)

    def f(x):
        s, h = noisy_lif(x, 0.8, 1.0, 0.3, reset, training=False, detach_reset=False,
                         v_reset=0.2, expectation=True, return_membrane=True, noise="gaussian")
        return s * 1.5 + h * 0.5

    assert gradcheck(f, [x], eps=1e-6, atol=1e-7, rtol=1e-5)


def test_threshold_mode_gradient_is_gaussian_density():
    # T = 1 deterministic firing: S = [x > θ], dS/dx = φ((x − θ)/σ)/σ
    x = Tensor(np.array([[[0.8, 1.05, 1.4]]]), requires_grad=True)
    s = noisy_lif(x, 0.5, 1.0, 0.25, training=False, noise="gaussian")
    s.sum().backward()
    z = (x.data[0, 0] - 1.0) / 0.25
    np.testing.assert_array_equal(s.data[0, 0], [0.0, 1.0, 1.0])
    np.testing.assert_allclose(x.grad[0, 0], np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) / 0.25,
                               rtol=1e-12)


def test_bernoulli_rate_matches_phi():
    # one step, constant H: the fraction of spikes estimates Φ((H − θ)/σ)
    x = np.full((1, 1, 200_000), 1.1)
    s = noisy_lif(x, 0.5, 1.0, 0.2, rng=np.random.default_rng(3), training=True, noise="gaussian")
    want = _phi(0.5)
    assert abs(s.data.mean() - want) < 4 * math.sqrt(want * (1 - want) / x.size)
    logistic = noisy_lif(x, 0.5, 1.0, 0.2, rng=np.random.default_rng(3), training=True).data.mean()
    assert abs(logistic - 1 / (1 + math.exp(-0.5))) < 0.005 and abs(logistic - want) > 0.05


@pytest.mark.parametrize("stochastic", [False, True])
def test_single_step_equals_fused(rng, stochastic):
    x0 = 0.5 * rng.standard_normal((7, 2, 4)) + 0.7
    out = []
    for path in ("multi", "steps"):
        layer = NoisyLIF(lam=0.9, theta=1.0, t_noise=0.3, rng=5, return_membrane=True,
                         noise="gaussian")
        layer.train(stochastic)
        x = Tensor(x0.copy(), requires_grad=True)
        s, h = layer(x) if path == "multi" else layer.run_steps(x)
        (s * np.cos(x0) + h * np.sin(x0)).sum().backward()
        out.append((s.data, h.data, x.grad))
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert "gaussian" in repr(NoisyLIF(noise="gaussian"))


def test_errors():
    x = np.ones((2, 1, 3))
    with pytest.raises(ValueError, match="noise"):
        noisy_lif(x, training=False, noise="uniform")
    with pytest.raises(ValueError, match="noise"):
        NoisyLIF(noise="cauchy")
    with pytest.raises(ValueError, match="t_noise"):
        NoisyLIF(t_noise=-0.1, noise="gaussian")  # σ < 0
