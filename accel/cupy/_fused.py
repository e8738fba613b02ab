"""The fused neuron loop in CUDA, said once: one template for every form of :mod:`refsnn.neurons.forms`.

A form file (:mod:`refsnn.neurons.lif_delayed`, ...) keeps, next to its Numba ``charge`` /
``partials`` (and ``gain`` / ``dcharge`` for a learnable constant), a dict ``CUDA`` with the
same equations as C++ snippets, written in the names of its ``PARAMS`` (``p[0]`` is the
threshold, ``p[1]`` the reset potential)::

    charge    expression for h from v, r, x            partials  statements setting leak, cu, cs
    gain      expression for dh/dx (default one)       dcharge   expression for dh/dk (default zero)

:func:`fused_source` substitutes them into :data:`FORWARD` and :data:`BACKWARD` (the time
loop, firing, reset ``rs_reset``, non-finite count and the shared recurrence ``bptt_delta`` of
the prelude in :mod:`accel.cupy._core`); :func:`form_kernels` wraps the pair with the form's
public signatures through its ``bind``, as the Numba wrappers do.  One thread per neuron; the
operations are those of the Numba loop in the same order, so spikes and membranes are
bit-identical to the reference.  The ``dL/dk`` of a learnable constant is summed per thread
in double into ``partial[n]`` and over neurons on the host, so it agrees with the Numba
kernel's to rounding, not bit for bit.
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
    typed,
)
from refsnn.kernels._common import check_reset, empty_out
from refsnn.kernels.surrogate import check_kind, sg_constants

FORWARD = Template(r"""
// Forward: one thread per neuron n, walking t = 0..T-1 over element t*N + n.
// v: the membrane carried into the next charge; r: the previous step's spike.
template <typename F>
__global__ void ${name}_forward(const F* X, F* S, F* M, unsigned int* bad, long long T,
                                long long N, ${params}, int reset, F v0) {
    long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const F one = F(1), zero = F(0);
    unsigned int nonfinite = 0;
    F v = v0, r = zero;
    for (long long t = 0; t < T; ++t) {
        long long e = t * N + n;            // element (t, n)
        F x = X[e];
        nonfinite += rs_nonfinite(x);
        // charge, fire, reset
        F h = ${charge};
        F s = (h ${cmp} ${theta}) ? one : zero;
        M[e] = h;
        S[e] = s;
        v = ${carry};
        r = s;
    }
    bad[n] = nonfinite;
}
""")

BACKWARD = Template(r"""
// BPTT: one thread per neuron, walking t = T-1..0; d carries delta[t+1].  With grad_k, the
// neuron's share of dL/dk is accumulated in double and written to partial[n].
template <typename F>
__global__ void ${name}_backward(const F* gS, int has_gS, const F* gM, int has_gM,
                                 const F* S, const F* M, const F* X, F* dX, double* partial,
                                 long long T, long long N, ${params}, int reset, F v0, int kind,
                                 F c0, F c1, const F* table, int detach, int grad_k) {
    long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const F one = F(1), zero = F(0);
    const bool spike_time = kind == RS_SG_SPIKE_TIME;
    long long last = spike_time ? last_spike_before(S, T - 1, N, n) : -RS_FIRST_SPIKE_LAG;
    const F kx = ${gain};
    F d = zero;
    double acc = 0.0;
    for (long long i = T - 1; i >= 0; --i) {
        long long e = i * N + n;
        F h = M[e];
        F g = sg_eval<F>(kind, c0, c1, h - ${theta}, i - last, table);
        F s = (h ${cmp} ${theta}) ? one : zero;
        F leak, cu, cs;
        ${partials}
        F delta = bptt_delta<F>(has_gM ? gM[e] : zero, g, has_gS ? gS[e] : zero, leak * d,
                                cs, cu, detach);
        d = delta;
        dX[e] = kx * delta;
        if (grad_k) {
            F v = v0, r = zero;             // the membrane and spike carried into step i
            if (i > 0) {
                F hp = M[e - N];
                r = (hp ${cmp} ${theta}) ? one : zero;
                v = ${carry_prev};
            }
            F x = X[e];
            acc += (double)(d * (${dcharge}));
        }
        if (spike_time && i > 0 && last == i - 1) last = last_spike_before(S, i - 1, N, n);
    }
    if (grad_k) partial[n] = acc;
}
""")


def fused_source(equations):
    """Declare the CUDA pair ``<key>_forward`` / ``<key>_backward`` of a form's equations module.

    The key is the module's last name (form 3 shares form 2's equations, so its kernels).
    """
    key = equations.__name__.rsplit(".", 1)[-1]
    names = equations.PARAMS
    theta, v_reset = names[0], names[1]
    fields = {"name": key, "theta": theta, "params": ", ".join(f"F {p}" for p in names),
              "cmp": ">" if equations.STRICT else ">=", "gain": "one", "dcharge": "zero",
              **equations.CUDA}
    reset = f"rs_reset<F>({{h}}, {{s}}, {theta}, {v_reset}, reset)"
    fields["carry"] = reset.format(h="h", s="s") if equations.IMMEDIATE else "h"
    fields["carry_prev"] = reset.format(h="hp", s="r") if equations.IMMEDIATE else "hp"
    code = FORWARD.substitute(fields) + BACKWARD.substitute(fields)
    return declare(key, code, [f"{key}_forward", f"{key}_backward"])


_SOURCES: dict = {}


def _source(equations):
    if equations not in _SOURCES:
        _SOURCES[equations] = fused_source(equations)
    return _SOURCES[equations]


def form_kernels(form) -> dict:
    """``{<name>_forward: fn, <name>_backward: fn}`` on CuPy arrays, the signatures of the form's."""
    cuda = _source(form.equations)
    fwd_name, bwd_name = f"{form.name}_forward", f"{form.name}_backward"

    def forward(X, *args):
        p, reset, v0 = form.bind(fwd_name, *args)
        check_input(fwd_name, X)
        check_reset(fwd_name, reset)
        T, N = X.shape
        S, M, bad = forward_outputs(X)
        fn = cuda.function(f"{cuda.key}_forward", X.dtype)
        launch(fwd_name, fn, N, (X, S, M, bad, np.int64(T), np.int64(N), *typed(X.dtype, *p),
                                 np.int32(reset), *typed(X.dtype, v0)),
               {"X": (X, X.dtype), "S": (S, X.dtype), form.membrane: (M, X.dtype),
                "bad": (bad, np.uint32)})
        check_count(fwd_name, bad)
        return S, M

    def backward(gS, gM, S, M, *rest):
        X, args, (sg_kind, sg_a, sg_b, detach_reset), grad_k = form.split_backward_args(rest)
        p, reset, v0 = form.bind(bwd_name, *args)
        where, names = bwd_name, form.names
        check_input(where, M, form.membrane)
        reset = check_reset(where, reset)
        kind = check_kind(where, sg_kind)
        gS_, has_gS = grad_arg(where, names[0], gS, M)
        gM_, has_gM = grad_arg(where, names[1], gM, M)
        S_ = spikes_arg(where, S, M)
        cupy = cp()
        grad_k = bool(grad_k)
        if grad_k and X is None:
            raise ValueError(f"{where}: X is needed for the {names[2]} gradient")
        X_ = grad_arg(where, "X", X, M)[0] if grad_k else cupy.zeros((1, 1), M.dtype)
        T, N = M.shape
        c0, c1, table = sg_constants(kind, sg_a, sg_b, p[0], T, M.dtype)
        table = cupy.asarray(table)
        dX = empty_out((T, N), M.dtype, cupy)
        partial = cupy.zeros(N if grad_k else 1, dtype=np.float64)
        fn = cuda.function(f"{cuda.key}_backward", M.dtype)
        launch(where, fn, N, (gS_, np.int32(has_gS), gM_, np.int32(has_gM), S_, M, X_, dX, partial,
                              np.int64(T), np.int64(N), *typed(M.dtype, *p), np.int32(reset),
                              *typed(M.dtype, v0), np.int32(kind), c0, c1, table,
                              np.int32(bool(detach_reset)), np.int32(grad_k)),
               {names[0]: (gS_, M.dtype), names[1]: (gM_, M.dtype), "S": (S_, M.dtype),
                form.membrane: (M, M.dtype), "X": (X_, M.dtype), "dX": (dX, M.dtype),
                "partial": (partial, np.float64), "table": (table, M.dtype)})
        if not form.learnable:
            return dX
        return dX, (float(partial.sum()) if grad_k else 0.0)

    forward.__name__, backward.__name__ = fwd_name, bwd_name
    return {fwd_name: forward, bwd_name: backward}
