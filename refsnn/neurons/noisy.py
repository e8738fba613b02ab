"""Noisy LIF (DESIGN form 5, TGO): stochastic firing with probability σ((H − θ)/T_noise).

The neuron charges like form 2 (immediate reset), ``H[t] = λ·V[t-1] + X[t]``,
and fires with probability ``p[t] = σ((H[t] − θ)/T_noise)``:

* training (``training=True``, or ``stochastic=True`` at evaluation): ``S[t] = [u[t] < p[t]]``
  with ``u ~ U(0,1)`` drawn as one ``[T, N]`` array from the explicit Generator ``rng``;
* evaluation (default): the deterministic threshold ``S[t] = Θ(H[t] − θ)``;
* ``expectation=True``: ``S[t] = p[t]`` itself — the smooth mean-field twin whose
  exact gradient is the one every mode uses.

Reset: soft ``V = H − θ·S`` or hard ``V = (1 − S)·H + S·V_reset``.  Gradient
"through the expectation": ``dS/dH = p(1 − p)/T_noise``; with
``detach_reset=True`` (form 2's default) the reset term carries no gradient.
Full BPTT equations: :mod:`refsnn.kernels.noisy`.  The membrane returned on
request is ``H``, the pre-reset potential compared with θ (the quantity the
TGO threshold-guarding loss pushes away from θ); gradients flow into it too.

Defaults ``λ = 0.5, θ = 1, T_noise = 0.1`` are placeholders (SpikingJelly's
τ = 2 decay); the TGO example sets its own.

Shapes: ``x`` is ``[T, B, ...]`` (time first); spikes and membrane have the same
shape and dtype (float32 in, float32 out).

>>> import numpy as np
>>> x = np.full((4, 1, 3), 0.7, np.float32)
>>> s = noisy_lif(x, lam=1.0, theta=1.0, t_noise=0.1, training=False)
>>> s.data[:, 0, 0].tolist()
[0.0, 1.0, 1.0, 0.0]
"""

from __future__ import annotations

import numpy as np

from refsnn.autograd import Function, Tensor
from refsnn.backend import kernel_for, xp_of
from refsnn.kernels._common import spikes_to_float
from refsnn.kernels.noisy import MODE_BERNOULLI, MODE_EXPECTATION, MODE_THRESHOLD
from refsnn.nn.init import as_generator
from refsnn.nn.module import Module

RESETS = {"soft": 0, "subtract": 0, "hard": 1, "zero": 1}


def reset_code(reset, where: str) -> int:
    """``"soft"``/``"subtract"`` → 0, ``"hard"``/``"zero"`` → 1."""
    if isinstance(reset, str) and reset.lower() in RESETS:
        return RESETS[reset.lower()]
    raise ValueError(f"{where}: reset must be one of {', '.join(RESETS)}; got {reset!r}")


class NoisyLIFFunction(Function):
    """One fused noisy-LIF layer over ``[T, N]``: ``x → (S, H)``; backward gives ``dx``.

    Forward options: ``u`` (uniforms ``[T, N]`` for the Bernoulli mode, else None), ``lam``,
    ``theta``, ``t_noise``, ``reset`` (0/1), ``v_reset``, ``mode`` (0 threshold, 1 Bernoulli,
    2 expectation), ``detach_reset``.  ``S`` comes back as floats in ``x``'s dtype.
    """

    def forward(self, x, *, u, lam, theta, t_noise, reset, v_reset, mode, detach_reset):
        x = xp_of(x).ascontiguousarray(x)
        S, H = kernel_for("noisy_lif_forward", x)(x, u, lam, theta, t_noise, reset, v_reset, mode)
        self.saved = (S, H)
        self.opts = (lam, theta, t_noise, reset, v_reset, bool(detach_reset))
        if S.dtype == np.uint8:
            S = spikes_to_float(S, x.dtype) if xp_of(S) is np else S.astype(x.dtype)
        return S, H

    def backward(self, gS, gH):
        S, H = self.saved
        dx = kernel_for("noisy_lif_backward", H)(gS, gH, S, H, *self.opts)
        return (dx,)


