"""Seeded batching, splits, stratified subsets and normalization."""

from __future__ import annotations

import numpy as np
import pytest

from data_tools.batches import (
    batch_iterator,
    normalize,
    standardize,
    stratified_subset,
    train_val_split,
)


def _data(n=23):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    return x, np.arange(n)


def test_every_sample_once_per_pass():
    x, y = _data()
    batches = list(batch_iterator(x, y, 5, rng=3))
    assert [len(b) for _, b in batches] == [5, 5, 5, 5, 3]
    seen = np.concatenate([b for _, b in batches])
    np.testing.assert_array_equal(np.sort(seen), y)
    assert not np.array_equal(seen, y)  # actually shuffled
    for xb, yb in batches:  # x rows travel with their labels
        np.testing.assert_array_equal(xb[:, 0], 2 * yb)


def test_seeded_determinism_and_generator_advances():
    x, y = _data()
    a = [b for _, b in batch_iterator(x, y, 4, rng=7)]
    b = [b for _, b in batch_iterator(x, y, 4, rng=np.random.default_rng(7))]
    c = [b for _, b in batch_iterator(x, y, 4, rng=8)]
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not all(np.array_equal(p, q) for p, q in zip(a, c, strict=True))
    gen = np.random.default_rng(7)
    epoch1 = np.concatenate([b for _, b in batch_iterator(x, y, 4, rng=gen)])
    epoch2 = np.concatenate([b for _, b in batch_iterator(x, y, 4, rng=gen)])
    np.testing.assert_array_equal(epoch1, np.concatenate(a))
    assert not np.array_equal(epoch1, epoch2)
    np.testing.assert_array_equal(epoch1, np.random.default_rng(7).permutation(23))


def test_no_shuffle_and_drop_last():
    x, y = _data(10)
    batches = [b for _, b in batch_iterator(x, y, 4, shuffle=False)]
    np.testing.assert_array_equal(np.concatenate(batches), np.arange(10))
    dropped = [b for _, b in batch_iterator(x, y, 4, rng=0, drop_last=True)]
    assert [len(b) for b in dropped] == [4, 4]


def test_batch_iterator_errors():
    x, y = _data(6)
    with pytest.raises(TypeError, match="needs rng"):
        next(batch_iterator(x, y, 2))
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        next(batch_iterator(x, y, 0, rng=0))
    with pytest.raises(ValueError, match="x has 6 samples but y has 5"):
        next(batch_iterator(x, y[:5], 2, rng=0))
    with pytest.raises(TypeError, match="rng must be"):
        next(batch_iterator(x, y, 2, rng="seed"))


def test_normalize_by_hand():
    x = np.array([[[[1.0]], [[4.0]]]], dtype=np.float32)  # [1, 2, 1, 1]
    out = normalize(x, mean=[1.0, 2.0], std=[0.5, 4.0])
    np.testing.assert_array_equal(out.ravel(), [0.0, 0.5])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(normalize(np.array([3, 5], np.uint8), 1, 2), [1.0, 2.0])
    with pytest.raises(ValueError, match="std must be finite and > 0"):
        normalize(x, 0.0, 0.0)
    with pytest.raises(ValueError, match="one value per channel"):
        normalize(x, [1.0, 2.0, 3.0], 1.0)


def test_standardize_per_channel(rng):
    x = (rng.standard_normal((50, 3, 4, 4)) * [[[[1.0]], [[5.0]], [[0.1]]]] + 7).astype(np.float32)
    z, mean, std = standardize(x)
    assert mean.shape == (3,) and std.shape == (3,)
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1.0, atol=1e-5)
    np.testing.assert_allclose(normalize(x, mean, std), z, rtol=1e-6)
    z_all, m_all, s_all = standardize(x, per_channel=False)
    np.testing.assert_allclose(m_all, x.astype(np.float64).mean(), rtol=1e-6)
    _, _, s_const = standardize(np.ones((4, 2)))  # constant input: std floored, no division by 0
    assert np.all(s_const > 0)


def test_train_val_split():
    x, y = _data(20)
    (xt, yt), (xv, yv) = train_val_split(x, y, 0.25, rng=1)
    assert len(yv) == 5 and len(yt) == 15
    np.testing.assert_array_equal(np.sort(np.concatenate([yt, yv])), np.arange(20))
    np.testing.assert_array_equal(xv[:, 0], 2 * yv)
    (_, yt2), (_, yv2) = train_val_split(x, y, 0.25, rng=1)
    np.testing.assert_array_equal(yv, yv2)
    labels = np.repeat(np.arange(4), 10)
    (_, lt), (_, lv) = train_val_split(np.zeros((40, 1)), labels, 0.3, rng=2, stratify=True)
    np.testing.assert_array_equal(np.bincount(lv), [3, 3, 3, 3])
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\), got 1.5"):
        train_val_split(x, y, 1.5, rng=0)
    with pytest.raises(ValueError, match="empty part"):
        train_val_split(x[:2], y[:2], 0.1, rng=0)


def test_stratified_subset():
    labels = np.repeat(np.arange(3), [5, 7, 4])
    x = np.arange(16) * 10
    xs, ys, idx = stratified_subset(x, labels, 3, rng=0, return_indices=True)
    np.testing.assert_array_equal(np.bincount(ys), [3, 3, 3])
    np.testing.assert_array_equal(xs, idx * 10)
    np.testing.assert_array_equal(ys, labels[idx])
    assert np.all(np.diff(idx) > 0)
    xs2, _ = stratified_subset(x, labels, 3, rng=0)
    np.testing.assert_array_equal(xs, xs2)
    with pytest.raises(ValueError, match="class 2 has 4 samples, fewer than per_class=5"):
        stratified_subset(x, labels, 5, rng=0)
    with pytest.raises(TypeError, match="needs rng"):
        stratified_subset(x, labels, 2, rng=None)
