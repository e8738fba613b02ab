"""The fused neuron loop in CUDA, said once: one template for the forms of :mod:`refsnn.kernels._fused`.

A form (:mod:`refsnn.kernels.lif_delayed`, :mod:`refsnn.kernels.lif_immediate`) keeps, next
to its Numba ``charge`` / ``partials``, a small dict ``CUDA`` with the same equations as C++
snippets::

    name      kernel prefix                 M         "U" or "H" (array and gradient names)
    params    its scalar parameters, C      charge    expression for h from v, r, x
    partials  statements setting leak, cu, cs from h, s
    strict    True: fire on h > θ           immediate True: v = rs_reset(h, s, ...) after firing

:func:`fused_source` substitutes them into :data:`FORWARD` and :data:`BACKWARD` (the time
loop, firing, reset, non-finite count and the shared recurrence ``bptt_delta`` of the
prelude in :mod:`accel.cupy._core`).  One thread per neuron; the operations are those of the
Numba loop in the same order, so spikes and membranes are bit-identical to the reference.
"""

from __future__ import annotations

from string import Template

import numpy as np

from accel.cupy._core import (
    check_count,
    check_input,
    cp,
    declare,
    forward_outputs,
    grad_arg,
    launch,
    spikes_arg,
)
from refsnn.kernels._common import empty_out
from refsnn.kernels.surrogate import check_kind, sg_constants

FORWARD = Template(r"""
// Forward: one thread per neuron n, walking t = 0..T-1 over element t*N + n.
// v: the membrane carried into the next charge; r: the previous step's spike.
template <typename F>
__global__ void ${name}_forward(const F* X, F* S, F* ${M}, unsigned int* bad, long long T,
                                long long N, ${params}) {
    long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const F one = F(1), zero = F(0);
    unsigned int nonfinite = 0;
    F v = ${v0}, r = zero;
    for (long long t = 0; t < T; ++t) {
        long long e = t * N + n;            // element (t, n)
        F x = X[e];
        nonfinite += rs_nonfinite(x);
        // charge, fire, reset
        F h = ${charge};
        F s = (h ${cmp} ${theta}) ? one : zero;
        ${M}[e] = h;
        S[e] = s;
        v = ${carry};
        r = s;
    }
    bad[n] = nonfinite;
}
""")

BACKWARD = Template(r"""
// BPTT: one thread per neuron, walking t = T-1..0; d carries delta[t+1].
template <typename F>
__global__ void ${name}_backward(const F* gS, int has_gS, const F* g${M}, int has_g${M},
                                 const F* S, const F* ${M}, F* dX, long long T, long long N,
                                 ${params}, int kind, F c0, F c1, const F* table, int detach) {
    long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const F one = F(1), zero = F(0);
    const bool spike_time = kind == RS_SG_SPIKE_TIME;
    long long last = spike_time ? last_spike_before(S, T - 1, N, n) : -RS_FIRST_SPIKE_LAG;
    F d = zero;
    for (long long i = T - 1; i >= 0; --i) {
        long long e = i * N + n;
        F h = ${M}[e];
        F g = sg_eval<F>(kind, c0, c1, h - ${theta}, i - last, table);
        F s = (h ${cmp} ${theta}) ? one : zero;
        F leak, cu, cs;
        ${partials}
        F delta = bptt_delta<F>(has_g${M} ? g${M}[e] : zero, g, has_gS ? gS[e] : zero, leak * d,
                                cs, cu, detach);
        d = delta;
        dX[e] = delta;
        if (spike_time && i > 0 && last == i - 1) last = last_spike_before(S, i - 1, N, n);
    }
}
""")


def fused_source(spec: dict, backward: str | None = None):
    """Declare the ``<name>_forward`` / ``<name>_backward`` CUDA pair of a form's ``CUDA`` spec.

    Optional spec fields: ``theta`` (the threshold's C name, default ``theta``) and ``v0``
    (the starting membrane, default ``zero``).  ``backward``: a form's own backward source,
    used instead of :data:`BACKWARD` (form 4, which also returns ``dL/dk``).
    """
    fields = {"theta": "theta", "v0": "zero", **spec, "cmp": ">" if spec["strict"] else ">="}
    fields["carry"] = (f"rs_reset<F>(h, s, {fields['theta']}, v_reset, reset)"
                       if spec["immediate"] else "h")
    code = FORWARD.substitute(fields) + (backward or BACKWARD.substitute(fields))
    name = spec["name"]
    return declare(name, code, [f"{name}_forward", f"{name}_backward"])


def run_forward(cuda, X, membrane: str, params):
    """Launch ``<name>_forward`` on ``X``; ``params(where, F)`` gives the typed scalars: ``(S, M)``."""
    where = f"{cuda.key}_forward"
    check_input(where, X)
    args = params(where, X.dtype.type)
    T, N = X.shape
    S, M, bad = forward_outputs(X)
    fn = cuda.function(where, X.dtype)
    launch(where, fn, N, (X, S, M, bad, np.int64(T), np.int64(N), *args),
           {"X": (X, X.dtype), "S": (S, X.dtype), membrane: (M, X.dtype), "bad": (bad, np.uint32)})
    check_count(where, bad)
    return S, M


def run_backward(cuda, membrane: str, gS, gM, S, M, params, theta, sg_kind, sg_a, sg_b,
                 detach_reset):
    """Launch ``<name>_backward``: ``dX [T,N]``; ``params`` as for :func:`run_forward`."""
    where = f"{cuda.key}_backward"
    check_input(where, M, membrane)
    args = params(where, M.dtype.type)
    kind = check_kind(where, sg_kind)
    gS_, has_gS = grad_arg(where, "gS", gS, M)
    gM_, has_gM = grad_arg(where, f"g{membrane}", gM, M)
    S_ = spikes_arg(where, S, M)
    cupy = cp()
    T, N = M.shape
    c0, c1, table = sg_constants(kind, sg_a, sg_b, theta, T, M.dtype)
    table = cupy.asarray(table)
    dX = empty_out((T, N), M.dtype, cupy)
    fn = cuda.function(where, M.dtype)
    launch(where, fn, N, (gS_, np.int32(has_gS), gM_, np.int32(has_gM), S_, M, dX, np.int64(T),
                          np.int64(N), *args, np.int32(kind), c0, c1, table,
                          np.int32(bool(detach_reset))),
           {"gS": (gS_, M.dtype), f"g{membrane}": (gM_, M.dtype), "S": (S_, M.dtype),
            membrane: (M, M.dtype), "dX": (dX, M.dtype), "table": (table, M.dtype)})
    return dX
