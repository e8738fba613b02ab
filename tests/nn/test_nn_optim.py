"""Optimizers against hand-written reference update loops on a quadratic; resume; errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.nn import SGD, Adam, AdamW, Linear

A = np.array([[3.0, 0.5, 0.0], [0.5, 1.0, -0.2], [0.0, -0.2, 2.0]])
B = np.array([1.0, -2.0, 0.5])
W0 = np.array([0.7, -1.3, 2.1])
STEPS = 6


def quadratic(w: Tensor) -> Tensor:
    """f(w) = ½ wᵀAw + bᵀw, gradient Aw + b (A symmetric)."""
    return 0.5 * (w * (w @ Tensor(A))).sum() + (w * Tensor(B)).sum()


def grad(w):
    return A @ w + B


def run(make_opt, steps=STEPS):
    w = Tensor(W0.copy(), requires_grad=True)
    opt = make_opt([w])
    path = []
    for _ in range(steps):
        opt.zero_grad()
        quadratic(w).backward()
        opt.step()
        path.append(w.data.copy())
    return np.array(path)


def sgd_reference(lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    w, buf, path = W0.copy(), None, []
    for _ in range(STEPS):
        g = grad(w) + weight_decay * w
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        w = w - lr * g
        path.append(w)
    return np.array(path)


def adam_reference(lr, b1, b2, eps, weight_decay=0.0, decoupled=False, amsgrad=False):
    w, m, v, vmax, path = W0.copy(), np.zeros(3), np.zeros(3), np.zeros(3), []
    for t in range(1, STEPS + 1):
        g = grad(w)
        if decoupled:
            w = w * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        vv = vmax if amsgrad else v
        m_hat, v_hat = m / (1 - b1**t), vv / (1 - b2**t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        path.append(w)
    return np.array(path)


def test_quadratic_gradient_is_right():
    w = Tensor(W0.copy(), requires_grad=True)
    quadratic(w).backward()
    np.testing.assert_allclose(w.grad, grad(W0), rtol=1e-14)


@pytest.mark.parametrize("kw", [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.8, nesterov=True),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
    dict(lr=0.1, weight_decay=0.5),
])
def test_sgd_matches_reference(kw):
    np.testing.assert_allclose(run(lambda p: SGD(p, **kw)), sgd_reference(**kw), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("kw", [
    dict(lr=0.1, betas=(0.9, 0.999), eps=1e-8),
    dict(lr=0.05, betas=(0.5, 0.9), eps=1e-3, weight_decay=0.2),
    dict(lr=0.1, betas=(0.8, 0.99), eps=1e-8, amsgrad=True),
])
def test_adam_matches_reference(kw):
    ref = adam_reference(kw["lr"], *kw["betas"], kw["eps"], kw.get("weight_decay", 0.0),
                         amsgrad=kw.get("amsgrad", False))
    np.testing.assert_allclose(run(lambda p: Adam(p, **kw)), ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("wd, amsgrad", [(1e-2, False), (0.3, True)])
def test_adamw_matches_reference(wd, amsgrad):
    ref = adam_reference(0.1, 0.9, 0.999, 1e-8, wd, decoupled=True, amsgrad=amsgrad)
    got = run(lambda p: AdamW(p, lr=0.1, weight_decay=wd, amsgrad=amsgrad))
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)
    plain = run(lambda p: Adam(p, lr=0.1, weight_decay=wd, amsgrad=amsgrad))
    assert not np.allclose(got, plain)  # decoupled decay is a different rule


def test_adamw_default_weight_decay():
    w = Tensor(np.zeros(1), requires_grad=True)
    assert AdamW([w]).weight_decay == 1e-2 and Adam([w]).weight_decay == 0.0


def test_step_is_in_place_skips_none_and_records_no_graph():
    fc = Linear(3, 2, rng=0)
    weight_array, weight_before, bias_before = fc.weight.data, fc.weight.data.copy(), fc.bias.data.copy()
    opt = Adam(fc.parameters(), lr=0.1)
    fc.weight.grad = np.ones_like(fc.weight.data)
    opt.step()
    assert fc.weight.data is weight_array and fc.weight.is_leaf
    np.testing.assert_array_equal(fc.bias.data, bias_before)  # grad None: untouched, no state
    assert opt.state[1] == {} and opt.state[0]["step"] == 1
    # first Adam step moves each element by lr·g/(|g| + eps') ≈ lr
    np.testing.assert_allclose(weight_before - fc.weight.data, np.full((2, 3), 0.1), rtol=1e-5)
    assert fc.weight.grad is not None
    opt.zero_grad()
    assert fc.weight.grad is None


def test_float32_parameters_stay_float32():
    w = Tensor(np.ones(4, np.float32), requires_grad=True)
    for opt in (SGD([w], lr=0.1, momentum=0.9, weight_decay=0.1), AdamW([w], lr=0.1, amsgrad=True)):
        w.grad = np.full(4, 0.5, np.float32)
        opt.step()
        opt.step()
        assert w.dtype == np.float32
        assert all(v.dtype == np.float32 for v in opt.state[0].values() if hasattr(v, "dtype"))


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    lambda p: Adam(p, lr=0.1, amsgrad=True),
    lambda p: AdamW(p, lr=0.1),
])
def test_state_dict_resume_is_bit_exact(make):
    full = run(make, steps=5)
    w = Tensor(W0.copy(), requires_grad=True)
    opt = make([w])
    for _ in range(3):
        opt.zero_grad()
        quadratic(w).backward()
        opt.step()
    saved, saved_w = opt.state_dict(), w.data.copy()
    assert all(isinstance(v, np.ndarray) for v in saved.values())
    w2 = Tensor(saved_w, requires_grad=True)
    opt2 = make([w2])
    opt2.lr = 123.0  # restored from the state dict
    opt2.load_state_dict(saved)
    assert opt2.lr == opt.lr
    for _ in range(2):
        opt2.zero_grad()
        quadratic(w2).backward()
        opt2.step()
    np.testing.assert_array_equal(w2.data, full[-1])


def test_load_state_dict_errors():
    w = Tensor(np.zeros(3), requires_grad=True)
    opt = Adam([w])
    w.grad = np.ones(3)
    opt.step()
    state = opt.state_dict()
    bad = dict(state)
    bad["0.exp_avg"] = np.zeros(4)
    with pytest.raises(ValueError, match=r"0\.exp_avg.*\(4,\).*\(3,\)"):
        Adam([Tensor(np.zeros(3), requires_grad=True)]).load_state_dict(bad)
    bad = dict(state)
    bad["5.exp_avg"] = np.zeros(3)
    del bad["eps"]
    with pytest.raises(KeyError, match=r"eps.*5\.exp_avg"):
        Adam([Tensor(np.zeros(3), requires_grad=True)]).load_state_dict(bad)
    bad = dict(state)
    bad["betas"] = np.array([0.9, 1.0])
    with pytest.raises(ValueError, match="betas"):
        Adam([Tensor(np.zeros(3), requires_grad=True)]).load_state_dict(bad)


def test_hyperparameter_validation():
    p = [Tensor(np.zeros(2), requires_grad=True)]
    with pytest.raises(ValueError, match="lr must be"):
        SGD(p, lr=-0.1)
    with pytest.raises(ValueError, match="lr must be"):
        Adam(p, lr=math.nan)
    with pytest.raises(ValueError, match="betas"):
        Adam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="betas"):
        AdamW(p, betas=(-0.1, 0.9))
    with pytest.raises(ValueError, match="eps"):
        Adam(p, eps=0.0)
    with pytest.raises(ValueError, match="weight_decay"):
        AdamW(p, weight_decay=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        SGD(p, lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match="nesterov"):
        SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        SGD(p[0], lr=0.1)
    with pytest.raises(TypeError, match="parameter 1"):
        SGD([p[0], np.zeros(2)], lr=0.1)
    opt = SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="lr must be"):
        opt.lr = -1.0
    p[0].grad = np.zeros(3)
    with pytest.raises(ValueError, match=r"shape \(2,\).*\(3,\)"):
        opt.step()


def test_duplicate_parameters_updated_once():
    w = Tensor(np.ones(2), requires_grad=True)
    opt = SGD([w, w], lr=0.5)
    w.grad = np.ones(2)
    opt.step()
    np.testing.assert_array_equal(w.data, [0.5, 0.5])


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda p: SGD(p, lr=0.05, momentum=0.5, dampening=0.5),
    lambda p: Adam(p, lr=0.01, amsgrad=True, weight_decay=0.1),
    lambda p: AdamW(p, lr=0.01),
])
def test_chunked_threaded_update_equals_serial(make):
    n = (1 << 19) + 1234  # above PARALLEL_MIN: split into chunks
    gen = np.random.default_rng(0)
    w0 = gen.standard_normal(n).astype(np.float32)
    grads = [gen.standard_normal(n).astype(np.float32) for _ in range(3)]
    results = []
    for threads in (1, 3):
        w = Tensor(w0.copy(), requires_grad=True)
        opt = make([w])
        opt.num_threads = threads
        for g in grads:
            w.grad = g
            opt.step()
        results.append(w.data)
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.array_equal(results[0], w0)
