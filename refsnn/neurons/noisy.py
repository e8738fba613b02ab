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
from refsnn.kernels._common import reset_membrane
from refsnn.kernels.codes import reset_code
from refsnn.kernels.noisy import (
    MODE_BERNOULLI,
    MODE_EXPECTATION,
    MODE_THRESHOLD,
    noisy_lif_backward_twin,
    noisy_lif_forward_twin,
)
from refsnn.neurons.base import FusedNeuronFunction, SpikingNeuron, apply_fused, as_time_input
from refsnn.neurons.surrogate import Sigmoid
from refsnn.nn.init import as_generator
from refsnn.validation import check_interval, check_positive, check_real


def _check(where, lam, theta, t_noise, reset, v_reset):
    return (check_interval(where, "lam", lam, 0.0, 1.0, lo_open=True),
            check_positive(where, "theta", theta), check_positive(where, "t_noise", t_noise),
            reset_code(where, reset), check_real(where, "v_reset", v_reset))


class NoisyLIFFunction(FusedNeuronFunction):
    """One fused noisy-LIF layer: ``x [T, ...] → (S, H)``; backward gives ``dx``.

    Options: ``u`` (uniforms ``[T, N]`` for the Bernoulli mode, else None), ``lam``,
    ``theta``, ``t_noise``, ``reset`` (a :class:`~refsnn.kernels.codes.Reset`),
    ``v_reset``, ``mode`` (0 threshold, 1 Bernoulli, 2 expectation), ``detach_reset``.
    ``S`` comes back as floats in ``x``'s dtype (the kernel's own array).
    """

    kernel = "noisy_lif"
    forward_twin = staticmethod(noisy_lif_forward_twin)
    backward_twin = staticmethod(noisy_lif_backward_twin)

    def forward(self, x, *, u, lam, theta, t_noise, reset, v_reset, mode, detach_reset):
        self.shape, self.smooth = x.shape, False
        X = xp_of(x).ascontiguousarray(x.reshape(x.shape[0], -1))
        self.S, self.M = kernel_for("noisy_lif_forward", X)(
            X, u, lam, theta, t_noise, reset, v_reset, mode)
        self.args = (lam, theta, t_noise, reset, v_reset, bool(detach_reset))
        return self.S.reshape(self.shape), self.M.reshape(self.shape)

    def backward(self, gS, gH):
        return (self.run_backward(gS, gH).reshape(self.shape),)


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
    where: str = "noisy_lif",
):
    """Run a noisy-LIF layer over time: ``x [T, B, ...] → S`` (or ``(S, H)``).

    ``lam`` ∈ (0, 1], ``theta`` > 0, ``t_noise`` > 0; ``reset`` ``"soft"`` |
    ``"hard"`` (aliases ``"subtract"`` | ``"zero"``).  ``stochastic`` defaults
    to ``training``; when it is true, ``rng`` (Generator or int seed) is required
    and ``rng.random((T, N), dtype=x.dtype)`` is drawn once.
    ``expectation=True`` returns ``S = p`` (no draw) for gradient checks.
    NaN or inf in ``x`` raise ``ValueError`` (counted by the kernel).
    """
    lam, theta, t_noise, code, v_reset = _check(where, lam, theta, t_noise, reset, v_reset)
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{where}: x must be float32 or float64, got {x.dtype}")
    x = as_time_input(where, x)
    stochastic = bool(training) if stochastic is None else bool(stochastic)
    T, N = x.shape[0], int(np.prod(x.shape[1:]))
    u = None
    if expectation:
        mode = MODE_EXPECTATION
    elif stochastic:
        mode = MODE_BERNOULLI
        u = as_generator(rng, f"{where} (stochastic firing)").random((T, N), dtype=x.dtype)
        xp = xp_of(x.data)
        u = u if xp is np else xp.asarray(u)
    else:
        mode = MODE_THRESHOLD
    S, H = apply_fused(where, NoisyLIFFunction, x, u=u, lam=lam, theta=theta, t_noise=t_noise,
                       reset=code, v_reset=v_reset, mode=mode, detach_reset=bool(detach_reset))
    return (S, H) if return_membrane else S


