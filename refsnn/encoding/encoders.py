"""Input encoders: turn analog inputs ``x [B, ...]`` into spike trains ``S [T, B, ...]`` (time first).

=================  ==================================================  =====================
name               definition (``t = 0..T−1``, ``u ~ U(0,1)`` i.i.d.)  input
=================  ==================================================  =====================
``rate``           ``S[t] = [u[t] < p]``, ``p = clip(x, 0, 1)``        any real (clipped)
``signed_poisson`` ``S[t] = sign(x)·[u[t] ≤ |x|]``                     real, |x| ≤ 1 typical
``direct``         ``S[t] = x`` (the analog value at every step)       any real
``latency``        one spike at ``t_f`` (linear or log, below)         x ∈ [0, 1]
=================  ==================================================  =====================

* ``rate`` (Bernoulli; the GAMIN and Sharmin studies): values outside [0, 1]
  are allowed and clipped — the clip *is* the definition (x ≤ 0 never fires,
  x ≥ 1 fires every step).  ``u`` is drawn as float64 ``rng.random((T,) + x.shape)``
  and compared with ``p`` in float64, so the same seed gives the same bits.
* ``signed_poisson`` (Sharmin's Poisson coding of normalised, signed pixels):
  fires −1 or +1 with probability ``min(|x|, 1)``; ``x = 0`` never fires.
* ``direct``: ``x`` repeated T times.  A :class:`~refsnn.autograd.Tensor` input
  gives a Tensor output through which gradients flow (the attack's input
  gradient sums over time); arrays give arrays.
* ``latency`` (time to first spike), computed in float64, rounding half to
  even (``numpy.rint``); ``x = 0`` never fires:

  - ``linear``: ``t_f = rint((1 − x)·(T − 1))`` — x = 1 fires at t = 0, small x late;
  - ``log``: ``t_f = rint(τ·ln(1/x))``, no spike when ``t_f > T − 1``;
    default ``τ = (T − 1)/ln(100)`` so x = 0.01 lands on the last step.

Every encoder that draws takes ``rng`` (a ``numpy.random.Generator`` or an int
seed) explicitly.  Outputs are float32 by default (``dtype=``).  Inputs must be
floating (or bool) and finite: scale integer images to [0, 1] first.

>>> import numpy as np
>>> S = rate(np.array([[0.0, 0.5, 1.0]]), T=4, rng=0)
>>> S.shape, S[:, 0, 0].tolist(), S[:, 0, 2].tolist()
((4, 1, 3), [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0])
>>> latency(np.array([1.0, 0.5, 0.0]), T=5).T.tolist()
[[1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]]
"""

from __future__ import annotations

import math

import numpy as np

from data_tools.batches import as_generator
from refsnn.autograd import Tensor
from refsnn.backend import xp_of

METHODS = ("rate", "bernoulli", "signed_poisson", "poisson", "direct", "latency")
LATENCY_METHODS = ("linear", "log")


def _steps(T, where: str) -> int:
    if isinstance(T, (bool, np.bool_)) or not isinstance(T, (int, np.integer)):
        raise TypeError(f"{where}: T must be an int number of time steps, got {type(T).__name__}")
    if T <= 0:
        raise ValueError(f"{where}: T must be >= 1, got {T}")
    return int(T)


def _values(x, where: str):
    """The array behind ``x`` (Tensor data, ndarray, CuPy array, list); floating and finite."""
    data = x.data if isinstance(x, Tensor) else x
    if not hasattr(data, "dtype"):
        data = np.asarray(data, dtype=np.float64)
    if data.dtype == np.bool_:
        data = data.astype(np.float32)
    if data.dtype.kind != "f":
        raise TypeError(f"{where}: x must be floating point (intensities), got dtype {data.dtype}; "
                        "scale integer images to [0, 1] first (e.g. x / 255)")
    xp = xp_of(data)
    if not bool(xp.isfinite(data).all()):
        raise ValueError(f"{where}: x contains {int(xp.isnan(data).sum())} NaN and "
                         f"{int(xp.isinf(data).sum())} inf values")
    return data


