"""Scaled conjugate gradient: one hand-derived step, convex optima equal scipy's CG, an MLP on MNIST-5k."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from scipy.optimize import minimize

from refsnn.nn.scg import LAMBDA, flat_params, scg, set_flat_params, train_scg


def quadratic(A, b):
    return lambda w: (0.5 * w @ A @ w - b @ w, A @ w - b)


def test_one_step_on_2d_quadratic_matches_hand_derivation():
    # E(w) = ½wᵀAw with A = diag(1, 2), w₁ = (3, 2): r₁ = −(3, 4), |p₁|² = 25, p₁ᵀAp₁ = 9 + 32 = 41.
    # The gradient is linear, so s₁ = A·p₁ exactly (up to float rounding of the difference):
    # δ = 41 + λ·25, μ = |r₁|² = 25, α = μ/δ, Δ = 2 − 41/δ (≥ 0.75, so λ ← λ/4),
    # w₂ = w₁ + α·p₁.  Reference values in exact rational arithmetic.
    A = np.diag([1.0, 2.0])
    lam = Fraction(LAMBDA)
    delta = 41 + lam * 25
    alpha = Fraction(25) / delta
    Delta = 2 - Fraction(41) / delta
    w2 = [3 - 3 * alpha, 2 - 4 * alpha]
    res = scg(quadratic(A, np.zeros(2)), np.array([3.0, 2.0]), maxiter=1)
    h = res.history[0]
    # the finite difference of a linear gradient loses ~eps/σ_k ≈ 2e-16/1e-5 relative
    assert h["delta"] == pytest.approx(float(delta), rel=1e-9)
    assert h["alpha"] == pytest.approx(float(alpha), rel=1e-9)
    assert h["Delta"] == pytest.approx(float(Delta), rel=1e-9)
    assert h["mu"] == 25.0 and h["success"]
    assert h["lam"] == pytest.approx(float(lam / 4), rel=1e-12)
    np.testing.assert_allclose(res.x, [float(v) for v in w2], rtol=1e-9)
    assert res.nfev == 2 and res.ngev == 3


def test_quadratic_converges_like_scipy_cg(rng):
    n = 20
    M = rng.standard_normal((n, n))
    A = M @ M.T / n + 0.1 * np.eye(n)
    b = rng.standard_normal(n)
    x_star = np.linalg.solve(A, b)
    # SCG accepts a step by comparing E values (step 6), so in float64 it cannot resolve
    # ‖r‖ much below sqrt(eps·|E|·λ_max) ≈ 1e-7 here: gtol 1e-6 is what it reliably reaches.
    res = scg(quadratic(A, b), np.zeros(n), maxiter=500, gtol=1e-6)
    ref = minimize(lambda w: quadratic(A, b)(w)[0], np.zeros(n), jac=lambda w: quadratic(A, b)(w)[1],
                   method="CG", options={"gtol": 1e-6, "maxiter": 5000})
    assert res.success, res.message
    assert res.nit <= 3 * n  # conjugate directions: about n steps on an n-D quadratic
    # ‖x − x*‖ ≤ ‖r‖/λ_min(A) ≤ 1e-6/0.1
    np.testing.assert_allclose(res.x, x_star, atol=1e-5)
    np.testing.assert_allclose(res.x, ref.x, atol=2e-5)


def logistic(X, t, l2):
    def fun(w):
        z = X @ w
        loss = np.mean(np.logaddexp(0, z) - t * z) + 0.5 * l2 * w @ w
        grad = X.T @ (1 / (1 + np.exp(-z)) - t) / len(t) + l2 * w
        return loss, grad
    return fun


def test_logistic_regression_reaches_scipy_cg_optimum(rng):
    X = np.hstack([rng.standard_normal((200, 5)), np.ones((200, 1))])
    t = (X[:, 0] - 0.5 * X[:, 1] + 0.3 * rng.standard_normal(200) > 0).astype(float)
    fun = logistic(X, t, 1e-2)  # L2 makes the optimum unique (strongly convex)
    res = scg(fun, np.zeros(6), maxiter=2000, gtol=1e-7)
    ref = minimize(lambda w: fun(w)[0], np.zeros(6), jac=lambda w: fun(w)[1], method="CG",
                   options={"gtol": 1e-7, "maxiter": 10000})
    assert res.success and ref.success, (res.message, ref.message)
    # strongly convex with modulus ≥ l2: each is within ‖r‖/l2 ≤ 1e-5 of the optimum
    np.testing.assert_allclose(res.x, ref.x, atol=2e-5)
    assert abs(res.fun - ref.fun) < 1e-10


def test_restart_period_and_bad_input():
    A = np.diag([1.0, 2.0, 4.0])
    full = scg(quadratic(A, np.ones(3)), np.zeros(3), maxiter=300, gtol=1e-7)
    sd = scg(quadratic(A, np.ones(3)), np.zeros(3), maxiter=300, gtol=1e-7, restart=1)  # steepest descent
    np.testing.assert_allclose(sd.x, [1.0, 0.5, 0.25], atol=1e-6)
    assert full.nit <= 4 < sd.nit  # conjugacy pays: 3 directions vs a zig-zag
    with pytest.raises(ValueError, match="restart period"):
        scg(quadratic(A, np.ones(3)), np.zeros(3), restart=0)
    with pytest.raises(ValueError, match="gradient of 2 entries"):
        scg(lambda w: (0.0, np.ones(2)), np.zeros(3))
    with pytest.raises(FloatingPointError, match="non-finite"):
        scg(lambda w: (np.nan, w), np.ones(3))


def test_flat_params_roundtrip():
    from refsnn.models import mlp

    net = mlp([4, 3, 2], rng=0)
    w = flat_params(net)
    assert w.size == 4 * 3 + 3 + 3 * 2 + 2
    set_flat_params(net, w + 1)
    np.testing.assert_allclose(flat_params(net), w + 1, rtol=1e-6)
    with pytest.raises(ValueError, match="has 3 entries"):
        set_flat_params(net, np.zeros(3))


def test_train_scg_mlp_on_mnist5k(shared_data):
    from data_tools.mnist import load_mnist
    from refsnn.models import mlp
    from refsnn.train import evaluate

    x, y = load_mnist(shared_data / "mnist-5k", "train")
    idx = np.random.default_rng(0).permutation(len(x))[:1000]
    x, y = x[idx].reshape(1000, -1), y[idx]
    net = mlp([784, 32, 10], rng=0)
    res = train_scg(net, x, y, maxiter=40)
    first = res.history[0]["f"]
    assert res.history[-1]["f"] < 0.5 * first  # cross-entropy from ≈ 2.3 at least halves
    assert evaluate(net, x, y) > 0.8  # trained on these 1000 images


@pytest.mark.slow
def test_train_scg_paper_dnn_784_500_500_10(shared_data):
    """The paper's DNN baseline by SCG (trainscg, full batch) on the 4,000 MNIST-5k training images."""
    from data_tools.mnist import load_mnist
    from refsnn.models import mlp
    from refsnn.train import evaluate

    x, y = load_mnist(shared_data / "mnist-5k", "train")
    xt, yt = load_mnist(shared_data / "mnist-5k", "test")
    net = mlp([784, 500, 500, 10], activation="tanh", rng=0)  # MATLAB patternnet: tansig
    res = train_scg(net, x.reshape(len(x), -1), y, maxiter=150)
    assert res.history[-1]["f"] < 0.2 * res.history[0]["f"]
    assert evaluate(net, xt.reshape(len(xt), -1), yt) > 0.85
