"""Image primitives on ``NCHW`` arrays: conv2d, avg_pool2d, max_pool2d, upsample_nearest.

Sizes follow PyTorch (``ceil_mode=False``): with input height ``H``, kernel
``k``, stride ``s`` and padding ``p`` the output height is
``H_out = (H + 2p − k) // s + 1`` (the same for widths).  ``kernel_size``,
``stride`` and ``padding`` take an ``int`` or an ``(h, w)`` pair.

The convolution is im2col + one matrix product: every ``k_h×k_w`` window of
every input channel becomes one column, so ``conv = W_2d @ cols``.  The
adjoint of im2col (col2im) adds each column back onto the window it came
from — a loop over the ``k_h·k_w`` kernel offsets, each adding one strided
slice.  The pools use the same offset loop.

>>> import numpy as np
>>> from refsnn.autograd import Tensor
>>> x = Tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
>>> max_pool2d(x, 2).data[0, 0]
array([[ 5.,  7.],
       [13., 15.]], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from refsnn.autograd.function import Function
from refsnn.autograd.tensor import Tensor
from refsnn.backend import xp_of


def _pad(x, ph: int, pw: int, value=0.0):
    """``x [N,C,H,W]`` padded by ``ph`` rows / ``pw`` columns on each side with ``value``."""
    if ph == 0 and pw == 0:
        return x
    xp = xp_of(x)
    out = xp.full(x.shape[:2] + (x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), value, x.dtype)
    out[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]] = x
    return out


def _window(a: int, b: int, sh: int, sw: int, ho: int, wo: int):
    """The index of the input pixels that kernel offset ``(a, b)`` touches, one per output."""
    return (slice(None), slice(None), slice(a, a + sh * (ho - 1) + 1, sh),
            slice(b, b + sw * (wo - 1) + 1, sw))


def _col2im(dcols, shape, stride, padding):
    """col2im: ``dcols [C, kh, kw, N, Ho, Wo]`` added back onto a zero ``[N, C, H, W]``.

    Entry ``dcols[c, a, b, n, i, j]`` is added to padded pixel ``(s_h·i + a, s_w·j + b)``.
    """
    xp = xp_of(dcols)
    c, kh, kw, n, ho, wo = dcols.shape
    (sh, sw), (ph, pw) = stride, padding
    out = xp.zeros((n, c, shape[2] + 2 * ph, shape[3] + 2 * pw), dtype=dcols.dtype)
    out_cn = out.transpose(1, 0, 2, 3)  # a [C, N, H, W] view of the same memory
    for a in range(kh):
        for b in range(kw):
            out_cn[_window(a, b, sh, sw, ho, wo)] += dcols[:, a, b]
    return out[:, :, ph : ph + shape[2], pw : pw + shape[3]]


class Conv2d(Function):
    """2-D cross-correlation (PyTorch ``conv2d``, groups = 1).

    ``out[n, o, i, j] = b[o] + Σ_{c,a,b'} W[o, c, a, b'] · xpad[n, c, s_h·i + a, s_w·j + b']``

    Shapes: ``x [N, C, H, W]``, ``weight [O, C, kh, kw]``, ``bias [O]`` or ``None``
    → ``out [N, O, H_out, W_out]``.  With ``M = N·H_out·W_out`` output pixels,
    ``cols [C·kh·kw, M]`` (im2col: one column per output pixel, holding the
    window it sees) and ``W2 = weight.reshape(O, C·kh·kw)``, everything is a
    plain 2-D BLAS product (batched products are far slower in NumPy):

    * forward ``out2 = W2 @ cols`` ``[O, M]``, moved to ``NCHW``, ``+ bias``;
    * ``dW2 = G2 @ colsᵀ`` with ``G2 = g`` as ``[O, M]``; ``dbias = Σ_{n,i,j} g``;
    * ``dcols = W2ᵀ @ G2``, then ``dx = col2im(dcols)``.

    Example: a 1×1 kernel of weight 2 doubles every pixel.
    """

    def forward(self, x, weight, bias, stride, padding):
        xp = xp_of(x, weight)
        o, c, kh, kw = weight.shape
        (sh, sw), (ph, pw) = stride, padding
        xpad = _pad(x, ph, pw)
        win = xp.lib.stride_tricks.sliding_window_view(xpad, (kh, kw), axis=(2, 3))
        win = win[:, :, ::sh, ::sw]  # [N, C, Ho, Wo, kh, kw], a view
        n, _, ho, wo = win.shape[:4]
        cols = win.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, n * ho * wo)  # the copy
        w2 = weight.reshape(o, c * kh * kw)
        out = xp.ascontiguousarray((w2 @ cols).reshape(o, n, ho, wo).transpose(1, 0, 2, 3))
        if bias is not None:
            out += bias.reshape(1, o, 1, 1)
        self.cols, self.w2, self.x_shape, self.w_shape = cols, w2, x.shape, weight.shape
        self.stride, self.padding = stride, padding
        return out

    def backward(self, g):
        n, o, ho, wo = g.shape
        g2 = g.transpose(1, 0, 2, 3).reshape(o, n * ho * wo)  # copies: [O, M]
        dx = dw = db = None
        if self.needs_input_grad[0]:
            _, c, kh, kw = self.w_shape
            dcols = (self.w2.T @ g2).reshape(c, kh, kw, n, ho, wo)
            dx = _col2im(dcols, self.x_shape, self.stride, self.padding)
        if self.needs_input_grad[1]:
            dw = (g2 @ self.cols.T).reshape(self.w_shape)
        if self.needs_input_grad[2]:
            db = g2.sum(axis=1)
        return dx, dw, db, None, None


class AvgPool2d(Function):
    """Mean over each ``kh×kw`` window; zero padding counts in the divisor (PyTorch default).

    ``out[n, c, i, j] = (1 / kh·kw) Σ_{a,b} xpad[n, c, s_h·i + a, s_w·j + b]``,
    ``[N, C, H, W] → [N, C, H_out, W_out]``.  Backward: every pixel of a window
    receives ``g[n, c, i, j] / (kh·kw)`` (overlapping windows add up).

    Example: kernel 2 on ``[[1, 2], [3, 4]]`` gives ``[[2.5]]``.
    """

    def forward(self, x, kernel, stride, padding, out_hw):
        (kh, kw), (sh, sw), (ph, pw), (ho, wo) = kernel, stride, padding, out_hw
        xpad = _pad(x, ph, pw)
        out = xpad[_window(0, 0, sh, sw, ho, wo)].copy()
        for a in range(kh):
            for b in range(kw):
                if a or b:
                    out += xpad[_window(a, b, sh, sw, ho, wo)]
        out *= x.dtype.type(1.0 / (kh * kw))
        self.x_shape, self.opts = x.shape, (kernel, stride, padding, out_hw)
        return out

    def backward(self, g):
        xp = xp_of(g)
        (kh, kw), (sh, sw), (ph, pw), (ho, wo) = self.opts
        share = g * g.dtype.type(1.0 / (kh * kw))
        n, c, h, w = self.x_shape
        dx = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
        for a in range(kh):
            for b in range(kw):
                dx[_window(a, b, sh, sw, ho, wo)] += share
        return dx[:, :, ph : ph + h, pw : pw + w], None, None, None, None


class MaxPool2d(Function):
    """Max over each ``kh×kw`` window, padding with ``−inf``.

    ``out[n, c, i, j] = max_{a,b} xpad[n, c, s_h·i + a, s_w·j + b]``.  Backward
    routes ``g[n, c, i, j]`` to the first maximal pixel of the window (row-major
    kernel order, as PyTorch); other pixels get nothing.  Forward keeps only
    the running maximum (fast inference); backward finds the first pixel equal
    to it, offset by offset.

    Example: kernel 2 on ``[[1, 5], [3, 4]]`` gives ``[[5]]``; the gradient is
    ``[[0, g], [0, 0]]``.
    """

    def forward(self, x, kernel, stride, padding, out_hw):
        xp = xp_of(x)
        (kh, kw), (sh, sw), (ph, pw), (ho, wo) = kernel, stride, padding, out_hw
        xpad = _pad(x, ph, pw, value=-np.inf)
        best = xpad[_window(0, 0, sh, sw, ho, wo)].copy()
        for a in range(kh):
            for b in range(kw):
                if a or b:
                    xp.maximum(best, xpad[_window(a, b, sh, sw, ho, wo)], out=best)
        self.xpad, self.best, self.x_shape = xpad, best, x.shape
        self.opts = (kernel, stride, padding, out_hw)
        return best

    def backward(self, g):
        xp = xp_of(g)
        (kh, kw), (sh, sw), (ph, pw), (ho, wo) = self.opts
        n, c, h, w = self.x_shape
        disjoint = sh >= kh and sw >= kw  # each pixel in at most one window: assign, not add
        dx = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
        taken = xp.zeros(g.shape, dtype=bool)
        for a in range(kh):
            for b in range(kw):
                win = _window(a, b, sh, sw, ho, wo)
                hit = self.xpad[win] == self.best
                hit &= ~taken  # only the first maximum of each window
                taken |= hit
                if disjoint:
                    xp.multiply(g, hit, out=dx[win])
                else:
                    dx[win] += g * hit
        return dx[:, :, ph : ph + h, pw : pw + w], None, None, None, None


class UpsampleNearest(Function):
    """Nearest-neighbour upsampling by integer factors ``(f_h, f_w)``.

    ``out[n, c, i, j] = x[n, c, i // f_h, j // f_w]``, ``[N, C, H, W] → [N, C, f_h·H, f_w·W]``.
    Backward sums each ``f_h×f_w`` block of ``g`` back onto its source pixel.

    Example: factor 2 turns ``[[1, 2]]`` into ``[[1, 1, 2, 2], [1, 1, 2, 2]]``.
    """

    def forward(self, x, factor):
        xp = xp_of(x)
        n, c, h, w = x.shape
        fh, fw = self.factor = factor
        out = xp.broadcast_to(x[:, :, :, None, :, None], (n, c, h, fh, w, fw))
        return out.reshape(n, c, h * fh, w * fw)

    def backward(self, g):
        n, c, hh, ww = g.shape
        fh, fw = self.factor
        return g.reshape(n, c, hh // fh, fh, ww // fw, fw).sum(axis=(3, 5)), None


# ---------------------------------------------------------------- entry points
def _pair(op: str, name: str, value, minimum: int) -> tuple[int, int]:
    """``value`` (int or ``(h, w)``) as a pair of ints ``>= minimum``, else a clear error."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair
    ):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if any(v < minimum for v in pair):
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_image(op: str, x) -> None:
    data = x.data if isinstance(x, Tensor) else x
    if data.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D [N, C, H, W], got shape {tuple(data.shape)}")
    if data.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating, got dtype {data.dtype}")


def _out_size(op: str, hw, kernel, stride, padding) -> tuple[int, int]:
    out = tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(hw, kernel, stride, padding))
    if min(out) <= 0:
        raise ValueError(
            f"{op}: output size {out} is not positive for input {tuple(hw)}, kernel {kernel}, "
            f"stride {stride}, padding {padding}"
        )
    return out


