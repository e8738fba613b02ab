"""GAMIN-study ANN (784-3000-10, ReLU): structure, PyTorch naming, and real-data accuracy.

Accuracy targets from the foundation issue: >= 93% on MNIST-5k (default run)
and >= 88% on full Fashion-MNIST (slow).
"""

from __future__ import annotations

import numpy as np
import pytest

from data_tools import load_mnist
from refsnn.models import gamin_ann, mlp
from refsnn.nn import Adam, CosineAnnealingLR
from refsnn.train import evaluate, fit


def test_structure_and_names():
    net = gamin_ann(rng=0)
    shapes = {k: v.shape for k, v in net.state_dict().items()}
    assert shapes == {"1.weight": (3000, 784), "1.bias": (3000,), "3.weight": (10, 3000), "3.bias": (10,)}
    assert net.num_parameters() == 784 * 3000 + 3000 + 3000 * 10 + 10


def test_forward_matches_numpy():
    net = mlp([6, 5, 3], rng=1)
    x = np.random.default_rng(2).random((4, 6), dtype=np.float32)
    sd = net.state_dict()
    expect = np.maximum(x @ sd["1.weight"].T + sd["1.bias"], 0) @ sd["3.weight"].T + sd["3.bias"]
    np.testing.assert_allclose(net(x).data, expect, rtol=1e-6, atol=1e-6)


def test_seeded_training_is_bit_identical():
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 8), dtype=np.float32), rng.integers(0, 3, 64)
    finals = []
    for _ in range(2):
        net = mlp([8, 16, 3], rng=5)
        fit(net, Adam(net.parameters(), lr=1e-2), x, y, epochs=2, batch_size=16, rng=7, verbose=False)
        finals.append(net.state_dict())
    for k in finals[0]:
        assert np.array_equal(finals[0][k], finals[1][k]), k


def test_bad_options():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        mlp([4, 2], activation="gelu")
    with pytest.raises(ValueError, match="sizes"):
        mlp([4])
    net = mlp([4, 2], rng=0)
    with pytest.raises(ValueError, match="3 inputs but 2 labels"):
        fit(net, Adam(net.parameters()), np.zeros((3, 4), np.float32), np.zeros(2, int), 1, 2, rng=0)
    with pytest.raises(ValueError, match="NaN"):
        fit(net, Adam(net.parameters()), np.full((2, 4), np.nan, np.float32), np.zeros(2, int), 1, 2, rng=0)


def _train_and_score(directory, epochs, seed=0, cosine=False):
    x, y = load_mnist(directory, "train")
    xt, yt = load_mnist(directory, "test")
    net = gamin_ann(rng=seed)
    opt = Adam(net.parameters(), lr=1e-3)
    sched = CosineAnnealingLR(opt, epochs) if cosine else None
    fit(net, opt, x, y, epochs=epochs, batch_size=128, rng=seed, verbose=False, scheduler=sched)
    return evaluate(net, xt, yt)


def test_mnist5k_accuracy(shared_data):
    acc = _train_and_score(shared_data / "mnist-5k", epochs=8)
    assert acc >= 0.93, f"MNIST-5k test accuracy {acc:.4f} < 0.93"


@pytest.mark.slow
def test_fashion_mnist_accuracy(shared_data):
    acc = _train_and_score(shared_data / "fashion-mnist", epochs=10, cosine=True)
    assert acc >= 0.88, f"Fashion-MNIST test accuracy {acc:.4f} < 0.88"
