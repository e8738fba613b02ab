"""ANN → SNN conversion: θ = hand-computed maxima, accuracy → ANN's as T grows; LIF swap; training recipes."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.attacks import predict
from refsnn.models.convert import balance_thresholds, convert, to_lif, train_ann, train_hybrid
from refsnn.models.spiking import neurons, spiking_from_spec, weight_layers
from refsnn.models.vgg import build_ann
from refsnn.neurons import IF

MLP = [("flatten",), ("linear", 16, 12), ("relu",), ("linear", 12, 8), ("relu",), ("linear", 8, 3)]


def _images(n=6, seed=0):
    return np.random.default_rng(seed).random((n, 1, 4, 4)).astype(np.float32)


def test_thresholds_equal_hand_computed_maxima():
    """Direct input: θ0 = max(W0·x); θ1 = max over steps of W1·(IF spikes of layer 0 at θ0)."""
    ann = build_ann(MLP, rng=1)
    x, T = _images(), 5
    snn = convert(ann, MLP, x, T=T, batch_size=4, encoder="direct")
    W0, W1 = (m.weight.data.astype(np.float64) for m in weight_layers(ann)[:2])
    a0 = x.reshape(len(x), -1) @ W0.T
    theta0 = a0.max()
    v, currents = np.zeros_like(a0), []
    for _ in range(T):
        h = v + a0
        s = (h >= theta0).astype(np.float64)
        v = h - theta0 * s
        currents.append(s @ W1.T)
    theta1 = np.max(currents)
    got = [s.neuron.theta for s in snn.slots()]
    np.testing.assert_allclose(got, [theta0, theta1], rtol=1e-5)


def _blobs(n, seed):
    g = np.random.default_rng(seed)
    y = g.integers(0, 3, n)
    centers = np.array([[0.8] * 8 + [0.1] * 8, [0.1] * 8 + [0.8] * 8, [0.5] * 16])
    x = np.clip(centers[y] + 0.15 * g.standard_normal((n, 16)), 0, 1)
    return x.reshape(n, 1, 4, 4).astype(np.float32), y


def test_converted_predictions_approach_the_ann_as_T_grows():
    x, y = _blobs(300, 0)
    xt, _ = _blobs(200, 1)
    ann = build_ann(MLP, rng=0)
    train_ann(ann, x, y, epochs=8, lr=0.05, milestones=(6,), batch_size=32, augment=False, rng=0,
              verbose=False)
    ref = predict(ann, xt)
    agree = {}
    for T in (2, 16, 128):
        snn = convert(ann, MLP, x[:100], T=T, rng=0)
        agree[T] = float((predict(snn, xt) == ref).mean())
    assert agree[2] < agree[16] <= agree[128] and agree[128] >= 0.95, agree


def test_to_lif_keeps_thresholds_and_hybrid_training_learns():
    x, y = _blobs(96, 2)
    ann = build_ann(MLP, rng=0)
    snn = convert(ann, MLP, x, T=8, rng=0)
    thetas = [s.neuron.theta for s in snn.slots()]
    to_lif(snn, lam=0.99, surrogate="spike_time")
    assert [s.neuron.lam for s in snn.slots()] == [0.99, 0.99]
    assert [s.neuron.theta for s in snn.slots()] == thetas
    before = [w.weight.data.copy() for w in weight_layers(snn)]
    hist = train_hybrid(snn, x, y, epochs=2, lr=1e-2, batch_size=32, verbose=False)
    assert len(hist) == 2 and np.isfinite(hist[-1]["loss"]) and hist[-1]["loss"] < hist[0]["loss"]
    assert all(not np.array_equal(a, w.weight.data) for a, w in zip(before, weight_layers(snn)))


def test_train_ann_is_seeded_and_follows_the_milestones():
    x, y = _blobs(64, 3)
    runs = []
    for _ in range(2):
        ann = build_ann(MLP, rng=0)
        hist = train_ann(ann, x, y, epochs=3, lr=0.1, milestones=(1, 2), batch_size=16, padding=1, rng=5,
                         verbose=False)
        np.testing.assert_allclose([h["lr"] for h in hist], [0.1, 0.01, 0.001])
        runs.append([w.weight.data.copy() for w in weight_layers(ann)])
    assert all(np.array_equal(a, b) for a, b in zip(*runs))


def test_balance_refuses_a_silent_layer():
    net = spiking_from_spec(MLP, neurons(IF), T=3, encoder="direct", rng=0)
    weight_layers(net)[0].weight.data[...] = -1.0
    with pytest.raises(ValueError, match="layer 0 never receives a positive input"):
        balance_thresholds(net, _images())
    with pytest.raises(ValueError, match="batch_size"):
        balance_thresholds(net, _images(), batch_size=0)
