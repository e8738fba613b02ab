"""BPTT / AT / RAT training with optional TGO: the Parseval step by hand, the loss split, AT at ε = 0
equals plain BPTT, checkpoints, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.autograd import Tensor, cross_entropy
from refsnn.defenses import RobustConfig, TGOConfig, membrane_constraint, parseval_retraction, train_robust
from refsnn.defenses.adversarial import tgo_loss
from refsnn.io import load_checkpoint
from refsnn.models import data_init, tgo_neuron, tgo_vgg11
from refsnn.nn import Linear, Sequential


def _net(noisy=False, seed=0):
    return tgo_vgg11(width=1 / 32, in_shape=(1, 8, 8), num_classes=3, T=2,
                     neuron=tgo_neuron(noisy=noisy, sigma=0.3, rng=seed), rng=seed)


def _data(n=12, seed=0):
    g = np.random.default_rng(seed)
    return g.random((n, 1, 8, 8), dtype=np.float32), g.integers(0, 3, n)


def test_parseval_step_by_hand():
    net = Sequential(Linear(2, 2, bias=False, rng=0))
    W = np.array([[1.0, 0.5], [0.0, 2.0]], np.float32)
    net[0].weight.data[...] = W
    parseval_retraction(net, 0.1, keep_scale=False)
    want = 1.1 * W - 0.1 * W @ W.T @ W
    np.testing.assert_allclose(net[0].weight.data, want, rtol=1e-6)
    # at the layer's scale: s² = mean row norm² = (1.25 + 4)/2; Ŵ = W/s
    net[0].weight.data[...] = W
    parseval_retraction(net, 0.1)
    s = np.sqrt((1.25 + 4.0) / 2)
    Wh = W / s
    np.testing.assert_allclose(net[0].weight.data, s * (1.1 * Wh - 0.1 * Wh @ Wh.T @ Wh), rtol=1e-5)
    Q = 3 * np.array([[0.6, 0.8], [-0.8, 0.6]], np.float32)  # equal-norm orthogonal rows: fixed
    net[0].weight.data[...] = Q
    parseval_retraction(net, 0.3)
    np.testing.assert_allclose(net[0].weight.data, Q, atol=1e-5)


def test_tgo_loss_is_ce_plus_lambda_times_constraint():
    net = _net()
    x, y = _data()
    data_init(net, x)
    net.train()
    tgo = TGOConfig(lam_max=0.6, delta=0.3)
    loss, logits, ce, c = tgo_loss(net, Tensor(x), y, tgo, 0.45)
    # independently: one forward with the trace, CE and Eq. 12 summed over the spiking layers
    lg, traces = net(Tensor(x), trace=True)
    c2 = float(membrane_constraint([t.membrane for t in traces], 1.0, 0.3).item())
    ce2 = float(cross_entropy(lg, y).item())
    assert c > 0
    np.testing.assert_allclose([float(ce.item()), c], [ce2, c2], rtol=1e-5)
    np.testing.assert_allclose(float(loss.item()), ce2 + 0.45 * c2, rtol=1e-5)


def test_at_with_zero_eps_equals_bptt():
    x, y = _data()
    w = []
    for strategy in ("bptt", "at"):
        net = _net()
        data_init(net, x)
        train_robust(net, x, y, RobustConfig(strategy=strategy, epochs=1, batch_size=6, eps=0.0), rng=1,
                     verbose=False)
        w.append([p.data.copy() for p in net.parameters()])
    assert all(np.array_equal(a, b) for a, b in zip(*w))


def test_rat_with_tgo_trains_and_checkpoints(tmp_path, capsys):
    x, y = _data()
    net = _net(noisy=True)
    data_init(net, x)
    before = [p.data.copy() for p in net.parameters()]
    hist = train_robust(net, x, y, RobustConfig(strategy="rat", epochs=2, batch_size=6, eps=0.05),
                        TGOConfig(lam_max=0.4, power=2), rng=0, checkpoint=tmp_path / "m.h5")
    assert [h["lam"] for h in hist] == [0.0, 0.4]  # the cosine ramp over 2 epochs
    assert all(np.isfinite(h["loss"]) and h["constraint"] >= 0 for h in hist)
    assert any(not np.array_equal(a, p.data) for a, p in zip(before, net.parameters()))
    assert "[rat+tgo] epoch 2/2" in capsys.readouterr().out
    state = load_checkpoint(tmp_path / "m.h5").state
    np.testing.assert_array_equal(state[next(iter(state))], next(iter(net.state_dict().values())))


@pytest.mark.parametrize("kwargs, match", [
    (dict(delta=-0.1), "delta"), (dict(lam_max=-1.0), "lam_max"), (dict(power=3), "power"),
])
def test_tgo_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TGOConfig(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(strategy="trades"), "strategy"), (dict(inner="cw"), "inner"), (dict(epochs=0), "epochs"),
    (dict(eps=-0.1), "eps"), (dict(beta=2.0), "beta"),
])
def test_robust_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RobustConfig(**kwargs)