def conv2d(x, weight, bias=None, stride=1, padding=0) -> Tensor:
    """Convolve ``x [N, C, H, W]`` with ``weight [O, C, kh, kw]`` (+ ``bias [O]``); see :class:`Conv2d`."""
    _check_image("conv2d", x)
    w = weight.data if isinstance(weight, Tensor) else weight
    xd = x.data if isinstance(x, Tensor) else x
    if w.ndim != 4:
        raise ValueError(f"conv2d: weight must be 4-D [O, C, kh, kw], got shape {tuple(w.shape)}")
    if w.shape[1] != xd.shape[1]:
        raise ValueError(
            f"conv2d: weight expects {w.shape[1]} input channels, input has {xd.shape[1]} "
            f"(x {tuple(xd.shape)}, weight {tuple(w.shape)})"
        )
    if w.dtype != xd.dtype:
        raise TypeError(f"conv2d: mismatched dtypes x {xd.dtype} and weight {w.dtype}; cast one")
    if bias is not None:
        b = bias.data if isinstance(bias, Tensor) else bias
        if tuple(b.shape) != (w.shape[0],):
            raise ValueError(f"conv2d: bias must have shape ({w.shape[0]},), got {tuple(b.shape)}")
        if b.dtype != xd.dtype:
            raise TypeError(f"conv2d: mismatched dtypes x {xd.dtype} and bias {b.dtype}; cast one")
    stride = _pair("conv2d", "stride", stride, 1)
    padding = _pair("conv2d", "padding", padding, 0)
    _out_size("conv2d", xd.shape[2:], w.shape[2:], stride, padding)
    return Conv2d.apply(x, weight, bias, stride, padding)


