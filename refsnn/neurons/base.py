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

from dataclasses import dataclass

import numpy as np

from refsnn.autograd import Function, Tensor, stack
from refsnn.backend import kernel_for, xp_of
from refsnn.kernels._common import reset_membrane
from refsnn.kernels._fused import python
from refsnn.kernels.codes import FIRST_SPIKE_LAG
from refsnn.kernels.surrogate import SPIKE_TIME as SPIKE_TIME_CODE
from refsnn.neurons.surrogate import get_surrogate, spike
from refsnn.nn.module import Module
from refsnn.validation import NonFiniteError, check_finite, nonfinite_error

# ----------------------------------------------------------------- validation


def as_time_input(where: str, x) -> Tensor:
    """``x`` as a float Tensor ``[T, B, ...]`` with T ≥ 1.

    Finiteness is checked by the fused forward kernel in its own pass (see
    :func:`apply_fused`), not here.
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.ndim < 2:
        raise ValueError(f"{where}: x must be [T, B, ...] (rank >= 2), got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{where}: x has T = 0 time steps (shape {x.shape})")
    if x.dtype.kind != "f":
        raise TypeError(f"{where}: x must be floating point, got {x.dtype}")
    return x


def as_step_input(where: str, x) -> Tensor:
    """``x_t`` as a float Tensor of rank ≥ 1, all finite."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.ndim < 1:
        raise ValueError(f"{where}: x_t must have rank >= 1 ([B, ...]), got a scalar")
    if x.dtype.kind != "f":
        raise TypeError(f"{where}: x_t must be floating point, got {x.dtype}")
    check_finite(where, "x_t", x.data)
    return x


def apply_fused(where: str, function, *inputs, **options):
    """``function.apply(...)``, with a kernel's non-finite-input error re-worded for ``where``."""
    try:
        return function.apply(*inputs, **options)
    except NonFiniteError as exc:
        raise nonfinite_error(where, "x", exc.count) from None


# --------------------------------------------------------------------- layout


def flat_time(x_data):
    """``[T, B, ...]`` → C-contiguous ``[T, B·prod(...)]`` (a view when possible)."""
    xp = xp_of(x_data)
    return xp.ascontiguousarray(x_data.reshape(x_data.shape[0], -1))


# ------------------------------------------------------ fused multi-step Function


class FormFunction(Function):
    """One registered form over time: ``x [T, ...]`` (and ``k``) → ``(S, M)``; BPTT → ``dx`` (``dk``).

    Forward: ``x`` flattened to ``[T, N]``; the form's ``<name>_forward`` kernel of the
    array's backend gives float spikes ``S`` (in ``x``'s dtype) and the membrane ``M`` and
    checks ``x`` for NaN/inf in the same pass; the very ``S`` array goes out (reshaped, not
    copied) and stays, with ``M``, for BPTT (8 bytes per element in float32).  With
    ``smooth=True`` the NumPy twin runs instead, ``Θ`` replaced by the surrogate's primitive,
    so finite differences can check the whole BPTT.  ``args`` are the form's kernel arguments;
    for a form with a learnable constant, a one-element Tensor ``k`` given as the second input
    replaces ``args[0]`` and gets ``dL/dk`` (the input ``x`` is then kept for that gradient).
    """

    def forward(self, x, *k, form, args, surrogate, detach_reset, smooth=False):
        self.form, self.shape, self.smooth, self.has_k = form, x.shape, smooth, bool(k)
        X = flat_time(x)
        if k:
            self.k_shape, self.k_dtype = k[0].shape, k[0].dtype
            args = (float(k[0].reshape(-1)[0]), *args[1:])
        self.want_k = self.has_k and self.needs_input_grad[1]
        self.X = X if self.want_k else None
        self.args = (*args, *surrogate.kernel_args(), bool(detach_reset))
        if smooth:
            check_finite(f"{form.name} (smooth)", "x", X)
            spikes, M, self.S = form.forward_twin(X, *args, smooth=True, detach_reset=detach_reset,
                                                  surrogate=surrogate.kernel_args())
        else:
            self.S, M = kernel_for(f"{form.name}_forward", X)(X, *args)
            spikes = self.S
        self.M = M
        return spikes.reshape(self.shape), M.reshape(self.shape)

    def backward(self, gS, gM):
        form = self.form
        gS = None if gS is None else flat_time(gS)
        gM = None if gM is None else flat_time(gM)
        run = form.backward_twin if self.smooth else kernel_for(f"{form.name}_backward", self.M)
        if not form.learnable:
            return (run(gS, gM, self.S, self.M, *self.args).reshape(self.shape),)
        dX, dk = run(gS, gM, self.S, self.M, self.X, *self.args, self.want_k)
        if not self.has_k:
            return (dX.reshape(self.shape),)
        dk = xp_of(dX).full(self.k_shape, dk, dtype=self.k_dtype) if self.want_k else None
        return dX.reshape(self.shape), dk


def run_form(where: str, form, x, args: tuple, surrogate, detach_reset, smooth=False, k=None):
    """The functional entry point of a form: ``(S, M)`` over ``x [T, B, ...]`` (checked here)."""
    x = as_time_input(where, x)
    inputs = (x,) if k is None else (x, k)
    return apply_fused(where, FormFunction, *inputs, form=form, args=tuple(args),
                       surrogate=get_surrogate(surrogate), detach_reset=bool(detach_reset),
                       smooth=bool(smooth))


