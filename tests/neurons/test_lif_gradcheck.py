"""Whole-layer BPTT gradchecks in smooth-twin mode (float64 central differences).

``smooth=True`` replaces the output ``Θ`` by the surrogate's primitive, whose
derivative is the surrogate, so the analytic BPTT of the NumPy twin must equal
finite differences of the forward exactly (up to O(h²)).  A detached reset
uses the hard ``Θ`` (piecewise constant: zero derivative almost everywhere),
so ``detach_reset=True`` is checked too.  Every form, both reset modes,
``detach_reset`` True and False, T ∈ {1, 3, 7}, all smooth surrogates (cycled),
gradients through both the spikes and the returned membrane.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.neurons.lif import lif_decay, lif_delayed, lif_immediate, lif_sj, plif
from refsnn.neurons.surrogate import ArcTan, FastSigmoid, Linear, Sigmoid, Triangle
from refsnn.testing import gradcheck

SURROGATES = [FastSigmoid(k=3.0), ArcTan(alpha=1.5), Sigmoid(alpha=2.0), Triangle(gamma=1.2),
              Linear(a=0.4)]
TS = (1, 3, 7)


def _cases(n_modes):
    """(mode, detach, T, surrogate) with the surrogate cycled over all combinations."""
    combos = list(itertools.product(range(n_modes), (True, False), TS))
    return [(m, d, T, SURROGATES[i % len(SURROGATES)]) for i, (m, d, T) in enumerate(combos)]


def _check(fn, T, seed, scale=1.0, extra=()):
    rng = np.random.default_rng(seed)
    x = Tensor(scale * (0.8 * rng.standard_normal((T, 2, 3)) + 0.5), requires_grad=True)
    v = rng.standard_normal((T, 2, 3))

    def f(x, *rest):
        s, u = fn(x, *rest)
        return s + u * v  # gradient enters through the spikes and through the membrane

    assert gradcheck(f, [x, *extra], eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("mode,detach,T,sg", _cases(2), ids=str)
def test_form1_delayed(mode, detach, T, sg):
    reset = ("subtract", "zero")[mode]
    _check(lambda x: lif_delayed(x, beta=0.8, theta=1.0, reset=reset, surrogate=sg,
                                 detach_reset=detach, return_membrane=True, smooth=True),
           T, seed=T + 10 * mode)


@pytest.mark.parametrize("mode,detach,T,sg", _cases(2), ids=str)
def test_form2_immediate(mode, detach, T, sg):
    reset = ("soft", "hard")[mode]
    _check(lambda x: lif_immediate(x, lam=0.9, theta=1.0, reset=reset, v_reset=-0.3,
                                   surrogate=sg, detach_reset=detach, return_membrane=True,
                                   smooth=True),
           T, seed=T + 10 * mode + 1)


@pytest.mark.parametrize("mode,detach,T,sg", _cases(1), ids=str)
def test_form3_decay(mode, detach, T, sg):
    _check(lambda x: lif_decay(x, v_thr=0.9, tau=0.6, surrogate=sg, detach_reset=detach,
                               return_membrane=True, smooth=True),
           T, seed=T + 2)


@pytest.mark.parametrize("mode,detach,T,sg", _cases(4), ids=str)
def test_form4_sj(mode, detach, T, sg):
    v_reset = (0.0, None)[mode % 2]
    decay_input = mode < 2
    _check(lambda x: lif_sj(x, tau=1.8, v_threshold=1.0, v_reset=v_reset,
                            decay_input=decay_input, surrogate=sg, detach_reset=detach,
                            return_membrane=True, smooth=True),
           T, seed=T + 10 * mode + 3, scale=1.5)


@pytest.mark.parametrize("mode,detach,T,sg", _cases(4), ids=str)
def test_plif_gradient_to_x_and_w(mode, detach, T, sg):
    w = Tensor(np.array(-0.4), requires_grad=True)
    _check(lambda x, w: plif(x, w, v_threshold=1.0, v_reset=(-0.1, None)[mode % 2],
                             decay_input=mode < 2, surrogate=sg, detach_reset=detach,
                             return_membrane=True, smooth=True),
           T, seed=T + 10 * mode + 4, scale=1.5, extra=(w,))


def test_smooth_mode_differs_from_hard_mode_only_in_spikes():
    """Smooth spikes are the primitive of U − θ; the hard run thresholds the same U (T = 1)."""
    x = np.array([[0.3, 1.4, 0.9]])
    s_hard, u_hard = lif_delayed(x, return_membrane=True)
    s_soft, u_soft = lif_delayed(x, surrogate=FastSigmoid(k=2.0), return_membrane=True,
                                 smooth=True)
    np.testing.assert_array_equal(u_hard.data, u_soft.data)
    np.testing.assert_allclose(s_soft.data, 0.5 + (x - 1) / (1 + 2 * np.abs(x - 1)))
    assert s_hard.data.tolist() == [[0.0, 1.0, 0.0]]
