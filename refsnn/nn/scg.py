"""Møller's scaled conjugate gradient (SCG, 1993), as MATLAB's ``trainscg``; full-batch training.

SCG minimises ``E(w)`` over a flat parameter vector ``w [N]`` given a function
returning ``(E(w), E'(w))``.  It avoids a line search: the curvature along the
search direction is estimated by one extra gradient, and a Levenberg–Marquardt
style scale λ keeps that estimate positive.  Møller, *Neural Networks* 6:525–533
(1993), algorithm of §2.3, with ``trainscg``'s constants σ = 5e-5, λ₁ = 5e-7::

    1. p₁ = r₁ = −E'(w₁);  λ̄₁ = 0;  success = true;  k = 1
    2. if success:  σ_k = σ/|p_k|,  s_k = (E'(w_k + σ_k·p_k) − E'(w_k))/σ_k,  δ_k = p_kᵀs_k
    3. δ_k ← δ_k + (λ_k − λ̄_k)·|p_k|²                               (scale)
    4. if δ_k ≤ 0:  λ̄_k = 2(λ_k − δ_k/|p_k|²);  δ_k = −δ_k + λ_k|p_k|²;  λ_k = λ̄_k
                                                         (make the Hessian estimate positive)
    5. μ_k = p_kᵀr_k,  α_k = μ_k/δ_k                                 (step size)
    6. Δ_k = 2δ_k·(E(w_k) − E(w_k + α_k·p_k))/μ_k²                   (comparison parameter)
    7. if Δ_k ≥ 0 (success):  w_{k+1} = w_k + α_k·p_k,  r_{k+1} = −E'(w_{k+1}),  λ̄_k = 0
           if k mod N = 0:  p_{k+1} = r_{k+1}                        (restart every N iterations)
           else:            β_k = (|r_{k+1}|² − r_{k+1}ᵀr_k)/μ_k,  p_{k+1} = r_{k+1} + β_k·p_k
           if Δ_k ≥ 0.75:   λ_k ← λ_k/4
       else:  λ̄_k = λ_k,  success = false                            (w, p, r unchanged)
    8. if Δ_k < 0.25:  λ_k ← λ_k + δ_k·(1 − Δ_k)/|p_k|²
    9. stop when |r_{k+1}| ≤ gtol (``trainscg``'s ``min_grad``) or after ``maxiter`` iterations;
       else λ_{k+1} = λ_k, k ← k + 1, go to 2

``N`` (the restart period) defaults to the number of parameters, as in Møller
and ``trainscg``.  Each iteration costs one E (step 6) and, after a success, two
gradients (steps 2 and 7).  All arithmetic is float64 whatever the model dtype.

:func:`train_scg` wraps a refsnn :class:`~refsnn.nn.Module`: its parameters are
flattened into ``w`` (float64), and ``E`` is ``loss_fn(model(x), y)`` on one
(full or large) batch — SCG is a batch method; mini-batches break its curvature
estimate.

>>> import numpy as np
>>> A = np.array([[3.0, 1.0], [1.0, 2.0]]); b = np.array([1.0, -1.0])
>>> res = scg(lambda w: (0.5 * w @ A @ w - b @ w, A @ w - b), np.zeros(2), maxiter=50)
>>> bool(np.allclose(res.x, np.linalg.solve(A, b), atol=1e-6)), res.success
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from refsnn.autograd import Tensor, cross_entropy

SIGMA = 5e-5  # trainscg default 'sigma': finite-difference step for the curvature estimate
LAMBDA = 5e-7  # trainscg default 'lambda': initial scale (regulates the Hessian's indefiniteness)


@dataclass
class SCGResult:
    """What :func:`scg` returns; ``history`` holds one dict per iteration (k, f, alpha, delta,
    Delta, mu, lam — λ after the iteration's updates — and success)."""

    x: np.ndarray
    fun: float
    grad: np.ndarray
    nit: int
    nfev: int
    ngev: int
    success: bool
    message: str
    history: list = field(default_factory=list, repr=False)


def _evaluate(fun, w, where: str):
    f, g = fun(w)
    f = float(f)
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    if g.shape != w.shape:
        raise ValueError(f"{where}: fun returned a gradient of {g.size} entries for {w.size} parameters")
    if not np.isfinite(f) or not np.isfinite(g).all():
        raise FloatingPointError(f"{where}: fun returned a non-finite loss or gradient at iteration point")
    return f, g


def scg(fun: Callable, x0, maxiter: int = 100, gtol: float = 1e-6, sigma: float = SIGMA,
        lambda0: float = LAMBDA, restart: int | None = None, callback=None) -> SCGResult:
    """Minimise ``fun`` from ``x0`` by SCG (module docstring, steps 1–9).

    ``fun(w) -> (E, dE/dw)`` takes a float64 vector ``[N]``; ``restart`` is the
    restart period (default N).  ``callback(k, w, f)`` runs after each
    successful step.  A zero gradient at ``x0`` returns at once.
    """
    where = "scg"
    w = np.array(x0, dtype=np.float64).reshape(-1)
    if w.size == 0:
        raise ValueError(f"{where}: x0 is empty")
    if int(maxiter) < 0 or not gtol >= 0 or not sigma > 0 or not lambda0 > 0:
        raise ValueError(f"{where}: need maxiter >= 0, gtol >= 0, sigma > 0, lambda0 > 0; got "
                         f"{maxiter}, {gtol}, {sigma}, {lambda0}")
    period = w.size if restart is None else int(restart)
    if period < 1:
        raise ValueError(f"{where}: restart period must be >= 1, got {restart}")
    f, g = _evaluate(fun, w, where)
    nfev = ngev = 1
    r = -g
    p = r.copy()
    lam, lam_bar, success, delta = float(lambda0), 0.0, True, 0.0
    history = []
    message = "maximum number of iterations reached"
    if np.sqrt(r @ r) <= gtol:
        return SCGResult(w, f, g, 0, nfev, ngev, True, "gradient norm <= gtol at x0", history)
    k = 0
    for k in range(1, int(maxiter) + 1):
        p2 = float(p @ p)
        if success:  # step 2: second-order information by one finite difference of the gradient
            sig = sigma / np.sqrt(p2)
            _, g_sig = _evaluate(fun, w + sig * p, where)
            ngev += 1
            delta = float(p @ ((g_sig - g) / sig))
        delta += (lam - lam_bar) * p2  # step 3
        if delta <= 0:  # step 4
            lam_bar = 2.0 * (lam - delta / p2)
            delta = -delta + lam * p2
            lam = lam_bar
        mu = float(p @ r)  # step 5
        alpha = mu / delta
        w_new = w + alpha * p
        f_new, g_new = _evaluate(fun, w_new, where)
        nfev += 1
        ngev += 1  # fun returns both; the gradient is only used after a success
        Delta = 2.0 * delta * (f - f_new) / (mu * mu)  # step 6
        if Delta >= 0:  # step 7: successful reduction
            r_new = -g_new
            if k % period == 0:
                p_new = r_new.copy()
            else:
                beta = (float(r_new @ r_new) - float(r_new @ r)) / mu
                p_new = r_new + beta * p
            w, f, g, r, p = w_new, f_new, g_new, r_new, p_new
            lam_bar, success = 0.0, True
            if Delta >= 0.75:
                lam = 0.25 * lam
        else:
            lam_bar, success = lam, False
        if Delta < 0.25:  # step 8
            lam = lam + delta * (1.0 - Delta) / p2
        history.append(dict(k=k, f=f, alpha=alpha, delta=delta, Delta=Delta, mu=mu, lam=lam,
                            success=success))
        if success and callback is not None:
            callback(k, w, f)
        if np.sqrt(r @ r) <= gtol:  # step 9
            message = "gradient norm <= gtol"
            break
    done = message != "maximum number of iterations reached"
    return SCGResult(w, f, g, k, nfev, ngev, done, message, history)


# --------------------------------------------------------------------------- Module wrapper
def flat_params(model) -> np.ndarray:
    """The model's trainable parameters concatenated (in ``named_parameters`` order), float64."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("flat_params: the model has no trainable parameters")
    return np.concatenate([np.asarray(p.data, dtype=np.float64).reshape(-1) for p in params])


def set_flat_params(model, w: np.ndarray) -> None:
    """Write ``w`` back into the model's trainable parameters (cast to each parameter's dtype)."""
    params = [p for p in model.parameters() if p.requires_grad]
    total = sum(int(p.data.size) for p in params)
    if w.size != total:
        raise ValueError(f"set_flat_params: vector has {w.size} entries, the model {total} parameters")
    i = 0
    for p in params:
        n = int(p.data.size)
        p.data[...] = w[i:i + n].reshape(p.data.shape).astype(p.data.dtype)
        i += n


def train_scg(model, x, y, maxiter: int = 100, loss_fn: Callable = cross_entropy, gtol: float = 1e-6,
              **kwargs) -> SCGResult:
    """Train ``model`` on the batch ``(x, y)`` by :func:`scg`; the model ends at the result.

    ``E(w) = loss_fn(model(x), y)`` (mean cross-entropy by default) with its
    gradient from refsnn autograd; ``kwargs`` go to :func:`scg` (``sigma``,
    ``lambda0``, ``restart``, ``callback``).  Host (NumPy) models only.  A
    float32 model gives E with float32 rounding, and step 6 compares E values,
    so convergence stalls near ‖r‖ ≈ sqrt(eps₃₂·|E|·λ_max); convert the model
    with ``model.to_dtype(np.float64)`` when a tight optimum matters.
    """
    if len(x) != len(y):
        raise ValueError(f"train_scg: {len(x)} inputs but {len(y)} labels")
    params = [p for p in model.parameters() if p.requires_grad]
    xt = x if isinstance(x, Tensor) else Tensor(np.asarray(x))

    def fun(w):
        set_flat_params(model, w)
        model.zero_grad()
        loss = loss_fn(model(xt), y)
        loss.backward()
        grads = [np.zeros(p.data.size) if p.grad is None else np.asarray(p.grad, np.float64).reshape(-1)
                 for p in params]
        return float(loss.data), np.concatenate(grads)

    res = scg(fun, flat_params(model), maxiter=maxiter, gtol=gtol, **kwargs)
    set_flat_params(model, res.x)
    model.zero_grad()
    return res
