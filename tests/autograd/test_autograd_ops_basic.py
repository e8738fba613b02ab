"""gradcheck (float64 central differences) of every primitive in ops_basic, ops_shape and
ops_elementwise, over several shapes including broadcasting; plus hand-checked values."""

from __future__ import annotations

import numpy as np
import pytest

import refsnn.autograd as ag
from refsnn.autograd import Tensor
from refsnn.testing import gradcheck


def _t(rng, shape, away_from_zero=False, positive=False):
    a = rng.standard_normal(shape)
    if away_from_zero or positive:  # keep clear of kinks (relu, clip, |x|) by > eps
        a = np.sign(a) * (np.abs(a) + 0.1)
    if positive:
        a = np.abs(a)
    return Tensor(a, requires_grad=True)


BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 1), (4,)), ((2, 3, 4), (3, 1)), ((2, 3, 4), (4,)),
                 ((), (2, 3)), ((1, 4), (3, 1))]


@pytest.mark.parametrize("sa, sb", BINARY_SHAPES)
@pytest.mark.parametrize("op", [ag.add, ag.sub, ag.mul, ag.div])
def test_binary_gradcheck(rng, op, sa, sb):
    a = _t(rng, sa)
    b = _t(rng, sb, positive=op is ag.div)
    out = op(a, b)
    assert out.shape == np.broadcast_shapes(sa, sb)
    assert gradcheck(op, [a, b])


@pytest.mark.parametrize("op, ref", [(ag.add, np.add), (ag.sub, np.subtract),
                                     (ag.mul, np.multiply), (ag.div, np.divide)])
def test_binary_with_scalar_and_array_constant(rng, op, ref):
    a = _t(rng, (2, 3), positive=True)
    c = rng.standard_normal(3) + 3.0
    np.testing.assert_allclose(op(a, 2.5).data, ref(a.data, 2.5))
    np.testing.assert_allclose(op(2.5, a).data, ref(2.5, a.data))
    assert gradcheck(lambda x: op(x, c), [a])
    assert gradcheck(lambda x: op(c, x), [a])
    assert gradcheck(lambda x: op(1.5, x), [a])


def test_reverse_operators_hand_values():
    x = Tensor(np.array([2.0, 4.0]), requires_grad=True)
    y = (1.0 - x) + (8.0 / x) + 3.0 * x
    np.testing.assert_allclose(y.data, [1 - 2 + 4 + 6, 1 - 4 + 2 + 12])
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [-1 - 8 / 4 + 3, -1 - 8 / 16 + 3])


@pytest.mark.parametrize("shape", [(), (5,), (2, 3)])
def test_neg_gradcheck(rng, shape):
    assert gradcheck(ag.neg, [_t(rng, shape)])


@pytest.mark.parametrize("p", [2, 3, 0.5, -1.5])
def test_pow_gradcheck(rng, p):
    x = _t(rng, (2, 3), positive=True)
    np.testing.assert_allclose(ag.pow(x, p).data, x.data**p)
    assert gradcheck(lambda t: t**p, [x])


def test_pow_rejects_tensor_exponent():
    x = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match="exponent"):
        ag.pow(x, Tensor(np.ones(2)))
    with pytest.raises(TypeError, match="exponent"):
        ag.pow(x, np.ones(2))


MATMUL_SHAPES = [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)),
                 ((1, 3, 4), (2, 4, 2)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
                 ((4,), (2, 4, 5)), ((2, 3, 4), (4,))]


@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES)
def test_matmul_gradcheck(rng, sa, sb):
    a, b = _t(rng, sa), _t(rng, sb)
    np.testing.assert_allclose((a @ b).data, a.data @ b.data)
    assert gradcheck(ag.matmul, [a, b])


def test_matmul_errors():
    with pytest.raises(ValueError, match="do not align"):
        ag.matmul(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 2))))
    with pytest.raises(ValueError, match="at least 1-D"):
        ag.matmul(Tensor(np.ones(())), Tensor(np.ones(2)))


def test_cast_gradcheck_and_dtype(rng):
    x = _t(rng, (2, 3))
    y = x.astype(np.float32)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad, np.ones((2, 3)))
    # the float32 round trip is linear; a coarse step keeps float32 rounding negligible
    assert gradcheck(lambda t: (t.astype(np.float32) * 3.0).astype(np.float64), [x],
                     eps=1e-2, atol=1e-3)


# ------------------------------------------------------------------------ shape ops
@pytest.mark.parametrize("src, dst", [((2, 3), (6,)), ((2, 3, 4), (4, -1)), ((6,), (1, 2, 3, 1))])
def test_reshape_gradcheck(rng, src, dst):
    x = _t(rng, src)
    assert x.reshape(dst).shape == np.empty(src).reshape(dst).shape
    assert gradcheck(lambda t: t.reshape(dst) * 2.0, [x])


def test_reshape_error():
    with pytest.raises(ValueError, match="cannot reshape"):
        Tensor(np.ones(6)).reshape(4, 2)


@pytest.mark.parametrize("shape, axes", [((2, 3), None), ((2, 3, 4), (1, 2, 0)),
                                         ((2, 3, 4), (2, 0, 1)), ((2, 3, 4, 5), (0, 2, 3, 1))])
def test_transpose_gradcheck(rng, shape, axes):
    x = _t(rng, shape)
    np.testing.assert_array_equal(ag.transpose(x, axes).data, x.data.transpose(axes))
    assert gradcheck(lambda t: ag.transpose(t, axes), [x])
    if axes is not None:
        assert gradcheck(lambda t: ag.permute(t, axes), [x])


