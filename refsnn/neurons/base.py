"""What every spiking-neuron layer shares: argument checks, layout, state, the Module base.

Layout.  A multi-step layer takes ``x`` of shape ``[T, B, ...]`` (time first,
rank ≥ 2) and runs one fused kernel over the flattened ``[T, B·prod(...)]``;
spikes come back in ``x``'s dtype and shape (0.0 / 1.0).

Single step.  ``step(x_t, state) -> (s_t, state)`` advances one time step
from an explicit :class:`NeuronState` (``None`` = the resting state); it is
composed of ordinary autograd ops plus :class:`~refsnn.neurons.surrogate.SpikeFunction`,
so BPTT through a Python loop of ``step`` calls gives the same gradients as
the fused multi-step kernel — the tests check that, step for step.

>>> import numpy as np
>>> from refsnn.neurons.lif_delayed import LIFDelayed
>>> x = np.full((4, 1, 1), 0.6, np.float32)
>>> LIFDelayed(beta=0.7)(x).data.ravel().tolist()
[0.0, 1.0, 0.0, 0.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from refsnn.autograd import Function, Tensor, stack
from refsnn.backend import kernel_for, xp_of
from refsnn.kernels._common import count_nonfinite, spikes_to_float
from refsnn.kernels.surrogate import SPIKE_TIME as SPIKE_TIME_CODE
from refsnn.neurons.surrogate import get_surrogate, spike
from refsnn.nn.module import Module

# ----------------------------------------------------------------- validation


def check_positive(where: str, name: str, value) -> float:
    """``value`` must be a finite number > 0 (thresholds)."""
    v = _number(where, name, value)
    if not v > 0:
        raise ValueError(f"{where}: {name} must be > 0, got {value!r}")
    return v


def check_interval(where: str, name: str, value, lo: float, hi: float,
                   lo_open: bool = False) -> float:
    """``value`` must lie in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""
    v = _number(where, name, value)
    if (v <= lo if lo_open else v < lo) or v > hi:
        brack = "(" if lo_open else "["
        raise ValueError(f"{where}: {name} must be in {brack}{lo}, {hi}], got {value!r}")
    return v


