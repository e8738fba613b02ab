"""Backdoor triggers and poisoning: each checked by hand or against a second formula."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.attacks.backdoor import (
    apply_trigger,
    badnet,
    blend,
    blend_pattern,
    clean_label,
    dual_spike_split,
    noise_trigger,
    poison,
    power_trigger,
    wanet,
    wanet_grid,
)


def _imgs(n=4, c=1, h=8, w=8, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)


def test_dual_spike_split_sizes_disjoint_and_seeded():
    y = np.array([0, 1, 1, 2, 1, 1, 0, 1, 1, 1, 1, 2])  # 8 samples of target 1
    parts = dual_spike_split(y, target=1, ratio=0.25, rng=3)
    assert parts["target_poison"].size == 2 and parts["target_clean"].size == 6
    assert parts["nontarget"].tolist() == [0, 3, 6, 11]
    union = np.concatenate(list(parts.values()))
    assert np.array_equal(np.sort(union), np.arange(12))
    assert np.all(y[parts["target_poison"]] == 1)
    again = dual_spike_split(y, target=1, ratio=0.25, rng=3)
    assert np.array_equal(again["target_poison"], parts["target_poison"])
    for bad, match in [(1.5, r"ratio P must be in \[0.0, 1.0\]"), (-0.1, "ratio P")]:
        with pytest.raises(ValueError, match=match):
            dual_spike_split(y, 1, bad, rng=0)
    with pytest.raises(ValueError, match="no sample has the target label 7"):
        dual_spike_split(y, 7, 0.1, rng=0)
    with pytest.raises(TypeError, match="needs rng"):
        dual_spike_split(y, 1, 0.1, rng=None)


def test_power_trigger_is_x_to_the_q():
    x = np.array([0.0, 0.25, 0.5, 1.0], np.float32).reshape(1, 1, 2, 2)
    assert power_trigger(x, q=2).ravel().tolist() == [0.0, 0.0625, 0.25, 1.0]
    assert np.array_equal(power_trigger(x, q=1), x)
    with pytest.raises(ValueError, match="q must be > 0"):
        power_trigger(x, q=0)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        power_trigger(x * 3, q=2)


def test_noise_trigger_bounds_and_seed():
    frames = np.random.default_rng(0).integers(0, 2, (2, 3, 2, 4, 4)).astype(np.float32)
    out = noise_trigger(frames, rng=5, beta=0.03)
    eps = np.random.default_rng(5).uniform(-0.03, 0.03, size=frames.shape).astype(np.float32)
    assert np.array_equal(out, np.clip(frames + eps, 0, 1))
    assert np.abs(out - frames).max() <= 0.03 + 1e-7 and out.min() >= 0 and out.max() <= 1
    assert (out[frames == 0] > 0).any() and (out[frames == 1] < 1).any()
    with pytest.raises(ValueError, match=r"\[N, T, 2, H, W\]"):
        noise_trigger(frames[0], rng=0)
    with pytest.raises(ValueError, match="beta"):
        noise_trigger(frames, rng=0, beta=0)


def test_badnet_and_blend_by_hand():
    x = _imgs(2, 3)
    b = badnet(x)
    assert np.all(b[:, :, -3:, -3:] == 1) and np.array_equal(b[:, :, :5], x[:, :, :5])
    assert np.array_equal(b[:, :, :, :5], x[:, :, :, :5])
    pattern = blend_pattern((3, 8, 8), rng=1)
    assert np.allclose(blend(x, pattern, 0.2), 0.8 * x + 0.2 * pattern, atol=1e-7)
    with pytest.raises(ValueError, match="pattern shape"):
        blend(x, pattern[:1])
    with pytest.raises(ValueError, match="patch size 9"):
        badnet(x, size=9)


def test_wanet_identity_grid_and_one_pixel_shift():
    x = _imgs(2, 2)
    axis = np.linspace(-1, 1, 8)
    identity = np.stack(np.meshgrid(axis, axis, indexing="ij"))
    assert np.allclose(wanet(x, identity), x, atol=1e-6)
    shifted = identity.copy()
    shifted[1] = np.clip(shifted[1] + 2 / 7, -1, 1)  # sample one column to the right
    out = wanet(x, shifted)
    assert np.allclose(out[..., :-1], x[..., 1:], atol=1e-6) and np.allclose(out[..., -1], x[..., -1])


def test_wanet_grid_is_a_small_seeded_warp():
    g = wanet_grid(16, rng=0, k=4, s=0.5)
    axis = np.linspace(-1, 1, 16)
    identity = np.stack(np.meshgrid(axis, axis, indexing="ij"))
    disp = np.abs(g - identity)
    assert g.shape == (2, 16, 16) and disp.max() > 0 and np.abs(g).max() <= 1
    assert disp.max() < 0.5 * 4 / 16  # s·|field|/H; |field| = |u|/mean|u| stays below 4 for this seed
    assert np.array_equal(g, wanet_grid(16, rng=0)) and not np.array_equal(g, wanet_grid(16, rng=1))
    x = _imgs(3, 1, 16, 16)
    noisy = wanet(x, g, noise_rng=2)
    assert not np.allclose(noisy, wanet(x, g)) and noisy.min() >= 0 and noisy.max() <= 1


def test_poison_relabels_a_seeded_subset_of_non_target_samples():
    x, y = _imgs(10), np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    xp, yp, idx = poison(x, y, badnet, target=2, ratio=0.3, rng=4)
    assert idx.size == 3 and np.all(y[idx] != 2) and np.all(yp[idx] == 2)
    rest = np.setdiff1d(np.arange(10), idx)
    assert np.array_equal(xp[rest], x[rest]) and np.array_equal(yp[rest], y[rest])
    assert np.array_equal(xp[idx], badnet(x[idx]))
    with pytest.raises(ValueError, match="only 7 are not of the target class"):
        poison(x, y, badnet, target=2, ratio=0.8, rng=0)


def test_trigger_leaving_the_range_is_refused():
    x = _imgs(2)
    with pytest.raises(ValueError, match=r"leaves the valid range \[0, 1\]"):
        apply_trigger(lambda v: v + 0.5, x)
    with pytest.raises(ValueError, match="output shape"):
        apply_trigger(lambda v: v[:, :, :4], x)
    with pytest.raises(ValueError, match="non-finite"):
        apply_trigger(lambda v: v * np.nan, x)


def test_clean_label_adds_patch_after_the_attack():
    x, y = _imgs(2), np.array([1, 1])
    out = clean_label(x, y, attack=lambda a, b: a + 0.01)
    assert np.allclose(out[:, :, :5, :5], np.clip(x + 0.01, 0, 1)[:, :, :5, :5])
    assert np.all(out[:, :, -3:, -3:] == 1)
