"""The fused neuron loop, said once: charge → fire → reset forward, the shared BPTT backward.

A neuron form (one file under :mod:`refsnn.neurons`, registered in
:mod:`refsnn.neurons.forms`) supplies only what is its own, as plain-arithmetic
``@njit(inline="always")`` functions (so the same function runs compiled in the kernels
and as Python on NumPy arrays in the twins and on Tensors in the layers' single step,
through ``.py_func``)::

    charge(v, r, x, p, mode, one) -> h             the membrane compared with θ at step t
    partials(h, s, p, mode, one) -> (leak, cu, cs)  its BPTT coefficients (below)
    gain(p, one) -> ∂h/∂x                           optional; default 1 (:func:`unit_gain`)
    dcharge(v, r, x, p, mode, one) -> ∂h/∂k         optional, for a learnable constant k

and two constants: ``STRICT`` (fire on ``h > θ``, else on ``h ≥ θ``) and ``IMMEDIATE``
(reset right after firing by the shared reset, else the form's charge applies the reset
one step late from ``r``).  ``p = (θ, V_reset, *constants)`` is a tuple of scalars typed
like the arrays (:func:`~refsnn.kernels._common.typed`); ``mode`` a
:class:`~refsnn.kernels.codes.Reset` code; ``one`` a typed 1.

Forward, per neuron over ``t = 1..T`` from ``v = v0`` (0, or form 4's reset potential),
``r = 0``::

    h = charge(v, r, X[t], p, mode)             M[t] = h
    S[t] = Θ(h − θ)                              ([> 0] if STRICT else [≥ 0])
    v = reset(h, S[t])  if IMMEDIATE else h      soft: h − θ·S;  hard: (1 − S)·h + S·V_reset
    r = S[t]

Backward over ``t = T..1`` from ``δ = 0`` (``g = σ'(M[t] − θ)``, ``S[t]`` recomputed
from ``M[t]`` by the same Θ)::

    leak, cu, cs = partials(M[t], S[t], p, mode)
    δ = gM[t] + g·(gS[t] + [not detach]·(leak·δ)·cs) + (leak·δ)·cu      dX[t] = gain·δ
    dL/dk += Σ_n δ·dcharge(v[t-1], S[t-1], X[t], p, mode)               (only when asked)

— the recurrence of :func:`~refsnn.kernels._common.bptt_delta`: ``leak·δ`` is the
gradient reaching the carried membrane from step t+1, ``cu`` / ``cs`` its partials in
``M[t]`` and ``S[t]``; ``v[t-1]`` is recomputed from ``M[t-1]`` (``v0`` at the first step).

Each form binds these loops to its functions in two thin cached kernels
``_forward_nb`` / ``_backward_nb`` that name its functions as module globals (a
dispatcher passed as an *argument* of a cached kernel would defeat Numba's disk cache).
The NumPy twins :func:`forward_twin` / :func:`backward_twin` are the same loops vectorised
over N, the readable definition the kernels are tested against.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from refsnn.kernels._common import (
    BLOCK,
    bptt_delta,
    bptt_twin_step,
    check_input,
    check_reset,
    empty_out,
    forward_done,
    grad_arg,
    n_blocks,
    reset_membrane,
    reset_nb,
    spikes_arg,
    steps_since_spike,
    typed,
)
from refsnn.kernels.surrogate import (
    _SPIKE_TIME,
    SPIKE_TIME,
    block_dt,
    check_kind,
    sg_constants,
    sg_row,
    surrogate_grad,
    surrogate_primitive,
)


def python(f):
    """The plain-Python function behind an ``@njit`` one (itself under ``NUMBA_DISABLE_JIT``)."""
    return getattr(f, "py_func", f)


# --------------------------------------------------------------- Numba loops


@njit(inline="always")
def fire_nb(h, theta, strict, one, zero):
    """``Θ(h − θ)`` as a typed 0/1: ``[h > θ]`` when ``strict``, ``[h ≥ θ]`` otherwise."""
    if strict:
        return one if h > theta else zero
    return one if h >= theta else zero


@njit(inline="always")
def fused_forward(charge, strict, immediate, X, p, v0, mode, one, zero, S, M, bad):
    """Forward loop (module docstring) from ``v = v0``, in ``BLOCK``-neuron blocks in ``prange``."""
    T, N = X.shape
    theta, v_reset = p[0], p[1]
    for blk in prange((N + BLOCK - 1) // BLOCK):
        n0 = blk * BLOCK
        m = min(N, n0 + BLOCK) - n0
        v = np.full(m, v0, dtype=X.dtype)  # the membrane carried into the next charge
        r = np.zeros(m, dtype=X.dtype)  # the previous step's spikes
        nonfinite = 0  # (x − x) ≠ 0 exactly when x is NaN or ±inf
        for t in range(T):
            x = X[t, n0:n0 + m]
            m_out = M[t, n0:n0 + m]
            s_out = S[t, n0:n0 + m]
            for j in range(m):
                nonfinite += (x[j] - x[j]) != zero
                h = charge(v[j], r[j], x[j], p, mode, one)
                s = fire_nb(h, theta, strict, one, zero)
                m_out[j] = h
                s_out[j] = s
                v[j] = reset_nb(h, s, theta, v_reset, mode, one) if immediate else h
                r[j] = s
        bad[blk] = nonfinite


@njit(inline="always")
def unit_gain(p, one):
    """``∂h/∂x = 1``: the default input gain of a form (its charge adds ``x``)."""
    return one


@njit(inline="always")
def no_dcharge(v, r, x, p, mode, one):
    """``∂h/∂k = 0``: the default for a form without a learnable constant."""
    return one - one


@njit(inline="always")
def fused_backward(partials, gain, dcharge, strict, immediate, gS, has_gS, gM, has_gM, S, M, X,
                   p, v0, mode, kind, c0, c1, table, detach, grad_k, one, zero, dX, partial):
    """BPTT loop (module docstring); ``S`` is read only for the spike-time surrogate's Δt.

    ``dX[t] = gain·δ[t]``; with ``grad_k`` the block's share of ``Σ δ[t]·∂h[t]/∂k`` (float64)
    goes to ``partial[blk]``, the carried membrane recomputed from ``M[t-1]`` (``v0`` at t = 0).
    """
    T, N = M.shape
    theta, v_reset = p[0], p[1]
    nd = zero if detach else one  # [not detach]; x + 0 == x keeps the twin's values exactly
    kx = gain(p, one)
    for blk in prange((N + BLOCK - 1) // BLOCK):
        n0 = blk * BLOCK
        m = min(N, n0 + BLOCK) - n0
        d = np.zeros(m, dtype=M.dtype)  # δ[t+1]
        g = np.empty(m, dtype=M.dtype)  # surrogate row
        zeros = np.zeros(m, dtype=M.dtype)  # stands in for an absent gS / gM
        dts = block_dt(kind, S, n0, m)  # spike-time Δt per row ([1, m] dummy otherwise)
        acc = 0.0
        for i in range(T - 1, -1, -1):
            h = M[i, n0:n0 + m]
            out = dX[i, n0:n0 + m]
            sg_row(kind, c0, c1, h, theta, dts[i if kind == _SPIKE_TIME else 0], table, one, zero, g)
            gs = gS[i, n0:n0 + m] if has_gS else zeros
            gm = gM[i, n0:n0 + m] if has_gM else zeros
            for j in range(m):
                s = fire_nb(h[j], theta, strict, one, zero)
                leak, cu, cs = partials(h[j], s, p, mode, one)
                delta = bptt_delta(gm[j], g[j], gs[j], leak * d[j], cs * nd, cu)
                d[j] = delta
                out[j] = kx * delta
            if grad_k:
                for j in range(m):
                    v, r = v0, zero  # the membrane and spike carried into step i
                    if i > 0:
                        hp = M[i - 1, n0 + j]
                        r = fire_nb(hp, theta, strict, one, zero)
                        v = reset_nb(hp, r, theta, v_reset, mode, one) if immediate else hp
                    acc += d[j] * dcharge(v, r, X[i, n0 + j], p, mode, one)
        partial[blk] = acc


# ----------------------------------------------------------- Python wrappers


def run_forward(where, kernel, X, params, reset, v0=0.0):
    """Check ``X``, run a form's ``_forward_nb`` on typed ``params = (θ, V_reset, ...)``: ``(S, M)``."""
    check_input(where, X)
    mode = check_reset(where, reset)
    S, M = empty_out(X.shape, X.dtype), empty_out(X.shape, X.dtype)
    bad = np.zeros(n_blocks(X.shape[1]), dtype=np.int64)
    one, zero, v0_ = typed(X.dtype, 1, 0, v0)
    kernel(X, typed(X.dtype, *params), v0_, mode, one, zero, S, M, bad)
    forward_done(where, bad.sum())
    return S, M


