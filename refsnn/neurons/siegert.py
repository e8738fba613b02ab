"""Siegert rate neurons (DESIGN form 6): the LIF firing rate under Gaussian input, for the SDBN.

A Siegert unit maps input *rates* to an output rate — the mean firing rate of a
leaky integrate-and-fire neuron driven by Poisson spike trains of those rates
(O'Connor et al.'s spiking DBN: RBMs trained on Siegert rates, then run as
spiking neurons).  With ``W [n_in, n_out]`` (RBM layout, visible × hidden; the
upward pass is ``x @ W``)::

    x ← max(x + temp·N(0,1), 0)            (only when noise=True; N from rng)
    μ = V_rest + τ_m·(x @ W + b),   σ = sqrt(τ_m·(x @ W²)/2)
    I = ∫_{V_reset + kγσ}^{V_th + kγσ} erfcx((μ − u)/(σ√2)) du,   k = sqrt(τ_s/τ_m), γ = |ζ(1/2)|
    y = t_ref / (t_ref + (τ_m/σ)·sqrt(π/2)·I)       (= rate·t_ref ∈ [0, 1])

``I`` by 3-point Simpson (the reference) or, with ``exact=True``, by
``scipy.integrate.quad`` per element (slow; for checks).  σ = 0 gives the
noiseless limit (0 below threshold: no input → 0, never NaN).  Details and the
treatment of overflow: :mod:`refsnn.kernels.siegert`.

Accuracy of Simpson: for ``σ ≥ 2·(V_th − V_reset)`` (the usual SDBN regime,
hundreds of inputs) it agrees with the exact integral to 1e-3 relative, to 1e-6
for ``σ ≥ 10·(V_th − V_reset)``; for σ much smaller than the window it is a
coarse approximation (that is the reference definition, kept on purpose).

No gradient: SDBN trains its RBMs by (persistent) contrastive divergence, so
:func:`siegert` returns a Tensor that does not require grad.

>>> import numpy as np
>>> y = siegert(np.zeros((2, 3)), np.full((3, 4), 0.01))
>>> y.data.tolist()[0]
[0.0, 0.0, 0.0, 0.0]
"""

from __future__ import annotations

import numpy as np

from refsnn.autograd import Tensor
from refsnn.backend import kernel_for, xp_of
from refsnn.kernels.siegert import check_params, siegert_moments, siegert_rate_exact
from refsnn.nn.init import as_generator
from refsnn.nn.module import Module, Parameter

DEFAULTS = dict(tau_m=5.0, tau_s=0.001, t_ref=0.002, v_th=0.005, v_reset=0.0, v_rest=0.0)


def _data(a, name: str, where: str):
    data = a.data if isinstance(a, Tensor) else a
    if data is None:
        return None
    if not hasattr(data, "dtype"):
        data = np.asarray(data, dtype=np.float64)
    if data.dtype.kind not in "fiub":
        raise TypeError(f"{where}: {name} must be numeric, got dtype {data.dtype}")
    return data