def _number(where: str, name: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{where}: {name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{where}: {name} must be finite, got {value!r}")
    return v


def check_mode(where: str, name: str, value, modes: tuple[str, ...]) -> int:
    """Index of ``value`` in ``modes`` (the kernel's mode code)."""
    if isinstance(value, str) and value in modes:
        return modes.index(value)
    raise ValueError(f"{where}: unknown {name} {value!r}; valid: {', '.join(map(repr, modes))}")


def check_finite_array(where: str, name: str, array) -> None:
    """Raise ``ValueError`` if ``array`` holds NaN or inf (parallel scan, no temporaries)."""
    xp = xp_of(array)
    bad = count_nonfinite(array) if xp is np else int((~xp.isfinite(array)).sum())
    if bad:
        raise ValueError(f"{where}: {name} contains {bad} non-finite (NaN or inf) values")


def as_time_input(where: str, x) -> Tensor:
    """``x`` as a float Tensor ``[T, B, ...]`` with T ≥ 1, all finite."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.ndim < 2:
        raise ValueError(f"{where}: x must be [T, B, ...] (rank >= 2), got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{where}: x has T = 0 time steps (shape {x.shape})")
    if x.dtype.kind != "f":
        raise TypeError(f"{where}: x must be floating point, got {x.dtype}")
    check_finite_array(where, "x", x.data)
    return x


def as_step_input(where: str, x) -> Tensor:
    """``x_t`` as a float Tensor of rank ≥ 1, all finite."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.ndim < 1:
        raise ValueError(f"{where}: x_t must have rank >= 1 ([B, ...]), got a scalar")
    if x.dtype.kind != "f":
        raise TypeError(f"{where}: x_t must be floating point, got {x.dtype}")
    check_finite_array(where, "x_t", x.data)
    return x


# --------------------------------------------------------------------- layout


def flat_time(x_data):
    """``[T, B, ...]`` → C-contiguous ``[T, B·prod(...)]`` (a view when possible)."""
    xp = xp_of(x_data)
    return xp.ascontiguousarray(x_data.reshape(x_data.shape[0], -1))


def float_spikes(S, dtype):
    """uint8 spikes as ``dtype`` (parallel on the host)."""
    return spikes_to_float(S, dtype) if xp_of(S) is np else S.astype(dtype)


# ------------------------------------------------------ fused multi-step Function


class FusedNeuronFunction(Function):
    """Plumbing shared by the fused LIF Functions (forms 1–4); a subclass names its kernels.

    Forward: ``x [T, ...]`` → ``[T, N]``, the ``<kernel>_forward`` kernel of the
    array's backend gives uint8 spikes ``S`` and a membrane ``M``; the spikes go
    out as ``x``'s dtype, ``S`` and ``M`` stay for BPTT (5 bytes per element in
    float32).  With ``smooth=True`` the NumPy twin runs instead, ``Θ`` replaced
    by the surrogate's primitive, so finite differences can check the whole
    BPTT.  Backward: ``<kernel>_backward(gS, gM, S, M, *extra, *params,
    *surrogate, detach_reset, *tail)``.
    """

    kernel: str = ""
    forward_twin = backward_twin = None

    def run_forward(self, x, params: tuple, surrogate, detach_reset: bool, smooth: bool):
        self.shape, self.smooth = x.shape, smooth
        X = flat_time(x)
        self.args = (*params, *surrogate.kernel_args(), detach_reset)
        if smooth:
            spikes, M, self.S = type(self).forward_twin(
                X, *params, smooth=True, surrogate=surrogate.kernel_args(), detach_reset=detach_reset)
        else:
            self.S, M = kernel_for(f"{self.kernel}_forward", X)(X, *params)
            spikes = float_spikes(self.S, X.dtype)
        self.M = M
        return spikes.reshape(self.shape), M.reshape(self.shape)

    def run_backward(self, gS, gM, extra: tuple = (), tail: tuple = ()):
        gS = None if gS is None else flat_time(gS)
        gM = None if gM is None else flat_time(gM)
        if self.smooth:
            backward = type(self).backward_twin
        else:
            backward = kernel_for(f"{self.kernel}_backward", self.M)
        return backward(gS, gM, self.S, self.M, *extra, *self.args, *tail)


# ---------------------------------------------------------------------- state


@dataclass
class NeuronState:
    """The state a single-step neuron carries from step ``t`` to ``t + 1``.

    ``v``: the membrane carried into the next charge (form 1/3: ``U[t]``;
    forms 2/4: the post-reset ``V[t]``); ``u``: the membrane compared with the
    threshold at step ``t`` (what ``return_membrane`` gives: ``U[t]`` or
    ``H[t]``); ``s``: the spikes ``S[t]`` (drive the delayed reset of forms
    1/3); ``dt``: ``Δt`` of step ``t + 1`` for the spike-time surrogate
    (int array, ``None`` otherwise); ``t``: steps taken.
    """

    v: Tensor
    u: Tensor | None
    s: Tensor
    dt: object = None
    t: int = 0


class SpikingNeuron(Module):
    """Base of the neuron layers: ``forward(x[T,B,...])`` and ``step(x_t, state)``.

    Subclasses define ``_multi(x) -> (S, U)`` (one fused Function) and
    ``_charge_fire_reset(x_t, state) -> (s, u, v)`` (one step of autograd ops),
    plus ``_rest(x_t)`` (the initial ``v``) and ``_theta`` / ``strict``.
    """

    strict = True  # Θ(x) = [x > 0]; SpikingJelly forms use [x ≥ 0]

    def __init__(self, surrogate, detach_reset: bool, return_membrane: bool = False):
        super().__init__()
        self.surrogate = get_surrogate(surrogate)
        self.detach_reset = bool(detach_reset)
        self.return_membrane = bool(return_membrane)

    def forward(self, x, **overrides):
        """Multi-step: spikes ``[T, B, ...]``, or ``(spikes, membrane)`` with ``return_membrane``."""
        S, U = self._multi(as_time_input(type(self).__name__, x), **overrides)
        return (S, U) if self.return_membrane else S

    def init_state(self, x_t) -> NeuronState:
        """The resting state for inputs shaped like ``x_t``."""
        x_t = x_t if isinstance(x_t, Tensor) else Tensor(x_t)
        xp = xp_of(x_t.data)
        zeros = Tensor(xp.zeros(x_t.shape, dtype=x_t.dtype))
        dt = xp.ones(x_t.shape, dtype=np.int64) if self.surrogate.code == SPIKE_TIME_CODE else None
        return NeuronState(v=self._rest(x_t), u=None, s=zeros, dt=dt, t=0)

    def step(self, x_t, state: NeuronState | None = None, **overrides):
        """One time step: ``(s_t, new_state)``; ``state=None`` starts from rest."""
        x_t = as_step_input(f"{type(self).__name__}.step", x_t)
        if state is None:
            state = self.init_state(x_t)
        elif tuple(state.v.shape) != tuple(x_t.shape):
            raise ValueError(f"{type(self).__name__}.step: state shape {state.v.shape} "
                             f"!= x_t shape {x_t.shape}")
        s, u, v = self._charge_fire_reset(x_t, state, **overrides)
        dt = None
        if state.dt is not None:
            dt = xp_of(s.data).where(s.data > 0, 1, state.dt + 1)
        return s, NeuronState(v=v, u=u, s=s, dt=dt, t=state.t + 1)

    def run_steps(self, x, **overrides):
        """``forward`` computed by a Python loop of :meth:`step` (the readable reference)."""
        x = as_time_input(type(self).__name__, x)
        state, spikes, membranes = None, [], []
        for t in range(x.shape[0]):
            s, state = self.step(x[t], state, **overrides)
            spikes.append(s)
            membranes.append(state.u)
        S = stack(spikes, axis=0)
        return (S, stack(membranes, axis=0)) if self.return_membrane else S

    # helpers for subclasses
    def _fire(self, u_minus_theta, theta, state):
        return spike(u_minus_theta, self.surrogate, theta=theta, dt=state.dt, strict=self.strict)

    def _reset_spikes(self, s):
        return s.detach() if self.detach_reset else s

    def _rest(self, x_t) -> Tensor:
        xp = xp_of(x_t.data)
        return Tensor(xp.zeros(x_t.shape, dtype=x_t.dtype))

    def _multi(self, x, **overrides):  # pragma: no cover - abstract
        raise NotImplementedError

    def _charge_fire_reset(self, x_t, state, **overrides):  # pragma: no cover - abstract
        raise NotImplementedError
