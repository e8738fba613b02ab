"""Layer forwards against independent NumPy code, input validation, gradchecks, Dropout seeding."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.autograd import Tensor, cross_entropy
from refsnn.nn import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Identity,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
    Upsample,
)
from refsnn.testing import gradcheck


def _hw(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv_reference(x, w, b, stride, padding):
    """Direct-loop cross-correlation, written independently of the library (int or (h, w) pairs)."""
    (sh, sw), (ph, pw) = _hw(stride), _hw(padding)
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, o, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w)
    return out + b[None, :, None, None]


def conv_reference_grads(x, w, g, stride, padding):
    """``(dx, dw)`` of ``Σ out·g`` by the same loop run backwards: each output pixel (i, j) adds
    ``g[:, :, i, j]·w`` to the padded input window it read, and ``g·window`` to ``w``."""
    (sh, sw), (ph, pw) = _hw(stride), _hw(padding)
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            window = (slice(None), slice(None), slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))
            dxp[window] += np.einsum("no,ochw->nchw", g[:, :, i, j], w)
            dw += np.einsum("no,nchw->ochw", g[:, :, i, j], xp[window])
    return dxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]], dw


def test_linear_matches_numpy(rng):
    fc = Linear(6, 4, rng=rng)
    x = rng.standard_normal((5, 6)).astype(np.float32)
    expected = x.astype(np.float64) @ fc.weight.data.T.astype(np.float64) + fc.bias.data
    np.testing.assert_allclose(fc(x).data, expected, rtol=1e-5, atol=1e-6)
    x3 = rng.standard_normal((2, 3, 6)).astype(np.float32)  # leading axes are kept
    np.testing.assert_allclose(fc(x3).data, x3 @ fc.weight.data.T + fc.bias.data, rtol=1e-5, atol=1e-6)
    nobias = Linear(6, 4, bias=False, rng=0)
    assert nobias.bias is None and list(nobias.state_dict()) == ["weight"]
    np.testing.assert_allclose(nobias(x).data, x @ nobias.weight.data.T, rtol=1e-5, atol=1e-6)


def test_linear_accepts_spike_tensors_and_rejects_float_mismatch(rng):
    fc = Linear(3, 2, rng=0)
    spikes = Tensor(np.array([[1, 0, 1]], np.uint8))
    np.testing.assert_allclose(fc(spikes).data, fc.weight.data[:, [0, 2]].sum(1)[None] + fc.bias.data)
    with pytest.raises(TypeError, match="float64.*float32"):
        fc(Tensor(np.zeros((1, 3))))


def test_conv2d_matches_direct_loop(rng):
    for stride, padding in [(1, 0), (2, 1), (1, 2)]:
        conv = Conv2d(3, 4, 3, stride=stride, padding=padding, rng=rng, dtype=np.float64)
        x = rng.standard_normal((2, 3, 7, 6))
        expected = conv_reference(x, conv.weight.data, conv.bias.data, stride, padding)
        np.testing.assert_allclose(conv(x).data, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kernel,stride,padding", [
    ((3, 2), (2, 1), (2, 0)),   # height padded, width not
    ((2, 3), (1, 2), (0, 1)),   # width padded, height not
    ((3, 3), (1, 1), (1, 2)),   # both, unequal
])
def test_conv2d_asymmetric_padding_and_stride_forward_and_grads(rng, kernel, stride, padding):
    """(h, w) pairs must reach the right axis: output, input gradient and weight gradient all
    against the direct loop, on a non-square input (a height/width swap changes every one)."""
    conv = Conv2d(2, 3, kernel, stride=stride, padding=padding, rng=rng, dtype=np.float64)
    x = Tensor(rng.standard_normal((2, 2, 7, 5)), requires_grad=True)
    expected = conv_reference(x.data, conv.weight.data, conv.bias.data, stride, padding)
    out = conv(x)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(expected.shape)
    (out * Tensor(g)).sum().backward()
    dx, dw = conv_reference_grads(x.data, conv.weight.data, g, stride, padding)
    np.testing.assert_allclose(x.grad, dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(conv.weight.grad, dw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(conv.bias.grad, g.sum(axis=(0, 2, 3)), rtol=1e-10, atol=1e-12)


def test_rank_and_feature_errors_name_layer_and_shape():
    cases = [
        (Linear(4, 2, rng=0), np.zeros((3, 5)), r"Linear\(4, 2\).*\(3, 5\)"),
        (Conv2d(3, 2, 3, rng=0), np.zeros((2, 3, 8)), r"Conv2d.*4-D.*\(2, 3, 8\)"),
        (Conv2d(3, 2, 3, rng=0), np.zeros((2, 1, 8, 8)), r"Conv2d\(3, 2\).*\(2, 1, 8, 8\)"),
        (Conv2d(1, 1, 5, rng=0), np.zeros((1, 1, 3, 3)), r"Conv2d: kernel \(5, 5\)"),
        (MaxPool2d(2), np.zeros((4, 4)), r"MaxPool2d.*\(4, 4\)"),
        (AvgPool2d(4), np.zeros((1, 1, 2, 2)), r"AvgPool2d: kernel"),
        (BatchNorm2d(3), np.zeros((2, 3)), r"BatchNorm2d.*\(2, 3\)"),
        (BatchNorm1d(3), np.zeros((2, 4)), r"BatchNorm1d\(3\).*\(2, 4\)"),
        (BatchNorm1d(3), np.zeros((1, 3)), r"BatchNorm1d: batch statistics.*\(1, 3\)"),
        (Upsample(2), np.zeros((1, 2, 3)), r"Upsample.*\(1, 2, 3\)"),
        (Flatten(start_dim=2), np.zeros((3, 4)), r"Flatten.*\(3, 4\)"),
    ]
    for layer, x, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            layer(x)


def test_constructor_errors():
    with pytest.raises(ValueError, match="in_features"):
        Linear(0, 3, rng=0)
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2d(1, 1, 0, rng=0)
    with pytest.raises(ValueError, match="padding"):
        MaxPool2d(2, padding=2)
    with pytest.raises(ValueError, match="p must be"):
        Dropout(1.5, rng=0)
    with pytest.raises(TypeError, match="Dropout"):
        Dropout(0.5)
    with pytest.raises(ValueError, match="nearest"):
        Upsample(2, mode="bilinear")
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm2d(3, momentum=2.0)


def _bn_reference(x, gamma, beta, eps, axes):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    shape = [1] * x.ndim
    shape[1] = -1
    return (x - mean) / np.sqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape)


def test_batchnorm2d_training_eval_and_running_stats(rng):
    bn = BatchNorm2d(3, momentum=0.2, dtype=np.float64)
    bn.weight.data[:] = [1.0, 2.0, -0.5]
    bn.bias.data[:] = [0.0, 1.0, 3.0]
    x = rng.standard_normal((4, 3, 5, 5)) * 2 + 1
    y = bn(x).data
    np.testing.assert_allclose(y, _bn_reference(x, bn.weight.data, bn.bias.data, 1e-5, (0, 2, 3)), atol=1e-10)
    n = 4 * 25
    np.testing.assert_allclose(bn.running_mean, 0.2 * x.mean(axis=(0, 2, 3)), atol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.8 + 0.2 * x.var(axis=(0, 2, 3)) * n / (n - 1), atol=1e-12)
    assert int(bn.num_batches_tracked) == 1
    bn.eval()
    x2 = rng.standard_normal((2, 3, 5, 5))
    col = (slice(None), None, None)
    expected = ((x2 - bn.running_mean[col]) / np.sqrt(bn.running_var[col] + 1e-5) * bn.weight.data[col]
                + bn.bias.data[col])
    np.testing.assert_allclose(bn(x2).data, expected, atol=1e-10)
    assert int(bn.num_batches_tracked) == 1  # evaluation leaves the statistics alone


def test_batchnorm1d_2d_and_3d_inputs_and_options(rng):
    bn = BatchNorm1d(4, dtype=np.float64)
    x = rng.standard_normal((6, 4))
    np.testing.assert_allclose(bn(x).data, _bn_reference(x, np.ones(4), np.zeros(4), 1e-5, (0,)), atol=1e-10)
    x3 = rng.standard_normal((3, 4, 5))
    np.testing.assert_allclose(bn(x3).data, _bn_reference(x3, np.ones(4), np.zeros(4), 1e-5, (0, 2)),
                               atol=1e-10)
    cumulative = BatchNorm1d(2, momentum=None, dtype=np.float64)
    a, b = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    cumulative(a), cumulative(b)
    np.testing.assert_allclose(cumulative.running_mean, (a.mean(0) + b.mean(0)) / 2, atol=1e-12)
    plain = BatchNorm1d(2, affine=False, track_running_stats=False, dtype=np.float64)
    assert plain.state_dict() == {} and plain.parameters() == []
    plain.eval()  # no running statistics: batch statistics even in evaluation
    expected = _bn_reference(a, np.ones(2), np.zeros(2), 1e-5, (0,))
    np.testing.assert_allclose(plain(a).data, expected, atol=1e-10)


def test_pooling_upsample_flatten_activations(rng):
    x = rng.standard_normal((2, 3, 4, 6)).astype(np.float32)
    blocks = x.reshape(2, 3, 2, 2, 3, 2)
    np.testing.assert_allclose(MaxPool2d(2)(x).data, blocks.max(axis=(3, 5)))
    np.testing.assert_allclose(AvgPool2d(2)(x).data, blocks.mean(axis=(3, 5)), rtol=1e-6)
    np.testing.assert_array_equal(Upsample(2)(x).data, x.repeat(2, axis=2).repeat(2, axis=3))
    assert Flatten()(x).shape == (2, 72) and Flatten(1, 2)(x).shape == (2, 12, 6)
    np.testing.assert_array_equal(ReLU()(x).data, np.maximum(x, 0))
    np.testing.assert_allclose(Sigmoid()(x).data, 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(Tanh()(x).data, np.tanh(x), rtol=1e-6)
    np.testing.assert_array_equal(Identity()(x).data, x)


def test_dropout_seeded_determinism_and_modes():
    x = np.ones((50, 40), np.float32)
    a, b, c = Dropout(0.3, rng=5), Dropout(0.3, rng=np.random.default_rng(5)), Dropout(0.3, rng=6)
    ya, yb, yc = a(x).data, b(x).data, c(x).data
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(ya, yc)
    assert set(np.unique(ya)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((ya == 0).mean() - 0.3) < 0.03
    assert not np.array_equal(a(x).data, ya)  # the generator advances
    a.eval()
    np.testing.assert_array_equal(a(x).data, x)
    assert not Dropout(1.0, rng=0)(x).data.any()


def test_gradcheck_sequential_end_to_end():
    gen = np.random.default_rng(3)
    net = Sequential(
        Conv2d(1, 2, 3, padding=1, rng=gen), BatchNorm2d(2), Tanh(), AvgPool2d(2), Flatten(),
        Linear(8, 5, rng=gen), Sigmoid(), Linear(5, 3, rng=gen),
    ).to_dtype(np.float64)
    x = Tensor(gen.standard_normal((3, 1, 4, 4)), requires_grad=True)
    labels = np.array([0, 2, 1])
    params = net.parameters()
    assert all(p.dtype == np.float64 for p in params)
    assert gradcheck(lambda *_: cross_entropy(net(x), labels), [x, *params], atol=1e-7, rtol=1e-5)


def test_gradcheck_linear_relu_maxpool_eval_bn():
    gen = np.random.default_rng(4)
    net = Sequential(Conv2d(2, 2, 2, rng=gen), BatchNorm2d(2), ReLU(), MaxPool2d(2), Flatten(),
                     Linear(8, 2, rng=gen)).to_dtype(np.float64)
    net(gen.standard_normal((4, 2, 5, 5)))  # give the running statistics non-trivial values
    net.eval()
    x = Tensor(gen.standard_normal((2, 2, 5, 5)), requires_grad=True)
    assert gradcheck(lambda *_: net(x), [x, *net.parameters()], atol=1e-7, rtol=1e-5)


def test_gradcheck_linear_function_3d_input_without_bias():
    fc = Linear(4, 3, bias=False, rng=0).to_dtype(np.float64)
    x = Tensor(np.random.default_rng(5).standard_normal((2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda *_: fc(x), [x, fc.weight])
    fc.weight.requires_grad = False  # frozen weight: only the input gradient is computed
    x.grad = fc.weight.grad = None
    fc(x).sum().backward()
    np.testing.assert_allclose(x.grad, np.broadcast_to(fc.weight.data.sum(0), (2, 3, 4)))
    assert fc.weight.grad is None
