"""The graph engine: accumulation, deep chains, diamonds, no_grad, dtype rules, multi-output."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.autograd import Function, Tensor, enable_grad, is_enabled, no_grad, unbroadcast
from refsnn.testing import GradcheckError, gradcheck


def test_backward_twice_accumulates():
    x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, -4.0, 6.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, [4.0, -8.0, 12.0])


def test_backward_twice_on_same_graph_accumulates():
    x = Tensor(np.array([0.5, 2.0]), requires_grad=True)
    y = (x.exp() * 3.0).sum()
    y.backward()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * 3.0 * np.exp([0.5, 2.0]))


def test_backward_on_leaf_and_zero_grad():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x.backward(np.array([3.0, 4.0]))
    np.testing.assert_allclose(x.grad, [3.0, 4.0])
    x.zero_grad()
    assert x.grad is None


def test_deep_chain_has_no_recursion_error():
    x = Tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(20000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001**20000], rtol=1e-9)


def test_diamond_graph():
    # f = (x·x) + exp(x) + x  →  f' = 2x + eˣ + 1; x feeds three branches that rejoin
    x = Tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True)
    a = x * x
    b = x.exp()
    ((a + b) + x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + np.exp(x.data) + 1)


def test_shared_intermediate_used_twice():
    # y = u·u with u = 3x, so dy/dx = 18x; u's gradient must arrive from both uses first
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    u = x * 3.0
    (u * u).sum().backward()
    np.testing.assert_allclose(x.grad, 18 * x.data)


def test_no_grad_records_nothing_and_restores():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert is_enabled()
    with no_grad():
        assert not is_enabled()
        y = x * 2.0 + 1.0
        with enable_grad():
            z = x * 2.0
    assert is_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad and not z.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_no_grad_restores_after_exception():
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            raise ZeroDivisionError
    assert is_enabled()


def test_constant_operand_gets_no_grad():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = Tensor(np.array([5.0, 7.0]))
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad, [5.0, 7.0])


def test_mixed_float_dtypes_raise():
    a = Tensor(np.ones(3, np.float32), requires_grad=True)
    b = Tensor(np.ones(3, np.float64), requires_grad=True)
    for op in (lambda: a + b, lambda: a - b, lambda: a * b, lambda: a / b, lambda: a @ b):
        with pytest.raises(TypeError, match="mismatched dtypes"):
            op()
    with pytest.raises(TypeError, match="mismatched dtypes"):
        a * np.ones(3, np.float64)


def test_float32_stays_float32():
    x = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    y = ((x * 2.0 + 1.0) / 3.0 - 0.5) ** 2
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    assert (x ** np.float64(2.0)).dtype == np.float32  # a NumPy scalar exponent does not promote
    assert Tensor([1.0, 2.0]).dtype == np.float32


def test_backward_non_scalar_without_grad_raises():
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="one-element"):
        (x * 2.0).backward()
    with pytest.raises(ValueError, match="grad shape"):
        (x * 2.0).backward(np.ones(4))
    (x * 2.0).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.grad, [2.0, 4.0, 6.0])


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="floating"):
        Tensor(np.arange(3), requires_grad=True)


class _SplitHalves(Function):
    """Two outputs: ``(x[:k], 2·x[k:])``; backward stitches the grads, None means zero."""

    def forward(self, x):
        self.k, self.n = x.shape[0] // 2, x.shape[0]
        return x[: self.k].copy(), 2 * x[self.k :]

    def backward(self, g1, g2):
        dx = np.zeros(self.n)
        if g1 is not None:
            dx[: self.k] = g1
        if g2 is not None:
            dx[self.k :] = 2 * g2
        return (dx,)


def test_multi_output_function():
    x = Tensor(np.arange(1.0, 5.0), requires_grad=True)
    lo, hi = _SplitHalves.apply(x)
    np.testing.assert_allclose(hi.data, [6.0, 8.0])
    (lo * 3.0 + 0.0).sum().backward()  # only the first output used
    np.testing.assert_allclose(x.grad, [3.0, 3.0, 0.0, 0.0])
    x.grad = None
    lo, hi = _SplitHalves.apply(x)
    ((lo * lo).sum() + hi.sum()).backward()  # both outputs reach the same node
    np.testing.assert_allclose(x.grad, [2.0, 4.0, 2.0, 2.0])
    x.grad = None
    assert gradcheck(lambda t: _SplitHalves.apply(t)[1] * _SplitHalves.apply(t)[1], [x])


class _WrongShape(Function):
    def forward(self, x):
        return x * 2

    def backward(self, g):
        return (g[:1],)


def test_backward_with_wrong_gradient_shape_is_caught():
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="_WrongShape.backward returned a gradient of shape"):
        _WrongShape.apply(x).sum().backward()


class _ExtraGradient(Function):
    def forward(self, x, scale):
        self.scale = scale
        return x * scale

    def backward(self, g):
        return g * self.scale, None, None  # one too many: forward has two positional inputs


def test_backward_with_wrong_gradient_count_is_caught():
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="_ExtraGradient.backward returned 3 gradients for 2 positional"):
        _ExtraGradient.apply(x, 2.0).sum().backward()


def test_unbroadcast():
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_allclose(unbroadcast(g, (3, 1)), g.sum(axis=(0, 2))[:, None])
    np.testing.assert_allclose(unbroadcast(g, (4,)), g.sum(axis=(0, 1)))
    np.testing.assert_allclose(unbroadcast(g, ()), g.sum())
    assert unbroadcast(g, (2, 3, 4)) is g


def test_gradcheck_detects_a_wrong_gradient():
    class _BadSquare(Function):
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, g):
            return (3 * self.x * g,)  # should be 2x

    x = Tensor(np.array([0.5, -1.5]), requires_grad=True)
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(_BadSquare.apply, [x])
    assert gradcheck(_BadSquare.apply, [x], raise_exception=False) is False


def test_gradcheck_rejects_float32():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t * t, [Tensor(np.ones(2, np.float32), requires_grad=True)])


# Every Function subclass in these modules has a gradcheck in tests/autograd; a new
# primitive added to one of them must be added here (and tested) to keep this green.
COVERED = {
    "refsnn.autograd.ops_basic": {"Add", "Sub", "Mul", "Div", "Neg", "Pow", "MatMul", "Cast"},
    "refsnn.autograd.ops_shape": {"Reshape", "Transpose", "GetItem", "Concat", "Stack"},
    "refsnn.autograd.ops_elementwise": {"Exp", "Log", "Tanh", "Sigmoid", "ReLU", "Clip", "Where",
                                        "Sum", "Mean", "Max"},
    "refsnn.autograd.ops_loss": {"LogSoftmax", "CrossEntropy", "MSELoss", "Dropout"},
    "refsnn.autograd.ops_conv": {"Conv2d", "AvgPool2d", "MaxPool2d", "UpsampleNearest"},
    "refsnn.autograd.ops_norm": {"BatchNorm"},
}


@pytest.mark.parametrize("module_name", sorted(COVERED))
def test_every_function_is_covered(module_name):
    import importlib
    import inspect

    module = importlib.import_module(module_name)
    found = {name for name, obj in vars(module).items()
             if inspect.isclass(obj) and issubclass(obj, Function) and obj is not Function
             and obj.__module__ == module_name}
    assert found == COVERED[module_name]


def test_leaf_grads_never_share_a_buffer():
    """x + y hands the same incoming gradient to both leaves: each must own its own .grad."""
    x = Tensor(np.ones(3), requires_grad=True)
    y = Tensor(np.ones(3), requires_grad=True)
    g = np.array([1.0, 2.0, 3.0])
    (x + y).backward(g)
    assert x.grad is not y.grad and not np.shares_memory(x.grad, y.grad)
    assert not np.shares_memory(x.grad, g) and not np.shares_memory(y.grad, g)
    x.grad *= 0  # an in-place update of one gradient (e.g. clipping) leaves the others alone
    np.testing.assert_array_equal(y.grad, g)
    np.testing.assert_array_equal(g, [1.0, 2.0, 3.0])


def test_leaf_grad_through_reshape_does_not_alias_callers_gradient():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    g = np.arange(6.0)
    x.reshape(6).backward(g)
    assert not np.shares_memory(x.grad, g)
    np.testing.assert_array_equal(x.grad, g.reshape(2, 3))
