"""Hostile safetensors and npz files: ambiguity, holes, bombs and unclear errors are refused.

Each file is built byte by byte here (independently of the writers under test), and each
outcome is a :class:`DataFormatError` naming the file and the field at fault.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib

import numpy as np
import pytest

from refsnn.errors import DataFormatError
from refsnn.io import load_npz, load_safetensors

F32X2 = struct.pack("<2f", 1.0, 2.0)


def _st(path, header: bytes | str, data: bytes = b""):
    raw = header.encode() if isinstance(header, str) else header
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def _refused(loader, path, match):
    with pytest.raises(DataFormatError, match=match) as info:
        loader(path)
    assert str(path) in str(info.value)
    return info.value


# ----------------------------------------------------------------------------- safetensors
def test_duplicate_tensor_name_is_refused_not_last_wins(tmp_path):
    header = ('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},'
              ' "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}')
    _refused(load_safetensors, _st(tmp_path / "dup.safetensors", header, F32X2), "'w' twice")
    nested = '{"w": {"dtype": "F32", "dtype": "F64", "shape": [2], "data_offsets": [0, 8]}}'
    _refused(load_safetensors, _st(tmp_path / "dup2.safetensors", nested, F32X2), "'dtype' twice")


def test_hole_between_tensors_is_refused(tmp_path):
    header = json.dumps({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                         "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})
    err = _refused(load_safetensors, _st(tmp_path / "hole.safetensors", header, F32X2 + F32X2[:4]),
                   r"hole of 4 bytes at \[4, 8\) before tensor 'b'")
    assert err.field == "data section"


def test_trailing_bytes_after_the_last_tensor_are_refused(tmp_path):
    header = json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})
    payload = F32X2 + b"<html>polyglot</html>"
    _refused(load_safetensors, _st(tmp_path / "tail.safetensors", header, payload),
             "21 bytes after the last tensor")


@pytest.mark.parametrize("header, match", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"w": {"dtype": "F32", "shape": [' + "9" * 5000 + '], "data_offsets": [0, 8]}}', "not valid"),
    (b'{"w\xff": 1}', "not valid UTF-8"),
    ('{"w": {"dtype": ["F32"], "shape": [2], "data_offsets": [0, 8]}}', "unknown dtype"),
    ('{"w": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}}', "shape must be"),
    ('{"w": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 8]}}', "needs"),
])
def test_header_tricks_give_clear_errors(tmp_path, header, match):
    _refused(load_safetensors, _st(tmp_path / "h.safetensors", header, F32X2), match)


def test_bool_bytes_other_than_0_and_1_are_refused(tmp_path):
    header = json.dumps({"b": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}})
    _refused(load_safetensors, _st(tmp_path / "b.safetensors", header, b"\x01\x02"), "other than 0 and 1")
    p = _zip(tmp_path / "b.npz", [("b.npy", _npy((2,), descr="|b1", data=b"\x00\x07"))])
    _refused(load_npz, p, "'b'.*other than 0 and 1")


def test_zero_sized_tensors_and_packing_still_load(tmp_path):
    header = json.dumps({"e": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]},
                         "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})
    state, _ = load_safetensors(_st(tmp_path / "ok.safetensors", header + "   ", F32X2))
    assert state["e"].shape == (0,)
    np.testing.assert_array_equal(state["a"], [1.0, 2.0])


# ----------------------------------------------------------------------------- npz
def _npy(shape, descr="<f4", data=b"", version=1) -> bytes:
    text = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
    text += " " * (-(10 + len(text) + 1) % 64) + "\n"
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<H", len(text)) + text.encode() + data


def _zip(path, members, method=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, raw in members:
            zf.writestr(name, raw)
    path.write_bytes(buf.getvalue())
    return path


def test_non_npy_member_is_refused_not_returned_as_bytes(tmp_path):
    p = _zip(tmp_path / "extra.npz", [("w.npy", _npy((2,), data=F32X2)), ("readme.txt", b"hi")])
    _refused(load_npz, p, r"member 'readme.txt' is not a \.npy array")


def test_duplicate_member_is_refused(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name it writes
        members = [("w.npy", _npy((2,), data=F32X2)), ("w.npy", _npy((1,), data=F32X2[:4]))]
        p = _zip(tmp_path / "dup.npz", members)
    _refused(load_npz, p, "appears twice")


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_declared_shape_larger_than_the_member_is_refused_before_allocating(tmp_path, method):
    # a 300-byte file whose header declares 40 GB
    p = _zip(tmp_path / "big.npz", [("w.npy", _npy((100_000, 100_000), data=F32X2))], method)
    _refused(load_npz, p, r"'w'.*declares shape \(100000, 100000\).*holds 8 bytes")


def test_object_structured_and_string_members_are_refused(tmp_path):
    for descr in ("|O", "|V8", "<U3", [("a", "<f4")]):
        p = _zip(tmp_path / "t.npz", [("w.npy", _npy((1,), descr=descr, data=b"\0" * 12))])
        _refused(load_npz, p, "'w'")


def _raw_zip(path, plain: bytes, declared: int | None = None, names=("w.npy",)):
    """A hand-made zip: one local entry holding ``plain`` deflated, and one central entry per name,
    all pointing at it (more than one name = overlapping members), each declaring ``declared`` bytes."""
    data, crc = zlib.compress(plain)[2:-4], zlib.crc32(plain)  # raw deflate stream
    size = len(plain) if declared is None else declared
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size,
                        len(names[0]), 0) + names[0].encode() + data
    central = b"".join(
        struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), size,
                    len(n), 0, 0, 0, 0, 0, 0) + n.encode() for n in names)
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(names), len(names), len(central), len(local), 0)
    path.write_bytes(local + central + eocd)
    return path


def test_overlapping_members_zip_bomb_is_refused(tmp_path):
    p = _raw_zip(tmp_path / "overlap.npz", _npy((2,), data=F32X2), names=("w.npy", "v.npy"))
    _refused(load_npz, p, "members '[vw].npy' and '[vw].npy' overlap")
    np.testing.assert_array_equal(load_npz(_raw_zip(tmp_path / "ok.npz", _npy((2,), data=F32X2)))["w"],
                                  [1.0, 2.0])


def test_uncompressed_size_beyond_what_deflate_can_produce_is_refused(tmp_path):
    header = _npy((1 << 28,))  # declares 1 GiB of float32, and the zip entry agrees ...
    p = _raw_zip(tmp_path / "ratio.npz", header, len(header) + (1 << 30))  # ... from ~150 stored bytes
    _refused(load_npz, p, "more than its compression can produce")


def test_fortran_order_and_big_endian_members_load_exactly(tmp_path):
    a = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    b = np.arange(5, dtype=">i4")
    np.savez(tmp_path / "f.npz", a=a, b=b)
    got = load_npz(tmp_path / "f.npz")
    np.testing.assert_array_equal(got["a"], a)
    np.testing.assert_array_equal(got["b"], b)


def test_bytes_before_the_archive_are_refused(tmp_path):
    p = _zip(tmp_path / "w.npz", [("w.npy", _npy((2,), data=F32X2))])
    np.testing.assert_array_equal(load_npz(p)["w"], [1.0, 2.0])
    p.write_bytes(b"GIF89a" + p.read_bytes())  # zipfile alone would still find the archive
    _refused(load_npz, p, "does not start with a zip header")
