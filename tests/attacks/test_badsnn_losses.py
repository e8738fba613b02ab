"""BadSNN's dual-spike loss, trigger target and trigger loss; the U-Net trigger generator."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.attacks.badsnn import (
    attack_success_rate,
    blend_target,
    check_hyper,
    choose_alpha,
    dual_spike_loss,
    trigger_loss,
)
from refsnn.autograd import Tensor
from refsnn.models.unet import UNet
from refsnn.testing import gradcheck


class _Recorder:
    """logits = x·(V_thr + τ) projected by a fixed matrix; records the hyperparameters of each call."""

    def __init__(self):
        self.calls = []
        self.w = np.arange(12.0).reshape(4, 3) / 10

    def __call__(self, x, v_thr, tau):
        self.calls.append((len(x), v_thr, tau))
        x = x if isinstance(x, Tensor) else Tensor(x)
        return (x * (v_thr + tau)) @ Tensor(self.w)


def _ce(logits, y):
    z = logits - logits.max(1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), y]))


def test_dual_spike_loss_is_nominal_mean_plus_malicious_mean_on_poisoned():
    model = _Recorder()
    x = np.random.default_rng(0).random((5, 4))
    y = np.array([0, 2, 2, 1, 2])
    mask = np.array([False, True, False, False, True])
    loss = dual_spike_loss(model, x, y, mask, nominal=(1.0, 0.5), malicious=(1.5, 0.8))
    expected = _ce(x * 1.5 @ model.w, y) + _ce(x[mask] * 2.3 @ model.w, y[mask])
    assert np.isclose(float(loss.data), expected)
    assert model.calls == [(5, 1.0, 0.5), (2, 1.5, 0.8)]
    model.calls.clear()
    dual_spike_loss(model, x, y, np.zeros(5, bool))
    assert len(model.calls) == 1  # no poisoned sample: no malicious pass


@pytest.mark.parametrize("hyper, match", [
    ((0.0, 0.5), "V_thr must be > 0"), ((1.0, 1.5), r"tau must be in \(0.0"), ((1.0, 0.0), "tau"),
    (1.0, "must be a pair")])
def test_bad_hyperparameters(hyper, match):
    with pytest.raises((ValueError, TypeError), match=match):
        check_hyper("BadSNN", hyper)


def test_blend_target_eq4_by_hand():
    x = np.array([[0.5, 0.2]])
    tp = x ** 2
    xdf = np.array([[0.6, 0.1]])
    blend, delta = blend_target(x, tp, xdf, 0.25)
    # (1 − α)|x − x²| + α(x + δ): 0.75·0.25 + 0.25·0.6 = 0.3375; 0.75·0.16 + 0.25·0.1 = 0.145
    assert np.allclose(blend, [[0.3375, 0.145]]) and np.allclose(delta, [[0.1625, 0.055]])
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
        blend_target(x, tp, xdf, 1.5)


def test_choose_alpha_picks_the_smallest_candidate_that_reaches_the_target():
    x = np.zeros((3, 1))
    x_power = np.zeros((3, 1))
    x_df = np.array([[1.0], [0.5], [0.1]])  # blend = α·x_df: predict target once the value ≥ 0.3

    def predict(images):
        return np.where(images[:, 0] >= 0.3 - 1e-12, 7, 0)

    alpha = choose_alpha(predict, x, x_power, x_df, target=7, candidates=[0.2, 0.4, 0.6, 0.8, 1.0])
    assert alpha.tolist() == [0.4, 0.6, 1.0]  # the last never reaches: the largest candidate


def test_trigger_loss_terms_by_hand_and_gradient():
    rng = np.random.default_rng(0)
    delta = rng.random((2, 1, 2, 2))
    g_np = rng.standard_normal((2, 1, 2, 2))
    logits = np.array([[1.0, 2.0, 0.5], [0.0, 0.3, 0.1]])
    total, parts = trigger_loss(Tensor(g_np), delta, Tensor(logits), target=2)
    gf, df = g_np.reshape(2, -1), delta.reshape(2, -1)
    sim = np.mean(1 - (gf * df).sum(1) / (np.linalg.norm(gf, axis=1) * np.linalg.norm(df, axis=1)))
    adv = _ce(logits, np.array([2, 2]))
    w = 1 + delta / delta.mean()
    wmse = np.mean(w * (g_np - delta) ** 2)
    assert np.allclose([parts["sim"], parts["adv"], parts["wmse"]], [sim, adv, wmse])
    assert np.isclose(float(total.data), sim + 0.1 * adv + wmse)
    g = Tensor(g_np, requires_grad=True)
    assert gradcheck(lambda a: trigger_loss(a, delta, Tensor(logits), target=2)[0], [g])


def test_attack_success_rate_excludes_target_class():
    assert attack_success_rate([3, 3, 1, 3], [0, 3, 1, 2], target=3) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="every image is of the target class"):
        attack_success_rate([3], [3], target=3)


def test_unet_shapes_bounds_conditioning_and_errors():
    net = UNet(in_channels=2, num_classes=4, base=3, depth=2, scale=0.1, rng=0, dtype=np.float64)
    x = np.random.default_rng(1).random((2, 2, 8, 8))
    out = net(x, np.array([0, 3])).data
    assert out.shape == (2, 2, 8, 8) and np.abs(out).max() < 0.1
    net.eval()
    a, b = net(x[:1], np.array([0])).data, net(x[:1], np.array([1])).data
    assert not np.allclose(a, b)  # the target label changes the perturbation
    with pytest.raises(ValueError, match="divisible by 2\\^depth = 4"):
        net(np.zeros((1, 2, 6, 6)), np.array([0]))
    with pytest.raises(ValueError, match=r"target labels must be in \[0, 4\)"):
        net(x, np.array([0, 4]))
    with pytest.raises(ValueError, match=r"x must be \[B, 2, H, W\]"):
        net(np.zeros((1, 1, 8, 8)), np.array([0]))


def test_unet_gradient_reaches_every_parameter():
    net = UNet(in_channels=1, num_classes=2, base=2, depth=1, rng=0, dtype=np.float64)
    x = np.random.default_rng(2).random((2, 1, 4, 4))
    (net(x, np.array([0, 1])) ** 2).sum().backward()
    assert all(p.grad is not None and np.abs(p.grad).sum() > 0 for p in net.parameters())
