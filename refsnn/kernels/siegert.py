"""Form 6 — the Siegert rate neuron (SDBN; O'Connor's formulation of the LIF firing rate).

For input rates ``x ≥ 0`` ``[B, n_in]`` and weights ``W`` ``[n_in, n_out]`` (RBM
layout: visible × hidden, so ``x @ W`` is the upward pass — *not* PyTorch's
``[out, in]``) and an optional constant drive ``b`` ``[n_out]``::

    μ = V_rest + τ_m·(x @ W + b)            mean membrane drive      [B, n_out]
    σ = sqrt(τ_m·(x @ W²) / 2)              its standard deviation   (b adds no variance)
    k = sqrt(τ_s/τ_m),  γ = |ζ(1/2)| = 1.4603545088095868
    I = ∫_{V_reset + kγσ}^{V_th + kγσ} erfcx((μ − u)/(σ√2)) du
    rate = 1 / (t_ref + (τ_m/σ)·sqrt(π/2)·I),   returned as  rate·t_ref ∈ [0, 1]

``I`` is Simpson's rule on 3 points (``(c − a)/6·(f(a) + 4f(m) + f(c))``, the
reference definition) or, in the exact mode, ``scipy.integrate.quad``.

Kernel (``numpy`` backend; the CuPy backend mirrors name and signature)::

    siegert_forward(X, W, b, tau_m, tau_s, t_ref, v_th, v_reset, v_rest) -> Y
        X [B, n_in] ≥ 0, W [n_in, n_out] float32/64, b [n_out] or None;
        Y [B, n_out] = rate·t_ref in X's dtype.

The moments μ, σ are computed in float64 by :func:`siegert_moments` (two
matmuls); the per-element integral is the Numba kernel ``_rate_nb`` with the
NumPy twin :func:`siegert_rate_twin` (which uses ``scipy.special.erfcx``) and the
exact :func:`siegert_rate_exact`.

Edge cases (all modes):

* ``σ ≤ 1e-150`` (in particular σ = 0: no input) is the deterministic limit
  σ → 0: rate 0 when ``μ ≤ V_th``, else the noiseless LIF rate
  ``1/(t_ref + τ_m·ln((μ − V_reset)/(μ − V_th)))``.  With no input and
  ``V_rest < V_th`` that is 0, never NaN.
* ``μ > V_th`` with tiny σ: the arguments of erfcx are large and positive,
  erfcx ≈ 1/(y√π) (continued fraction, no overflow), and the result tends to the
  deterministic rate above.
* ``μ`` far below the window: erfcx of a very negative argument overflows to
  ``+inf`` (for y < −26.7); then ``I = inf`` and the rate is exactly 0 (the true
  value underflows anyway), never NaN.

``erfcx`` (Numba has none): ``2·e^{x²} − erfcx(−x)`` for x < 0 (``inf`` below
−26.7), ``e^{x²}·erfc(x)`` for 0 ≤ x < 5, and for x ≥ 5 the Laplace continued
fraction ``1/(√π·(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))))`` with 40 levels.
Tested against ``scipy.special.erfcx`` on [−26.6, 1e300]: relative error below
1e-14 (about x²·2⁻⁵³ from rounding x², at most 8e-14 near x = −26.6).

No gradient: the SDBN trains its RBMs by contrastive divergence on rates, so
this is a forward-only kernel (``refsnn.neurons.siegert`` returns Tensors that
do not require grad).

>>> Y = siegert_forward(np.array([[0.5, 0.0]]), np.array([[0.003], [0.01]]), None,
...                     5.0, 0.001, 0.002, 0.005, 0.0, 0.0)
>>> 0.0 < float(Y[0, 0]) < 1.0
True
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from refsnn.backend import register_kernel, xp_of

GAMMA = 1.4603545088095868  # |ζ(1/2)|
SIGMA_TINY = 1e-150
ERFCX_CUT = 5.0
ERFCX_TERMS = 40
SQRT_PI_2 = math.sqrt(math.pi / 2)


def check_params(where: str, tau_m, tau_s, t_ref, v_th, v_reset, v_rest) -> tuple:
    """Validate the neuron constants; returns them as floats."""
    vals = tuple(float(v) for v in (tau_m, tau_s, t_ref, v_th, v_reset, v_rest))
    names = ("tau_m", "tau_s", "t_ref", "v_th", "v_reset", "v_rest")
    for n, v in zip(names, vals):
        if not math.isfinite(v):
            raise ValueError(f"{where}: {n} must be finite, got {v}")
    if vals[0] <= 0 or vals[1] < 0 or vals[2] <= 0:
        raise ValueError(f"{where}: need tau_m > 0, tau_s >= 0, t_ref > 0; "
                         f"got tau_m={vals[0]}, tau_s={vals[1]}, t_ref={vals[2]}")
    if not vals[4] < vals[3]:
        raise ValueError(f"{where}: need v_reset < v_th, got v_reset={vals[4]}, v_th={vals[3]}")
    return vals


def siegert_moments(X, W, b, tau_m: float, v_rest: float):
    """``(μ, σ)`` in float64 ``[B, n_out]`` (see module docstring)."""
    xp = xp_of(X, W)
    X64 = X.astype(xp.float64)
    W64 = W.astype(xp.float64)
    drive = X64 @ W64
    if b is not None:
        drive = drive + b.astype(xp.float64)
    mu = v_rest + tau_m * drive
    var = tau_m * (X64 @ (W64 * W64)) / 2.0
    return mu, xp.sqrt(xp.maximum(var, 0.0))


# ----------------------------------------------------------------- NumPy twin


def siegert_rate_twin(mu, sigma, tau_m, tau_s, t_ref, v_th, v_reset):
    """Readable definition of ``rate·t_ref`` from ``(μ, σ)`` (Simpson, scipy's erfcx)."""
    from scipy.special import erfcx

    mu = np.asarray(mu, np.float64)
    sigma = np.asarray(sigma, np.float64)
    tiny = sigma <= SIGMA_TINY
    s = np.where(tiny, 1.0, sigma)  # placeholder σ where the deterministic limit applies
    shift = math.sqrt(tau_s / tau_m) * GAMMA * s
    a, c = v_reset + shift, v_th + shift
    s2 = s * math.sqrt(2.0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        f = erfcx((mu - a) / s2) + 4.0 * erfcx((mu - 0.5 * (a + c)) / s2) + erfcx((mu - c) / s2)
        integral = (c - a) / 6.0 * f
        y = t_ref / (t_ref + (tau_m / s) * SQRT_PI_2 * integral)
        above = mu > v_th
        det = t_ref / (t_ref + tau_m * np.log((mu - v_reset) / np.where(above, mu - v_th, 1.0)))
    return np.where(tiny, np.where(above, det, 0.0), y)


# --------------------------------------------------------------- Numba kernel


@njit(cache=True)
def _erfcx_pos(x):
    if x < ERFCX_CUT:
        return math.exp(x * x) * math.erfc(x)
    f = x
    for k in range(ERFCX_TERMS, 0, -1):
        f = x + (0.5 * k) / f
    return 1.0 / (math.sqrt(math.pi) * f)


@njit(cache=True)
def erfcx_nb(x):
    """Scaled complementary error function ``e^{x²}·erfc(x)`` (float64; see module doc)."""
    if x != x:
        return x
    if x >= 0.0:
        return _erfcx_pos(x)
    if x < -26.7:
        return math.inf
    return 2.0 * math.exp(x * x) - _erfcx_pos(-x)


@njit(cache=True)
def _rate_scalar(mu, sigma, tau_m, kgamma, t_ref, v_th, v_reset):
    if sigma <= SIGMA_TINY:
        if mu <= v_th:
            return 0.0
        return t_ref / (t_ref + tau_m * math.log((mu - v_reset) / (mu - v_th)))
    shift = kgamma * sigma
    a = v_reset + shift
    c = v_th + shift
    s2 = sigma * math.sqrt(2.0)
    f = erfcx_nb((mu - a) / s2) + 4.0 * erfcx_nb((mu - 0.5 * (a + c)) / s2) + erfcx_nb((mu - c) / s2)
    integral = (c - a) / 6.0 * f
    return t_ref / (t_ref + (tau_m / sigma) * SQRT_PI_2 * integral)


@njit(parallel=True, cache=True)
def _rate_nb(mu, sigma, tau_m, kgamma, t_ref, v_th, v_reset, out):
    B, N = mu.shape
    for i in prange(B):
        for j in range(N):
            out[i, j] = _rate_scalar(mu[i, j], sigma[i, j], tau_m, kgamma, t_ref, v_th, v_reset)


def siegert_rate(mu, sigma, tau_m, tau_s, t_ref, v_th, v_reset, dtype=np.float64):
    """Numba ``rate·t_ref`` from float64 ``(μ, σ)`` ``[B, n_out]``, returned in ``dtype``."""
    mu = np.ascontiguousarray(mu, np.float64)
    sigma = np.ascontiguousarray(sigma, np.float64)
    if mu.ndim != 2 or mu.shape != sigma.shape:
        raise ValueError(f"siegert_rate: mu and sigma must be 2-D of one shape, "
                         f"got {mu.shape} and {sigma.shape}")
    out = np.empty(mu.shape, dtype=dtype)
    kgamma = math.sqrt(tau_s / tau_m) * GAMMA
    _rate_nb(mu, sigma, float(tau_m), kgamma, float(t_ref), float(v_th), float(v_reset), out)
    return out


def siegert_rate_exact(mu, sigma, tau_m, tau_s, t_ref, v_th, v_reset):
    """``rate·t_ref`` with ``I`` by ``scipy.integrate.quad`` per element (slow; tests, small inputs)."""
    from scipy.integrate import quad
    from scipy.special import erfcx

    mu = np.asarray(mu, np.float64)
    sigma = np.asarray(sigma, np.float64)
    out = np.empty(mu.shape, np.float64)
    k = math.sqrt(tau_s / tau_m)
    for idx in np.ndindex(mu.shape):
        m, s = float(mu[idx]), float(sigma[idx])
        if s <= SIGMA_TINY:
            out[idx] = 0.0 if m <= v_th else t_ref / (
                t_ref + tau_m * math.log((m - v_reset) / (m - v_th)))
            continue
        a, c = v_reset + k * GAMMA * s, v_th + k * GAMMA * s
        s2 = s * math.sqrt(2.0)
        if not math.isfinite(erfcx((m - c) / s2)):  # integrand overflows: rate underflows to 0
            out[idx] = 0.0
            continue
        integral, _ = quad(lambda u, m=m, s2=s2: erfcx((m - u) / s2), a, c, epsabs=0.0,
                           epsrel=1e-12, limit=200)
        out[idx] = t_ref / (t_ref + (tau_m / s) * SQRT_PI_2 * integral)
    return out


def _check_inputs(where: str, X, W, b):
    for name, arr, nd in (("X", X, 2), ("W", W, 2)):
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"{where}: {name} must be a numpy.ndarray, got {type(arr).__name__}")
        if arr.ndim != nd or arr.dtype not in (np.float32, np.float64):
            raise ValueError(f"{where}: {name} must be a 2-D float32/float64 array, "
                             f"got shape {arr.shape} dtype {arr.dtype}")
    if X.shape[1] != W.shape[0]:
        raise ValueError(f"{where}: X is [B, {X.shape[1]}] but W is {W.shape}; "
                         "W must be [n_in, n_out] (RBM layout)")
    if b is not None and (not isinstance(b, np.ndarray) or b.shape != (W.shape[1],)):
        raise ValueError(f"{where}: b must be None or an array of shape ({W.shape[1]},), "
                         f"got {getattr(b, 'shape', type(b).__name__)}")
    finite = bool(np.isfinite(X).all())
    if not finite or (X < 0).any():
        detail = "NaN/inf present" if not finite else f"min {X.min()}"
        raise ValueError(f"{where}: X must hold finite rates >= 0 ({detail})")


def siegert_forward(X, W, b, tau_m, tau_s, t_ref, v_th, v_reset, v_rest):
    """Fused Siegert layer: ``Y = rate·t_ref`` ``[B, n_out]`` in X's dtype (module docstring)."""
    where = "siegert_forward"
    _check_inputs(where, X, W, b)
    tau_m, tau_s, t_ref, v_th, v_reset, v_rest = check_params(
        where, tau_m, tau_s, t_ref, v_th, v_reset, v_rest)
    mu, sigma = siegert_moments(X, W, b, tau_m, v_rest)
    return siegert_rate(mu, sigma, tau_m, tau_s, t_ref, v_th, v_reset, dtype=X.dtype)


register_kernel("numpy", "siegert_forward", siegert_forward)
