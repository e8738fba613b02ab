"""The SNN-crafted input gradient (Sharmin et al. §3.3, Eq. 5–6, Algorithm 1).

A rate-coded SNN cuts the graph at its encoder: the spikes ``S [T, B, C, H, W]``
are Bernoulli draws of ``x``, so autograd cannot reach ``x``.  Sharmin et al.
route the gradient around the encoder through the first convolution.  With
``X_rate = (1/T) Σ_t S[t]`` the time-averaged input and ``W [O, C, kh, kw]``
the conv1 weight,

    Eq. 5   ``X_conv1 ≈ Conv(X_rate, W)``                       ``[B, O, H', W']``
    Eq. 6   ``∂J/∂X ≈ ∂J/∂X_rate = Conv(∂J/∂X_conv1, W^{180°})``  ``[B, C, H, W]``

where ``∂J/∂X_conv1 = Σ_t ∂J/∂Z[t]`` accumulates, over every step, the BPTT
gradient at the conv1 output ``Z[t] = Conv(S[t], W)`` (Algorithm 1), and the
convolution with the 180°-rotated kernel is the transpose (adjoint) of conv1:
``dX[n, c] = Σ_o full_corr(G[n, o], rot180(W[o, c]))``.  Only its sign enters
FGSM/PGD, so the choice of ``Σ_t`` rather than a mean (a factor ``T``) is
immaterial.

:func:`conv1_input_gradient` computes Eq. 6 two ways: ``method="autograd"``
runs the existing conv2d backward (col2im of ``W2ᵀ · G``), bit-identical to the
input gradient autograd gives a plain conv1; ``method="rot180"`` is the direct
formula — dilate ``G`` by the stride, pad by ``k − 1 − p``, correlate with
``rot180(W)`` with in/out channels swapped — equal to it up to float rounding.
:class:`Conv1Route` wraps a model split as ``encode → conv1 → rest`` so any
:class:`~refsnn.attacks.base.Attack` (FGSM, PGD) uses this route.
"""

from __future__ import annotations

import numpy as np

from refsnn import autograd as ag
from refsnn.attacks.base import attack_mode
from refsnn.autograd import Tensor
from refsnn.backend import xp_of

METHODS = ("autograd", "rot180")


def _data(a):
    return a.data if isinstance(a, Tensor) else a


def _pair(v):
    return (int(v), int(v)) if np.isscalar(v) else (int(v[0]), int(v[1]))


def _pad_or_crop(a, axis: int, before: int, after: int):
    """Pad ``a`` with zeros along ``axis`` (negative amounts crop)."""
    xp = xp_of(a)
    n = a.shape[axis]
    idx = [slice(None)] * a.ndim
    idx[axis] = slice(max(-before, 0), n - max(-after, 0))
    a = a[tuple(idx)]
    widths = [(0, 0)] * a.ndim
    widths[axis] = (max(before, 0), max(after, 0))
    return xp.pad(a, widths)


def conv1_input_gradient(grad_conv1, weight, input_hw, stride=1, padding=0, method: str = "autograd"):
    """Eq. 6: the input gradient ``[B, C, H, W]`` from ``∂J/∂X_conv1`` ``[B, O, H', W']`` and ``W``.

    ``weight [O, C, kh, kw]`` (array or Tensor), ``input_hw = (H, W)`` of the
    input, ``stride``/``padding`` as conv1's (int or pair).  ``method`` is
    ``"autograd"`` (conv2d backward) or ``"rot180"`` (direct formula, module docstring).
    """
    if method not in METHODS:
        raise ValueError(f"conv1_input_gradient: method must be one of {METHODS}, got {method!r}")
    g, w = _data(grad_conv1), _data(weight)
    if g.ndim != 4 or w.ndim != 4 or g.shape[1] != w.shape[0]:
        raise ValueError(f"conv1_input_gradient: expected grad [B, O, H', W'] and weight [O, C, kh, kw] "
                         f"with the same O, got {tuple(g.shape)} and {tuple(w.shape)}")
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    (kh, kw), (h, wd) = w.shape[2:], _pair(input_hw)
    ho, wo = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    if g.shape[2:] != (ho, wo):
        raise ValueError(f"conv1_input_gradient: grad spatial size {tuple(g.shape[2:])} does not match conv1 "
                         f"output {(ho, wo)} for input {(h, wd)}, kernel {(kh, kw)}, stride {(sh, sw)}, "
                         f"padding {(ph, pw)}")
    xp = xp_of(g)
    if method == "autograd":
        x0 = Tensor(xp.zeros((g.shape[0], w.shape[1], h, wd), g.dtype), requires_grad=True)
        with ag.enable_grad():
            ag.conv2d(x0, Tensor(w), None, stride=(sh, sw), padding=(ph, pw)).backward(g)
        return x0.grad
    gd = xp.zeros(g.shape[:2] + ((ho - 1) * sh + 1, (wo - 1) * sw + 1), g.dtype)
    gd[:, :, ::sh, ::sw] = g
    rh, rw = (h + 2 * ph - kh) % sh, (wd + 2 * pw - kw) % sw  # rows/cols conv1 never reached
    gd = _pad_or_crop(gd, 2, kh - 1 - ph, kh - 1 - ph + rh)
    gd = _pad_or_crop(gd, 3, kw - 1 - pw, kw - 1 - pw + rw)
    w_rot = xp.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))  # [C, O, kh, kw]
    with ag.no_grad():
        return ag.conv2d(Tensor(gd), Tensor(w_rot)).data