class _BernoulliSpike(Function):
    """One step of stochastic firing: ``S = [u < σ(x/T_noise)]``, ``dS/dx = p(1 − p)/T_noise``."""

    def forward(self, x, *, u, t_noise):
        xp = xp_of(x)
        z = x.astype(np.float64) / t_noise
        e = xp.exp(-xp.abs(z))
        self.p = xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        self.t_noise = t_noise
        return (u.astype(np.float64) < self.p).astype(x.dtype)

    def backward(self, g):
        return (g * (self.p * (1.0 - self.p) / self.t_noise).astype(g.dtype),)


class NoisyLIF(SpikingNeuron):
    """Noisy-LIF layer (form 5): ``forward(x [T, B, ...]) → S`` (or ``(S, H)``) and ``step``.

    In training mode spikes are Bernoulli draws from ``rng`` (stored as a
    Generator, so a seeded layer repeats itself); after ``eval()`` the layer
    fires deterministically unless ``stochastic_eval=True``.  ``step`` runs the
    same equations with autograd ops (one ``rng.random(x_t.shape)`` per step
    when stochastic); its surrogate is the exact ``dp/dH`` — SpikingJelly's
    sigmoid with ``α = 1/T_noise``.

    >>> import numpy as np
    >>> layer = NoisyLIF(lam=0.9, theta=1.0, t_noise=0.2, rng=0)
    >>> layer(np.ones((5, 2, 3), np.float32)).shape
    (5, 2, 3)
    """

    def __init__(self, lam: float = 0.5, theta: float = 1.0, t_noise: float = 0.1,
                 reset: str = "soft", v_reset: float = 0.0, detach_reset: bool = True,
                 rng=None, stochastic_eval: bool = False, return_membrane: bool = False):
        checked = _check("NoisyLIF", lam, theta, t_noise, reset, v_reset)
        super().__init__(Sigmoid(alpha=1.0 / checked[2]), detach_reset, return_membrane)
        self.lam, self.theta, self.t_noise, self.reset_code, self.v_reset = checked
        self.reset, self.stochastic_eval = reset, bool(stochastic_eval)
        self.rng = None if rng is None else as_generator(rng, "NoisyLIF")

    def _stochastic(self) -> bool:
        stochastic = self.training or self.stochastic_eval
        if stochastic and self.rng is None:
            raise TypeError("NoisyLIF: stochastic firing (training mode or stochastic_eval) needs "
                            "rng=numpy.random.Generator or an int seed at construction")
        return stochastic

    def _multi(self, x):
        S, H = noisy_lif(
            x, self.lam, self.theta, self.t_noise, self.reset_code, self.rng, self.training,
            self.detach_reset, v_reset=self.v_reset, stochastic=self._stochastic(),
            return_membrane=True, where="NoisyLIF",
        )
        return S, H

    def _charge_fire_reset(self, x_t, state):
        h = self.lam * state.v + x_t
        if self._stochastic():
            u = self.rng.random(x_t.shape, dtype=x_t.dtype)
            xp = xp_of(x_t.data)
            s = _BernoulliSpike.apply(h - self.theta, u=u if xp is np else xp.asarray(u),
                                      t_noise=self.t_noise)
        else:
            s = self._fire(h - self.theta, self.theta, state)
        v = reset_membrane(h, self._reset_spikes(s), self.theta, self.v_reset, self.reset_code)
        return s, h, v

    def extra_repr(self) -> str:
        return (f"lam={self.lam}, theta={self.theta}, t_noise={self.t_noise}, reset={self.reset!r}, "
                f"detach_reset={self.detach_reset}")
