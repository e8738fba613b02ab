"""Decoders: hand values, gradients through the differentiable readouts, first-spike times, errors."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.encoding import (
    decode,
    first_spike_time,
    mean_membrane,
    spike_count,
    summed_membrane,
)

S = np.array([[[0, 1, 0]], [[1, 1, 0]], [[0, 1, 0]], [[1, 0, 0]]], np.float32)  # [T=4, B=1, 3]


def test_spike_count_and_first_spike_by_hand():
    assert spike_count(S).data.tolist() == [[2.0, 3.0, 0.0]]
    ft = first_spike_time(S)
    assert ft.dtype == np.int64 and ft.data.tolist() == [[1, 0, 4]]  # never fired → T = 4
    assert not ft.requires_grad
    assert spike_count(S.astype(np.uint8)).data.tolist() == [[2.0, 3.0, 0.0]]
    assert first_spike_time(S.astype(bool)).data.tolist() == [[1, 0, 4]]


def test_membrane_readouts_and_gradients(rng):
    U0 = rng.standard_normal((5, 2, 3))
    g = rng.standard_normal((2, 3))
    U = Tensor(U0.copy(), requires_grad=True)
    (summed_membrane(U) * g).sum().backward()
    np.testing.assert_allclose(summed_membrane(U0).data, U0.sum(axis=0))
    np.testing.assert_allclose(U.grad, np.broadcast_to(g, U0.shape))  # d/dU[t] Σ_t U = 1
    U = Tensor(U0.copy(), requires_grad=True)
    (mean_membrane(U) * g).sum().backward()
    np.testing.assert_allclose(mean_membrane(U0).data, U0.mean(axis=0))
    np.testing.assert_allclose(U.grad, np.broadcast_to(g / 5, U0.shape))
    Sg = Tensor(S.astype(np.float64), requires_grad=True)
    spike_count(Sg).sum().backward()
    np.testing.assert_allclose(Sg.grad, np.ones(S.shape))


def test_decode_dispatch():
    np.testing.assert_array_equal(decode(S).data, spike_count(S).data)
    np.testing.assert_array_equal(decode(S, "count").data, spike_count(S).data)
    np.testing.assert_array_equal(decode(S, "mean_membrane").data, S.mean(axis=0))
    np.testing.assert_array_equal(decode(S, "sum_membrane").data, S.sum(axis=0))
    np.testing.assert_array_equal(decode(S, "first_spike").data, [[1, 0, 4]])
    with pytest.raises(ValueError, match="unknown method 'vote'"):
        decode(S, "vote")


def test_errors():
    with pytest.raises(ValueError, match="T >= 1"):
        spike_count(np.float32(1.0))
    with pytest.raises(ValueError, match="T >= 1"):
        mean_membrane(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="NaN"):
        summed_membrane(np.array([[np.nan]]))
    with pytest.raises(TypeError, match="numeric"):
        first_spike_time(np.array([["a"]]))
