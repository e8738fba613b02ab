"""Event-driven spiking simulation of a trained SDBN: Poisson inputs, LIF neurons with the Siegert constants.

The rate network (:mod:`refsnn.models.sdbn`) predicts what this network of
spiking neurons does.  Layers ``l = 0..L-1`` map ``sizes[l] → sizes[l+1]`` with
``W_l [sizes[l], sizes[l+1]]`` (RBM layout) and biases ``b_l``.  Per sample,
time steps ``t = 0..n_steps-1`` of length ``dt``, for each layer in order::

    a = exp(−dt/τ_m),   c_l = (1 − a)·(V_rest + τ_m·b_l)         exact decay toward V_rest + τ_m·b
    I[j]  = Σ_{events e into layer l at step t} W_l[i_e, j]        (sum in event order; zero delay)
    refractory (r[j] > 0):  r[j] −= 1,  V[j] = V_reset             (input ignored)
    else:                   V[j] = a·V[j] + c_l[j] + I[j];
                            spike if V[j] > V_th  →  V[j] = V_reset,  r[j] = n_ref = round(t_ref/dt)
    a spike of a non-top layer is an event for the next layer with probability ``release[l]``

Units.  The rate network's values (inputs in [0, 0.2], hidden ``rate·t_ref``)
are rates in units of ``1/rate_unit``.  The simulator turns a value ``y`` into a
Poisson train of ``y/rate_unit`` events per unit time (inputs: drawn by
:func:`poisson_events` from an explicit Generator; hidden layers: the spikes
themselves, each passed on with probability ``release = t_ref/rate_unit``, so a
hidden unit's train has the rate its ``rate·t_ref`` value stands for), and each
event adds ``W·rate_unit`` to the membrane, so the mean drive is the Siegert
``μ = τ_m·W y`` exactly, for any ``rate_unit``; the variance is
``rate_unit·τ_m·W²y/2`` (the Siegert σ² when ``rate_unit = 1``).

* default ``rate_unit = t_ref`` (so ``release = 1``): a value is a fraction of the
  maximal rate ``1/t_ref`` (the pixel is "the probability that a spike occurs"
  per refractory period, paper §III-A; 0.2 → 100 Hz for t_ref = 2 ms).  Jumps
  are small, the network runs near the diffusion limit with less noise than
  the Siegert σ: the spiking rates approach the rate network's where μ ≫ σ.
* ``rate_unit = 1`` (so ``release = t_ref``): Siegert's μ and σ exactly — a hidden
  unit's spikes reach the next layer as a train thinned to ``rate·t_ref``
  (Poisson for small ``release``) — but with SDBN weights (|W| ≫ V_th) each
  event is a large jump, far from the diffusion limit the Siegert formula
  assumes, and the LIF fires several times less than Siegert predicts
  (measured on a trained 784-64 layer: 0.008 vs 0.053; a tiny 784-64-64-10
  SDBN then decides at chance, 0.11, against 0.45 for the rate network and
  0.43–0.44 for the default units, 300 MNIST-5k test images).

The release decision for
spike ``(b, t, global neuron g)`` is ``u < release`` with ``u`` from a
stateless SplitMix64 hash of ``seed + (b·n_steps + t)·N + g`` (``N`` = all
non-input neurons), so kernel and twin draw the same ``u``.

Kernel (``numpy`` backend; ``accel.cupy.sdbn_sim`` is the CUDA version, bit-identical)::

    sdbn_sim_forward(ev_ptr, ev_step, ev_idx, W_flat, w_off, c_flat, sizes, n_steps,
                     a, v_th, v_reset, v_rest, n_ref, release, seed, record_every)
        -> (counts int64 [B, N], events int64 [B, L], trace int64 [B, R, sizes[-1]], V float64 [B, N])

``ev_*``: input events per sample ``b`` at ``ev_ptr[b]:ev_ptr[b+1]``, sorted by
step; ``W_flat``/``w_off``: the row-major ``W_l`` concatenated; ``c_flat``
``[N]``; ``counts``: spikes per neuron (layers 1..L concatenated);
``events[:, l]``: events delivered into layer ``l`` (synaptic operations
``events[:, l]·sizes[l+1]``); ``trace[:, k]``: the top layer's spike counts
after step ``(k+1)·record_every − 1`` (``R = n_steps // record_every``);
``V``: final membranes.  The NumPy twin :func:`sdbn_sim_forward_twin` is the
readable definition.

>>> import numpy as np
>>> res = simulate([np.full((2, 1), 1e-3)], [np.zeros(1)], np.array([[0.2, 0.2]]), 10.0, 0.002,
...                np.random.default_rng(0))
>>> res.counts[0].shape, int(res.events[0, 0]) == int(res.n_input_events[0])
((1, 1), True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from refsnn.backend import kernel, register_kernel
from refsnn.nn.init import as_generator

_M1, _M2, _GOLD = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


def release_uniform(key):
    """SplitMix64 finaliser of uint64 ``key`` → float64 in [0, 1) (works on arrays and in Numba)."""
    z = key + _GOLD
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    z = z ^ (z >> _S31)
    return (z >> _S11) * _INV53


_release_uniform_nb = njit(cache=True)(release_uniform)


# ----------------------------------------------------------------- NumPy twin
def sdbn_sim_forward_twin(ev_ptr, ev_step, ev_idx, W_flat, w_off, c_flat, sizes, n_steps, a, v_th,
                          v_reset, v_rest, n_ref, release, seed, record_every):
    """Readable definition (module docstring): loops over samples and steps, vectorised over neurons."""
    L = len(sizes) - 1
    B = len(ev_ptr) - 1
    N = int(sum(sizes[1:]))
    n_off = np.concatenate([[0], np.cumsum(sizes[1:])])
    Ws = [W_flat[w_off[l]:w_off[l + 1]].reshape(sizes[l], sizes[l + 1]) for l in range(L)]
    R = n_steps // record_every
    counts = np.zeros((B, N), np.int64)
    events = np.zeros((B, L), np.int64)
    trace = np.zeros((B, R, sizes[L]), np.int64)
    V_out = np.empty((B, N))
    for b in range(B):
        V = np.full(N, float(v_rest))
        r = np.zeros(N, np.int64)
        e, e_end = ev_ptr[b], ev_ptr[b + 1]
        for t in range(n_steps):
            pre = []  # presynaptic event indices into layer l, in order
            while e < e_end and ev_step[e] == t:
                pre.append(ev_idx[e])
                e += 1
            for l in range(L):
                s0, s1 = n_off[l], n_off[l + 1]
                I = np.zeros(sizes[l + 1])
                for i in pre:
                    I = I + Ws[l][i]
                events[b, l] += len(pre)
                v, rr = V[s0:s1], r[s0:s1]
                refr = rr > 0
                v_new = np.where(refr, v_reset, a * v + c_flat[s0:s1] + I)
                spk = ~refr & (v_new > v_th)
                V[s0:s1] = np.where(spk, v_reset, v_new)
                r[s0:s1] = np.where(spk, n_ref, np.where(refr, rr - 1, 0))
                counts[b, s0:s1] += spk
                j = np.flatnonzero(spk)
                if l + 1 < L and len(j):
                    key = (np.uint64(seed) + (np.uint64(b) * np.uint64(n_steps) + np.uint64(t))
                           * np.uint64(N) + (j + s0).astype(np.uint64))
                    j = j[release_uniform(key) < release[l]]
                pre = list(j)
            if (t + 1) % record_every == 0:
                trace[b, (t + 1) // record_every - 1] = counts[b, n_off[L - 1]:n_off[L]]
        V_out[b] = V
    return counts, events, trace, V_out


# ----------------------------------------------------------------- Numba kernel
@njit(parallel=True, cache=True)
def _sim_nb(ev_ptr, ev_step, ev_idx, W_flat, w_off, c_flat, sizes, n_steps, a, v_th, v_reset, v_rest,
            n_ref, release, seed, record_every, counts, events, trace, V_out):
    L = sizes.shape[0] - 1
    B = ev_ptr.shape[0] - 1
    N = counts.shape[1]
    nmax = 0
    for l in range(L):
        nmax = max(nmax, sizes[l + 1])
    for b in prange(B):
        V = np.full(N, v_rest)
        r = np.zeros(N, np.int64)
        I = np.zeros(nmax)
        pre = np.empty(max(nmax, 1), np.int64)  # spikes of the layer below, released
        e, e_end = ev_ptr[b], ev_ptr[b + 1]
        n_prev = 0
        for t in range(n_steps):
            s0 = 0
            for l in range(L):
                n_out = sizes[l + 1]
                W0 = w_off[l]
                for j in range(n_out):
                    I[j] = 0.0
                n_pre = 0
                if l == 0:
                    while e < e_end and ev_step[e] == t:
                        i = ev_idx[e]
                        for j in range(n_out):
                            I[j] = I[j] + W_flat[W0 + i * n_out + j]
                        n_pre += 1
                        e += 1
                else:
                    for k in range(n_prev):
                        i = pre[k]
                        for j in range(n_out):
                            I[j] = I[j] + W_flat[W0 + i * n_out + j]
                    n_pre = n_prev
                events[b, l] += n_pre
                n_prev = 0
                for j in range(n_out):
                    g = s0 + j
                    if r[g] > 0:
                        r[g] -= 1
                        V[g] = v_reset
                        continue
                    v = a * V[g] + c_flat[g] + I[j]
                    if v > v_th:
                        V[g] = v_reset
                        r[g] = n_ref
                        counts[b, g] += 1
                        if l + 1 < L:
                            key = (seed + (np.uint64(b) * np.uint64(n_steps) + np.uint64(t)) * np.uint64(N)
                                   + np.uint64(g))
                            if _release_uniform_nb(key) < release[l]:
                                pre[n_prev] = j
                                n_prev += 1
                    else:
                        V[g] = v
                s0 += n_out
            if (t + 1) % record_every == 0:
                k = (t + 1) // record_every - 1
                for j in range(sizes[L]):
                    trace[b, k, j] = counts[b, N - sizes[L] + j]
        for g in range(N):
            V_out[b, g] = V[g]


def sdbn_sim_forward(ev_ptr, ev_step, ev_idx, W_flat, w_off, c_flat, sizes, n_steps, a, v_th, v_reset,
                     v_rest, n_ref, release, seed, record_every):
    """Numba kernel with the twin's signature and results (module docstring)."""
    sizes = np.ascontiguousarray(sizes, np.int64)
    B, L, N = len(ev_ptr) - 1, len(sizes) - 1, int(sizes[1:].sum())
    counts = np.zeros((B, N), np.int64)
    events = np.zeros((B, L), np.int64)
    trace = np.zeros((B, n_steps // record_every, sizes[-1]), np.int64)
    V = np.empty((B, N))
    _sim_nb(np.ascontiguousarray(ev_ptr, np.int64), np.ascontiguousarray(ev_step, np.int64),
            np.ascontiguousarray(ev_idx, np.int64), np.ascontiguousarray(W_flat, np.float64),
            np.ascontiguousarray(w_off, np.int64), np.ascontiguousarray(c_flat, np.float64), sizes,
            int(n_steps), float(a), float(v_th), float(v_reset), float(v_rest), int(n_ref),
            np.ascontiguousarray(release, np.float64), np.uint64(seed), int(record_every),
            counts, events, trace, V)
    return counts, events, trace, V


register_kernel("numpy", "sdbn_sim_forward", sdbn_sim_forward)


# ----------------------------------------------------------------- driver
@dataclass
class SimResult:
    """:func:`simulate`'s answer: spike ``counts`` per layer (list of ``[B, sizes[l+1]]``), delivered
    ``events [B, L]``, ``synaptic_ops [B]``, top-layer ``trace [B, R, n_top]`` (cumulative counts at
    ``times [R]``), ``rates`` per layer (spikes per unit time · t_ref: the Siegert output's units),
    ``n_input_events [B]``, final ``membrane [B, N]``."""

    counts: list
    events: np.ndarray
    synaptic_ops: np.ndarray
    trace: np.ndarray
    times: np.ndarray
    rates: list
    n_input_events: np.ndarray
    membrane: np.ndarray


def poisson_events(x, duration: float, dt: float, rng):
    """Poisson trains at rates ``x [B, n]`` (≥ 0, per unit time) over ``[0, duration)`` on a ``dt`` grid.

    Spike counts ``~ Poisson(x·duration)`` with uniform times (exactly a Poisson process),
    binned to steps ``floor(time/dt)``.  Returns ``(ev_ptr [B+1], ev_step, ev_idx)``, each
    sample's events sorted by (step, input index).  Several events may share a step.
    """
    gen = as_generator(rng, "poisson_events")
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or not np.isfinite(x).all() or (x < 0).any():
        raise ValueError("poisson_events: rates must be a finite [B, n] array of values >= 0")
    n_steps = int(round(duration / dt))
    k = gen.poisson(x * duration)
    b, i = np.nonzero(k)
    reps = k[b, i]
    b, i = np.repeat(b, reps), np.repeat(i, reps)
    step = np.minimum((gen.random(len(b)) * duration / dt).astype(np.int64), n_steps - 1)
    order = np.lexsort((i, step, b))
    ptr = np.concatenate([[0], np.cumsum(np.bincount(b, minlength=len(x)))]).astype(np.int64)
    return ptr, step[order], i[order].astype(np.int64)


def simulate(weights, biases, x, duration: float, dt: float, rng, *, rate_unit=None, release=None,
             record_every=None, tau_m=5.0, t_ref=0.002, v_th=0.005, v_reset=0.0, v_rest=0.0,
             backend=None) -> SimResult:
    """Run the layered LIF network on Poisson inputs at rates ``x [B, sizes[0]]`` for ``duration``.

    ``weights[l]`` ``[sizes[l], sizes[l+1]]``, ``biases[l]`` ``[sizes[l+1]]`` (or None);
    ``rate_unit`` (default ``t_ref``) and ``release`` per non-top layer (default
    ``t_ref/rate_unit``): module docstring;
    ``record_every`` steps between trace points (default: 10 points).  ``rng`` draws the
    input trains and the release seed.  Requires ``dt <= t_ref``.
    """
    where = "simulate"
    if not (dt > 0 and duration >= dt and dt <= t_ref and tau_m > 0 and v_th > v_reset):
        raise ValueError(f"{where}: need 0 < dt <= t_ref, duration >= dt, tau_m > 0, v_th > v_reset; "
                         f"got dt={dt}, duration={duration}, t_ref={t_ref}, tau_m={tau_m}")
    weights = [np.asarray(W, np.float64) for W in weights]
    sizes = [weights[0].shape[0]] + [W.shape[1] for W in weights]
    for l, W in enumerate(weights):
        if W.ndim != 2 or W.shape[0] != sizes[l]:
            raise ValueError(f"{where}: weights[{l}] has shape {W.shape}, expected [{sizes[l]}, n]")
    biases = [np.zeros(n) if bb is None else np.asarray(bb, np.float64) for bb, n in zip(biases, sizes[1:])]
    if len(biases) != len(weights) or any(bb.shape != (n,) for bb, n in zip(biases, sizes[1:])):
        raise ValueError(f"{where}: need one bias [n] per layer, sizes {sizes[1:]}")
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[1] != sizes[0]:
        raise ValueError(f"{where}: rates must be [B, {sizes[0]}], got {x.shape}")
    L = len(weights)
    unit = float(t_ref) if rate_unit is None else float(rate_unit)
    if not unit > 0:
        raise ValueError(f"{where}: rate_unit must be > 0, got {rate_unit}")
    weights = [W * unit for W in weights]
    x = x / unit
    release = np.full(max(L - 1, 1), min(1.0, t_ref / unit)) if release is None else np.atleast_1d(
        np.asarray(release, np.float64))
    if len(release) != max(L - 1, 1) or ((release < 0) | (release > 1)).any():
        raise ValueError(f"{where}: release must be {max(L - 1, 1)} probabilities in [0, 1]")
    gen = as_generator(rng, where)
    n_steps = int(round(duration / dt))
    ev = poisson_events(x, duration, dt, gen)
    seed = int(gen.integers(0, 2**63))
    record_every = max(1, n_steps // 10) if record_every is None else int(record_every)
    a = math.exp(-dt / tau_m)
    c = np.concatenate([(1 - a) * (v_rest + tau_m * bb) for bb in biases])
    W_flat = np.concatenate([W.ravel() for W in weights])
    w_off = np.concatenate([[0], np.cumsum([W.size for W in weights])]).astype(np.int64)
    n_ref = int(round(t_ref / dt))
    fn = kernel("sdbn_sim_forward", backend or "numpy")
    counts, events, trace, V = fn(ev[0], ev[1], ev[2], W_flat, w_off, c, np.array(sizes, np.int64),
                                  n_steps, a, v_th, v_reset, v_rest, n_ref, release, seed, record_every)
    split = np.cumsum(sizes[1:])[:-1]
    per_layer = np.split(counts, split, axis=1)
    ops = (events * np.array(sizes[1:])).sum(axis=1)
    times = dt * record_every * np.arange(1, trace.shape[1] + 1)
    return SimResult(per_layer, events, ops, trace, times, [cl / (n_steps * dt) * t_ref for cl in per_layer],
                     np.diff(ev[0]), V)
