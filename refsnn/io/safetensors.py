"""Read and write ``.safetensors`` files directly — no ``safetensors`` or ``torch`` package needed.

The format (https://github.com/huggingface/safetensors) is three parts::

    bytes 0..8          N, the header length, an unsigned 64-bit little-endian integer
    bytes 8..8+N        a UTF-8 JSON object (padded with spaces, conventionally to a
                        multiple of 8 so the data section starts aligned):
                          {"fc1.weight": {"dtype": "F32", "shape": [3000, 784],
                                          "data_offsets": [0, 9408000]},
                           ...,
                           "__metadata__": {"format": "pt"}}     (str -> str, optional)
    bytes 8+N..end      the data section: each tensor's raw little-endian, row-major
                        bytes at [begin, end) relative to the start of this section

so a tensor with ``shape`` and ``dtype`` must span exactly
``prod(shape) * itemsize`` bytes.  BF16 (bfloat16, the top 16 bits of an IEEE
float32) has no NumPy dtype; it is widened on load by shifting each 16-bit word
into the high half of a 32-bit word: ``f32_bits = u16 << 16`` (exact).

Nothing here executes code from the file: the header is JSON and the payload
is raw numbers.  The header must be unambiguous (no name twice) and the
tensors must tile the data section exactly — no overlap, no hole, no trailing
bytes, the format's own rule against polyglot files — and nothing is read
beyond the file's bytes.  Every malformed file raises
:class:`~refsnn.errors.DataFormatError` (a ValueError) naming the file and,
where it applies, the tensor.

>>> import numpy as np, tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "w.safetensors")
>>> save_safetensors(p, {"fc.weight": np.ones((2, 3), np.float32)}, metadata={"format": "pt"})
>>> state, meta = load_safetensors(p)
>>> state["fc.weight"].shape, meta
((2, 3), {'format': 'pt'})
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np

from refsnn.errors import DataFormatError
from refsnn.io.atomic import atomic_write
from refsnn.io.checkpoint import check_state

# safetensors dtype tag -> little-endian NumPy dtype of the stored bytes
DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # raw bits; widened to float32 on load
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
# NumPy dtype (native or little-endian) -> tag, for writing
_TAGS = {np.dtype(dt).newbyteorder("<"): tag for tag, dt in DTYPES.items() if tag != "BF16"}
MAX_HEADER_BYTES = 100_000_000  # the reference implementation's limit


def bf16_to_float32(bits: np.ndarray) -> np.ndarray:
    """Widen raw bfloat16 bit patterns (uint16) to float32: ``u32 = u16 << 16``.

    >>> bf16_to_float32(np.array([0x3F80, 0xC000], dtype=np.uint16))  # 1.0, -2.0
    array([ 1., -2.], dtype=float32)
    """
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


def _fail(path, field: str, problem: str) -> DataFormatError:
    return DataFormatError(field, problem, path=path)


def _no_duplicates(pairs):
    """``object_pairs_hook`` for :func:`json.loads`: a repeated key is an error, not "last wins"."""
    out = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class _DuplicateKey(Exception):
    pass


def _read_header(path: Path, fh, file_size: int):
    head = fh.read(8)
    if len(head) < 8:
        raise _fail(path, "header length", f"is missing: the file is {file_size} bytes, too short for "
                                           "the 8-byte header length")
    (n,) = struct.unpack("<Q", head)
    if n > file_size - 8:
        raise _fail(path, "header length", f"{n} exceeds the {file_size - 8} bytes after the length field")
    if n > MAX_HEADER_BYTES:
        raise _fail(path, "header length", f"{n} exceeds the limit of {MAX_HEADER_BYTES} bytes")
    raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        raise _fail(path, "header", f"names {exc.args[0]!r} twice (a file must be unambiguous)") from None
    except UnicodeDecodeError as exc:
        raise _fail(path, "header", f"is not valid UTF-8 JSON ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise _fail(path, "header", "is not valid UTF-8 JSON (nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, and the integer digit limit
        raise _fail(path, "header", f"is not valid UTF-8 JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _fail(path, "header", f"must be a JSON object, got {type(header).__name__}")
    return header, 8 + n


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_entry(path, name, entry, data_size):
    """Validate one header entry; return (dtype tag, shape, begin, end)."""
    field = f"tensor {name!r}"
    if not isinstance(entry, dict):
        raise _fail(path, field, f"header entry must be an object, got {entry!r:.80}")
    missing = {"dtype", "shape", "data_offsets"} - set(entry)
    if missing:
        raise _fail(path, field, f"header entry lacks {sorted(missing)}")
    tag = entry["dtype"]
    if not isinstance(tag, str) or tag not in DTYPES:
        raise _fail(path, field, f"has unknown dtype {tag!r:.40} (supported: {', '.join(DTYPES)})")
    shape = entry["shape"]
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise _fail(path, field, f"shape must be a list of non-negative ints, got {shape!r:.80}")
    offsets = entry["data_offsets"]
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_int(o) for o in offsets):
        raise _fail(path, field, f"data_offsets must be [begin, end] ints, got {offsets!r:.80}")
    begin, end = offsets
    if begin < 0 or end < begin:
        raise _fail(path, field, f"data_offsets {offsets} out of range (need 0 <= begin <= end)")
    if end > data_size:
        raise _fail(path, field, f"data_offsets {offsets} run past the end of the {data_size}-byte "
                                 "data section (offsets out of range or file truncated)")
    expected = math.prod(shape) * DTYPES[tag].itemsize
    if end - begin != expected:
        raise _fail(path, field, f"data_offsets {offsets} span {end - begin} bytes but shape {shape} "
                                 f"of {tag} needs {expected}")
    return tag, tuple(shape), begin, end


def _check_coverage(path, entries, data_size) -> None:
    """The tensors must tile the data section exactly: no overlap, no hole, nothing after the last.

    This is the format's own rule; it leaves no room for hidden bytes (polyglot files).
    """
    position, previous = 0, None
    for begin, end, name in sorted((b, e, n) for n, (_, _, b, e) in entries.items()):
        if begin < position:
            raise _fail(path, f"tensors {previous!r} and {name!r}",
                        f"overlap (byte {begin} is inside {previous!r}, which ends at {position})")
        if begin > position:
            raise _fail(path, "data section", f"has a hole of {begin - position} bytes at [{position}, "
                                              f"{begin}) before tensor {name!r}; tensors must be packed")
        position, previous = end, name
    if position != data_size:
        raise _fail(path, "data section", f"has {data_size - position} bytes after the last tensor "
                                          f"(ends at {position} of {data_size}); tensors must be packed")


def read_safetensors_header(path) -> tuple[dict, dict[str, str], int]:
    """Parse and validate the header only: ``(entries, metadata, data_start)``.

    ``entries`` maps each tensor name to ``(dtype tag, shape, begin, end)``.
    Raises :class:`~refsnn.errors.DataFormatError` naming the file and the
    tensor for a malformed header, a repeated name, or tensors that do not
    tile the data section exactly.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"safetensors file not found: {path}")
    file_size = path.stat().st_size
    with open(path, "rb") as fh:
        header, data_start = _read_header(path, fh, file_size)
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise _fail(path, "__metadata__", f"must map strings to strings, got {metadata!r:.80}")
    data_size = file_size - data_start
    entries = {name: _check_entry(path, name, e, data_size) for name, e in header.items()}
    _check_coverage(path, entries, data_size)
    return entries, metadata, data_start


