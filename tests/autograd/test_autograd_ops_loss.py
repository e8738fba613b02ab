"""log_softmax, cross_entropy, mse_loss, dropout: gradcheck, hand-derived values, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from refsnn.autograd import Tensor, cross_entropy, dropout, log_softmax, mse_loss
from refsnn.testing import gradcheck


# ------------------------------------------------------------------ log_softmax
@pytest.mark.parametrize("shape, axis", [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)])
def test_log_softmax_gradcheck_and_value(rng, shape, axis):
    x = Tensor(rng.standard_normal(shape) * 3, requires_grad=True)
    z = log_softmax(x, axis)
    ref = x.data - np.log(np.exp(x.data).sum(axis=axis, keepdims=True))
    np.testing.assert_allclose(z.data, ref, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda t: log_softmax(t, axis), [x])


def test_log_softmax_hand_value_and_huge_logits():
    z = log_softmax(Tensor(np.array([0.0, math.log(3.0)])))
    np.testing.assert_allclose(z.data, [math.log(0.25), math.log(0.75)], rtol=1e-6)
    big = log_softmax(Tensor(np.array([1000.0, 1000.0 + math.log(3.0)])))  # exp would overflow
    np.testing.assert_allclose(big.data, [math.log(0.25), math.log(0.75)], rtol=1e-9)
    assert log_softmax(Tensor([0.0, 1.0])).dtype == np.float32


def test_log_softmax_errors():
    with pytest.raises(ValueError, match="axis 2 out of range"):
        log_softmax(Tensor(np.ones((2, 2))), 2)
    with pytest.raises(ValueError, match="scalar"):
        log_softmax(Tensor(np.float64(1.0)))
    with pytest.raises(TypeError, match="floating"):
        log_softmax(Tensor(np.arange(3)))


# ---------------------------------------------------------------- cross_entropy
def test_cross_entropy_hand_derived():
    # row 0: logits [0, ln 3], label 1 → p = [¼, ¾], loss = −ln ¾, grad = [¼, −¼]
    # row 1: logits [2, 2],    label 0 → p = [½, ½], loss = ln 2,   grad = [−½, ½]
    logits = Tensor(np.array([[0.0, math.log(3.0)], [2.0, 2.0]]), requires_grad=True)
    labels = np.array([1, 0])
    l0, l1 = -math.log(0.75), math.log(2.0)
    loss = cross_entropy(logits, labels)
    np.testing.assert_allclose(loss.item(), (l0 + l1) / 2, rtol=1e-12)
    loss.backward()
    np.testing.assert_allclose(logits.grad, np.array([[0.25, -0.25], [-0.5, 0.5]]) / 2, rtol=1e-12)
    np.testing.assert_allclose(cross_entropy(logits, labels, "sum").item(), l0 + l1, rtol=1e-12)
    np.testing.assert_allclose(cross_entropy(logits, labels, "none").data, [l0, l1], rtol=1e-12)


def test_cross_entropy_huge_logits_are_stable():
    logits = Tensor(np.array([[1e4, 0.0, -1e4]], np.float32), requires_grad=True)
    loss = cross_entropy(logits, np.array([1]))
    np.testing.assert_allclose(loss.item(), 1e4, rtol=1e-6)
    loss.backward()
    np.testing.assert_allclose(logits.grad, [[1.0, -1.0, 0.0]], atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("b, c", [(1, 2), (4, 3), (6, 10)])
def test_cross_entropy_gradcheck(rng, reduction, b, c):
    logits = Tensor(rng.standard_normal((b, c)) * 2, requires_grad=True)
    labels = rng.integers(0, c, b)
    assert gradcheck(lambda t: cross_entropy(t, labels, reduction), [logits])
    # agrees with the composite −log_softmax[label]
    ref = -log_softmax(Tensor(logits.data), -1).data[np.arange(b), labels]
    expect = {"mean": ref.mean(), "sum": ref.sum(), "none": ref}[reduction]
    np.testing.assert_allclose(cross_entropy(logits, labels, reduction).data, expect, rtol=1e-12)


def test_cross_entropy_label_forms_and_dtype(rng):
    logits = Tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    a = cross_entropy(logits, np.array([0, 3, 1], np.uint8))
    b = cross_entropy(logits, Tensor(np.array([0, 3, 1])))
    c = cross_entropy(logits, [0, 3, 1])
    assert a.dtype == np.float32
    assert a.item() == b.item() == c.item()


def test_cross_entropy_errors():
    x = Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"label 3 out of range \[0, 3\)"):
        cross_entropy(x, np.array([0, 3]))
    with pytest.raises(ValueError, match="label -1 out of range"):
        cross_entropy(x, np.array([-1, 0]))
    with pytest.raises(TypeError, match="labels must be an integer array.*float64"):
        cross_entropy(x, np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="labels must be an integer array.*bool"):
        cross_entropy(x, np.array([True, False]))
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"logits must be \[B, C\]"):
        cross_entropy(Tensor(np.zeros(3)), np.array([0]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        cross_entropy(x, np.array([0, 1]), reduction="avg")
    with pytest.raises(TypeError, match="logits must be floating"):
        cross_entropy(Tensor(np.zeros((2, 3), np.int64)), np.array([0, 1]))
    for bad in (np.nan, np.inf, -np.inf):
        logits = np.zeros((2, 3))
        logits[1, 2] = bad
        with pytest.raises(ValueError, match="cross_entropy: logits contains"):
            cross_entropy(Tensor(logits), np.array([0, 1]))


# --------------------------------------------------------------------- mse_loss
def test_mse_hand_derived():
    pred = Tensor(np.array([1.0, 3.0]), requires_grad=True)
    loss = mse_loss(pred, np.zeros(2))
    assert loss.item() == 5.0
    loss.backward()
    np.testing.assert_allclose(pred.grad, [1.0, 3.0])
    assert mse_loss(pred, np.zeros(2), "sum").item() == 10.0
    np.testing.assert_allclose(mse_loss(pred, np.array([1.0, 1.0]), "none").data, [0.0, 4.0])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 1, 3)])
def test_mse_gradcheck(rng, reduction, shape):
    pred = Tensor(rng.standard_normal(shape), requires_grad=True)
    target = Tensor(rng.standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda p, t: mse_loss(p, t, reduction), [pred, target])
    assert gradcheck(lambda p: mse_loss(p, target.data, reduction), [pred])


def test_mse_keeps_float32_and_casts_array_target():
    pred = Tensor(np.ones(3, np.float32), requires_grad=True)
    loss = mse_loss(pred, np.zeros(3))  # float64 / int constants follow pred
    assert loss.dtype == np.float32 and loss.item() == 1.0
    assert mse_loss(pred, [0, 0, 0]).item() == 1.0


def test_mse_errors():
    pred = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"pred shape \(2, 3\) != target shape \(3,\)"):
        mse_loss(pred, np.ones(3))
    with pytest.raises(TypeError, match="cast one first"):
        mse_loss(pred, Tensor(np.ones((2, 3), np.float32)))
    with pytest.raises(ValueError, match="reduction must be one of"):
        mse_loss(pred, np.ones((2, 3)), reduction="max")
    with pytest.raises(TypeError, match="pred must be floating"):
        mse_loss(Tensor(np.ones(3, np.int64)), np.ones(3))
    bad = np.ones((2, 3))
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="mse_loss: pred contains 1 NaN"):
        mse_loss(Tensor(bad), np.ones((2, 3)))
    bad[0, 1] = np.inf
    with pytest.raises(ValueError, match="mse_loss: target contains 0 NaN and 1 inf"):
        mse_loss(pred, bad)


# ---------------------------------------------------------------------- dropout
def test_dropout_mask_scale_and_gradient():
    x = Tensor(np.full((200, 50), 2.0, np.float32), requires_grad=True)
    y = dropout(x, 0.3, True, np.random.default_rng(7))
    assert y.dtype == np.float32
    kept = y.data != 0
    np.testing.assert_allclose(y.data[kept], 2.0 / 0.7, rtol=1e-6)
    assert abs(kept.mean() - 0.7) < 0.02  # 10 000 Bernoulli(0.7) draws: sd ≈ 0.005
    y.sum().backward()
    np.testing.assert_allclose(x.grad, kept / 0.7, rtol=1e-6)


def test_dropout_same_seed_same_mask_and_gradcheck():
    x = Tensor(np.random.default_rng(0).standard_normal((4, 6)), requires_grad=True)
    a = dropout(x, 0.5, True, np.random.default_rng(3)).data
    b = dropout(x, 0.5, True, np.random.default_rng(3)).data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, dropout(x, 0.5, True, np.random.default_rng(4)).data)
    # a fresh generator per call makes the mask a constant, so finite differences apply
    assert gradcheck(lambda t: dropout(t, 0.5, True, np.random.default_rng(3)), [x])


def test_dropout_identity_cases():
    x = Tensor(np.ones(5), requires_grad=True)
    assert dropout(x, 0.5, False, None) is x
    assert dropout(x, 0.0, True, np.random.default_rng(0)) is x


def test_dropout_errors():
    x = Tensor(np.ones(5), requires_grad=True)
    for p in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
            dropout(x, p, True, np.random.default_rng(0))
    with pytest.raises(TypeError, match="p must be a number"):
        dropout(x, "0.5", True, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator, got int"):
        dropout(x, 0.5, True, 0)
    with pytest.raises(TypeError, match="x must be floating"):
        dropout(Tensor(np.ones(3, np.int64)), 0.5, True, np.random.default_rng(0))
