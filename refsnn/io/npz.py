"""NumPy ``.npz`` archives of state dicts, loaded without ever unpickling.

An ``.npz`` file is a zip archive with one ``<name>.npy`` member per array.
A ``.npy`` member may hold an *object* array, which NumPy stores as a pickle —
and unpickling runs whatever callable the file names.  :func:`load_npz`
therefore parses each member's header itself, refuses object (and any other
non-numeric) dtypes before reading a byte of data, and raises
:class:`~refsnn.errors.DataFormatError` naming the file and the member, so a
hostile archive is rejected before any of its code can run.

:func:`save_npz` writes the archive itself (``zipfile`` +
``numpy.lib.format.write_array``), so any parameter name is allowed —
``np.savez(file, **state)`` would choke on a key called ``file`` and silently
swallow one called ``allow_pickle`` — and writes atomically.

>>> import numpy as np, tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "w.npz")
>>> save_npz(p, {"fc1.weight": np.zeros((3, 2), np.float32)})
>>> load_npz(p)["fc1.weight"].shape
(3, 2)
"""

from __future__ import annotations

import ast
import math
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from refsnn.errors import DataFormatError
from refsnn.io.atomic import atomic_write
from refsnn.io.checkpoint import check_state

MAX_NPY_HEADER = 10_000  # NumPy's own default limit for a .npy header
MAX_DEFLATE_RATIO = 1032  # deflate cannot expand more than this (RFC 1951: 258 bytes per 2 bits)
_CHUNK = 1 << 20
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}


def _fail(path, field, problem) -> DataFormatError:
    return DataFormatError(field, problem, path=path)