# ---------------------------------------------------------------------- state


@dataclass
class NeuronState:
    """The state a single-step neuron carries from step ``t`` to ``t + 1``.

    ``v``: the membrane carried into the next charge (form 1: ``U[t]``;
    forms 2–5: the post-reset ``V[t]``); ``u``: the membrane compared with the
    threshold at step ``t`` (what ``return_membrane`` gives: ``U[t]`` or
    ``H[t]``); ``s``: the spikes ``S[t]`` (drive the delayed reset of form
    1); ``dt``: ``Δt`` of step ``t + 1`` for the spike-time surrogate
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
    plus ``_rest(x_t)`` (the initial ``v``); ``strict`` picks the firing rule.
    The layers of forms 1–4 are :class:`FormNeuron` s, which derive all of it from
    their form; the noisy LIF (form 5) writes its own.
    """

    strict = True  # Θ(x) = [x > 0]; SpikingJelly forms use [x ≥ 0]

    def __init__(self, surrogate, detach_reset: bool, return_membrane: bool = False):
        super().__init__()
        self.surrogate = get_surrogate(surrogate)
        self.detach_reset = bool(detach_reset)
        self.return_membrane = bool(return_membrane)

    def forward(self, x, **overrides):
        """Multi-step: spikes ``[T, B, ...]``, or ``(spikes, membrane)`` with ``return_membrane``."""
        where = type(self).__name__
        try:
            S, U = self._multi(as_time_input(where, x), **overrides)
        except NonFiniteError as exc:
            raise nonfinite_error(where, "x", exc.count) from None
        return (S, U) if self.return_membrane else S

    def init_state(self, x_t) -> NeuronState:
        """The resting state for inputs shaped like ``x_t``."""
        x_t = x_t if isinstance(x_t, Tensor) else Tensor(x_t)
        xp = xp_of(x_t.data)
        zeros = Tensor(xp.zeros(x_t.shape, dtype=x_t.dtype))
        dt = None
        if self.surrogate.code == SPIKE_TIME_CODE:  # Δt = i − last, last = −1000 before a spike
            dt = xp.full(x_t.shape, FIRST_SPIKE_LAG, dtype=np.int64)
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

    def _form_step(self, form, x_t, state, params, mode):
        """One step of a :mod:`refsnn.kernels._fused` form in autograd ops: ``(s, h, v)``.

        The form's own ``charge`` (its plain-arithmetic body, run on Tensors), then the
        shared fire (the surrogate spike at ``h − θ``) and, for an immediate-reset form,
        the shared reset — the equations of the fused kernels; ``params = (θ, V_reset, ...)``.
        """
        theta, v_reset = params[0], params[1]
        h = python(form.charge)(state.v, self._reset_spikes(state.s), x_t, params, mode, 1)
        s = self._fire(h - theta, theta, state)
        if not form.IMMEDIATE:
            return s, h, h
        return s, h, reset_membrane(h, self._reset_spikes(s), theta, v_reset, mode)

    def _reset_spikes(self, s):
        return s.detach() if self.detach_reset else s

    def _rest(self, x_t) -> Tensor:
        xp = xp_of(x_t.data)
        return Tensor(xp.zeros(x_t.shape, dtype=x_t.dtype))

    def _multi(self, x, **overrides):  # pragma: no cover - abstract
        raise NotImplementedError

    def _charge_fire_reset(self, x_t, state, **overrides):  # pragma: no cover - abstract
        raise NotImplementedError


class FormNeuron(SpikingNeuron):
    """The layer of a registered form (:mod:`refsnn.neurons.forms`): its kernel arguments say it all.

    A subclass sets ``form_name`` and defines :meth:`kernel_args`; the fused multi-step path
    (:class:`FormFunction`), the single step (the form's charge, the shared fire and reset),
    the firing rule and the resting membrane follow from the form.  For a form with a
    learnable constant, ``kernel_args()[0]`` may be a Tensor (PLIF's ``sigmoid(w)``).
    """

    form_name = ""

    @property
    def form(self):
        from refsnn.neurons.forms import FORMS

        return FORMS[self.form_name]

    @property
    def strict(self) -> bool:
        return self.form.equations.STRICT

    def kernel_args(self, **overrides) -> tuple:  # pragma: no cover - abstract
        """The form's kernel arguments after ``X`` (per-call ``overrides`` where the form has any)."""
        raise NotImplementedError

    def _multi(self, x, **overrides):
        args = self.kernel_args(**overrides)
        k = args[0] if isinstance(args[0], Tensor) else None
        return run_form(type(self).__name__, self.form, x, args, self.surrogate, self.detach_reset,
                        k=k)

    def _charge_fire_reset(self, x_t, state, **overrides):
        p, reset, _ = self.form.bind(type(self).__name__, *self.kernel_args(**overrides))
        return self._form_step(self.form.equations, x_t, state, p, reset)

    def _rest(self, x_t) -> Tensor:
        v0 = self.form.bind(type(self).__name__, *self.kernel_args())[2]
        return Tensor(xp_of(x_t.data).full(x_t.shape, v0, dtype=x_t.dtype))