class Conv1Route:
    """A model split as ``encode → conv1 → rest`` whose input gradient follows Algorithm 1.

    Parameters
    ----------
    encode : callable ``x [B, C, H, W] -> S [T, B, C, H, W]`` (e.g. Poisson/rate spikes; no gradient needed).
    conv1 : the first convolution, a :class:`~refsnn.nn.Conv2d` (``weight``, ``stride``,
        ``padding``; its bias, if any, does not change the gradient).
    rest : callable ``Z [T, B, O, H', W'] (Tensor) -> output`` — everything after conv1
        (neurons, later layers, decoder).
    method : how Eq. 6 is evaluated, ``"autograd"`` (default) or ``"rot180"``.

    Calling the route runs the whole model (``rest(conv1(encode(x)))``), so it
    also serves as a transfer target.
    """

    def __init__(self, encode, conv1, rest, method: str = "autograd"):
        for name, f in (("encode", encode), ("rest", rest)):
            if not callable(f):
                raise TypeError(f"Conv1Route: {name} must be callable, got {type(f).__name__}")
        if getattr(conv1, "weight", None) is None or _data(conv1.weight).ndim != 4:
            raise TypeError("Conv1Route: conv1 must be a Conv2d-like object with a 4-D weight [O, C, kh, kw]")
        if method not in METHODS:
            raise ValueError(f"Conv1Route: method must be one of {METHODS}, got {method!r}")
        self.encode, self.conv1, self.rest, self.method = encode, conv1, rest, method

    def _conv1_currents(self, x):
        """``Z [T, B, O, H', W']`` = conv1 of every step's spikes (no graph)."""
        s = _data(self.encode(_data(x)))
        if s.ndim != 5:
            raise ValueError(f"Conv1Route: encode must return spikes [T, B, C, H, W], got shape "
                             f"{tuple(s.shape)}")
        t, b = s.shape[:2]
        w = _data(self.conv1.weight)
        with ag.no_grad():
            z = self.conv1(Tensor(s.reshape((t * b,) + s.shape[2:]).astype(w.dtype, copy=False)))
        return _data(z).reshape((t, b) + _data(z).shape[1:])

    def __call__(self, x):
        with ag.no_grad():
            return self.rest(Tensor(self._conv1_currents(x)))

    def input_gradient(self, x, y, loss):
        """Algorithm 1: ``G = Σ_t ∂J/∂Z[t]`` by BPTT through ``rest``, then Eq. 6 → ``[B, C, H, W]``."""
        z = Tensor(self._conv1_currents(x), requires_grad=True)
        with ag.enable_grad(), attack_mode(self.rest):
            cost = loss(self.rest(z), y)
            if not isinstance(cost, Tensor) or not cost.requires_grad:
                raise RuntimeError("Conv1Route: the loss carries no gradient with respect to the conv1 "
                                   "output; rest must be differentiable (surrogate gradients)")
            cost.backward()
        g = z.grad.sum(axis=0)
        x_data = _data(x)
        dx = conv1_input_gradient(g, self.conv1.weight, x_data.shape[2:], self.conv1.stride,
                                  self.conv1.padding, self.method)
        return dx.astype(x_data.dtype, copy=False)