def _pool_args(op, x, kernel_size, stride, padding):
    _check_image(op, x)
    kernel = _pair(op, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None else _pair(op, "stride", stride, 1)
    padding = _pair(op, "padding", padding, 0)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(
            f"{op}: padding {padding} must be at most half the kernel size {kernel}"
        )
    hw = (x.data if isinstance(x, Tensor) else x).shape[2:]
    return kernel, stride, padding, _out_size(op, hw, kernel, stride, padding)


def avg_pool2d(x, kernel_size, stride=None, padding=0) -> Tensor:
    """Average pooling of ``x [N, C, H, W]``; ``stride`` defaults to ``kernel_size``."""
    return AvgPool2d.apply(x, *_pool_args("avg_pool2d", x, kernel_size, stride, padding))


def max_pool2d(x, kernel_size, stride=None, padding=0) -> Tensor:
    """Max pooling of ``x [N, C, H, W]``; ``stride`` defaults to ``kernel_size``."""
    return MaxPool2d.apply(x, *_pool_args("max_pool2d", x, kernel_size, stride, padding))


def upsample_nearest(x, scale_factor) -> Tensor:
    """Repeat each pixel of ``x [N, C, H, W]`` ``scale_factor`` times along H and W (int or pair)."""
    _check_image("upsample_nearest", x)
    return UpsampleNearest.apply(x, _pair("upsample_nearest", "scale_factor", scale_factor, 1))