def noisy_lif(
    x,
    lam: float = 0.5,
    theta: float = 1.0,
    t_noise: float = 0.1,
    reset: str = "soft",
    rng=None,
    training: bool = True,
    detach_reset: bool = True,
    *,
    v_reset: float = 0.0,
    stochastic: bool | None = None,
    expectation: bool = False,
    return_membrane: bool = False,
):
    """Run a noisy-LIF layer over time: ``x [T, B, ...] → S`` (or ``(S, H)``).

    ``stochastic`` defaults to ``training``; when it is true, ``rng`` (Generator
    or int seed) is required and ``rng.random((T, N), dtype=x.dtype)`` is drawn
    once.  ``expectation=True`` returns ``S = p`` (no draw) for gradient checks.
    """
    where = "noisy_lif"
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{where}: x must be float32 or float64, got {x.dtype}")
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"{where}: x must be [T, B, ...] with T >= 1, got shape {x.shape}")
    code = reset_code(reset, where)
    stochastic = bool(training) if stochastic is None else bool(stochastic)
    T = x.shape[0]
    N = int(np.prod(x.shape[1:]))
    u = None
    if expectation:
        mode = MODE_EXPECTATION
    elif stochastic:
        mode = MODE_BERNOULLI
        u = as_generator(rng, "noisy_lif (stochastic firing)").random((T, N), dtype=x.dtype)
        xp = xp_of(x.data)
        u = u if xp is np else xp.asarray(u)
    else:
        mode = MODE_THRESHOLD
    S, H = NoisyLIFFunction.apply(
        x.reshape(T, N), u=u, lam=float(lam), theta=float(theta), t_noise=t_noise, reset=code,
        v_reset=float(v_reset), mode=mode, detach_reset=bool(detach_reset),
    )
    S = S.reshape(x.shape)
    return (S, H.reshape(x.shape)) if return_membrane else S


class NoisyLIF(Module):
    """Noisy-LIF layer (form 5).  ``forward(x [T, B, ...]) → S`` (or ``(S, H)``).

    In training mode spikes are Bernoulli draws from ``rng`` (stored as a
    Generator, so a seeded layer repeats itself); after ``eval()`` the layer
    fires deterministically unless ``stochastic_eval=True``.

    >>> import numpy as np
    >>> layer = NoisyLIF(lam=0.9, theta=1.0, t_noise=0.2, rng=0)
    >>> layer(np.ones((5, 2, 3), np.float32)).shape
    (5, 2, 3)
    """

    def __init__(self, lam: float = 0.5, theta: float = 1.0, t_noise: float = 0.1,
                 reset: str = "soft", v_reset: float = 0.0, detach_reset: bool = True,
                 rng=None, stochastic_eval: bool = False, return_membrane: bool = False):
        super().__init__()
        reset_code(reset, "NoisyLIF")
        if not float(t_noise) > 0:
            raise ValueError(f"NoisyLIF: t_noise must be > 0, got {t_noise!r}")
        self.lam, self.theta, self.t_noise = float(lam), float(theta), float(t_noise)
        self.reset, self.v_reset = reset, float(v_reset)
        self.detach_reset, self.stochastic_eval = bool(detach_reset), bool(stochastic_eval)
        self.return_membrane = bool(return_membrane)
        self.rng = None if rng is None else as_generator(rng, "NoisyLIF")

    def forward(self, x):
        stochastic = self.training or self.stochastic_eval
        if stochastic and self.rng is None:
            raise TypeError("NoisyLIF: stochastic firing (training mode or stochastic_eval) needs "
                            "rng=numpy.random.Generator or an int seed at construction")
        return noisy_lif(
            x, self.lam, self.theta, self.t_noise, self.reset, self.rng, self.training,
            self.detach_reset, v_reset=self.v_reset, stochastic=stochastic,
            return_membrane=self.return_membrane,
        )

    def extra_repr(self) -> str:
        return (f"lam={self.lam}, theta={self.theta}, t_noise={self.t_noise}, reset={self.reset!r}, "
                f"detach_reset={self.detach_reset}")
