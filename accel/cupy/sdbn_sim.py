"""Event-driven SDBN simulator on the GPU: one CUDA thread per sample, the reference loop verbatim.

Same name, signature and results as :func:`refsnn.kernels.sdbn_sim.sdbn_sim_forward`::

    sdbn_sim_forward(ev_ptr, ev_step, ev_idx, W_flat, w_off, c_flat, sizes, n_steps,
                     a, v_th, v_reset, v_rest, n_ref, release, seed, record_every)
        -> (counts int64 [B, N], events int64 [B, L], trace int64 [B, R, n_top], V float64 [B, N])

Thread ``b`` walks steps ``t = 0..n_steps-1`` and layers ``l = 0..L-1`` of
sample ``b`` exactly as the Numba kernel does (module docstring of
:mod:`refsnn.kernels.sdbn_sim`)::

    I[j] = Σ_{events e into layer l at step t, in order} W_l[i_e, j]
    refractory: r −= 1, V = V_reset;  else V' = a·V + c + I[j];  V' > V_th → spike, V = V_reset, r = n_ref
    a spike of a non-top layer is passed on iff u(seed + (b·n_steps + t)·N + g) < release[l]
    (u: SplitMix64 finaliser → [0, 1), the same integer arithmetic as the reference)

Per-sample scratch lives in global memory: membranes ``V [B, N]`` (returned),
refractory counters ``r [B, N]``, currents ``I [B, nmax]`` and the released
spikes of the layer below ``pre [B, nmax]``.  Everything is float64 with
``--fmad=false`` (see :mod:`accel.cupy._core`), sums in the reference's
order, so spikes, counts, traces and membranes are bit-identical to the Numba
kernel.  Inputs may be host (NumPy) or device arrays; results are device arrays.

Launch: ``ceil(B / 256)`` blocks of 256 threads.  One thread per sample keeps
the event order (and so the float sums) of the reference; it leaves the GPU
under-filled for small ``B`` — parallelising over neurons inside a sample is
the obvious next step when speed matters more than this bit-exactness.
"""

from __future__ import annotations

import numpy as np

from accel.cupy._core import cp, declare, launch

SOURCE = r"""
// SplitMix64 finaliser of key -> double in [0, 1) (refsnn.kernels.sdbn_sim.release_uniform).
__device__ __forceinline__ double rs_release_uniform(unsigned long long z) {
    z = z + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z = z ^ (z >> 31);
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

// One thread per sample b: the whole simulation of that sample (module docstring).
template <typename F>
__global__ void sdbn_sim(const long long* ev_ptr, const long long* ev_step, const long long* ev_idx,
                         const F* W_flat, const long long* w_off, const F* c_flat,
                         const long long* sizes, const F* release, F* V, long long* refr, F* I,
                         long long* pre, long long* counts, long long* events, long long* trace,
                         long long B, int L, long long N, long long nmax, long long n_steps, F a,
                         F v_th, F v_reset, F v_rest, long long n_ref, long long seed,
                         long long record_every, long long R) {
    long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    F* Vb = V + b * N;
    long long* rb = refr + b * N;
    F* Ib = I + b * nmax;
    long long* pb = pre + b * nmax;
    long long* cb = counts + b * N;
    for (long long g = 0; g < N; ++g) { Vb[g] = v_rest; rb[g] = 0; }
    const unsigned long long useed = (unsigned long long)seed;
    const long long n_top = sizes[L];
    long long e = ev_ptr[b], e_end = ev_ptr[b + 1], n_prev = 0;
    for (long long t = 0; t < n_steps; ++t) {
        long long s0 = 0;
        for (int l = 0; l < L; ++l) {
            const long long n_out = sizes[l + 1], W0 = w_off[l];
            for (long long j = 0; j < n_out; ++j) Ib[j] = F(0);
            long long n_pre = 0;
            if (l == 0) {
                while (e < e_end && ev_step[e] == t) {
                    const F* row = W_flat + W0 + ev_idx[e] * n_out;
                    for (long long j = 0; j < n_out; ++j) Ib[j] = Ib[j] + row[j];
                    ++n_pre;
                    ++e;
                }
            } else {
                for (long long k = 0; k < n_prev; ++k) {
                    const F* row = W_flat + W0 + pb[k] * n_out;
                    for (long long j = 0; j < n_out; ++j) Ib[j] = Ib[j] + row[j];
                }
                n_pre = n_prev;
            }
            events[b * L + l] += n_pre;
            n_prev = 0;
            for (long long j = 0; j < n_out; ++j) {
                const long long g = s0 + j;
                if (rb[g] > 0) { rb[g] -= 1; Vb[g] = v_reset; continue; }
                F v = a * Vb[g] + c_flat[g] + Ib[j];
                if (v > v_th) {
                    Vb[g] = v_reset;
                    rb[g] = n_ref;
                    cb[g] += 1;
                    if (l + 1 < L) {
                        unsigned long long key = useed + ((unsigned long long)b * (unsigned long long)n_steps
                                                          + (unsigned long long)t) * (unsigned long long)N
                                                 + (unsigned long long)g;
                        if (rs_release_uniform(key) < (double)release[l]) pb[n_prev++] = j;
                    }
                } else {
                    Vb[g] = v;
                }
            }
            s0 += n_out;
        }
        if ((t + 1) % record_every == 0) {
            const long long k = (t + 1) / record_every - 1;
            for (long long j = 0; j < n_top; ++j) trace[(b * R + k) * n_top + j] = cb[N - n_top + j];
        }
    }
}
"""