def load_safetensors(path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Load every tensor of a ``.safetensors`` file.

    Returns ``(state, metadata)``: name -> native-byte-order ndarray (BF16 as
    float32, everything else in its own dtype), in header order, and the
    ``__metadata__`` dict (empty when absent).
    """
    path = Path(path)
    entries, metadata, data_start = read_safetensors_header(path)
    state = {}
    with open(path, "rb") as fh:
        for name, (tag, shape, begin, end) in entries.items():
            fh.seek(data_start + begin)
            raw = fh.read(end - begin)
            if len(raw) != end - begin:  # the file shrank under us
                raise _fail(path, f"tensor {name!r}", "data truncated (the file shrank while reading)")
            arr = np.frombuffer(raw, dtype=DTYPES[tag]).reshape(shape)
            if tag == "BF16":
                arr = bf16_to_float32(arr)
            else:
                arr = arr.astype(arr.dtype.newbyteorder("="), copy=True)
            if tag == "BOOL" and arr.view(np.uint8).max(initial=0) > 1:
                raise _fail(path, f"tensor {name!r}", "is BOOL but holds bytes other than 0 and 1")
            state[name] = arr
    return state, metadata


def save_safetensors(path, state, metadata: dict[str, str] | None = None) -> None:
    """Write ``state`` (name -> array) as a ``.safetensors`` file, atomically.

    Tensors are written C-contiguous and little-endian, back to back in the
    order given; the JSON header is padded with spaces to a multiple of 8.
    ``metadata`` must map str to str (the format's rule).
    """
    state = check_state(state)
    if metadata is not None and (
        not isinstance(metadata, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise TypeError(f"metadata must be a dict of str -> str, got {metadata!r}")
    if "__metadata__" in state:
        raise ValueError("state may not contain the reserved name '__metadata__'")
    header: dict = {"__metadata__": dict(metadata)} if metadata else {}
    blobs, offset = [], 0
    for name, arr in state.items():
        tag = _TAGS.get(arr.dtype.newbyteorder("<"))
        if tag is None:
            raise TypeError(
                f"state entry {name!r} has dtype {arr.dtype}, which safetensors cannot store "
                f"(supported: {', '.join(sorted(set(str(d) for d in _TAGS)))})"
            )
        blob = np.ascontiguousarray(arr, dtype=DTYPES[tag]).tobytes(order="C")
        header[name] = {"dtype": tag, "shape": list(arr.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with atomic_write(path) as tmp, open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(text)))
        fh.write(text)
        for blob in blobs:
            fh.write(blob)
