"""Fuzz targets for the data_tools parsers (run by fuzz_util in a memory-capped child).

Each target writes a valid file, mutates it (``fuzz_util.mutated``), loads it and
returns ``"ok"`` (the load passed its checks) or ``"refused"`` (a
DataFormatError naming the file). Where a second, independent decoder exists
(IDX, CIFAR binary) a load must equal it and a refusal must match its refusal;
where none does, the result must satisfy the format's invariants, and an
unmutated file must load exactly.
"""

from __future__ import annotations

import gzip
import math
import pickle
import struct
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
from fuzz_util import mutated

from data_tools.cifar import read_cifar_binary, read_cifar_pickle
from data_tools.errors import DataFormatError
from data_tools.gtsrb import load_gtsrb, read_gtsrb_csv
from data_tools.idx import IDX_DTYPES, read_idx, write_idx
from data_tools.netpbm import read_netpbm


def _refused(exc: DataFormatError, path: Path) -> str:
    assert path.name in str(exc), f"error does not name the file: {exc}"
    assert exc.path is not None and exc.field, f"error lacks path/field: {exc!r}"
    return "refused"


def _array(data, dtypes=("uint8", "int8", "int16", "int32", "float32", "float64"), max_ndim=3):
    dtype = np.dtype(data.draw(st.sampled_from(dtypes), label="dtype"))
    shape = tuple(data.draw(st.lists(st.integers(0, 5), min_size=1, max_size=max_ndim), label="shape"))
    seed = data.draw(st.integers(0, 2**16), label="seed")
    values = np.random.default_rng(seed).integers(-300, 300, size=shape)
    return values.astype(dtype)


# --- IDX -------------------------------------------------------------------------------------