def test_transpose_bad_axes():
    with pytest.raises(ValueError, match="not a permutation"):
        ag.transpose(Tensor(np.ones((2, 3))), (0, 0))


INDICES = [
    (1,), (slice(1, 3),), (slice(None), 2), (Ellipsis, slice(None, None, -1)),
    (np.array([0, 2, 2, 0, 2]),),  # advanced index with repeats: gradients must add up
    (np.array([1, 1]), slice(0, 2)),
    (np.array([[True, False, True, True], [False, True, False, False], [True, True, True, False]]),),
]


@pytest.mark.parametrize("index", INDICES)
def test_getitem_gradcheck(rng, index):
    x = _t(rng, (3, 4))
    idx = index[0] if len(index) == 1 else index
    np.testing.assert_array_equal(x[idx].data, x.data[idx])
    assert gradcheck(lambda t: t[idx], [x])


def test_getitem_repeats_accumulate_hand_value():
    x = Tensor(np.arange(4.0), requires_grad=True)
    x[np.array([3, 1, 3, 3])].sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0, 3.0])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_gradcheck(rng, axis):
    shapes = {0: [(1, 3), (2, 3), (3, 3)], 1: [(2, 1), (2, 4), (2, 2)], -1: [(2, 1), (2, 4), (2, 2)]}
    parts = [_t(rng, s) for s in shapes[axis]]
    np.testing.assert_array_equal(ag.concat(parts, axis).data,
                                  np.concatenate([p.data for p in parts], axis))
    assert gradcheck(lambda *ps: ag.concat(list(ps), axis) ** 2, parts)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_stack_gradcheck(rng, axis):
    parts = [_t(rng, (2, 3)) for _ in range(3)]
    np.testing.assert_array_equal(ag.stack(parts, axis).data, np.stack([p.data for p in parts], axis))
    assert gradcheck(lambda *ps: ag.stack(list(ps), axis) ** 2, parts)


def test_concat_stack_errors():
    with pytest.raises(ValueError, match="at least one"):
        ag.concat([])
    with pytest.raises(ValueError, match="at least one"):
        ag.stack([])
    with pytest.raises(ValueError, match="one shape"):
        ag.stack([Tensor(np.ones(2)), Tensor(np.ones(3))])


# ------------------------------------------------------------------- elementwise
UNARY = [(ag.exp, np.exp, False), (ag.log, np.log, True), (ag.tanh, np.tanh, False),
         (ag.sigmoid, lambda a: 1 / (1 + np.exp(-a)), False),
         (ag.relu, lambda a: np.maximum(a, 0), False)]


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 2)])
@pytest.mark.parametrize("op, ref, positive", UNARY)
def test_unary_gradcheck(rng, op, ref, positive, shape):
    x = _t(rng, shape, away_from_zero=True, positive=positive)
    np.testing.assert_allclose(op(x).data, ref(x.data), rtol=1e-12)
    assert gradcheck(op, [x])


def test_sigmoid_is_stable_for_large_inputs():
    x = Tensor(np.array([-800.0, 800.0, 0.0]), requires_grad=True)
    y = ag.sigmoid(x)
    np.testing.assert_array_equal(y.data, [0.0, 1.0, 0.5])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.25])


def test_relu_hand_gradient():
    x = Tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    ag.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])


@pytest.mark.parametrize("lo, hi", [(-0.5, 0.5), (None, 0.3), (-0.3, None)])
def test_clip_gradcheck(rng, lo, hi):
    a = rng.standard_normal((4, 5))
    for bound in (lo, hi):  # keep every element away from the kinks
        if bound is not None:
            a[np.abs(a - bound) < 0.01] += 0.05
    x = Tensor(a, requires_grad=True)
    np.testing.assert_array_equal(ag.clip(x, lo, hi).data, np.clip(a, lo, hi))
    assert gradcheck(lambda t: ag.clip(t, lo, hi), [x])


@pytest.mark.parametrize("sc, sa, sb", [((3, 4), (3, 4), (3, 4)), ((3, 1), (4,), (3, 4)),
                                        ((2, 3, 4), (3, 1), ())])
def test_where_gradcheck(rng, sc, sa, sb):
    cond = rng.random(sc) > 0.4
    a, b = _t(rng, sa), _t(rng, sb)
    np.testing.assert_array_equal(ag.where(cond, a, b).data, np.where(cond, a.data, b.data))
    assert gradcheck(lambda x, y: ag.where(cond, x, y), [a, b])
    assert gradcheck(lambda x: ag.where(Tensor(cond), x, 0.5), [a])


# -------------------------------------------------------------------- reductions
REDUCE_AXES = [None, 0, 1, -1, (0, 2), (0, 1, 2)]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", REDUCE_AXES)
@pytest.mark.parametrize("name", ["sum", "mean", "max"])
def test_reduction_gradcheck(rng, name, axis, keepdims):
    x = _t(rng, (2, 3, 4))
    out = getattr(x, name)(axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.data, getattr(np, name)(x.data, axis=axis, keepdims=keepdims))
    assert gradcheck(lambda t: getattr(ag, name)(t, axis=axis, keepdims=keepdims), [x])


def test_mean_hand_gradient():
    x = Tensor(np.ones((2, 5)), requires_grad=True)
    x.mean(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, np.full((2, 5), 0.2))


def test_max_splits_gradient_between_ties():
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]]), requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
