"""TGO's membrane constraint: hand values, finite differences, the λ ramp, bad arguments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.defenses import CosineRamp, membrane_constraint, threshold_hinge
from refsnn.testing import gradcheck


def test_hinge_values_by_hand_both_powers():
    h = np.array([0.7, 0.85, 1.0, 1.1, 1.25, -3.0])
    # θ = 1, δ = 0.2: m = max(0, 0.2 − |h − 1|) = 0, 0.05, 0.2, 0.1, 0, 0
    assert np.allclose(threshold_hinge(h, 1.0, 0.2).data, [0, 0.05, 0.2, 0.1, 0, 0])
    assert np.allclose(threshold_hinge(h, 1.0, 0.2, power=2).data, [0, 0.0025, 0.04, 0.01, 0, 0])


@pytest.mark.parametrize("power", [1, 2])
def test_hinge_gradient_matches_finite_differences(power):
    rng = np.random.default_rng(0)
    h = rng.uniform(0.5, 1.5, size=(3, 2, 5))
    m = 0.3 - np.abs(h - 1.0)
    h[np.abs(m) < 1e-3] += 0.01      # keep finite differences off the kinks
    h[np.abs(h - 1.0) < 1e-3] += 0.01
    ht = Tensor(h, requires_grad=True)
    weights = Tensor(np.arange(30.0).reshape(h.shape))
    assert gradcheck(lambda a: (threshold_hinge(a, 1.0, 0.3, power) * weights).sum(), [ht])


def test_constraint_is_the_mean_per_layer_summed_over_layers():
    rng = np.random.default_rng(1)
    layers = [rng.uniform(0, 2, size=(4, 3, 6)), rng.uniform(0, 2, size=(4, 3, 2, 2))]
    got = membrane_constraint(layers, theta=[1.0, 0.8], delta=0.25).data
    by_hand = sum(np.maximum(0, 0.25 - np.abs(h - th)).sum() / h.size for h, th in zip(layers, [1.0, 0.8]))
    assert math.isclose(float(got), by_hand, rel_tol=1e-12)


def test_constraint_gradient_flows_to_each_layer():
    a = Tensor(np.array([[[0.9, 1.3]]]), requires_grad=True)
    b = Tensor(np.array([[[1.05]]]), requires_grad=True)
    membrane_constraint([a, b], theta=1.0, delta=0.2).backward()
    # layer a: mean over 2 → d/dh of (0.2 − |h − 1|)/2 at h = 0.9 is +0.5, at 1.3 zero; layer b: −1
    assert np.allclose(a.grad, [[[0.5, 0.0]]]) and np.allclose(b.grad, [[[-1.0]]])


@pytest.mark.parametrize("kwargs, match", [
    (dict(delta=-0.1), r"delta must be in \[0.0, inf\]"),
    (dict(power=3), "power must be 1"),
    (dict(theta=float("nan")), "theta must be finite"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        threshold_hinge(np.ones(3), **{"theta": 1.0, "delta": 0.2, **kwargs})


def test_constraint_argument_errors():
    with pytest.raises(ValueError, match="no membranes"):
        membrane_constraint([])
    with pytest.raises(ValueError, match="2 thresholds for 1 layers"):
        membrane_constraint([np.ones((1, 1, 2))], theta=[1.0, 2.0])
    with pytest.raises(TypeError, match="floating point"):
        threshold_hinge(np.ones(3, dtype=np.int64))


def test_cosine_ramp_endpoints_midpoint_and_monotone():
    ramp = CosineRamp(lam_max=0.4, epochs=10, lam_min=0.05)
    values = [ramp(e) for e in range(13)]
    assert math.isclose(values[0], 0.05) and math.isclose(values[10], 0.4) and values[12] == values[10]
    assert math.isclose(values[5], (0.05 + 0.4) / 2)
    assert all(b >= a for a, b in zip(values, values[1:]))
    with pytest.raises(ValueError, match="lam_max"):
        CosineRamp(lam_max=-0.1, epochs=3)
    with pytest.raises(ValueError, match="lam_min"):
        CosineRamp(lam_max=0.1, epochs=3, lam_min=0.2)
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        ramp(-1)
