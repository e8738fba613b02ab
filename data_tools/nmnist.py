"""N-MNIST event files: read, write, load a directory, bin into frames.

N-MNIST (Orchard et al. 2015) recorded MNIST digits with an ATIS event camera
moved in three saccades; each sample is one binary file, a list of events of
**5 bytes (40 bits)** each, big-endian bit numbering::

    bits 39–32  x address (pixels, 0-based)
    bits 31–24  y address
    bit  23     polarity (1 = ON, brightness up; 0 = OFF)
    bits 22–0   timestamp (microseconds)

An event becomes one row of the structured array :data:`EVENT_DTYPE`
``(t int64 µs, x int16, y int16, p int8)``.  The sensor crop is 34×34, so by
default an address ≥ 34 is refused (as is a file whose length is not a
multiple of 5 — a truncated last record), with a
:class:`~data_tools.errors.DataFormatError` naming the file and the event.

Directory layout of the original archive: ``Train/<digit>/<id>.bin`` and
``Test/<digit>/<id>.bin``.

Binning (:func:`to_frames`): the span ``[t_first, t_last]`` is cut into ``T``
equal windows ``k = min(⌊(t − t_first)·T / (t_last − t_first + 1)⌋, T − 1)``
and each window counts its ON and OFF events per pixel,
``frames[k, p, y, x] += 1`` → ``[T, 2, H, W]`` (channel 0 = OFF, 1 = ON).

>>> ev = np.zeros(3, EVENT_DTYPE)
>>> ev["t"], ev["x"], ev["y"], ev["p"] = [0, 5, 9], [1, 2, 33], [0, 3, 33], [1, 0, 1]
>>> back = parse_events(encode_events(ev))
>>> bool((back == ev).all()), to_frames(back, 2).sum(axis=(1, 2, 3)).tolist()
(True, [1.0, 2.0])
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from data_tools.errors import DataFormatError

__all__ = ["EVENT_DTYPE", "SENSOR", "parse_events", "encode_events", "read_events", "write_events",
           "load_nmnist", "to_frames"]

EVENT_DTYPE = np.dtype([("t", np.int64), ("x", np.int16), ("y", np.int16), ("p", np.int8)])
SENSOR = (34, 34)  # (height, width) of the N-MNIST crop
MAX_TIMESTAMP = (1 << 23) - 1
RECORD = 5


def parse_events(blob: bytes, path=None, sensor=SENSOR) -> np.ndarray:
    """Events of one N-MNIST file's bytes as an ``EVENT_DTYPE`` array ``[E]`` (file order kept)."""
    raw = np.frombuffer(blob, dtype=np.uint8)
    if raw.size % RECORD:
        whole = raw.size // RECORD
        raise DataFormatError(f"event {whole}", f"is truncated: {raw.size} bytes is not a multiple of "
                              f"{RECORD} (the last record has {raw.size % RECORD} of {RECORD} bytes)",
                              path=path)
    rec = raw.reshape(-1, RECORD).astype(np.int64)
    events = np.empty(rec.shape[0], EVENT_DTYPE)
    events["x"], events["y"] = rec[:, 0], rec[:, 1]
    events["p"] = rec[:, 2] >> 7
    events["t"] = ((rec[:, 2] & 0x7F) << 16) | (rec[:, 3] << 8) | rec[:, 4]
    height, width = sensor
    for axis, limit in (("x", width), ("y", height)):
        bad = np.flatnonzero(events[axis] >= limit)
        if bad.size:
            i = int(bad[0])
            raise DataFormatError(f"event {i}", f"has {axis} = {int(events[axis][i])}, outside the "
                                  f"{height}x{width} sensor ({bad.size} such events)", path=path)
    return events


def encode_events(events: np.ndarray, sensor=SENSOR) -> bytes:
    """The 40-bit records of ``events`` (the inverse of :func:`parse_events`); checks every field."""
    events = np.asarray(events)
    if events.dtype.names is None or set(events.dtype.names) != set(EVENT_DTYPE.names) or events.ndim != 1:
        raise ValueError(f"encode_events: expected a 1-D array with fields {EVENT_DTYPE.names}, "
                         f"got dtype {events.dtype} shape {events.shape}")
    height, width = sensor
    limits = {"t": MAX_TIMESTAMP, "x": width - 1, "y": height - 1, "p": 1}
    for name, hi in limits.items():
        col = events[name].astype(np.int64)
        bad = np.flatnonzero((col < 0) | (col > hi))
        if bad.size:
            raise ValueError(f"encode_events: event {int(bad[0])} has {name} = {int(col[bad[0]])}, "
                             f"outside [0, {hi}]")
    t = events["t"].astype(np.int64)
    rec = np.empty((events.size, RECORD), np.uint8)
    rec[:, 0], rec[:, 1] = events["x"], events["y"]
    rec[:, 2] = (events["p"].astype(np.int64) << 7) | (t >> 16)
    rec[:, 3], rec[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    return rec.tobytes()


def read_events(path, sensor=SENSOR) -> np.ndarray:
    """:func:`parse_events` of the file at ``path`` (a missing file is a FileNotFoundError naming it)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"N-MNIST event file not found: {path}")
    return parse_events(path.read_bytes(), path=path, sensor=sensor)


def write_events(path, events: np.ndarray, sensor=SENSOR) -> Path:
    """Write ``events`` as an N-MNIST ``.bin`` file, atomically (temp file + rename)."""
    path = Path(path)
    blob = encode_events(events, sensor)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(blob)
    os.replace(tmp, path)
    return path


def load_nmnist(root, split: str = "train", sensor=SENSOR, limit: int | None = None):
    """``(events, labels)`` of ``root/Train`` or ``root/Test``: a list of event arrays and int64 labels.

    Digits ``0..9`` are the sub-directories; files are taken in sorted order
    per digit (``limit`` caps the count per digit).  A missing directory is a
    FileNotFoundError naming it; a corrupt file a DataFormatError naming it.
    """
    names = {"train": "Train", "test": "Test"}
    if split not in names:
        raise ValueError(f"load_nmnist: split must be 'train' or 'test', got {split!r}")
    base = Path(root) / names[split]
    if not base.is_dir():
        raise FileNotFoundError(f"load_nmnist: no {names[split]}/ directory under {root} "
                                f"(expected {names[split]}/<digit>/<id>.bin)")
    events, labels = [], []
    for digit in range(10):
        files = sorted((base / str(digit)).glob("*.bin"))
        for f in files[:limit]:
            events.append(read_events(f, sensor))
            labels.append(digit)
    if not events:
        raise DataFormatError(names[split], "holds no <digit>/*.bin files", path=root)
    return events, np.asarray(labels, np.int64)


def to_frames(events: np.ndarray, steps: int, sensor=SENSOR, dtype=np.float32) -> np.ndarray:
    """Event counts in ``steps`` equal time windows: ``[T, 2, H, W]`` (channel = polarity)."""
    if int(steps) < 1:
        raise ValueError(f"to_frames: steps must be >= 1, got {steps}")
    steps = int(steps)
    height, width = sensor
    frames = np.zeros((steps, 2, height, width), dtype)
    if events.size == 0:
        return frames
    t = events["t"].astype(np.int64)
    t0, span = int(t.min()), int(t.max() - t.min()) + 1
    k = np.minimum((t - t0) * steps // span, steps - 1)
    np.add.at(frames, (k, events["p"].astype(np.int64), events["y"].astype(np.int64),
                       events["x"].astype(np.int64)), 1)
    return frames