def run_backward(where, kernel, names, gS, gM, S, M, X, params, reset, v0, sg_kind, sg_a, sg_b,
                 detach_reset, grad_k=False):
    """Check the arguments, run a form's ``_backward_nb``: ``(dX [T,N], dL/dk float)``.

    ``names`` = the form's names of ``(gS, gM)`` and of its learnable constant, for error
    messages; ``X`` (the forward's input) is read only when ``grad_k``.
    """
    check_input(where, M)
    mode = check_reset(where, reset)
    kind = check_kind(where, sg_kind)
    gS_, has_gS = grad_arg(where, names[0], gS, M)
    gM_, has_gM = grad_arg(where, names[1], gM, M)
    S_ = spikes_arg(where, S, M)
    grad_k = bool(grad_k)
    if grad_k and X is None:
        raise ValueError(f"{where}: X is needed for the {names[2]} gradient")
    X_ = grad_arg(where, "X", X, M)[0] if grad_k else np.zeros((1, 1), M.dtype)
    c0, c1, table = sg_constants(kind, sg_a, sg_b, params[0], M.shape[0], M.dtype)
    one, zero, v0_ = typed(M.dtype, 1, 0, v0)
    dX = empty_out(M.shape, M.dtype)
    partial = np.zeros(n_blocks(M.shape[1]), dtype=np.float64)
    kernel(gS_, has_gS, gM_, has_gM, S_, M, X_, typed(M.dtype, *params), v0_, mode, kind, c0, c1,
           table, bool(detach_reset), grad_k, one, zero, dX, partial)
    return dX, float(partial.sum())


