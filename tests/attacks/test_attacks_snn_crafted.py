"""The SNN-crafted route (Sharmin Eq. 5–6): Eq. 6 against a direct loop and against autograd."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn import autograd as ag
from refsnn.attacks import FGSM, PGD, Conv1Route, conv1_input_gradient
from refsnn.autograd import Tensor
from refsnn.encoding import rate
from refsnn.neurons import IF
from refsnn.nn import AvgPool2d, Conv2d, Flatten, Linear, ReLU, Sequential


def _loop_transpose(g, w, hw, stride, pad):
    """dX[n, c, s·i + a − p, s·j + b − p] += G[n, o, i, j] · W[o, c, a, b] — the adjoint, by loops."""
    n, o, ho, wo = g.shape
    _, c, kh, kw = w.shape
    out = np.zeros((n, c, hw[0] + 2 * pad, hw[1] + 2 * pad))
    for i in range(ho):
        for j in range(wo):
            for a in range(kh):
                for b in range(kw):
                    out[:, :, stride * i + a, stride * j + b] += g[:, :, i, j] @ w[:, :, a, b]
    return out[:, :, pad:pad + hw[0], pad:pad + hw[1]]


@pytest.mark.parametrize("method", ["autograd", "rot180"])
@pytest.mark.parametrize("k,stride,pad,hw", [(3, 1, 1, (6, 6)), (3, 2, 1, (7, 6)), (2, 2, 0, (5, 5)),
                                             (3, 1, 0, (5, 7)), (1, 1, 0, (3, 3)), (3, 3, 2, (4, 4))])
def test_eq6_matches_direct_loop(method, k, stride, pad, hw):
    rng = np.random.default_rng(k + 10 * stride + 100 * pad)
    w = rng.standard_normal((4, 3, k, k))
    ho = (hw[0] + 2 * pad - k) // stride + 1
    wo = (hw[1] + 2 * pad - k) // stride + 1
    g = rng.standard_normal((2, 4, ho, wo))
    got = conv1_input_gradient(g, w, hw, stride, pad, method=method)
    np.testing.assert_allclose(got, _loop_transpose(g, w, hw, stride, pad), rtol=1e-12, atol=1e-12)


def test_eq6_shape_errors():
    with pytest.raises(ValueError, match="does not match conv1 output"):
        conv1_input_gradient(np.zeros((1, 2, 4, 4)), np.zeros((2, 1, 3, 3)), (8, 8), 1, 1)
    with pytest.raises(ValueError, match="method"):
        conv1_input_gradient(np.zeros((1, 2, 8, 8)), np.zeros((2, 1, 3, 3)), (8, 8), 1, 1, method="fft")


def _ann():
    conv1 = Conv2d(1, 4, 3, padding=1, bias=False, rng=0)
    rest = Sequential(ReLU(), AvgPool2d(2), Flatten(), Linear(4 * 3 * 3, 3, bias=False, rng=1))
    return conv1, rest, Sequential(conv1, rest)


def _batch():
    rng = np.random.default_rng(2)
    return rng.random((4, 1, 6, 6)).astype(np.float32), np.array([0, 1, 2, 1])


@pytest.mark.parametrize("method", ["autograd", "rot180"])
def test_route_equals_autograd_for_plain_conv1(method):
    """T = 1, identity encoder: the route's dL/dX is the ordinary input gradient of the ANN."""
    conv1, rest, net = _ann()
    route = Conv1Route(lambda x: x[None], conv1, lambda z: rest(z[0]), method=method)
    x, y = _batch()
    g_route = FGSM(route).input_gradient(x, y)
    g_auto = FGSM(net).input_gradient(x, y)
    if method == "autograd":  # the same conv2d backward on the same dL/dX_conv1: bit-identical
        np.testing.assert_array_equal(g_route, g_auto)
        np.testing.assert_array_equal(PGD(route)(x, y), PGD(net)(x, y))
    else:
        np.testing.assert_allclose(g_route, g_auto, rtol=1e-5, atol=1e-8)


class RateSNN:
    """Rate-coded conv SNN split for the route: spikes → conv1 → IF → pool → fc → summed membrane."""

    def __init__(self, steps=16):
        self.conv1, rest_ann, _ = _ann()
        self.fc = rest_ann[3]
        self.neuron = IF(theta=0.5)
        self.steps = steps
        self.rng = np.random.default_rng(0)

    def encode(self, x):
        return rate(x, self.steps, self.rng)

    def rest(self, z):  # z [T, B, 4, 6, 6]
        t, b = z.shape[:2]
        s = self.neuron(z).reshape((t * b, 4, 6, 6))
        h = ag.avg_pool2d(s, 2).reshape((t, b, -1))
        return self.fc(h).sum(axis=0)

    def forward_rate_coded(self, x):
        return self.rest(self.conv1(Tensor(self.encode(x.data).reshape(-1, 1, 6, 6))).reshape(
            (self.steps, len(x.data), 4, 6, 6)))


def test_route_on_rate_coded_snn():
    snn = RateSNN()
    x, y = _batch()
    with pytest.raises(RuntimeError, match="encoder cuts the graph"):
        FGSM(snn.forward_rate_coded)(x, y)  # white-box autograd cannot pass the Bernoulli encoder
    route = Conv1Route(snn.encode, snn.conv1, snn.rest)
    g = FGSM(route).input_gradient(x, y)
    assert g.shape == x.shape and np.count_nonzero(g) > g.size // 2
    x_adv = FGSM(route, eps=0.05)(x, y)
    assert x_adv.dtype == np.float32
    step = np.abs(x_adv - x)
    assert step.max() <= 0.05 + 1e-7 and np.count_nonzero(step) > step.size // 2
    assert route(x).shape == (4, 3)  # the route is also a plain forward model (transfer target)


def test_route_bad_construction():
    conv1, rest, _ = _ann()
    with pytest.raises(TypeError, match="encode must be callable"):
        Conv1Route(None, conv1, rest)
    with pytest.raises(TypeError, match="4-D weight"):
        Conv1Route(lambda x: x[None], Linear(2, 2, rng=0), rest)
    route = Conv1Route(lambda x: x, conv1, rest)  # encoder forgets the time axis
    with pytest.raises(ValueError, match=r"\[T, B, C, H, W\]"):
        FGSM(route).input_gradient(*_batch())
