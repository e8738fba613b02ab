"""Netpbm greymaps and pixmaps (PGM ``P2``/``P5``, PPM ``P3``/``P6``), parsed strictly.

Layout (the netpbm specification)::

    magic       P2 (grey, ASCII)  P5 (grey, binary)  P3 (RGB, ASCII)  P6 (RGB, binary)
    whitespace, then width, height, maxval as ASCII decimals separated by whitespace;
                a ``#`` starts a comment that runs to the end of the line
    one whitespace byte after maxval, then the raster, row-major, channels interleaved:
                binary: 1 byte per sample if maxval < 256, else 2 bytes big-endian
                ASCII:  decimals separated by whitespace

What is checked, before any pixel array is allocated: the magic; each header
number is 1 to 10 digits, width and height >= 1, ``1 <= maxval <= 65535``;
the raster holds exactly ``width x height x channels`` samples (binary: the
exact byte count, ASCII: at least 2 bytes per sample are present); then every
sample is ``<= maxval`` (a larger one is an error, never clipped).

Samples are returned as uint8 on the 0..255 scale: ``maxval == 255`` is taken
as is, any other ``maxval`` (16-bit ones included) is rescaled,
``round(v * 255 / maxval)`` with halves rounded up. Every problem raises
:class:`~data_tools.errors.DataFormatError` naming the file and the field.

>>> read_netpbm_bytes(b"P2 2 1 4 0 4").tolist()
[[0, 255]]
>>> read_netpbm_bytes(b"P5 1 1 65535\\n" + bytes([128, 0])).tolist()
[[128]]
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from data_tools.errors import DataFormatError

__all__ = ["read_netpbm", "read_netpbm_bytes", "is_netpbm", "CHANNELS"]

CHANNELS = {b"P2": 1, b"P5": 1, b"P3": 3, b"P6": 3}
_WHITESPACE = b" \t\n\r\v\f"


def is_netpbm(head: bytes) -> bool:
    """True when ``head`` starts with one of the magics this module reads."""
    return head[:2] in CHANNELS


def _header(raw: bytes, name: str) -> tuple[bytes, int, int, int, int]:
    """``(magic, width, height, maxval, raster offset)``."""
    magic = raw[:2]
    if magic not in CHANNELS:
        hint = " (P1/P4 bitmaps and P7 are not supported)" if magic in (b"P1", b"P4", b"P7") else ""
        raise DataFormatError("magic", f"{magic!r} is not a PGM/PPM magic P2, P3, P5 or P6{hint}",
                              path=name)
    values, pos = [], 2
    for field in ("width", "height", "maxval"):
        while True:  # whitespace and comments before the number
            while pos < len(raw) and raw[pos] in _WHITESPACE:
                pos += 1
            if pos < len(raw) and raw[pos:pos + 1] == b"#":
                end = raw.find(b"\n", pos)
                pos = len(raw) if end < 0 else end + 1
                continue
            break
        start = pos
        while pos < len(raw) and 48 <= raw[pos] <= 57 and pos - start <= 10:
            pos += 1
        token = raw[start:pos]
        if not token or pos - start > 10 or (pos < len(raw) and raw[pos] not in _WHITESPACE):
            shown = raw[start:start + 12]
            raise DataFormatError(field, f"must be a decimal number of at most 10 digits, "
                                  f"found {shown!r} at byte {start}", path=name)
        values.append(int(token))
    width, height, maxval = values
    if width < 1 or height < 1:
        raise DataFormatError("size", f"{width}x{height} is empty", path=name)
    if not 1 <= maxval <= 65535:
        raise DataFormatError("maxval", f"must be in [1, 65535], found {maxval}", path=name)
    if pos >= len(raw) and magic in (b"P5", b"P6"):
        raise DataFormatError("header", "ends without the whitespace byte before the raster", path=name)
    return magic, width, height, maxval, pos + 1


def _ascii_samples(body: bytes, count: int, name: str) -> np.ndarray:
    if count > (len(body) + 1) // 2:  # each sample takes a digit and a separator
        raise DataFormatError("raster", f"needs {count} ASCII samples, the file has only "
                              f"{len(body)} bytes left", path=name)
    codes = np.frombuffer(body, np.uint8)
    digit = (codes >= 48) & (codes <= 57)
    if not np.all(digit | np.isin(codes, np.frombuffer(_WHITESPACE, np.uint8))):
        bad = int(np.flatnonzero(~digit & ~np.isin(codes, np.frombuffer(_WHITESPACE, np.uint8)))[0])
        raise DataFormatError("raster", f"has a non-digit byte {body[bad:bad + 1]!r} at raster "
                              f"byte {bad}", path=name)
    breaks = np.flatnonzero(~digit)
    runs = np.diff(np.concatenate(([-1], breaks, [len(body)]))) - 1
    if runs.size and runs.max() > 5:
        raise DataFormatError("raster", "has a sample of more than 5 digits (maxval <= 65535)",
                              path=name)
    found = int(np.count_nonzero(runs))
    if found != count:
        raise DataFormatError("raster", f"holds {found} samples, the header declares {count}",
                              path=name)
    # only digits and whitespace, exactly ``count`` runs of 1-5 digits: ``sep`` parsing is exact
    return np.fromstring(body, dtype=np.int64, sep=" ")


def read_netpbm_bytes(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode PGM/PPM bytes -> uint8 ``[H, W]`` (PGM) or ``[H, W, 3]`` (PPM); see the module doc."""
    raw = bytes(raw)
    magic, width, height, maxval, offset = _header(raw, name)
    channels = CHANNELS[magic]
    count = width * height * channels
    body = raw[offset:]
    if magic in (b"P5", b"P6"):
        dtype = np.dtype(">u2") if maxval > 255 else np.dtype("u1")
        need = count * dtype.itemsize
        if len(body) != need:
            what = "truncated" if len(body) < need else "followed by extra bytes"
            raise DataFormatError("raster", f"is {what}: {width}x{height}x{channels} samples of "
                                  f"{dtype.itemsize} byte(s) need {need} bytes, found {len(body)}",
                                  path=name)
        samples = np.frombuffer(body, dtype=dtype)
    else:
        samples = _ascii_samples(body, count, name)
    top = int(samples.max())
    if top > maxval:
        at = int(np.argmax(samples))
        raise DataFormatError("raster", f"sample {at} is {top}, above maxval {maxval}", path=name)
    if maxval == 255:
        pixels = samples.astype(np.uint8)
    else:
        pixels = ((samples.astype(np.uint64) * 255 + maxval // 2) // maxval).astype(np.uint8)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return pixels.reshape(shape)


def read_netpbm(path: str | os.PathLike) -> np.ndarray:
    """Read a PGM/PPM file; ``FileNotFoundError`` when absent, else see :func:`read_netpbm_bytes`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    return read_netpbm_bytes(path.read_bytes(), str(path))

