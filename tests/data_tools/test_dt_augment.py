"""Pad-4 random crop + horizontal flip: hand-checked crops and flips, determinism, coverage, errors."""

from __future__ import annotations

import numpy as np
import pytest

from data_tools import crop, hflip, random_crop_flip


def _img():
    return np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)  # [[1 2 3] [4 5 6] [7 8 9]]


@pytest.mark.parametrize("offset,expected", [
    ((1, 1), [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),   # the centre: identity
    ((0, 0), [[0, 0, 0], [0, 1, 2], [0, 4, 5]]),   # shifted down-right, zeros enter top-left
    ((2, 2), [[5, 6, 0], [8, 9, 0], [0, 0, 0]]),
    ((0, 2), [[0, 0, 0], [2, 3, 0], [5, 6, 0]]),
    ((2, 1), [[4, 5, 6], [7, 8, 9], [0, 0, 0]]),
])
def test_crop_by_hand(offset, expected):
    out = crop(_img(), np.array([offset]), padding=1)
    np.testing.assert_array_equal(out[0, 0], np.array(expected, np.float32))
    assert out.dtype == np.float32


def test_crop_per_image_and_channel():
    x = np.stack([_img()[0], 10 * _img()[0]])  # [2, 1, 3, 3]
    x = np.concatenate([x, -x], axis=1)        # two channels
    out = crop(x, np.array([[1, 1], [2, 0]]), padding=1)
    np.testing.assert_array_equal(out[0], x[0])
    np.testing.assert_array_equal(out[1, 0], [[0, 40, 50], [0, 70, 80], [0, 0, 0]])
    np.testing.assert_array_equal(out[1, 1], -out[1, 0])


def test_hflip_by_hand():
    x = np.concatenate([_img(), _img()])
    out = hflip(x, np.array([True, False]))
    np.testing.assert_array_equal(out[0, 0], [[3, 2, 1], [6, 5, 4], [9, 8, 7]])
    np.testing.assert_array_equal(out[1], x[1])
    np.testing.assert_array_equal(x[0, 0, 0], [1, 2, 3])  # input untouched


def test_random_crop_flip_is_seeded_and_uses_the_stated_draws():
    x = np.random.default_rng(0).random((16, 3, 8, 8)).astype(np.float32)
    a, offs, flips = random_crop_flip(x, rng=5, return_params=True)
    np.testing.assert_array_equal(a, random_crop_flip(x, rng=np.random.default_rng(5)))
    assert not np.array_equal(a, random_crop_flip(x, rng=6))
    g = np.random.default_rng(5)
    np.testing.assert_array_equal(offs, g.integers(0, 9, size=(16, 2)))
    np.testing.assert_array_equal(flips, g.random(16) < 0.5)
    np.testing.assert_array_equal(a, hflip(crop(x, offs, 4), flips))


def test_flip_of_crop_is_crop_of_flipped_padded_image():
    x = np.random.default_rng(1).random((4, 2, 5, 6)).astype(np.float32)
    offs = np.array([[0, 0], [3, 8], [8, 2], [4, 4]])
    lhs = hflip(crop(x, offs, 4), np.ones(4, bool))
    mirrored = offs.copy()
    mirrored[:, 1] = 8 - offs[:, 1]
    rhs = crop(x[..., ::-1], mirrored, 4)
    np.testing.assert_array_equal(lhs, rhs)


def test_all_offsets_and_both_flips_occur():
    x = np.zeros((2000, 1, 4, 4), np.float32)
    _, offs, flips = random_crop_flip(x, rng=0, return_params=True)
    assert set(map(tuple, offs)) == {(i, j) for i in range(9) for j in range(9)}
    assert 0.45 < flips.mean() < 0.55
    assert not random_crop_flip(x[:10], rng=0, flip_prob=0.0, return_params=True)[2].any()


def test_augment_errors():
    x = _img()
    with pytest.raises(TypeError, match="needs rng"):
        random_crop_flip(x, rng=None)
    with pytest.raises(ValueError, match="NCHW"):
        random_crop_flip(x[0], rng=0)
    with pytest.raises(ValueError, match="flip_prob"):
        random_crop_flip(x, rng=0, flip_prob=1.5)
    with pytest.raises(ValueError, match=r"offsets must lie in \[0, 2\]"):
        crop(x, np.array([[0, 3]]), padding=1)
    with pytest.raises(ValueError, match="mask must be boolean"):
        hflip(x, np.array([1]))
