"""conv2d, avg_pool2d, max_pool2d, upsample_nearest: naive-loop forwards, gradcheck, errors."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.autograd import Tensor, avg_pool2d, conv2d, max_pool2d, upsample_nearest
from refsnn.testing import gradcheck


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


# ------------------------------------------------------- independent naive loops
def naive_conv2d(x, w, b, stride, padding):
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph : ph + h, pw : pw + wd] = x
    ho, wo = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, o, ho, wo))
    for i_n in range(n):
        for i_o in range(o):
            for i in range(ho):
                for j in range(wo):
                    patch = xp[i_n, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
                    out[i_n, i_o, i, j] = (patch * w[i_o]).sum() + (0.0 if b is None else b[i_o])
    return out


def naive_pool(x, kernel, stride, padding, mode):
    (kh, kw), (ph, pw) = _pair(kernel), _pair(padding)
    sh, sw = _pair(kernel if stride is None else stride)
    n, c, h, w = x.shape
    fill = -np.inf if mode == "max" else 0.0
    xp = np.full((n, c, h + 2 * ph, w + 2 * pw), fill)
    xp[:, :, ph : ph + h, pw : pw + w] = x
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            win = xp[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
            out[:, :, i, j] = win.max(axis=(2, 3)) if mode == "max" else win.sum(axis=(2, 3)) / (kh * kw)
    return out


# ---------------------------------------------------------------------- conv2d
CONV_CASES = [  # x shape, weight shape, stride, padding, bias
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 0, True),
    ((1, 2, 6, 5), (3, 2, 3, 2), 2, 1, True),
    ((2, 1, 7, 6), (2, 1, 3, 3), (2, 1), (0, 2), False),
    ((1, 3, 4, 4), (2, 3, 1, 1), 1, 0, True),
    ((1, 2, 3, 3), (1, 2, 3, 3), 1, 1, False),
    ((2, 2, 4, 4), (3, 2, 4, 4), 3, 0, True),  # kernel covers the whole image
]


@pytest.mark.parametrize("xs, ws, stride, padding, has_bias", CONV_CASES)
def test_conv2d_forward_matches_naive_loop(rng, xs, ws, stride, padding, has_bias):
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[0]) if has_bias else None
    out = conv2d(Tensor(x), Tensor(w), None if b is None else Tensor(b), stride, padding)
    np.testing.assert_allclose(out.data, naive_conv2d(x, w, b, stride, padding), rtol=1e-10, atol=1e-12)
    assert out.data.flags.c_contiguous


@pytest.mark.parametrize("xs, ws, stride, padding, has_bias", CONV_CASES)
def test_conv2d_gradcheck(rng, xs, ws, stride, padding, has_bias):
    x = Tensor(rng.standard_normal(xs), requires_grad=True)
    w = Tensor(rng.standard_normal(ws), requires_grad=True)
    inputs = [x, w] + ([Tensor(rng.standard_normal(ws[0]), requires_grad=True)] if has_bias else [])
    assert gradcheck(lambda *t: conv2d(*t, stride=stride, padding=padding), inputs)


def test_conv2d_weight_only_and_input_only_grads(rng):
    x = Tensor(rng.standard_normal((1, 2, 4, 4)))
    w = Tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    assert gradcheck(lambda t: conv2d(x, t, padding=1), [w])
    x.requires_grad = True
    assert gradcheck(lambda t: conv2d(t, Tensor(w.data), padding=1), [x])


def test_conv2d_hand_value():
    # a 1x1 kernel of weight 2 with bias 1 maps every pixel p to 2p + 1
    x = Tensor(np.arange(4.0, dtype=np.float32).reshape(1, 1, 2, 2), requires_grad=True)
    w = Tensor(np.full((1, 1, 1, 1), 2.0, np.float32), requires_grad=True)
    b = Tensor(np.ones(1, np.float32), requires_grad=True)
    y = conv2d(x, w, b)
    np.testing.assert_array_equal(y.data, [[[[1.0, 3.0], [5.0, 7.0]]]])
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((1, 1, 2, 2), 2.0))
    np.testing.assert_array_equal(w.grad, [[[[6.0]]]])
    np.testing.assert_array_equal(b.grad, [4.0])
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32


def test_conv2d_errors():
    x, w = Tensor(np.ones((1, 2, 5, 5))), Tensor(np.ones((3, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"input must be 4-D \[N, C, H, W\], got shape \(2, 5, 5\)"):
        conv2d(Tensor(np.ones((2, 5, 5))), w)
    with pytest.raises(ValueError, match="weight must be 4-D"):
        conv2d(x, Tensor(np.ones((3, 2, 3))))
    with pytest.raises(ValueError, match="weight expects 3 input channels, input has 2"):
        conv2d(x, Tensor(np.ones((3, 3, 3, 3))))
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        conv2d(x, w, Tensor(np.ones(2)))
    with pytest.raises(ValueError, match="output size .* is not positive"):
        conv2d(x, Tensor(np.ones((3, 2, 6, 6))))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        conv2d(x, w, padding=-1)
    with pytest.raises(TypeError, match="stride must be an int or a pair of ints"):
        conv2d(x, w, stride=1.5)
    with pytest.raises(TypeError, match="padding must be an int or a pair of ints"):
        conv2d(x, w, padding=(1, 1, 1))
    with pytest.raises(TypeError, match="mismatched dtypes x float64 and weight float32"):
        conv2d(x, Tensor(np.ones((3, 2, 3, 3), np.float32)))
    with pytest.raises(TypeError, match="mismatched dtypes x float64 and bias float32"):
        conv2d(x, w, Tensor(np.ones(3, np.float32)))
    with pytest.raises(TypeError, match="input must be floating"):
        conv2d(Tensor(np.ones((1, 2, 5, 5), np.int64)), w)


# ----------------------------------------------------------------------- pools
POOL_CASES = [  # x shape, kernel, stride, padding
    ((2, 3, 4, 4), 2, None, 0),
    ((1, 2, 5, 7), 3, 2, 1),
    ((2, 1, 6, 5), (3, 2), (1, 2), (1, 0)),
    ((1, 2, 5, 5), 3, 1, 0),  # overlapping windows
    ((1, 1, 3, 3), 3, None, 0),
]


@pytest.mark.parametrize("xs, kernel, stride, padding", POOL_CASES)
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool_forward_matches_naive_loop(rng, mode, xs, kernel, stride, padding):
    x = rng.standard_normal(xs)
    fn = max_pool2d if mode == "max" else avg_pool2d
    out = fn(Tensor(x), kernel, stride, padding)
    np.testing.assert_allclose(out.data, naive_pool(x, kernel, stride, padding, mode), rtol=1e-12)


@pytest.mark.parametrize("xs, kernel, stride, padding", POOL_CASES)
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool_gradcheck(rng, mode, xs, kernel, stride, padding):
    # distinct values (a permutation) keep every window's max unique: no kinks under eps
    x = Tensor(rng.permutation(int(np.prod(xs))).reshape(xs) * 0.1, requires_grad=True)
    fn = max_pool2d if mode == "max" else avg_pool2d
    assert gradcheck(lambda t: fn(t, kernel, stride, padding), [x])


def test_max_pool_gradient_goes_to_first_argmax():
    # [[1, 5], [5, 4]]: the max 5 appears twice; PyTorch sends the gradient to the first
    x = Tensor(np.array([[[[1.0, 5.0], [5.0, 4.0]]]], np.float32), requires_grad=True)
    y = max_pool2d(x, 2)
    np.testing.assert_array_equal(y.data, [[[[5.0]]]])
    y.backward(np.array([[[[3.0]]]], np.float32))
    np.testing.assert_array_equal(x.grad, [[[[0.0, 3.0], [0.0, 0.0]]]])
    assert x.grad.dtype == np.float32


def test_max_pool_ties_in_overlapping_windows():
    # kernel 2, stride 1 over [[5, 5, 5], [0, 0, 0]]: window 0 picks (0, 0), window 1 picks (0, 1)
    x = Tensor(np.array([[[[5.0, 5.0, 5.0], [0.0, 0.0, 0.0]]]]), requires_grad=True)
    y = max_pool2d(x, 2, 1)
    np.testing.assert_array_equal(y.data, [[[[5.0, 5.0]]]])
    y.backward(np.array([[[[1.0, 10.0]]]]))
    np.testing.assert_array_equal(x.grad, [[[[1.0, 10.0, 0.0], [0.0, 0.0, 0.0]]]])


def test_max_pool_padding_is_minus_infinity():
    x = Tensor(-np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(max_pool2d(x, 2, 1, 1).data, -np.ones((1, 1, 3, 3)))


def test_avg_pool_hand_value_counts_padding():
    x = Tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), requires_grad=True)
    np.testing.assert_array_equal(avg_pool2d(x, 2).data, [[[[2.5]]]])
    # padding 1, kernel 2, stride 2: the corner windows each see one pixel and three zeros
    np.testing.assert_array_equal(avg_pool2d(x, 2, 2, 1).data, [[[[0.25, 0.5], [0.75, 1.0]]]])
    avg_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((1, 1, 2, 2), 0.25))


@pytest.mark.parametrize("fn", [max_pool2d, avg_pool2d])
def test_pool_errors(fn):
    x = Tensor(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="input must be 4-D"):
        fn(Tensor(np.ones((4, 4))), 2)
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        fn(x, 0)
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair"):
        fn(x, (2.0, 2))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        fn(x, 2, 0)
    with pytest.raises(ValueError, match="at most half the kernel size"):
        fn(x, 2, 1, 2)
    with pytest.raises(ValueError, match=r"output size \(0, 0\) is not positive"):
        fn(x, 5)
    with pytest.raises(TypeError, match="input must be floating"):
        fn(Tensor(np.ones((1, 1, 4, 4), np.int32)), 2)


# ------------------------------------------------------------------- upsample
@pytest.mark.parametrize("xs, factor", [((1, 1, 2, 3), 2), ((2, 3, 3, 2), (2, 3)), ((1, 2, 2, 2), 1)])
def test_upsample_nearest(rng, xs, factor):
    x = Tensor(rng.standard_normal(xs), requires_grad=True)
    fh, fw = _pair(factor)
    y = upsample_nearest(x, factor)
    ref = np.empty(xs[:2] + (xs[2] * fh, xs[3] * fw))
    for i in range(ref.shape[2]):
        for j in range(ref.shape[3]):
            ref[:, :, i, j] = x.data[:, :, i // fh, j // fw]
    np.testing.assert_array_equal(y.data, ref)
    assert gradcheck(lambda t: upsample_nearest(t, factor), [x])


def test_upsample_hand_gradient_sums_blocks():
    x = Tensor(np.array([[[[1.0, 2.0]]]]), requires_grad=True)
    y = upsample_nearest(x, 2)
    np.testing.assert_array_equal(y.data, [[[[1, 1, 2, 2], [1, 1, 2, 2]]]])
    y.backward(np.arange(8.0).reshape(1, 1, 2, 4))
    np.testing.assert_array_equal(x.grad, [[[[0 + 1 + 4 + 5, 2 + 3 + 6 + 7]]]])


def test_upsample_errors():
    x = Tensor(np.ones((1, 1, 2, 2)))
    with pytest.raises(ValueError, match="scale_factor must be >= 1"):
        upsample_nearest(x, 0)
    with pytest.raises(TypeError, match="scale_factor must be an int or a pair"):
        upsample_nearest(x, 1.5)
    with pytest.raises(TypeError, match="scale_factor must be an int or a pair"):
        upsample_nearest(x, True)
    with pytest.raises(ValueError, match="input must be 4-D"):
        upsample_nearest(Tensor(np.ones((2, 2))), 2)
