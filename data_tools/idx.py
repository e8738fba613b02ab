"""IDX files (the MNIST container format): read and write, raw or gzip-compressed.

Layout (all integers big-endian)::

    bytes 0-1   0x00 0x00                  always zero
    byte  2     dtype code                 0x08 uint8, 0x09 int8, 0x0B int16,
                                           0x0C int32, 0x0D float32, 0x0E float64
    byte  3     ndim                       1 for labels, 3 for images
    4*ndim      the dimensions, uint32 each (n, rows, cols for images)
    rest        prod(dims) * itemsize bytes of data, row-major

So MNIST images start with the magic ``0x00000803`` and labels with
``0x00000801``. A file is gzip-compressed when it starts with the gzip magic
``1f 8b`` — the file name is not consulted.

Every problem with a file raises :class:`IDXFormatError` (a ``ValueError``)
whose message names the file and says what was expected and what was found;
a missing file raises ``FileNotFoundError`` naming the path.

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "x-idx3-ubyte.gz")
>>> write_idx(path, np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
>>> read_idx(path).shape
(2, 3, 4)
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from data_tools.errors import DataFormatError

__all__ = ["IDXFormatError", "read_idx", "parse_idx", "write_idx", "GZIP_MAGIC", "IDX_DTYPES"]

GZIP_MAGIC = b"\x1f\x8b"
_BLOCK = 1 << 20  # read / decompress 1 MiB at a time

# IDX dtype code -> big-endian numpy dtype
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_KIND = {(np.dtype(d).kind, np.dtype(d).itemsize): c for c, d in IDX_DTYPES.items()}


class IDXFormatError(DataFormatError):
    """An IDX file is corrupt, truncated, compressed badly or of the wrong kind."""


def _fail(name: str, field: str, problem: str):
    raise IDXFormatError(field, problem, path=name)


def _read_upto(stream, n: int, name: str) -> bytearray:
    """At most ``n`` bytes of ``stream``, read in 1 MiB blocks (memory grows only with real data)."""
    out = bytearray()
    try:
        while len(out) < n:
            block = stream.read(min(_BLOCK, n - len(out)))
            if not block:
                break
            out += block
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        _fail(name, "gzip stream", f"is not a valid gzip stream (starts with the gzip magic 1f 8b; "
              f"{type(exc).__name__}: {exc})")
    return out


def _parse_stream(handle, size: int, name: str, expect_ndim, expect_dtype) -> np.ndarray:
    """Decode the IDX file open in ``handle`` (``size`` bytes on disk); see :func:`parse_idx`."""
    gzipped = handle.read(2) == GZIP_MAGIC
    handle.seek(0)
    stream = gzip.GzipFile(fileobj=handle, mode="rb") if gzipped else handle
    head = _read_upto(stream, 4, name)
    if len(head) < 4:
        _fail(name, "header", f"is too short: expected at least a 4-byte IDX header, found {len(head)} bytes")
    code, ndim = head[2], head[3]
    if head[:2] != b"\x00\x00" or code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        _fail(name, "magic", f"0x{head.hex().upper()} is a bad IDX magic: expected 0x0000 followed by a "
              f"dtype code ({known}) and ndim (e.g. 0x00000803 images, 0x00000801 labels)")
    if ndim == 0:
        _fail(name, "magic", f"0x{head.hex().upper()} declares 0 dimensions")
    if expect_ndim is not None and ndim != expect_ndim:
        _fail(name, "ndim", f"is wrong: expected {expect_ndim} dimension(s) "
              f"(magic 0x0000{code:02X}{expect_ndim:02X}), found {ndim} (magic 0x{head.hex().upper()})")
    dtype = IDX_DTYPES[code]
    if expect_dtype is not None and dtype.newbyteorder("=") != np.dtype(expect_dtype):
        _fail(name, "dtype", f"is wrong: expected dtype {np.dtype(expect_dtype)}, found "
              f"{dtype.newbyteorder('=')} (code 0x{code:02X})")
    dim_bytes = _read_upto(stream, 4 * ndim, name)
    if len(dim_bytes) < 4 * ndim:
        _fail(name, "dims", f"are a truncated header: {ndim} dimensions need {4 + 4 * ndim} header "
              f"bytes, found {4 + len(dim_bytes)}")
    dims = struct.unpack(f">{ndim}I", dim_bytes)
    expected = math.prod(dims) * dtype.itemsize  # exact Python int: 4 x 65536 does not wrap to 0
    if not gzipped:  # the file's size is known: check it before reading anything
        found = size - 4 - 4 * ndim
        if found != expected:
            what = "truncated" if found < expected else "extra bytes after the data"
            _fail(name, "data", f"is {what}: dims {tuple(dims)} x {dtype.itemsize} byte(s) need "
                  f"{expected} data bytes, found {found}")
    # decompress as a stream and stop one byte past the declared size
    data = _read_upto(stream, expected + 1, name)
    if len(data) != expected:
        what, found = ("truncated", f"{len(data)}") if len(data) < expected \
            else ("extra bytes after the data", f"more than {expected}")
        _fail(name, "data", f"is {what}: dims {tuple(dims)} x {dtype.itemsize} byte(s) need "
              f"{expected} data bytes, found {found}")
    if gzipped:  # a corrupt CRC or trailer is only seen at the end of the stream
        _read_upto(stream, 1, name)
    array = np.frombuffer(data, dtype=dtype).reshape(dims)
    if dtype.itemsize == 1:
        return array  # a writable view of ``data``: no second copy
    return array.astype(dtype.newbyteorder("="))


def parse_idx(
    raw: bytes,
    name: str = "<bytes>",
    expect_ndim: int | None = None,
    expect_dtype: np.dtype | str | None = None,
) -> np.ndarray:
    """Decode IDX bytes (raw or gzip) into a native-endian ndarray.

    ``name`` is used in error messages. ``expect_ndim`` / ``expect_dtype``
    (for example ``3`` and ``"uint8"`` for MNIST images) turn a
    well-formed file of the wrong kind into an :class:`IDXFormatError` too.
    The sizes the header declares are checked before the data is read; a
    gzip stream is decompressed block by block and never past the declared
    size + 1 byte, so no allocation exceeds what the header declares.
    """
    raw = bytes(raw)
    return _parse_stream(io.BytesIO(raw), len(raw), name, expect_ndim, expect_dtype)


def read_idx(
    path: str | os.PathLike,
    expect_ndim: int | None = None,
    expect_dtype: np.dtype | str | None = None,
) -> np.ndarray:
    """Read an IDX file (gzip detected by its magic bytes) into a native-endian ndarray.

    Raises ``FileNotFoundError`` (naming the path) when the file is absent and
    :class:`IDXFormatError` when it is malformed; see :func:`parse_idx`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    with open(path, "rb") as handle:
        return _parse_stream(handle, os.fstat(handle.fileno()).st_size, str(path),
                             expect_ndim, expect_dtype)


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file; gzip it when ``compress`` (default: name ends in ``.gz``).

    The gzip header carries no file name and mtime 0, so the same array always
    gives the same bytes. Supported dtypes: uint8, int8, int16, int32, float32,
    float64, with 1 to 255 dimensions each below 2**32.
    """
    path = Path(path)
    array = np.asarray(array)
    key = (array.dtype.kind, array.dtype.itemsize)
    if key not in _CODE_OF_KIND:
        raise TypeError(
            f"write_idx: array dtype {array.dtype} has no IDX code; use one of "
            f"{sorted(str(d.newbyteorder('=')) for d in IDX_DTYPES.values())}"
        )
    if not 1 <= array.ndim <= 255 or any(d >= 2**32 for d in array.shape):
        raise ValueError(f"write_idx: shape {array.shape} cannot be stored in IDX")
    code = _CODE_OF_KIND[key]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as gz:
            gz.write(payload)
        payload = buffer.getvalue()
    path.write_bytes(payload)