def _uniforms(rng, shape, xp, where: str):
    u = as_generator(rng, where).random(shape)
    return u if xp is np else xp.asarray(u)


def rate(x, T: int, rng, dtype=np.float32):
    """Bernoulli rate code ``S[t] = [u < clip(x, 0, 1)]`` → ``[T, *x.shape]`` (module docstring)."""
    T = _steps(T, "rate")
    data = _values(x, "rate")
    xp = xp_of(data)
    p = xp.clip(data.astype(xp.float64), 0.0, 1.0)
    u = _uniforms(rng, (T,) + tuple(data.shape), xp, "rate")
    return (u < p[None]).astype(dtype)


bernoulli = rate


def signed_poisson(x, T: int, rng, dtype=np.float32):
    """Signed Poisson code ``S[t] = sign(x)·[u ≤ |x|]`` → ``[T, *x.shape]`` (module docstring)."""
    T = _steps(T, "signed_poisson")
    data = _values(x, "signed_poisson")
    xp = xp_of(data)
    x64 = data.astype(xp.float64)
    u = _uniforms(rng, (T,) + tuple(data.shape), xp, "signed_poisson")
    return (xp.sign(x64)[None] * (u <= xp.abs(x64)[None])).astype(dtype)


def direct(x, T: int, dtype=None):
    """``x`` at every step → ``[T, *x.shape]``; a Tensor input keeps its gradient path."""
    T = _steps(T, "direct")
    data = _values(x, "direct")
    xp = xp_of(data)
    if isinstance(x, Tensor):
        if dtype is not None and np.dtype(dtype) != x.dtype:
            x = x.astype(dtype)
        ones = xp.ones((T,) + (1,) * x.ndim, dtype=x.dtype)
        return x.reshape((1,) + x.shape) * ones
    out_dtype = data.dtype if dtype is None else dtype
    return xp.ascontiguousarray(xp.broadcast_to(data[None], (T,) + tuple(data.shape)),
                                dtype=out_dtype)


def latency(x, T: int, method: str = "linear", tau: float | None = None, dtype=np.float32):
    """Time-to-first-spike code: one spike per element at ``t_f`` → ``[T, *x.shape]``."""
    where = "latency"
    T = _steps(T, where)
    if method not in LATENCY_METHODS:
        raise ValueError(f"{where}: unknown method {method!r}; known: {', '.join(LATENCY_METHODS)}")
    data = _values(x, where)
    xp = xp_of(data)
    x64 = data.astype(xp.float64)
    if bool(((x64 < 0) | (x64 > 1)).any()):
        raise ValueError(f"{where}: x must lie in [0, 1], got min {float(x64.min())} "
                         f"max {float(x64.max())}")
    fires = x64 > 0
    if method == "linear":
        t_f = xp.rint((1.0 - x64) * (T - 1))
    else:
        if tau is None:
            tau = (T - 1) / math.log(100.0)
        if not (float(tau) >= 0 and math.isfinite(float(tau))):
            raise ValueError(f"{where}: tau must be finite and >= 0, got {tau!r}")
        with np.errstate(divide="ignore"):
            t_f = xp.rint(float(tau) * xp.log(1.0 / xp.where(fires, x64, 1.0)))
        fires = fires & (t_f <= T - 1)
    steps = xp.arange(T, dtype=xp.float64).reshape((T,) + (1,) * data.ndim)
    return ((steps == t_f[None]) & fires[None]).astype(dtype)


def encode(x, T: int, method: str = "rate", rng=None, **options):
    """Dispatch by name: ``rate``/``bernoulli``, ``signed_poisson``/``poisson``, ``direct``,
    ``latency`` (``options`` go to the encoder, e.g. ``dtype``, ``method``→``latency_method``)."""
    if method in ("rate", "bernoulli"):
        return rate(x, T, rng, **options)
    if method in ("signed_poisson", "poisson"):
        return signed_poisson(x, T, rng, **options)
    if method == "direct":
        return direct(x, T, **options)
    if method == "latency":
        if "latency_method" in options:
            options["method"] = options.pop("latency_method")
        return latency(x, T, **options)
    raise ValueError(f"encode: unknown method {method!r}; known: {', '.join(METHODS)}")