# ------------------------------------------------------------------ NumPy twins


def forward_twin(form, X, params, reset, smooth, surrogate, detach_reset, v0=0.0):
    """The forward loop over rows of ``X [T, N]``: ``(S, M)``, or ``(S, M, R)`` when ``smooth``.

    ``smooth`` replaces the output ``Θ`` by the surrogate's primitive (float spikes);
    ``R`` is what the reset used — the hard ``Θ`` when ``detach_reset`` (so the detached
    reset is piecewise constant and finite differences agree with the analytic gradient),
    the smooth spikes otherwise.  ``form`` is the form's equations module (``charge``,
    ``STRICT``, ``IMMEDIATE``); ``params`` are Python scalars, which NumPy casts to X's dtype;
    ``surrogate`` is ``(sg_kind, sg_a, sg_b)`` (used when ``smooth``).
    """
    charge = python(form.charge)
    T, N = X.shape
    theta, v_reset = params[0], params[1]
    M, S = np.empty_like(X), np.empty_like(X)
    R_used = np.empty_like(X) if smooth else None
    v = np.full(N, v0, dtype=X.dtype)
    r = np.zeros(N, dtype=X.dtype)
    for t in range(T):
        h = charge(v, r, X[t], params, reset, 1)
        M[t] = h
        fire = ((h - theta > 0) if form.STRICT else (h - theta >= 0)).astype(X.dtype)
        if smooth:
            S[t] = surrogate_primitive(*surrogate, h - theta, theta)
            r = fire if detach_reset else S[t]
            R_used[t] = r
        else:
            S[t] = r = fire
        v = reset_membrane(h, r, theta, v_reset, reset) if form.IMMEDIATE else h
    return (S, M, R_used) if smooth else (S, M)


def backward_twin(form, gS, gM, S, M, X, params, reset, sg_kind, sg_a, sg_b, detach_reset,
                  grad_k=False, v0=0.0):
    """The BPTT loop over rows: ``(dX, dL/dk)``; ``S`` = the spikes the reset used (``R``)."""
    partials, dcharge = python(form.partials), python(getattr(form, "dcharge", no_dcharge))
    T, N = M.shape
    theta, v_reset = params[0], params[1]
    kx = python(getattr(form, "gain", unit_gain))(params, 1)
    R = S.astype(M.dtype)
    dt = steps_since_spike(S) if sg_kind == SPIKE_TIME else None
    dX = np.empty_like(M)
    d = np.zeros(N, dtype=M.dtype)  # δ[t+1]
    dk = 0.0
    for t in reversed(range(T)):
        g = surrogate_grad(sg_kind, sg_a, sg_b, M[t] - theta, theta, None if dt is None else dt[t])
        leak, cu, cs = partials(M[t], R[t], params, reset, 1)
        d = bptt_twin_step(None if gM is None else gM[t], g, None if gS is None else gS[t],
                           leak * d, cs, cu, detach_reset)
        dX[t] = kx * d
        if grad_k:
            v, r = np.full(N, v0, dtype=M.dtype), np.zeros(N, dtype=M.dtype)
            if t > 0:
                r = R[t - 1]
                v = reset_membrane(M[t - 1], r, theta, v_reset, reset) if form.IMMEDIATE else M[t - 1]
            dk += float(np.sum(d * dcharge(v, r, X[t], params, reset, 1), dtype=np.float64))
    return dX, dk