CUDA = declare("sdbn_sim", SOURCE, ["sdbn_sim"])


def _dev(x, dtype, name: str):
    cupy = cp()
    arr = cupy.ascontiguousarray(cupy.asarray(x, dtype=dtype))
    if arr.ndim != 1:
        raise ValueError(f"sdbn_sim_forward: {name} must be 1-D, got shape {arr.shape}")
    return arr


def sdbn_sim_forward(ev_ptr, ev_step, ev_idx, W_flat, w_off, c_flat, sizes, n_steps, a, v_th, v_reset,
                     v_rest, n_ref, release, seed, record_every):
    """The CUDA kernel above, with the reference kernel's signature and results (module docstring)."""
    where = "sdbn_sim_forward"
    cupy = cp()
    i64, f64 = np.int64, np.float64
    sizes_h = np.asarray(sizes.get() if hasattr(sizes, "get") else sizes, i64).reshape(-1)
    L, N = len(sizes_h) - 1, int(sizes_h[1:].sum())
    if L < 1 or (sizes_h < 1).any():
        raise ValueError(f"{where}: sizes must hold >= 2 positive layer widths, got {sizes_h.tolist()}")
    ev_ptr, ev_step, ev_idx = (_dev(v, i64, n) for v, n in ((ev_ptr, "ev_ptr"), (ev_step, "ev_step"),
                                                             (ev_idx, "ev_idx")))
    W_flat, c_flat = _dev(W_flat, f64, "W_flat"), _dev(c_flat, f64, "c_flat")
    w_off, release = _dev(w_off, i64, "w_off"), _dev(release, f64, "release")
    if W_flat.size != int((sizes_h[:-1] * sizes_h[1:]).sum()) or c_flat.size != N or len(w_off) != L + 1:
        raise ValueError(f"{where}: W_flat/c_flat/w_off do not match sizes {sizes_h.tolist()}")
    if len(release) < max(L - 1, 1):
        raise ValueError(f"{where}: need {max(L - 1, 1)} release probabilities, got {len(release)}")
    B, n_steps, record_every = len(ev_ptr) - 1, int(n_steps), int(record_every)
    if n_steps < 1 or record_every < 1 or not 0 <= int(seed) < 2**63:
        raise ValueError(f"{where}: need n_steps >= 1, record_every >= 1, 0 <= seed < 2**63")
    R, n_top, nmax = n_steps // record_every, int(sizes_h[-1]), int(sizes_h[1:].max())
    sizes_d = cupy.asarray(sizes_h)
    V = cupy.empty((B, N), f64)
    refr = cupy.zeros((B, N), i64)
    scratch_I, pre = cupy.zeros((B, nmax), f64), cupy.zeros((B, nmax), i64)
    counts, events = cupy.zeros((B, N), i64), cupy.zeros((B, L), i64)
    trace = cupy.zeros((B, R, n_top), i64)
    fn = CUDA.function("sdbn_sim", np.float64)
    args = (ev_ptr, ev_step, ev_idx, W_flat, w_off, c_flat, sizes_d, release, V, refr, scratch_I, pre,
            counts, events, trace, i64(B), np.int32(L), i64(N), i64(nmax), i64(n_steps), f64(a), f64(v_th),
            f64(v_reset), f64(v_rest), i64(n_ref), i64(seed), i64(record_every), i64(R))
    launch(where, fn, B, args, {"V": (V, f64), "counts": (counts, i64), "trace": (trace, i64)})
    return counts, events, trace, V


KERNELS = {"sdbn_sim_forward": sdbn_sim_forward}
