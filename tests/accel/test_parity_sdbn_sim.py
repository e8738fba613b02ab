"""CUDA event-driven SDBN simulator vs the Numba reference (host emulation by default, ``-m gpu`` on a GPU).

One thread per sample runs the reference loop in the reference's order with
``--fmad=false``, so counts, event tallies, traces and final membranes must be
bit-identical; the release hash is integer arithmetic and must agree exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import refsnn.kernels.sdbn_sim as sim
from refsnn.backend import kernel


def _args(rng, sizes=(12, 8, 6, 3), B=5, duration=0.6, dt=0.001, release=(0.4, 0.8), record_every=7):
    Ws = [rng.normal(0.002, 0.02, (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [rng.normal(0.0, 0.002, b) for b in sizes[1:]]
    ev = sim.poisson_events(rng.random((B, sizes[0])) * 20.0, duration, dt, rng)
    a = math.exp(-dt / 5.0)
    c = np.concatenate([(1 - a) * 5.0 * b for b in bs])
    W_flat = np.concatenate([W.ravel() for W in Ws])
    w_off = np.concatenate([[0], np.cumsum([W.size for W in Ws])]).astype(np.int64)
    return (*ev, W_flat, w_off, c, np.array(sizes, np.int64), int(round(duration / dt)), a, 0.005, 0.0, 0.0,
            2, np.asarray(release, np.float64)[:len(sizes) - 2] if len(sizes) > 2 else np.ones(1),
            int(rng.integers(0, 2**63)), record_every)


@pytest.mark.parametrize("sizes,release", [((12, 8, 6, 3), (0.4, 0.8)), ((12, 8, 6, 3), (1.0, 1.0)),
                                           ((9, 4), (1.0,))])
def test_sdbn_sim_matches_reference_bit_for_bit(device, rng, sizes, release):
    args = _args(rng, sizes, release=release)
    want = kernel("sdbn_sim_forward", "numpy")(*args)
    dev_args = [device.put(a) if isinstance(a, np.ndarray) else a for a in args]
    got = [device.get(g) for g in device.kernel("sdbn_sim_forward")(*dev_args)]
    for g, w, name in zip(got, want, ("counts", "events", "trace", "V")):
        assert g.dtype == w.dtype and g.shape == w.shape, name
        assert np.array_equal(g, w), name
    assert want[0][:, -sizes[-1]:].sum() > 0  # the top layer spiked: a non-trivial comparison


def test_sdbn_sim_errors(device, rng):
    args = list(_args(rng))
    fwd = device.kernel("sdbn_sim_forward")
    bad = list(args)
    bad[3] = args[3][:-1]  # W_flat one weight short
    with pytest.raises(ValueError, match="do not match sizes"):
        fwd(*bad)
    bad = list(args)
    bad[15] = 0
    with pytest.raises(ValueError, match="record_every >= 1"):
        fwd(*bad)
