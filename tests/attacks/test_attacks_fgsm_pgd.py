"""FGSM / PGD against hand-derived values, their invariants, an SNN target through BPTT, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from refsnn import autograd as ag
from refsnn.attacks import FGSM, PGD, AttackWarning
from refsnn.autograd import Tensor
from refsnn.neurons import LIFDelayed
from refsnn.nn import Dropout, Flatten, Linear, Module, ReLU, Sequential


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _linear_case(dtype=np.float64, n_in=6, n_cls=4, batch=5):
    net = Linear(n_in, n_cls, bias=False, rng=3, dtype=dtype)
    x = np.random.default_rng(0).uniform(0.3, 0.7, (batch, n_in)).astype(dtype)
    y = np.arange(batch) % n_cls
    return net, x, y


def _hand_fgsm(W, x, labels, eps, sign=1.0):
    """x + sign·ε·sign(Wᵀ(p − onehot)) — the CE gradient of a bias-free linear model (÷B drops out)."""
    p = _softmax(x @ W.T)
    p[np.arange(len(x)), labels] -= 1.0
    return np.clip(x + sign * eps * np.sign(p @ W), 0.0, 1.0)


def test_fgsm_linear_matches_hand_derived():
    net, x, y = _linear_case()
    eps = 0.05
    expected = _hand_fgsm(net.weight.data, x, y, eps)
    np.testing.assert_array_equal(FGSM(net, eps=eps)(x, y), expected)


def test_fgsm_targeted_linear_moves_against_target_gradient():
    net, x, _ = _linear_case()
    target = np.array([1, 2, 3, 0, 1])
    expected = _hand_fgsm(net.weight.data, x, target, 0.05, sign=-1.0)
    np.testing.assert_array_equal(FGSM(net, eps=0.05, targeted=True)(x, target), expected)


def test_fgsm_clips_to_declared_range():
    net, x, y = _linear_case()
    x_adv = FGSM(net, eps=0.5, clip=(0.2, 0.8))(x, y)
    assert x_adv.min() >= 0.2 and x_adv.max() <= 0.8
    assert np.isclose(x_adv, 0.2).any() and np.isclose(x_adv, 0.8).any()


def _mlp(dtype=np.float32):
    return Sequential(Flatten(), Linear(16, 12, rng=1, dtype=dtype), ReLU(),
                      Linear(12, 3, rng=2, dtype=dtype))


def _images(batch=8, dtype=np.float32):
    return np.random.default_rng(5).random((batch, 1, 4, 4)).astype(dtype), np.arange(batch) % 3


@pytest.mark.parametrize("random_start", [False, True])
def test_pgd_stays_in_ball_and_range(random_start):
    x, y = _images()
    x[0, 0, 0, :2] = [0.0, 1.0]  # pixels at both ends of the range
    eps = 0.1
    atk = PGD(_mlp(), eps=eps, alpha=0.03, steps=10, random_start=random_start, rng=7)
    x_adv = atk(x, y)
    assert x_adv.dtype == np.float32 and x_adv.shape == x.shape
    assert np.abs(x_adv.astype(np.float64) - x).max() <= eps + 1e-7
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert np.abs(x_adv - x).max() > 0.09  # it moved (10 steps of 0.03 reach the ball's edge)


def test_pgd_random_start_is_seeded():
    x, y = _images()
    a = PGD(_mlp(), steps=2, random_start=True, rng=11)(x, y)
    b = PGD(_mlp(), steps=2, random_start=True, rng=11)(x, y)
    c = PGD(_mlp(), steps=2, random_start=True, rng=12)(x, y)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_pgd_one_step_alpha_eps_equals_fgsm():
    x, y = _images(dtype=np.float64)
    net = _mlp(np.float64)
    fgsm = FGSM(net, eps=0.04)(x, y)
    pgd = PGD(net, eps=0.04, alpha=0.04, steps=1)(x, y)
    # same sign step; PGD's (x + αs) − x, added back to x, may differ from x + εs by one rounding
    np.testing.assert_allclose(pgd, fgsm, rtol=0, atol=1e-15)


def _ce(net, x, y):
    with ag.no_grad():
        return ag.cross_entropy(net(Tensor(x)), y).item()


def test_untargeted_raises_loss_and_targeted_lowers_target_loss():
    x, y = _images()
    net = _mlp()
    assert _ce(net, PGD(net, eps=0.1, alpha=0.02, steps=7)(x, y), y) > _ce(net, x, y) + 1e-3
    target = (y + 1) % 3
    x_t = PGD(net, eps=0.1, alpha=0.02, steps=7, targeted=True)(x, target)
    assert _ce(net, x_t, target) < _ce(net, x, target) - 1e-3


def test_custom_loss_is_used():
    net, x, y = _linear_case()
    # a loss that rewards logit 0: J = −mean(z_0); ∇_x J = −W[0] / B, so x' = x − ε·sign(W[0])
    x_adv = FGSM(net, eps=0.05, loss=lambda z, _y: -(z[:, 0].mean()))(x, y)
    np.testing.assert_array_equal(x_adv, np.clip(x - 0.05 * np.sign(net.weight.data[0]), 0, 1))


def test_module_mode_and_parameter_grads_are_left_alone():
    net = Sequential(Flatten(), Linear(16, 12, rng=1), ReLU(), Dropout(0.5, rng=0), Linear(12, 3, rng=2))
    net.train()
    x, y = _images()
    a = FGSM(net, eps=0.05)(x, y)
    b = FGSM(net, eps=0.05)(x, y)
    np.testing.assert_array_equal(a, b)  # dropout is off during the attack
    assert net.training and all(p.grad is None and p.requires_grad for p in net.parameters())


class TinySNN(Module):
    """x [B, 8] → direct input over T steps → Linear(8, 2) → LIF (delayed) → spike count [B, 2]."""

    def __init__(self, steps=12):
        super().__init__()
        self.fc = Linear(8, 2, bias=False, rng=0)
        self.fc.weight.data[...] = 0.5 * np.repeat(np.eye(2, dtype=np.float32), 4, axis=1)  # c ← 4c..4c+3
        self.lif = LIFDelayed(beta=0.7, theta=1.0)
        self.steps = steps

    def forward(self, x):
        z = self.fc(ag.stack([x] * self.steps))  # [T, B, 2]
        return self.lif(z).sum(axis=0)


def test_snn_target_gets_bptt_gradient_and_loses_accuracy():
    rng = np.random.default_rng(0)
    y = np.arange(20) % 2
    x = rng.uniform(0.1, 0.25, (20, 8)).astype(np.float32)
    for b, c in enumerate(y):
        x[b, 4 * c:4 * c + 4] = rng.uniform(0.55, 0.7, 4)
    snn = TinySNN()
    atk = PGD(snn, eps=0.3, alpha=0.1, steps=5)
    g = atk.input_gradient(x, y)
    assert np.abs(g).max() > 0  # surrogate gradients reached the input through BPTT

    def acc(v):
        with ag.no_grad():
            return float((snn(Tensor(v)).data.argmax(axis=1) == y).mean())

    assert acc(x) == 1.0
    assert acc(atk(x, y)) <= 0.2


# ------------------------------------------------------------------ bad input
def test_bad_parameters():
    net = _mlp()
    with pytest.raises(ValueError, match="eps must be"):
        FGSM(net, eps=-0.1)
    with pytest.raises(ValueError, match="steps must be"):
        PGD(net, steps=0)
    with pytest.raises(ValueError, match="needs rng"):
        PGD(net, random_start=True)
    with pytest.raises(ValueError, match="clip must be"):
        FGSM(net, clip=(1.0, 0.0))
    with pytest.raises(TypeError, match="loss must be"):
        FGSM(net, loss="mse")
    with pytest.warns(AttackWarning, match="alpha=0.2 > eps=0.1"):
        PGD(net, eps=0.1, alpha=0.2, steps=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PGD(net, eps=0.1, alpha=0.1, steps=1)  # α = ε is fine


def test_bad_inputs():
    x, y = _images()
    atk = FGSM(_mlp())
    with pytest.raises(ValueError, match="outside the declared range"):
        atk(x * 2.0, y)
    with pytest.raises(ValueError, match="7 labels for a batch of 8"):
        atk(x, y[:7])
    with pytest.raises(TypeError, match="labels must be integers"):
        atk(x, y.astype(np.float32))
    with pytest.raises(TypeError, match="images must be floating"):
        atk((x * 255).astype(np.uint8), y)
    with pytest.raises(ValueError, match="NaN"):
        atk(np.where(x > 0.5, np.nan, x).astype(np.float32), y)


def test_model_without_input_gradient_is_refused():
    net = _mlp()

    def detached(t):  # e.g. a rate-coded model: its encoder cuts the graph
        return Tensor(net(Tensor(t.data)).data)

    x, y = _images()
    with pytest.raises(RuntimeError, match="no gradient with respect to its input"):
        FGSM(detached)(x, y)
    with pytest.raises(RuntimeError, match="no gradient with respect to its input"):
        FGSM(lambda t: net(Tensor(t.data)))(x, y)  # graph reaches the weights, not x
    with pytest.raises(ValueError, match="logits"):
        FGSM(lambda t: net(t).data)(x, y)


def test_pgd_on_sharmin_vgg5_in_training_mode():
    """The paper's VGG5 (dropout, no bias) left in training mode: the attack runs it in eval mode."""
    from refsnn.models import vgg5

    net = vgg5(in_shape=(1, 12, 12), num_classes=4, rng=0, hidden=16)
    x = np.random.default_rng(3).random((3, 1, 12, 12)).astype(np.float32)
    y = np.array([0, 1, 3])
    atk = PGD(net, eps=8 / 255, alpha=2 / 255, steps=2)
    a, b = atk(x, y), atk(x, y)
    np.testing.assert_array_equal(a, b)
    assert 0 < np.abs(a - x).max() <= 8 / 255 + 1e-7
    assert net.training


def test_more_bad_input_names_the_attack():
    from refsnn.oracle import Oracle

    net = _mlp()
    x, y = _images()
    with pytest.raises(ValueError, match=r"PGD: labels must lie in \[0, 3\) .* got values in \[1, 5\]"):
        PGD(net, steps=1)(x, np.where(y == 0, 5, y))
    with pytest.raises(ValueError, match="FGSM: labels must lie"):
        FGSM(net)(x, y - 1)
    with pytest.raises(ValueError, match="alpha must be"):
        PGD(net, alpha=-0.01)
    with pytest.raises(ValueError, match="eps must be"):
        PGD(net, eps=-8 / 255)
    with pytest.raises(RuntimeError, match="white-box attack cannot run .*Oracle"):
        FGSM(Oracle(net, budget=100))(x, y)
    with pytest.raises(ValueError, match="outside the declared range"):
        PGD(net, steps=1, clip=(0.0, 0.5))(x, y)
    with pytest.warns(AttackWarning, match="steps=1"):
        PGD(net, eps=2 / 255, alpha=8 / 255, steps=1)
