"""N-MNIST event files: bit layout by hand, round trips, directory loading, binning, hostile bytes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_tools.errors import DataFormatError
from data_tools.nmnist import (
    EVENT_DTYPE,
    encode_events,
    load_nmnist,
    parse_events,
    read_events,
    to_frames,
    write_events,
)


def _events(rows):
    ev = np.empty(len(rows), EVENT_DTYPE)
    for i, (t, x, y, p) in enumerate(rows):
        ev[i] = (t, x, y, p)
    return ev


def test_bit_layout_by_hand():
    # x = 7, y = 33, ON, t = 0x12345 µs: bytes 07 21 | 1<<7 | 0x01, 0x23, 0x45
    blob = bytes([7, 33, 0x80 | 0x01, 0x23, 0x45, 0, 1, 0x7F, 0xFF, 0xFF])
    ev = parse_events(blob)
    assert ev.tolist() == [(0x12345, 7, 33, 1), ((1 << 23) - 1, 0, 1, 0)]
    assert encode_events(ev) == blob


def test_truncated_record_names_the_event_and_file(tmp_path):
    f = tmp_path / "00001.bin"
    f.write_bytes(encode_events(_events([(1, 2, 3, 1), (4, 5, 6, 0)]))[:-2])
    with pytest.raises(DataFormatError, match=r"00001\.bin: event 1 is truncated: 8 bytes.*3 of 5"):
        read_events(f)


def test_address_outside_sensor_refused():
    with pytest.raises(DataFormatError, match="event 1 has y = 34, outside the 34x34 sensor"):
        parse_events(bytes([1, 1, 0, 0, 0, 1, 34, 0, 0, 0]))
    assert parse_events(bytes([1, 34, 0, 0, 0]), sensor=(35, 35))["y"].tolist() == [34]


def test_encode_refuses_out_of_range_fields():
    with pytest.raises(ValueError, match="event 0 has t = 8388608"):
        encode_events(_events([(1 << 23, 0, 0, 0)]))
    with pytest.raises(ValueError, match="event 1 has p = 2"):
        encode_events(_events([(0, 0, 0, 0), (0, 0, 0, 2)]))
    with pytest.raises(ValueError, match="expected a 1-D array with fields"):
        encode_events(np.zeros(3))


def test_missing_file_and_directory_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.bin"):
        read_events(tmp_path / "nope.bin")
    with pytest.raises(FileNotFoundError, match="no Train/ directory"):
        load_nmnist(tmp_path, "train")
    with pytest.raises(ValueError, match="split must be"):
        load_nmnist(tmp_path, "val")


def test_load_directory_in_digit_then_name_order(tmp_path):
    rng = np.random.default_rng(0)
    written = {}
    for digit in (0, 3, 9):
        d = tmp_path / "Test" / str(digit)
        d.mkdir(parents=True)
        for i in range(2):
            n = int(rng.integers(1, 20))
            ev = _events(list(zip(np.sort(rng.integers(0, 300_000, n)), rng.integers(0, 34, n),
                             rng.integers(0, 34, n), rng.integers(0, 2, n))))
            write_events(d / f"{i:05d}.bin", ev)
            written[(digit, i)] = ev
    events, labels = load_nmnist(tmp_path, "test")
    assert labels.tolist() == [0, 0, 3, 3, 9, 9]
    expected = [written[k] for k in sorted(written)]
    assert all(np.array_equal(a, b) for a, b in zip(events, expected))
    assert load_nmnist(tmp_path, "test", limit=1)[1].tolist() == [0, 3, 9]


def test_frames_count_every_event_in_its_window():
    ev = _events([(100, 0, 0, 1), (100, 0, 0, 1), (150, 5, 6, 0), (199, 33, 33, 1), (200, 1, 2, 0)])
    f = to_frames(ev, 4)  # span 101 µs from t=100: windows by (t-100)*4//101 = 0, 0, 1, 3, 3
    assert f.shape == (4, 2, 34, 34) and f.sum() == len(ev)
    assert f[0, 1, 0, 0] == 2 and f[1, 0, 6, 5] == 1 and f[3, 1, 33, 33] == 1 and f[3, 0, 2, 1] == 1
    assert to_frames(ev[:0], 3).sum() == 0
    with pytest.raises(ValueError, match="steps must be >= 1"):
        to_frames(ev, 0)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_parse_or_refuse(blob):
    try:
        ev = parse_events(blob)
    except DataFormatError as err:
        assert err.field.startswith("event ")
        return
    assert len(ev) * 5 == len(blob) and encode_events(ev) == blob