def _check_layout(path: Path, zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Refuse a prefix before the zip, names other than ``*.npy``, repeats, encryption, odd
    compression and overlapping data.

    Overlapping members let a small archive expand quadratically (a "quoted
    overlap" zip bomb), so each member's bytes must lie in a region of the file
    no other member uses.
    """
    infos, seen, regions = zf.infolist(), set(), []
    size = path.stat().st_size
    with open(path, "rb") as raw:
        if raw.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):  # data before the zip: a polyglot
            raise _fail(path, "archive", "does not start with a zip header (bytes before the archive)")
        for info in infos:
            field = f"member {info.filename!r}"
            if not info.filename.endswith(".npy") or info.is_dir():
                raise _fail(path, field, "is not a .npy array (an .npz archive holds only .npy members)")
            if info.filename in seen:
                raise _fail(path, field, "appears twice in the archive")
            seen.add(info.filename)
            if info.flag_bits & 0x1:
                raise _fail(path, field, "is encrypted")
            if info.compress_type not in _METHODS:
                raise _fail(path, field, f"uses compression method {info.compress_type}; "
                                         "only stored and deflated members are read")
            raw.seek(info.header_offset)
            local = raw.read(30)
            if len(local) < 30 or local[:4] != b"PK\x03\x04":
                raise _fail(path, field, f"has no local header at offset {info.header_offset}")
            n, m = struct.unpack("<HH", local[26:30])
            begin = info.header_offset
            end = begin + 30 + n + m + info.compress_size
            if end > size:
                raise _fail(path, field, f"data ends at byte {end}, past the {size}-byte file")
            regions.append((begin, end, info.filename))
    regions.sort()
    for (_, e0, n0), (b1, _, n1) in zip(regions, regions[1:]):
        if b1 < e0:
            raise _fail(path, f"members {n0!r} and {n1!r}", "overlap in the file (a zip bomb pattern)")
    return infos


def _read_npy_header(path, field, fh) -> tuple[np.dtype, tuple, bool, int]:
    """Parse a ``.npy`` header (versions 1-3) without NumPy's reader: ``(dtype, shape, fortran, size)``."""
    magic = fh.read(8)
    if len(magic) < 8 or magic[:6] != b"\x93NUMPY" or magic[6] not in (1, 2, 3):
        raise _fail(path, field, "is not a .npy array (bad magic or version)")
    width = 2 if magic[6] == 1 else 4
    raw_len = fh.read(width)
    if len(raw_len) < width:
        raise _fail(path, field, "is truncated inside the .npy header")
    (hlen,) = struct.unpack("<H" if width == 2 else "<I", raw_len)
    if hlen > MAX_NPY_HEADER:
        raise _fail(path, field, f"has a {hlen}-byte .npy header; the limit is {MAX_NPY_HEADER}")
    text = fh.read(hlen)
    if len(text) < hlen:
        raise _fail(path, field, "is truncated inside the .npy header")
    try:
        header = ast.literal_eval(text.decode("utf-8" if magic[6] == 3 else "latin1"))
    except (ValueError, SyntaxError, UnicodeDecodeError, RecursionError, MemoryError, TypeError) as exc:
        raise _fail(path, field, f"has an unreadable .npy header ({type(exc).__name__})") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise _fail(path, field, "has a .npy header without exactly descr, fortran_order and shape")
    descr, fortran, shape = header["descr"], header["fortran_order"], header["shape"]
    if not isinstance(fortran, bool):
        raise _fail(path, field, f"has fortran_order {fortran!r:.40}; expected True or False")
    if not isinstance(shape, tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise _fail(path, field, f"has shape {shape!r:.80}; expected a tuple of non-negative ints")
    if isinstance(descr, str) and descr.lstrip("|<>=") == "O":
        raise _fail(path, field, "is an object array, which would need unpickling (arbitrary code "
                                 "execution); refusing to load it")
    try:
        dtype = np.dtype(descr) if isinstance(descr, str) else None
    except (TypeError, ValueError, SyntaxError, OverflowError):
        dtype = None
    if dtype is None or dtype.kind not in "biufc" or dtype.subdtype is not None:
        raise _fail(path, field, f"has dtype {descr!r:.40}; only bool, integer, float and complex are read")
    return dtype, shape, fortran, 8 + width + hlen


def _read_member(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    field = f"member {info.filename[:-4]!r}"
    with zf.open(info) as fh:
        dtype, shape, fortran, offset = _read_npy_header(path, field, fh)
        nbytes = math.prod(shape) * dtype.itemsize
        if offset + nbytes != info.file_size:
            raise _fail(path, field, f"declares shape {shape} of {dtype} ({nbytes} bytes) but holds "
                                     f"{info.file_size - offset} bytes of data")
        limit = info.compress_size * (1 if info.compress_type == zipfile.ZIP_STORED else MAX_DEFLATE_RATIO)
        if info.file_size > limit + 64:
            raise _fail(path, field, f"claims {info.file_size} bytes from {info.compress_size} stored "
                                     "bytes, more than its compression can produce")
        flat = np.empty(math.prod(shape), dtype=dtype)
        view, done = memoryview(flat.view(np.uint8).reshape(-1)), 0
        while done < nbytes:
            got = fh.readinto(view[done:done + _CHUNK])
            if not got:
                raise _fail(path, field, f"is truncated: {done} of {nbytes} data bytes")
            done += got
        if fh.read(1):
            raise _fail(path, field, "has bytes after its array data")
    if dtype.kind == "b" and flat.view(np.uint8).max(initial=0) > 1:
        raise _fail(path, field, "is bool but holds bytes other than 0 and 1")
    return flat.reshape(shape[::-1]).transpose() if fortran else flat.reshape(shape)


def load_npz(path) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` archive into a dict (archive order), never unpickling.

    Raises FileNotFoundError for a missing file and
    :class:`~refsnn.errors.DataFormatError` naming the file and the member for
    anything else: not a zip, a member that is not a numeric ``.npy`` array
    (object arrays are refused before any unpickling), a repeated member, a
    header that declares more data than the member holds, overlapping members
    or a corrupt (CRC) member.  Memory is bounded by the file: nothing is
    allocated before the declared size has been checked against the stored
    size, and the data is decompressed as a stream.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"npz file not found: {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            state = {}
            for info in _check_layout(path, zf):
                state[info.filename[:-4]] = _read_member(path, zf, info)
            return state
    except DataFormatError:
        raise
    except zipfile.BadZipFile as exc:
        raise _fail(path, "archive", f"is not an .npz archive: not a valid zip file ({exc})") from None
    except (OSError, EOFError, ValueError, NotImplementedError, RuntimeError, struct.error, zlib.error,
            UnicodeDecodeError, OverflowError, KeyError) as exc:
        raise _fail(path, "archive", f"is corrupt ({type(exc).__name__}: {exc})") from None


def save_npz(path, state, *, compress: bool = False) -> None:
    """Write ``state`` (name -> numeric array) as an ``.npz`` archive, atomically.

    The path is used as given (NumPy's helpers would append ``.npz``).
    ``compress=True`` deflates each member.
    """
    state = check_state(state)
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_write(path) as tmp, zipfile.ZipFile(tmp, "w", compression=mode, allowZip64=True) as zf:
        for name, arr in state.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)
