"""GAMIN convergence (Eq. 7) and surrogate fidelity (Eq. 8), Poursiami et al. §IV-B.

Notation: ``L_S = L_H(X_S, Y_S)`` is the surrogate's cross-entropy against the
target's answers on random inputs, ``L_G = L_H(X_G, Y_G)`` on generated inputs.

Eq. 7 is printed as ``M_global = L_S − |λ_k·L_S − L_G|``, and the text calls
``λ_k`` "the dynamically adjusted equilibrium factor" (Eq. 5 names that factor
``k_t`` and ``λ_k`` its learning rate).  The paper says it follows BEGAN,
whose convergence measure is ``M = L + |γ·L − L_G|`` with ``γ`` the fixed
diversity ratio (GAMIN's ``γ_k``).  Both are here: :func:`m_global` is the
printed form (the study's), :func:`m_global_began` BEGAN's, and
:func:`m_global_report` returns both so a run can report both.  Note that the
printed form *decreases* as the gap ``|λ_k·L_S − L_G|`` grows, while BEGAN's
increases; "lower is better" (the paper's reading) holds for BEGAN's.

>>> m_global(1.0, 0.2, 0.5), m_global_began(1.0, 0.2, 0.5)
(0.7, 1.3)
>>> fidelity_fs([[0.5, 0.5]], [[0.25, 0.75]])
0.75
"""

from __future__ import annotations

import math

import numpy as np

from refsnn.backend import to_host


def _host(value) -> np.ndarray:
    """A host array of ``value`` (NumPy/CuPy array, refsnn Tensor, number or nested list)."""
    data = value.data if hasattr(value, "data") and hasattr(value, "requires_grad") else value  # Tensor
    return np.asarray(to_host(data))


def _scalar(value, name: str, where: str) -> float:
    arr = _host(value)
    if arr.size != 1 or arr.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {name} must be a real scalar, got {value!r}")
    out = float(arr.reshape(()))
    if not math.isfinite(out):
        raise ValueError(f"{where}: {name} is {out}; losses must be finite")
    return out


def m_global(l_s, l_g, lambda_k) -> float:
    """Global convergence score as printed in Eq. 7: ``M_global = L_S − |λ_k·L_S − L_G|``.

    ``l_s``: surrogate loss on random inputs ``L_H(X_S, Y_S)``; ``l_g``: on generated
    inputs ``L_H(X_G, Y_G)``; ``lambda_k``: the factor Eq. 7 multiplies ``L_S`` by.
    Scalars (floats, 0-d arrays or one-element Tensors); returns a float.
    """
    ls, lg, lam = (_scalar(v, n, "m_global") for v, n in ((l_s, "l_s"), (l_g, "l_g"), (lambda_k, "lambda_k")))
    return ls - abs(lam * ls - lg)


def m_global_began(l, l_g, gamma) -> float:
    """BEGAN's convergence measure (Berthelot et al. 2017, Eq. 5 there): ``M = L + |γ·L − L_G|``.

    ``l``: the real-side loss (GAMIN: ``L_S``), ``l_g``: the generated-side loss
    (``L_G``), ``gamma``: the diversity ratio (GAMIN: ``γ_k``).  Lower is better.
    """
    ls, lg, g = (_scalar(v, n, "m_global_began") for v, n in ((l, "l"), (l_g, "l_g"), (gamma, "gamma")))
    return ls + abs(g * ls - lg)


def m_global_report(l_s, l_g, lambda_k, gamma) -> dict:
    """Both convergence scores: ``{"m_global": Eq. 7 printed, "m_global_began": BEGAN's}``."""
    return {"m_global": m_global(l_s, l_g, lambda_k), "m_global_began": m_global_began(l_s, l_g, gamma)}


def fidelity_fs(target_out, surrogate_out) -> float:
    """Surrogate fidelity, Eq. 8: ``F_S = 1 − MAE(y, ŷ) = 1 − (1/(N·C)) Σ_{i,c} |y_ic − ŷ_ic|``.

    ``target_out`` ``y`` and ``surrogate_out`` ``ŷ``: the two models' predictions on
    the same batch of random inputs, ``[N, C]`` each (the study uses softmax
    probabilities, so ``F_S ∈ [0, 1]``; the mean runs over samples and classes,
    as Keras' ``mean_absolute_error`` averaged over the batch).
    """
    y, yh = (_host(a).astype(np.float64) for a in (target_out, surrogate_out))
    if y.ndim != 2 or y.shape != yh.shape or y.size == 0:
        raise ValueError(f"fidelity_fs: target and surrogate outputs must both be non-empty [N, C], "
                         f"got {y.shape} and {yh.shape}")
    if not (np.isfinite(y).all() and np.isfinite(yh).all()):
        raise ValueError("fidelity_fs: outputs contain NaN or inf")
    return float(1.0 - np.abs(y - yh).mean())