def siegert(x, W, b=None, *, tau_m=5.0, tau_s=0.001, t_ref=0.002, v_th=0.005, v_reset=0.0,
            v_rest=0.0, exact=False, noise=False, temp=0.005, rng=None) -> Tensor:
    """Siegert layer ``x [B, n_in] → y [B, n_out]`` (rate·t_ref); see the module docstring.

    ``x`` may be 1-D (one sample).  The output dtype is ``x``'s (float32 for
    integer input); weights are cast to it.  ``noise=True`` needs ``rng``.
    """
    where = "siegert"
    x, W, b = _data(x, "x", where), _data(W, "W", where), _data(b, "b", where)
    xp = xp_of(x, W, b)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    squeeze = x.ndim == 1
    x = x.reshape(1, -1) if squeeze else x
    if x.ndim != 2 or W.ndim != 2:
        raise ValueError(f"{where}: x must be [B, n_in] and W [n_in, n_out]; "
                         f"got x {x.shape}, W {W.shape}")
    x = xp.ascontiguousarray(x, dtype=dtype)
    W = xp.ascontiguousarray(W, dtype=dtype)
    b = None if b is None else xp.ascontiguousarray(b, dtype=dtype)
    if not bool(xp.isfinite(x).all()) or bool((x < 0).any()):
        raise ValueError(f"{where}: x must hold finite rates >= 0")
    if noise:
        if not float(temp) >= 0:
            raise ValueError(f"{where}: temp must be >= 0, got {temp!r}")
        gen = as_generator(rng, "siegert(noise=True)")
        z = gen.standard_normal(x.shape)
        z = z if xp is np else xp.asarray(z)
        x = xp.maximum(x + (float(temp) * z).astype(dtype), 0).astype(dtype)
    params = (tau_m, tau_s, t_ref, v_th, v_reset, v_rest)
    if exact:
        tm, ts, tr, vt, vr, v0 = check_params(where, *params)
        if x.shape[1] != W.shape[0]:
            raise ValueError(f"{where}: x is [B, {x.shape[1]}] but W is {W.shape} ([n_in, n_out])")
        mu, sigma = siegert_moments(x, W, b, tm, v0)
        host = (lambda a: a.get()) if xp is not np else (lambda a: a)
        y = siegert_rate_exact(host(mu), host(sigma), tm, ts, tr, vt, vr).astype(dtype)
        y = y if xp is np else xp.asarray(y)
    else:
        y = kernel_for("siegert_forward", x)(x, W, b, *params)
    return Tensor(y[0] if squeeze else y)


class SiegertLayer(Module):
    """A layer of Siegert units: ``weight [n_in, n_out]`` (RBM layout), optional ``bias [n_out]``.

    ``rng`` (Generator or int seed) draws the initial weights ``N(0, init_std²)``
    and, when ``noise=True``, the input noise; ``rng=None`` starts from zeros
    (weights are normally copied in from a trained RBM).  No gradient flows.

    >>> layer = SiegertLayer(784, 500, rng=0)
    >>> layer(np.random.default_rng(1).random((2, 784))).shape
    (2, 500)
    """

    def __init__(self, n_in: int, n_out: int, bias: bool = False, rng=None,
                 init_std: float = 0.01, noise: bool = False, temp: float = 0.005,
                 exact: bool = False, dtype=np.float32, **params):
        super().__init__()
        if int(n_in) < 1 or int(n_out) < 1:
            raise ValueError(f"SiegertLayer: n_in ({n_in}) and n_out ({n_out}) must be >= 1")
        unknown = set(params) - set(DEFAULTS)
        if unknown:
            raise TypeError(f"SiegertLayer: unknown parameter(s) {sorted(unknown)}; "
                            f"known: {', '.join(DEFAULTS)}")
        self.params = {**DEFAULTS, **{k: float(v) for k, v in params.items()}}
        check_params("SiegertLayer", *self.params.values())
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.rng = None if rng is None else as_generator(rng, "SiegertLayer")
        if noise and self.rng is None:
            raise TypeError("SiegertLayer: noise=True draws N(0,1) noise; pass rng=Generator or seed")
        w = (np.zeros((self.n_in, self.n_out)) if self.rng is None
             else self.rng.normal(0.0, init_std, (self.n_in, self.n_out)))
        self.weight = Parameter(w.astype(dtype))
        self.bias = Parameter(np.zeros(self.n_out, dtype)) if bias else None
        self.noise, self.temp, self.exact = bool(noise), float(temp), bool(exact)

    def forward(self, x) -> Tensor:
        x = x.data if isinstance(x, Tensor) else x
        if getattr(x, "ndim", 0) < 1 or x.shape[-1] != self.n_in:
            raise ValueError(f"SiegertLayer({self.n_in}, {self.n_out}): expected input [B, "
                             f"{self.n_in}], got shape {getattr(x, 'shape', None)}")
        if hasattr(x, "dtype") and x.dtype.kind == "f" and x.dtype != self.weight.dtype:
            x = x.astype(self.weight.dtype)
        return siegert(x, self.weight.data, None if self.bias is None else self.bias.data,
                       exact=self.exact, noise=self.noise, temp=self.temp, rng=self.rng,
                       **self.params)

    def extra_repr(self) -> str:
        return f"n_in={self.n_in}, n_out={self.n_out}, bias={self.bias is not None}"
