"""SeqToANN equals a per-step loop (values and gradients); repeat_time's gradient sums over T."""

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.nn import AvgPool2d, Conv2d, Flatten, Linear, SeqToANN, Sequential, repeat_time


def _net():
    return (Conv2d(2, 3, 3, padding=(1, 0), rng=0, dtype=np.float64), AvgPool2d(2), Flatten(),
            Linear(3 * 3 * 2, 4, rng=1, dtype=np.float64))


def test_seq_to_ann_equals_step_loop_values_and_gradients():
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((3, 2, 2, 6, 6)).astype(np.float64)
    layers = list(_net())
    wrapped = SeqToANN(*layers)
    x = Tensor(x_np, requires_grad=True)
    y = wrapped(x)
    (y * y).sum().backward()
    grad_wrapped = x.grad.copy()
    weight_grad = layers[0].weight.grad.copy()

    layers[0].weight.grad = None
    plain = Sequential(*layers)
    xs = [Tensor(x_np[t], requires_grad=True) for t in range(3)]
    loss = None
    for t in range(3):
        out = plain(xs[t])
        assert np.allclose(out.data, y.data[t], atol=1e-12)
        term = (out * out).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    assert np.allclose(np.stack([v.grad for v in xs]), grad_wrapped, atol=1e-12)
    assert np.allclose(layers[0].weight.grad, weight_grad, atol=1e-12)


def test_seq_to_ann_state_dict_names_like_spikingjelly():
    m = SeqToANN(Conv2d(1, 2, 3, rng=0))
    assert list(m.state_dict()) == ["module.weight", "module.bias"]
    m2 = SeqToANN(Conv2d(1, 2, 3, rng=0), Flatten())
    assert list(m2.state_dict()) == ["module.0.weight", "module.0.bias"]


def test_seq_to_ann_rejects_rank_two_and_non_modules():
    with pytest.raises(ValueError, match="rank >= 3"):
        SeqToANN(Linear(3, 2, rng=0))(np.ones((4, 3), np.float32))
    with pytest.raises(TypeError, match="refsnn Modules"):
        SeqToANN(lambda v: v)
    with pytest.raises(ValueError, match="at least one"):
        SeqToANN()


def test_repeat_time_values_and_gradient_sum_over_steps():
    x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    r = repeat_time(x, 5)
    assert r.shape == (5, 2, 3) and np.array_equal(r.data[4], x.data)
    w = np.arange(5, dtype=np.float32).reshape(5, 1, 1)
    (r * Tensor(w)).sum().backward()
    assert np.allclose(x.grad, np.full((2, 3), w.sum()))
    with pytest.raises(ValueError, match="steps must be >= 1"):
        repeat_time(x, 0)
