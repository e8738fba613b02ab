"""Siegert kernel (form 6): erfcx accuracy, kernel == twin, hand-derived values, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import erf, erfcx

from refsnn.backend import kernel
from refsnn.kernels.siegert import (
    erfcx_nb,
    siegert_forward,
    siegert_moments,
    siegert_rate,
    siegert_rate_exact,
    siegert_rate_twin,
)

TAU_M, TAU_S, T_REF, V_TH, V_RESET, V_REST = 5.0, 0.001, 0.002, 0.005, 0.0, 0.0
P = (TAU_M, TAU_S, T_REF, V_TH, V_RESET, V_REST)
P5 = P[:5]  # the rate functions take no v_rest


def test_erfcx_against_scipy():
    xs = np.concatenate([np.linspace(-26.6, 40.0, 20001), np.logspace(0, 300, 301),
                         -np.logspace(-300, 1.4, 301), np.logspace(-300, 0, 301), [0.0, 5.0]])
    got = np.array([erfcx_nb(x) for x in xs])
    want = erfcx(xs)
    assert np.max(np.abs(got - want) / want) < 1e-13


def test_erfcx_special_values():
    assert erfcx_nb(math.inf) == 0.0
    assert erfcx_nb(-math.inf) == math.inf and erfcx_nb(-27.0) == math.inf
    assert math.isnan(erfcx_nb(math.nan))
    assert erfcx_nb(0.0) == 1.0
    # large x: erfcx(x) ~ 1/(x sqrt(pi)) (1 - 1/(2x^2)); at x = 1e4 the correction is 5e-9
    assert erfcx_nb(1e4) == pytest.approx(1 / (1e4 * math.sqrt(math.pi)) * (1 - 0.5e-8), rel=1e-15)


def _layer(rng, B, n_in, n_out, dtype, scale=0.004):
    X = (rng.random((B, n_in)) * (rng.random((B, n_in)) < 0.6)).astype(dtype)
    W = (scale * rng.standard_normal((n_in, n_out)) + scale / 4).astype(dtype)
    b = (0.001 * rng.standard_normal(n_out)).astype(dtype)
    return X, W, b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_bias", [False, True])
def test_kernel_equals_twin(rng, dtype, with_bias):
    X, W, b = _layer(rng, 12, 50, 40, dtype)
    b = b if with_bias else None
    Y = siegert_forward(X, W, b, *P)
    mu, sigma = siegert_moments(X, W, b, TAU_M, V_REST)
    Y2 = siegert_rate_twin(mu, sigma, *P5)
    assert Y.dtype == dtype and Y.shape == (12, 40)
    np.testing.assert_allclose(Y, Y2, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=0)
    assert (Y > 1e-3).any() and (Y < 1e-6).any()  # firing and near-silent units both covered


def _classical_rate(mu, sigma, exact=True):
    """Siegert's formula written in its classical variable y = (V − μ)/(σ√2):
    1/rate = t_ref + τ_m·√π ∫_{y_r}^{y_θ} e^{y²}(1 + erf y) dy, thresholds shifted by kγσ."""
    shift = math.sqrt(TAU_S / TAU_M) * 1.4603545088095868 * sigma
    yr = (V_RESET + shift - mu) / (sigma * math.sqrt(2))
    yt = (V_TH + shift - mu) / (sigma * math.sqrt(2))

    def f(y):
        return math.exp(y * y) * (1 + erf(y))

    if exact:
        integral = quad(f, yr, yt, epsabs=0, epsrel=1e-13)[0]
    else:  # Simpson on 3 points in y (the same rule, different variable)
        integral = (yt - yr) / 6 * (f(yr) + 4 * f((yr + yt) / 2) + f(yt))
    return T_REF / (T_REF + TAU_M * math.sqrt(math.pi) * integral)


@pytest.mark.parametrize("x,w", [(0.8, 0.004), (0.5, 0.02), (1.0, 0.05), (0.3, 0.1)])
def test_single_input_by_hand(x, w):
    mu = V_REST + TAU_M * x * w  # μ and σ of one input, by hand
    sigma = math.sqrt(TAU_M * x * w * w / 2)
    got = siegert_forward(np.array([[x]]), np.array([[w]]), None, *P)[0, 0]
    assert got == pytest.approx(_classical_rate(mu, sigma, exact=False), rel=1e-10)
    exact = siegert_rate_exact(np.array([mu]), np.array([sigma]), *P5)[0]
    assert exact == pytest.approx(_classical_rate(mu, sigma, exact=True), rel=1e-9)


def test_simpson_vs_exact_tolerance():
    mus = np.array([-0.01, 0.0, 0.004, 0.005, 0.006, 0.01, 0.05])
    for sig_min, tol in ((0.01, 1e-3), (0.05, 1e-6)):
        sigmas = np.array([sig_min, 2 * sig_min, 5 * sig_min])
        M, S = np.meshgrid(mus, sigmas, indexing="ij")
        simpson = siegert_rate(M, S, *P5)
        exact = siegert_rate_exact(M, S, *P5)
        np.testing.assert_allclose(simpson, exact, rtol=tol, atol=0)


def test_no_input_gives_zero_not_nan():
    X = np.zeros((3, 4))
    W = np.full((4, 2), 0.01)
    Y = siegert_forward(X, W, None, *P)
    assert Y.tolist() == [[0.0, 0.0]] * 3
    assert siegert_rate_exact(np.zeros((1, 1)), np.zeros((1, 1)), *P5).tolist() == [[0.0]]


def test_deterministic_limit_and_overflow():
    # unit 0: σ = 0 but a bias drives μ = τ_m·0.002 = 0.01 > V_th: the noiseless LIF rate;
    # unit 1: μ ≈ −5 with a tiny σ: erfcx overflows, the rate is exactly 0 (no NaN)
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    W = np.array([[0.0, 1e-4], [0.0, 1e-6]])
    b = np.array([0.002, -1.0])
    mu = TAU_M * 0.002
    det = T_REF / (T_REF + TAU_M * math.log((mu - V_RESET) / (mu - V_TH)))
    for Y in (siegert_forward(X, W, b, *P),
              siegert_rate_exact(*siegert_moments(X, W, b, TAU_M, V_REST), *P5),
              siegert_rate_twin(*siegert_moments(X, W, b, TAU_M, V_REST), *P5)):
        assert not np.isnan(Y).any()
        np.testing.assert_allclose(Y[:, 0], det, rtol=1e-12)
        assert Y[:, 1].tolist() == [0.0, 0.0, 0.0]
    # tiny σ above threshold tends to the deterministic rate (Simpson: its 0.2 % error on ∫du/(μ−u))
    tiny = (np.array([[mu]]), np.array([[1e-9]]))
    assert siegert_rate_exact(*tiny, *P5)[0, 0] == pytest.approx(det, rel=1e-6)
    assert siegert_rate(*tiny, *P5)[0, 0] == pytest.approx(det, rel=3e-3)


def test_rate_increases_with_input():
    x = np.linspace(0, 1, 11)[:, None] * np.ones((1, 20))
    W = np.full((20, 1), 0.003)
    Y = siegert_forward(x, W, None, *P)[:, 0]
    assert Y[0] == 0.0 and np.all(np.diff(Y) > 0) and Y[-1] < 1


def test_registered():
    assert kernel("siegert_forward", "numpy") is siegert_forward


def test_errors(rng):
    X, W, _ = _layer(rng, 2, 3, 4, np.float64)
    with pytest.raises(ValueError, match="rates >= 0"):
        siegert_forward(-X - 1, W, None, *P)
    with pytest.raises(ValueError, match="rates >= 0"):
        siegert_forward(np.full_like(X, np.nan), W, None, *P)
    with pytest.raises(ValueError, match="RBM layout"):
        siegert_forward(X, W.T, None, *P)
    with pytest.raises(ValueError, match="b must be"):
        siegert_forward(X, W, np.zeros(3), *P)
    with pytest.raises(ValueError, match="v_reset < v_th"):
        siegert_forward(X, W, None, 5.0, 0.001, 0.002, 0.0, 0.005, 0.0)
    with pytest.raises(ValueError, match="tau_m > 0"):
        siegert_forward(X, W, None, 0.0, 0.001, 0.002, 0.005, 0.0, 0.0)
    with pytest.raises(ValueError, match="2-D"):
        siegert_forward(X[0], W, None, *P)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        siegert_forward(X.tolist(), W, None, *P)