def _reference_idx(raw: bytes):
    """Independent decoder: the whole gzip at once, header by struct; None when invalid."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except Exception:
            return None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in IDX_DTYPES or raw[3] == 0:
        return None
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        return None
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = IDX_DTYPES[raw[2]]
    if len(raw) - 4 - 4 * ndim != math.prod(dims) * dtype.itemsize:
        return None
    return np.frombuffer(raw, dtype, offset=4 + 4 * ndim).reshape(dims)


def _idx(data, workdir: Path, compress: bool) -> str:
    array = _array(data)
    path = workdir / ("f-idx.gz" if compress else "f-idx")
    write_idx(path, array, compress=compress)
    raw, edits = mutated(data, path.read_bytes())
    path.write_bytes(raw)
    reference = _reference_idx(raw)
    try:
        loaded = read_idx(path)
    except DataFormatError as exc:
        assert edits, "an unmutated file was refused"
        if reference is not None:
            # gzip.decompress forgives what the streaming reader may refuse (e.g. trailing bytes);
            # raw IDX has one reading only. Counted apart so the report shows how often.
            assert compress, f"refused a file the reference decodes: {exc}"
            _refused(exc, path)
            return "refused_reference_decodes"
        return _refused(exc, path)
    assert reference is not None, f"accepted a file the reference refuses (edits {edits})"
    np.testing.assert_array_equal(loaded, reference)
    assert loaded.dtype == reference.dtype.newbyteorder("=") and loaded.dtype.isnative
    if not edits:
        np.testing.assert_array_equal(loaded, array)
    return "ok"


# --- CIFAR ----------------------------------------------------------------------------------

def _cifar_binary(data, workdir: Path) -> str:
    cifar100 = data.draw(st.booleans(), label="cifar100")
    n = data.draw(st.integers(1, 3), label="n")
    g = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    head = 2 if cifar100 else 1
    records = g.integers(0, 256, (n, head + 3072), dtype=np.uint8)
    records[:, 0] %= 20 if cifar100 else 10
    if cifar100:
        records[:, 1] %= 100
    path = workdir / "data_batch_1.bin"
    raw, edits = mutated(data, records.tobytes())
    path.write_bytes(raw)
    # reference: whole records, labels in range
    record = head + 3072
    rows = np.frombuffer(raw, np.uint8)
    valid = len(raw) > 0 and len(raw) % record == 0
    if valid:
        rows = rows.reshape(-1, record)
        valid = bool(np.all(rows[:, 1] < 100)) if cifar100 else bool(np.all(rows[:, 0] < 10))
    try:
        images, labels = read_cifar_binary(path, cifar100=cifar100)
    except DataFormatError as exc:
        assert not valid, f"refused a valid batch: {exc}"
        return _refused(exc, path)
    assert valid, f"accepted an invalid batch (edits {edits})"
    np.testing.assert_array_equal(images.reshape(len(rows), -1), rows[:, head:])
    np.testing.assert_array_equal(labels, rows[:, 1 if cifar100 else 0])
    return "ok"


def _cifar_pickle(data, workdir: Path) -> str:
    n = data.draw(st.integers(0, 2), label="n")
    g = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    images = g.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(v) for v in g.integers(0, 10, n)]
    protocol = data.draw(st.integers(2, 5), label="protocol")
    batch = {b"batch_label": b"training batch 1 of 5", b"labels": labels, b"data": images,
             b"filenames": [b"x.png"] * n}
    path = workdir / "data_batch_1"
    raw, edits = mutated(data, pickle.dumps(batch, protocol=protocol))
    path.write_bytes(raw)
    try:
        x, y = read_cifar_pickle(path)
    except DataFormatError as exc:
        assert edits, f"an unmutated batch was refused: {exc}"
        return _refused(exc, path)
    assert x.dtype == np.uint8 and x.shape[1:] == (3, 32, 32) and y.dtype == np.int64
    assert len(x) == len(y) and (len(y) == 0 or (y.min() >= 0 and y.max() <= 9))
    assert x.nbytes <= len(raw), "more image bytes than the file holds"
    if not edits:
        np.testing.assert_array_equal(x.reshape(n, 3072), images)
        assert y.tolist() == labels
    return "ok"


# --- PGM / PPM ------------------------------------------------------------------------------

def _netpbm_bytes(data):
    magic = data.draw(st.sampled_from([b"P2", b"P3", b"P5", b"P6"]), label="magic")
    channels = 3 if magic in (b"P3", b"P6") else 1
    h, w = data.draw(st.integers(1, 4), label="h"), data.draw(st.integers(1, 4), label="w")
    maxval = data.draw(st.sampled_from([1, 15, 255, 256, 1000, 65535]), label="maxval")
    g = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    samples = g.integers(0, maxval + 1, (h, w, channels))
    comment = data.draw(st.sampled_from([b"", b"# made by the fuzzer\n"]), label="comment")
    header = magic + b"\n" + comment + f"{w} {h}\n{maxval}\n".encode()
    if magic in (b"P5", b"P6"):
        body = samples.astype(">u2" if maxval > 255 else "u1").tobytes()
    else:
        body = " ".join(str(v) for v in samples.ravel()).encode() + b"\n"
    expected = ((samples * 255 + maxval // 2) // maxval).astype(np.uint8)
    return header + body, (expected[:, :, 0] if channels == 1 else expected)


def _pgm(data, workdir: Path) -> str:
    raw, expected = _netpbm_bytes(data)
    path = workdir / "face.pgm"
    raw, edits = mutated(data, raw)
    path.write_bytes(raw)
    try:
        pixels = read_netpbm(path)
    except DataFormatError as exc:
        assert edits, f"an unmutated image was refused: {exc}"
        return _refused(exc, path)
    assert pixels.dtype == np.uint8 and pixels.ndim in (2, 3)
    assert pixels.size <= max(len(raw), 1), "more pixels than the file has bytes"
    if not edits:
        np.testing.assert_array_equal(pixels, expected)
    return "ok"


# --- GTSRB ----------------------------------------------------------------------------------

HEADER = "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"


def _gtsrb(data, workdir: Path) -> str:
    root = workdir / "gtsrb"
    if root.exists():
        for p in root.iterdir():
            p.unlink()
    root.mkdir(exist_ok=True)
    rows, images = [HEADER], {}
    for i in range(data.draw(st.integers(1, 2), label="rows")):
        raw, pixels = _netpbm_bytes(data)
        if pixels.ndim == 2:
            pixels = np.repeat(pixels[:, :, None], 3, axis=2)
        name = f"{i:05d}.ppm"
        (root / name).write_bytes(raw)
        h, w = pixels.shape[:2]
        cls = data.draw(st.integers(0, 42), label="class")
        rows.append(f"{name};{w};{h};0;0;{w - 1};{h - 1};{cls}")
        images[name] = (pixels, cls)
    bom = data.draw(st.sampled_from([b"", b"\xef\xbb\xbf"]), label="bom")
    csv_path = root / "GT-final_test.csv"
    which = data.draw(st.sampled_from(["csv"] + sorted(images)), label="mutate")
    target = csv_path if which == "csv" else root / which
    csv_path.write_bytes(bom + ("\n".join(rows) + "\n").encode())
    raw, edits = mutated(data, target.read_bytes())
    target.write_bytes(raw)
    try:
        x, y = load_gtsrb(root, size=4, normalize=False)
    except DataFormatError as exc:
        assert edits, f"an unmutated tree was refused: {exc}"
        assert exc.path is not None and exc.field, f"error lacks path/field: {exc!r}"
        return "refused"
    except FileNotFoundError as exc:  # the CSV names an image that is not there
        assert edits and csv_path.name in str(exc), f"unclear missing-file error: {exc}"
        return "refused"
    assert x.dtype == np.uint8 and x.shape[1:] == (3, 4, 4) and len(x) == len(y)
    assert y.min() >= 0 and y.max() <= 42
    if not edits:
        assert y.tolist() == [c for _, c in images.values()]
    for row in read_gtsrb_csv(csv_path):  # a load implies every row named a file in the root
        assert (root / row["Filename"]).resolve().is_relative_to(root.resolve())
    return "ok"


# --- HDF5 cache -----------------------------------------------------------------------------

def _cache(data, workdir: Path) -> str:
    import warnings

    from data_tools.cache import CacheError, cached

    g = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    value = {"x": g.normal(size=(4, 3)).astype(np.float32), "y": g.integers(0, 9, 5)}
    compression = data.draw(st.sampled_from([None, "gzip"]), label="compression")
    path = workdir / "cache.h5"
    path.unlink(missing_ok=True)
    cached(path, "k", lambda: value, compression=compression)
    raw, edits = mutated(data, path.read_bytes(), max_ops=3)
    path.write_bytes(raw)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = cached(path, "k", lambda: value)
    except CacheError as exc:
        assert edits, f"an unmutated cache was refused: {exc}"
        return _refused(exc, path)
    # whatever the file held, the answer is the builder's (hash-checked or rebuilt)
    assert sorted(got) == ["x", "y"]
    for key in value:
        np.testing.assert_array_equal(got[key], value[key])
        assert got[key].dtype == value[key].dtype
    return "ok"


TARGETS = {
    "hdf5_cache": _cache,
    "idx_raw": lambda data, workdir: _idx(data, workdir, False),
    "idx_gzip": lambda data, workdir: _idx(data, workdir, True),
    "cifar_binary": _cifar_binary,
    "cifar_pickle": _cifar_pickle,
    "pgm_ppm": _pgm,
    "gtsrb": _gtsrb,
}
