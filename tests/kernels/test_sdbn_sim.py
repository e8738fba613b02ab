"""Event-driven SDBN simulator: Numba kernel == NumPy twin, LIF rates against theory, event counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

import refsnn.kernels.sdbn_sim as sim  # registers "sdbn_sim_forward"
from refsnn.backend import kernel
from refsnn.neurons.siegert import siegert


def _net(rng, sizes=(12, 8, 6, 3), scale=0.02):
    Ws = [rng.normal(0.002, scale, (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [rng.normal(0.0, 0.002, b) for b in sizes[1:]]
    return Ws, bs


def _kernel_args(Ws, bs, x, duration, dt, rng, release):
    sizes = np.array([Ws[0].shape[0]] + [W.shape[1] for W in Ws], np.int64)
    ev = sim.poisson_events(x, duration, dt, rng)
    a = math.exp(-dt / 5.0)
    c = np.concatenate([(1 - a) * 5.0 * b for b in bs])
    W_flat = np.concatenate([W.ravel() for W in Ws])
    w_off = np.concatenate([[0], np.cumsum([W.size for W in Ws])]).astype(np.int64)
    return (*ev, W_flat, w_off, c, sizes, int(round(duration / dt)), a, 0.005, 0.0, 0.0, 2,
            np.asarray(release, np.float64), 123456789, 7)


@pytest.mark.parametrize("release", [(1.0, 1.0), (0.3, 0.6)])
def test_kernel_equals_twin_bit_for_bit(rng, release):
    Ws, bs = _net(rng)
    x = rng.random((3, 12)) * 20.0  # dense input events so every layer fires
    args = _kernel_args(Ws, bs, x, 1.0, 0.001, rng, release)
    got = kernel("sdbn_sim_forward", "numpy")(*args)
    ref = sim.sdbn_sim_forward_twin(*args)
    for g, r, name in zip(got, ref, ("counts", "events", "trace", "V")):
        assert g.dtype == r.dtype and np.array_equal(g, r), name
    counts, events = got[0], got[1]
    assert counts[:, 8:].sum() > 0 and counts[:, -3:].sum() > 0  # the deeper layers did spike
    if release == (1.0, 1.0):  # every spike is an event of the next layer
        np.testing.assert_array_equal(events[:, 1], counts[:, :8].sum(1))
        np.testing.assert_array_equal(events[:, 2], counts[:, 8:14].sum(1))
    else:  # thinning keeps a fraction of the spikes
        assert (events[:, 1] <= counts[:, :8].sum(1)).all() and events[:, 1].sum() < counts[:, :8].sum()


def test_constant_drive_gives_the_analytic_lif_rate():
    # dV/dt = −V/τ_m + b with μ = τ_m·b > V_th: ISI = t_ref + τ_m·ln((μ − V_reset)/(μ − V_th))
    tau_m, t_ref, v_th, mu = 5.0, 0.002, 0.005, 0.05
    rate = 1.0 / (t_ref + tau_m * math.log(mu / (mu - v_th)))  # 1.888 per unit time
    res = sim.simulate([np.zeros((1, 1))], [np.array([mu / tau_m])], np.zeros((1, 1)), 200.0, 1e-4,
                       np.random.default_rng(0))
    # 377 spikes; each ISI is quantised up by < dt (relative 2e-4), one spike of granularity
    assert res.counts[0][0, 0] / 200.0 == pytest.approx(rate, rel=5e-3)
    assert res.rates[0][0, 0] == pytest.approx(rate * t_ref, rel=5e-3)  # rate·t_ref, Siegert's units
    assert res.events[0, 0] == 0 and res.synaptic_ops[0] == 0


def test_poisson_input_rate_matches_siegert_with_delta_synapses():
    # 100 Poisson inputs at 0.2 each, weight 1e-4: μ = τ_m·w·Σx = 0.01 = 2·V_th, σ = 7e-4; the
    # Siegert rate with τ_s = 0 (delta synapses, exact quadrature) is the diffusion prediction
    n, w = 100, 1e-4
    x = np.full((1, n), 0.2)
    W = np.full((n, 1), w)
    expected = float(siegert(x, W, None, tau_s=0.0, exact=True).data[0, 0])
    res = sim.simulate([W], [None], x, 1000.0, 1e-3, np.random.default_rng(1), rate_unit=1.0)
    assert res.counts[0][0, 0] > 250
    assert res.rates[0][0, 0] == pytest.approx(expected, rel=0.05)  # shot noise vs diffusion + sampling
    # default units (rate_unit = t_ref): same μ, σ² smaller by t_ref → the noiseless LIF rate
    det = 0.002 / (0.002 + 5.0 * math.log(0.01 / (0.01 - 0.005)))
    quiet = sim.simulate([W], [None], x, 100.0, 2e-4, np.random.default_rng(1))
    assert quiet.rates[0][0, 0] == pytest.approx(det, rel=0.05)


def test_event_counts_and_synaptic_ops(rng):
    Ws, bs = _net(rng, sizes=(10, 5, 4))
    x = rng.random((4, 10)) * 5.0
    res = sim.simulate(Ws, bs, x, 2.0, 0.001, np.random.default_rng(3), rate_unit=1.0, release=[1.0])
    np.testing.assert_array_equal(res.events[:, 0], res.n_input_events)
    np.testing.assert_array_equal(res.events[:, 1], res.counts[0].sum(1))
    np.testing.assert_array_equal(res.synaptic_ops, res.events[:, 0] * 5 + res.events[:, 1] * 4)
    np.testing.assert_array_equal(res.trace[:, -1], res.counts[1])  # last trace point = final counts
    assert (np.diff(res.trace, axis=1) >= 0).all()


def test_poisson_events_statistics():
    x = np.array([[0.0, 2.0, 10.0]])
    ptr, step, idx = sim.poisson_events(np.repeat(x, 200, axis=0), 5.0, 0.01, np.random.default_rng(4))
    per_input = np.bincount(idx, minlength=3) / 200
    np.testing.assert_allclose(per_input, [0.0, 10.0, 50.0], atol=1.5)  # mean x·duration, sd/√200
    seg = slice(ptr[0], ptr[1])
    assert (np.diff(step[seg]) >= 0).all() and step.max() < 500


def test_bad_input():
    W = [np.zeros((2, 1))]
    with pytest.raises(ValueError, match="dt <= t_ref"):
        sim.simulate(W, [None], np.zeros((1, 2)), 1.0, 0.01, 0)
    with pytest.raises(ValueError, match=r"rates must be \[B, 2\]"):
        sim.simulate(W, [None], np.zeros((1, 3)), 1.0, 0.001, 0)
    with pytest.raises(ValueError, match=">= 0"):
        sim.simulate(W, [None], -np.ones((1, 2)), 1.0, 0.001, 0)
    with pytest.raises(ValueError, match="weights\\[1\\]"):
        sim.simulate([np.zeros((2, 3)), np.zeros((4, 1))], [None, None], np.zeros((1, 2)), 1.0, 0.001, 0)
    with pytest.raises(TypeError, match="needs rng"):
        sim.simulate(W, [None], np.zeros((1, 2)), 1.0, 0.001, None)
