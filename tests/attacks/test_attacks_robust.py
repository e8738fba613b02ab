"""RFGSM, EOT, APGD and DeepFool on models whose answers can be derived by hand."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn import autograd as ag
from refsnn.attacks.apgd import APGD, dlr_loss
from refsnn.attacks.deepfool import DeepFool
from refsnn.attacks.eot import EOT, RFGSM
from refsnn.autograd import Tensor
from refsnn.nn import Linear, Module


def _two_class(rng=0):
    """An affine 2-class model: the CE input gradient of class y points along w_y − w_other."""
    net = Linear(6, 2, rng=rng)
    return net, net.weight.data.astype(np.float64)


def test_rfgsm_saturates_at_the_hand_derived_corner():
    net, w = _two_class()
    x = np.full((3, 6), 0.5, np.float32)
    y = np.array([0, 1, 0])
    x_adv = RFGSM(net, eps=0.1, alpha=0.04, steps=6, rng=0)(x, y)
    other = 1 - y
    # ∂CE/∂x = (p_y − 1)·(w_y − w_o): ascent moves along sign(w_o − w_y), and 6 steps of 0.04
    # from any start within 0.04 of x reach the ε-box face in every coordinate
    expected = np.clip(0.5 + 0.1 * np.sign(w[other] - w[y]), 0, 1)
    assert np.allclose(x_adv, expected, atol=1e-6)


def test_rfgsm_start_is_seeded_and_bounded():
    net, _ = _two_class()
    x = np.random.default_rng(1).random((5, 6)).astype(np.float32)
    y = np.zeros(5, np.int64)
    a = RFGSM(net, eps=0.05, alpha=0.02, steps=1, rng=3)(x, y)
    b = RFGSM(net, eps=0.05, alpha=0.02, steps=1, rng=3)(x, y)
    assert np.array_equal(a, b) and np.abs(a - x).max() <= 0.05 + 1e-7
    with pytest.raises(TypeError, match="needs rng"):
        RFGSM(net, rng=None)


class _MaskedLinear(Module):
    """``(x ⊙ m) W^T`` with a fresh Bernoulli(1/2)·2 mask ``m`` per call, drawn from its own Generator."""

    def __init__(self, seed):
        super().__init__()
        self.fc = Linear(4, 3, rng=0, dtype=np.float64)
        self.gen = np.random.default_rng(seed)

    def forward(self, x):
        m = (self.gen.random(x.shape) < 0.5) * 2.0
        return self.fc(x * Tensor(m))


def test_eot_gradient_is_the_mean_over_replayed_draws():
    x = np.full((2, 4), 0.3)
    y = np.array([0, 2])
    model = _MaskedLinear(seed=7)

    def loss(out, labels):
        return out[:, 0].sum()  # linear in the logits: ∇_x = m ⊙ W[0]

    g = EOT(model, samples=5).input_gradient(x, y, loss)
    replay = np.random.default_rng(7)
    masks = [(replay.random(x.shape) < 0.5) * 2.0 for _ in range(5)]
    expected = np.mean([m * model.fc.weight.data[0] for m in masks], axis=0)
    assert np.allclose(g, expected, atol=1e-12)


def test_eot_loss_and_gradient_average_losses_and_logits():
    model = _MaskedLinear(seed=2)
    x, y = np.full((3, 4), 0.2), np.array([0, 1, 2])
    loss, grad, logits = EOT(model, samples=4).loss_and_gradient(
        x, y, lambda out, lab: ag.cross_entropy(out, lab, reduction="none"))
    replay = np.random.default_rng(2)
    outs = [((x * ((replay.random(x.shape) < 0.5) * 2.0)) @ model.fc.weight.data.T + model.fc.bias.data)
            for _ in range(4)]
    ce = [np.log(np.exp(o).sum(1)) - o[np.arange(3), y] for o in outs]
    assert np.allclose(logits, np.mean(outs, 0)) and np.allclose(loss, np.mean(ce, 0))
    assert grad.shape == x.shape
    with pytest.raises(ValueError, match="samples must be an integer >= 1"):
        EOT(model, samples=0)


def test_apgd_fools_an_affine_model_within_the_ball_and_leaves_robust_images_unchanged():
    net, w = _two_class(rng=3)
    rng = np.random.default_rng(0)
    x = rng.random((16, 6)).astype(np.float32)
    y = net(x).data.argmax(1)
    margin = np.abs(np.diff(net(x).data, axis=1))[:, 0]
    # the largest L∞ change of the margin is ε·‖w_0 − w_1‖₁: images beyond it cannot be fooled
    reach = 0.15 * np.abs(w[0] - w[1]).sum()
    easy, out_of_reach = margin < 0.5 * reach, margin > reach
    assert easy.sum() >= 2 and out_of_reach.sum() >= 2
    x_adv = APGD(net, eps=0.15, steps=20, restarts=2, rng=0)(x, y)
    fooled = net(x_adv).data.argmax(1) != y
    assert np.abs(x_adv - x).max() <= 0.15 + 1e-7
    assert np.array_equal(x_adv[~fooled], x[~fooled])
    assert np.all(fooled[easy]) and not np.any(fooled[out_of_reach])


def test_dlr_loss_by_hand_and_needs_three_classes():
    z = np.array([[3.0, 1.0, 2.0, 0.0], [0.5, 4.0, 1.0, 2.0]])
    y = np.array([0, 0])
    # row 0: y is the top class: −(3 − 2)/(3 − 1); row 1: −(0.5 − 4)/(4 − 1)
    assert np.allclose(dlr_loss(Tensor(z), y).data, [-0.5, 3.5 / 3])
    with pytest.raises(ValueError, match=">= 3 classes"):
        dlr_loss(Tensor(z[:, :2]), y)
    with pytest.raises(ValueError, match="unknown loss"):
        APGD(Linear(2, 2, rng=0), loss="cw", rng=0)


def test_deepfool_first_step_is_the_hand_derived_minimal_step():
    net = Linear(5, 3, rng=4, dtype=np.float64)
    w, b = net.weight.data, net.bias.data
    x = np.random.default_rng(2).random((6, 5)) * 0.2 + 0.4
    f = x @ w.T + b
    y = f.argmax(1)
    atk = DeepFool(net, steps=1, overshoot=0.02, clip=(-50, 50))
    x_adv = atk(x, y)
    for i in range(len(x)):
        others = [c for c in range(3) if c != y[i]]
        dist = [abs(f[i, c] - f[i, y[i]]) / np.linalg.norm(w[c] - w[y[i]]) for c in others]
        c = others[int(np.argmin(dist))]
        wp = w[c] - w[y[i]]
        r = abs(f[i, c] - f[i, y[i]]) * wp / (wp @ wp)
        assert np.allclose(x_adv[i], x[i] + 1.02 * r, atol=1e-12)
        assert atk.last_targets[i] == c
    # an affine model is crossed in that one step
    assert np.all(net(x_adv).data.argmax(1) != y)


def test_deepfool_stops_at_fooled_images_and_checks_arguments():
    net = Linear(5, 3, rng=4, dtype=np.float64)
    x = np.full((2, 5), 0.5)
    y = (net(x).data.argmax(1) + 1) % 3  # already misclassified: nothing moves
    assert np.array_equal(DeepFool(net)(x, y), x)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        DeepFool(net, steps=0)
    with pytest.raises(ValueError, match="overshoot"):
        DeepFool(net, overshoot=-0.1)
