"""batch_norm: hand-computed statistics and running updates, gradcheck in both modes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.autograd import Tensor, batch_norm
from refsnn.testing import gradcheck

SHAPES = [(6, 3), (2, 3, 3, 2)]


def _axes(shape):
    return (0,) if len(shape) == 2 else (0, 2, 3)


def test_running_stats_hand_computed():
    # channel 0 values {1, 3}, channel 1 values {0, 4}; n = 2
    x = np.array([[1.0, 0.0], [3.0, 4.0]])
    rm, rv = np.array([0.5, -1.0]), np.array([2.0, 1.0])
    y = batch_norm(Tensor(x), None, None, rm, rv, training=True, momentum=0.25, eps=1e-5)
    # mean [2, 2]; biased var [1, 4] (normalisation); unbiased var [2, 8] (running)
    np.testing.assert_allclose(rm, [0.75 * 0.5 + 0.25 * 2, 0.75 * -1.0 + 0.25 * 2])
    np.testing.assert_allclose(rv, [0.75 * 2.0 + 0.25 * 2, 0.75 * 1.0 + 0.25 * 8])
    np.testing.assert_allclose(y.data, [[-1 / np.sqrt(1 + 1e-5), -2 / np.sqrt(4 + 1e-5)],
                                        [1 / np.sqrt(1 + 1e-5), 2 / np.sqrt(4 + 1e-5)]])


def test_running_stats_4d_and_eval_uses_them(rng):
    x = rng.standard_normal((4, 2, 3, 3)) * 2 + 1
    rm, rv = np.zeros(2), np.ones(2)
    batch_norm(Tensor(x), None, None, rm, rv, True, momentum=0.1)
    vals = x.transpose(1, 0, 2, 3).reshape(2, -1)  # per-channel values, n = 36
    np.testing.assert_allclose(rm, 0.1 * vals.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(rv, 0.9 + 0.1 * vals.var(axis=1, ddof=1), rtol=1e-12)
    w, b = Tensor(np.array([2.0, -1.0])), Tensor(np.array([0.5, 0.0]))
    before = (rm.copy(), rv.copy())
    y = batch_norm(Tensor(x), w, b, rm, rv, training=False, eps=1e-3)
    np.testing.assert_array_equal(rm, before[0])  # eval leaves the stats alone
    np.testing.assert_array_equal(rv, before[1])
    c = (slice(None), None, None)
    ref = (x - rm[c]) / np.sqrt(rv[c] + 1e-3) * w.data[c] + b.data[c]
    np.testing.assert_allclose(y.data, ref, rtol=1e-12)


def test_training_output_is_normalised(rng):
    x = rng.standard_normal((8, 3, 2, 2)) * 5 - 3
    w, b = Tensor(np.array([1.0, 2.0, 3.0])), Tensor(np.array([0.0, 1.0, -1.0]))
    y = batch_norm(Tensor(x), w, b, None, None, True, eps=1e-8).data
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), b.data, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), w.data, rtol=1e-6)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_gradcheck(rng, shape, training, affine):
    c = shape[1]
    x = Tensor(rng.standard_normal(shape) * 2 + 1, requires_grad=True)
    params = []
    if affine:
        params = [Tensor(rng.standard_normal(c), requires_grad=True),
                  Tensor(rng.standard_normal(c), requires_grad=True)]
    rm, rv = rng.standard_normal(c), rng.random(c) + 0.5

    def fn(xt, *wb):
        w, b = wb if wb else (None, None)
        # copies: the running stats must not drift while finite differences re-run forward
        return batch_norm(xt, w, b, rm.copy(), rv.copy(), training, eps=1e-3)

    assert gradcheck(fn, [x] + params)


def test_batch_norm_weight_only_and_bias_only(rng):
    x = Tensor(rng.standard_normal((5, 2)), requires_grad=True)
    w = Tensor(rng.standard_normal(2), requires_grad=True)
    b = Tensor(rng.standard_normal(2), requires_grad=True)
    assert gradcheck(lambda t, u: batch_norm(t, u, None, None, None, True), [x, w])
    assert gradcheck(lambda t, u: batch_norm(t, None, u, None, None, True), [x, b])


def test_batch_norm_float32_and_backward_twice(rng):
    x = Tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    w = Tensor(np.ones(3, np.float32), requires_grad=True)
    b = Tensor(np.zeros(3, np.float32), requires_grad=True)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    y = batch_norm(x, w, b, rm, rv, True)
    assert y.dtype == np.float32 and rm.dtype == np.float32
    g = rng.standard_normal((4, 3)).astype(np.float32)
    y.backward(g)
    first = x.grad.copy()
    y.backward(g)  # saved tensors were not clobbered by the first backward
    np.testing.assert_allclose(x.grad, 2 * first, rtol=1e-6)
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32
    np.testing.assert_allclose(b.grad, 2 * g.sum(axis=0), rtol=1e-6)


def test_batch_norm_errors():
    x = Tensor(np.ones((4, 3)))
    rm, rv = np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match=r"x must be \[N, C\] or \[N, C, H, W\]"):
        batch_norm(Tensor(np.ones((4, 3, 2))), None, None, rm, rv, True)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        batch_norm(x, Tensor(np.ones(2)), None, rm, rv, True)
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        batch_norm(x, None, Tensor(np.ones(4)), rm, rv, True)
    with pytest.raises(TypeError, match="weight is float32 but x is float64"):
        batch_norm(x, Tensor(np.ones(3, np.float32)), None, rm, rv, True)
    with pytest.raises(ValueError, match=r"running_mean must be an array of shape \(3,\)"):
        batch_norm(x, None, None, np.zeros(2), rv, True)
    with pytest.raises(ValueError, match=r"running_var must be an array of shape \(3,\)"):
        batch_norm(x, None, None, rm, [1.0, 1.0, 1.0], True)
    with pytest.raises(TypeError, match="running_var must be floating"):
        batch_norm(x, None, None, rm, np.ones(3, np.int64), True)
    with pytest.raises(ValueError, match="needs running_mean and running_var"):
        batch_norm(x, None, None, None, rv, False)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        batch_norm(Tensor(np.ones((1, 3))), None, None, rm, rv, True)
    with pytest.raises(ValueError, match="momentum must be in"):
        batch_norm(x, None, None, rm, rv, True, momentum=1.5)
    with pytest.raises(ValueError, match="eps must be > 0"):
        batch_norm(x, None, None, rm, rv, True, eps=0.0)
    with pytest.raises(TypeError, match="x must be floating"):
        batch_norm(Tensor(np.ones((4, 3), np.int64)), None, None, rm, rv, True)
