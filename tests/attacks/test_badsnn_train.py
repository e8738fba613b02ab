"""Dual-spike training (Eq. 2), checkpoint/resume, T_o training, bad input through the public entries."""

import numpy as np
import pytest

from refsnn import autograd as ag
from refsnn.attacks.backdoor import poison, power_trigger
from refsnn.attacks.badsnn_train import (
    AtHyper,
    accuracy_at,
    optimized_trigger,
    predict_at,
    train_dual_spike,
    train_trigger,
)
from refsnn.models import nmnist_net
from refsnn.models.unet import UNet

G = np.random.default_rng(0)
X = G.random((24, 1, 8, 8), dtype=np.float32)
Y = np.arange(24) % 3


def _net(seed=0):
    return nmnist_net(in_shape=(1, 8, 8), num_classes=3, widths=(3, 3), rng=seed)


def _weights(net):
    return [p.data.copy() for p in net.parameters()]


def test_one_step_equals_a_hand_step_on_the_eq2_loss():
    """One batch of train_dual_spike == Adam on CE(F(x;S_n)) + CE(F(x_p;S_t)) computed by hand."""
    from refsnn.nn import Adam
    mask = np.zeros(24, bool)
    mask[[0, 3]] = True
    a, b = _net(), _net()
    train_dual_spike(a, X, Y, mask, epochs=1, batch_size=24, lr=1e-2, seed=5, verbose=False)
    order = np.random.default_rng([5, 1]).permutation(24)
    xb, yb, mb = X[order], Y[order], mask[order]
    b.train()
    loss = ag.cross_entropy(b(xb, v_thr=1.0, tau=0.5), yb) + ag.cross_entropy(
        b(xb[mb], v_thr=1.5, tau=0.5), yb[mb])
    opt = Adam(b.parameters(), lr=1e-2)
    opt.zero_grad()
    loss.backward()
    opt.step()
    for p, q in zip(_weights(a), _weights(b)):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)


def test_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path):
    mask = np.zeros(24, bool)
    mask[:2] = True
    straight = _net()
    train_dual_spike(straight, X, Y, mask, epochs=2, batch_size=8, seed=1, verbose=False)
    first = _net()
    train_dual_spike(first, X, Y, mask, epochs=1, batch_size=8, seed=1, checkpoint_dir=tmp_path,
                     verbose=False)
    resumed = _net(seed=9)   # different init: everything must come from the checkpoint
    hist = train_dual_spike(resumed, X, Y, mask, epochs=2, batch_size=8, seed=1, checkpoint_dir=tmp_path,
                            verbose=False)
    assert [h["epoch"] for h in hist] == [2]
    for p, q in zip(_weights(straight), _weights(resumed)):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)


def test_train_dual_spike_bad_input():
    with pytest.raises(ValueError, match="poisoned mask of shape"):
        train_dual_spike(_net(), X, Y, np.zeros(5, bool), verbose=False)
    with pytest.raises(ValueError, match=r"train_dual_spike \(malicious\): V_thr must be > 0"):
        train_dual_spike(_net(), X, Y, malicious=(0.0, 0.5), verbose=False)
    with pytest.raises(ValueError, match=r"tau must be in \(0.0, 1.0\]"):
        train_dual_spike(_net(), X, Y, nominal=(1.0, 0.0), verbose=False)
    with pytest.raises(ValueError, match=r"tau must be in \(0.0, 1.0\]"):
        AtHyper(_net(), (1.0, 1.2))


def test_predict_at_matches_the_model_at_those_values():
    net = _net().eval()
    ref = net(X, v_thr=1.1, tau=0.5).data.argmax(1)
    np.testing.assert_array_equal(predict_at(net, X, (1.1, 0.5), batch_size=5), ref)
    assert accuracy_at(net, X, Y, (1.1, 0.5)) == float(np.mean(ref == Y))


def test_train_trigger_runs_and_the_trigger_stays_in_range():
    net = _net().eval()
    unet = UNet(in_channels=1, num_classes=3, base=2, depth=1, rng=0)
    before = _weights(unet)
    rec = train_trigger(net, unet, X[:8], 0, (1.15, 0.5), epochs=1, batch_size=4, deepfool_steps=2,
                        verbose=False)
    assert np.isfinite(rec["history"][0]["loss"]) and 0 <= rec["alpha_mean"] <= 1
    assert any(not np.array_equal(a, b) for a, b in zip(before, _weights(unet)))
    out = optimized_trigger(unet, X, 0)
    assert out.shape == X.shape and out.min() >= 0 and out.max() <= 1


def test_a_trigger_leaving_the_range_is_refused_through_poison():
    with pytest.raises(ValueError, match=r"poison trigger: output leaves the valid range \[0, 1\]"):
        poison(X, Y, lambda a: a + 1.0, 0, 0.5, 0)
    with pytest.raises(ValueError, match="power_trigger: images must lie in"):
        power_trigger(X * 2)
    with pytest.raises(ValueError, match="ratio must be in"):
        poison(X, Y, power_trigger, 0, 1.5, 0)
