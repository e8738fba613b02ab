"""DVS emulator: the closed-path invariant, contrast-threshold counts by hand, events ↔ frames."""

from __future__ import annotations

import numpy as np
import pytest

from data_tools.dvs import dvs_counts, dvs_events, dvs_frames, saccade_path
from data_tools.nmnist import parse_events, to_frames, write_events


def _digit_like():
    rng = np.random.default_rng(1)
    img = np.zeros((2, 28, 28))
    img[0, 6:22, 12:16] = 1.0
    img[1] = np.clip(rng.random((28, 28)) * 1.5 - 0.5, 0, 1)
    return img


def test_path_is_a_closed_triangle_of_unit_speed_steps():
    p = saccade_path(4, 2.0)
    assert p.shape == (13, 2) and np.array_equal(p[0], p[-1]) and np.array_equal(p[0], [-2.0, 0.0])
    assert np.allclose(p[4], [2.0, 2.0]) and np.allclose(p[8], [2.0, -2.0])
    with pytest.raises(ValueError, match="substeps"):
        saccade_path(0, 1.0)


def test_every_pixel_fires_as_many_on_as_off_events():
    counts = dvs_counts(_digit_like())
    assert counts.shape == (2, 30, 34, 34)
    assert np.array_equal(counts.sum(axis=1), np.zeros((2, 34, 34)))
    assert np.abs(counts).sum() > 100


def test_blank_image_gives_no_events_and_threshold_orders_counts():
    assert not dvs_counts(np.zeros((1, 28, 28))).any()
    img = _digit_like()
    low, high = np.abs(dvs_counts(img, threshold=0.2)).sum(), np.abs(dvs_counts(img, threshold=0.6)).sum()
    assert low > high > 0


def test_one_step_counts_by_hand():
    # a 1-px-wide bright column moved right by exactly one pixel per step (substeps 1, amplitude 1 →
    # legs of (2, 1), (0, -2), (-2, 1)): integer shifts, so intensities stay 0 or 1 and every change
    # is ln(1.1) - ln(0.1) = ln 11 = 2.398; at C = 0.5, trunc(4.796) = 4 events per change.
    img = np.zeros((1, 5, 5))
    img[0, :, 2] = 1.0
    counts = dvs_counts(img, substeps=1, amplitude=1.0, pad=1, threshold=0.5)
    changed = np.abs(counts[0, 0])
    assert set(np.unique(changed).tolist()) <= {0, 4} and changed.sum() > 0
    # first step: the column (padded x = 3, rows 0..4 after the (-1, 0) start) moves to x = 4, rows 2..6:
    # row 3 brightens at x = 4 (ON) and darkens at x = 3 (OFF)
    assert counts[0, 0, 3, 4] == 4 and counts[0, 0, 3, 3] == -4


def test_frames_equal_binned_events_and_file_roundtrip(tmp_path):
    img = _digit_like()[0]
    ev = dvs_events(img, duration_us=300_000)
    assert np.all(np.diff(ev["t"]) >= 0) and ev["t"].max() == 300_000
    back = parse_events(write_events(tmp_path / "d.bin", ev).read_bytes())
    assert np.array_equal(back, ev)
    frames = dvs_frames(img[None], steps=3)[0]
    assert np.array_equal(frames.sum(axis=0), to_frames(ev, 1)[0])
    # per-saccade windows: step k (1-based, K = 30) lies in window (k-1)*3//30 for frames and in
    # the event file's time bins the same, since t = k·10 ms and the span is [10, 300] ms
    assert frames[:, 1].sum() == (ev["p"] == 1).sum() and frames[:, 0].sum() == (ev["p"] == 0).sum()


@pytest.mark.parametrize("bad, match", [
    (np.zeros((28, 28)), r"\[N, H, W\]"),
    (np.full((1, 4, 4), 2.0), r"lie in \[0, 1\]"),
    (np.full((1, 4, 4), np.nan), "NaN"),
])
def test_bad_images_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        dvs_counts(bad)


def test_amplitude_must_fit_in_padding():
    with pytest.raises(ValueError, match="amplitude"):
        dvs_counts(np.zeros((1, 4, 4)), amplitude=4.0, pad=3)
