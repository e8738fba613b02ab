"""IDX reader/writer: round trips, hand-built headers, and every kind of broken file."""

from __future__ import annotations

import gzip
import struct
import zlib

import numpy as np
import pytest

from data_tools.idx import IDXFormatError, parse_idx, read_idx, write_idx


def _raw_idx(code: int, dims, payload: bytes) -> bytes:
    """An IDX file built by hand from the spec (independent of write_idx)."""
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
def test_round_trip(tmp_path, rng, dtype, name):
    x = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    write_idx(tmp_path / name, x)
    y = read_idx(tmp_path / name)
    assert y.dtype == np.dtype(dtype) and y.shape == x.shape
    np.testing.assert_array_equal(y, x)


def test_writer_bytes_match_spec(tmp_path):
    x = np.arange(6, dtype=np.uint8).reshape(2, 3)
    write_idx(tmp_path / "x", x)
    expected = b"\x00\x00\x08\x02" + b"\x00\x00\x00\x02" + b"\x00\x00\x00\x03" + bytes(range(6))
    assert (tmp_path / "x").read_bytes() == expected
    write_idx(tmp_path / "x.gz", x)
    assert gzip.decompress((tmp_path / "x.gz").read_bytes()) == expected
    # same array -> same compressed bytes (mtime 0, no name in the header)
    first = (tmp_path / "x.gz").read_bytes()
    write_idx(tmp_path / "x.gz", x)
    assert (tmp_path / "x.gz").read_bytes() == first


def test_big_endian_values_from_hand_built_file(tmp_path):
    path = tmp_path / "ints"
    path.write_bytes(_raw_idx(0x0C, [3], struct.pack(">3i", -5, 70000, 1)))
    np.testing.assert_array_equal(read_idx(path), [-5, 70000, 1])
    path.write_bytes(_raw_idx(0x0D, [2], struct.pack(">2f", 1.5, -0.25)))
    np.testing.assert_array_equal(read_idx(path), np.array([1.5, -0.25], np.float32))


def test_gzip_detected_by_magic_not_name(tmp_path):
    raw = _raw_idx(0x08, [4], bytes([9, 8, 7, 6]))
    (tmp_path / "plain.gz").write_bytes(raw)              # .gz name, raw content
    (tmp_path / "packed").write_bytes(gzip.compress(raw))  # no .gz name, gzip content
    np.testing.assert_array_equal(read_idx(tmp_path / "plain.gz"), [9, 8, 7, 6])
    np.testing.assert_array_equal(read_idx(tmp_path / "packed"), [9, 8, 7, 6])


def test_mnist_magic_numbers(tmp_path):
    write_idx(tmp_path / "img", np.zeros((1, 28, 28), np.uint8))
    write_idx(tmp_path / "lab", np.zeros(1, np.uint8))
    assert (tmp_path / "img").read_bytes()[:4] == (0x803).to_bytes(4, "big")
    assert (tmp_path / "lab").read_bytes()[:4] == (0x801).to_bytes(4, "big")


GOOD = _raw_idx(0x08, [2, 3, 2], bytes(range(12)))

CORRUPTIONS = {
    "truncated": (GOOD[:-1], "truncated"),
    "truncated-header": (GOOD[:9], "truncated header"),
    "extra-bytes": (GOOD + b"\x00\x01", "extra bytes"),
    "wrong-magic": (b"\x01\x00" + GOOD[2:], "bad IDX magic"),
    "unknown-dtype": (b"\x00\x00\x07" + GOOD[3:], "bad IDX magic"),
    "zero-ndim": (b"\x00\x00\x08\x00", "0 dimensions"),
    "too-short": (b"\x00\x00", "4-byte IDX header"),
    "wrong-dims": (_raw_idx(0x08, [2, 3, 3], bytes(range(12))), "need 18 data bytes, found 12"),
    "bad-gzip": (b"\x1f\x8b" + b"not really gzip data", "not a valid gzip stream"),
    "truncated-gzip": (gzip.compress(GOOD)[:-12], "not a valid gzip stream"),
    "bad-gzip-crc": (gzip.compress(GOOD)[:-8] + b"\x00\x00\x00\x00" + gzip.compress(GOOD)[-4:],
                     "not a valid gzip stream"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupt_files_raise_with_file_name(tmp_path, case):
    content, fragment = CORRUPTIONS[case]
    path = tmp_path / f"broken-{case}-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(IDXFormatError) as info:
        read_idx(path)
    message = str(info.value)
    assert path.name in message and fragment in message
    assert isinstance(info.value, ValueError)


def test_good_file_is_good(tmp_path):
    # the base of the corruptions above really is valid
    path = tmp_path / "good"
    path.write_bytes(GOOD)
    np.testing.assert_array_equal(read_idx(path), np.arange(12).reshape(2, 3, 2))


def test_extra_bytes_message_reports_expected_and_found(tmp_path):
    path = tmp_path / "extra"
    path.write_bytes(GOOD + b"\x00" * 5)
    with pytest.raises(IDXFormatError, match=r"need 12 data bytes, found 17"):
        read_idx(path)


def test_expected_kind_mismatch(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"
    write_idx(path, np.zeros(5, np.uint8))
    with pytest.raises(IDXFormatError, match=r"labels-idx1-ubyte: ndim is wrong: expected 3 dim.*found 1"):
        read_idx(path, expect_ndim=3)
    with pytest.raises(IDXFormatError, match=r"expected dtype float32, found uint8"):
        read_idx(path, expect_dtype="float32")


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere-idx3-ubyte.gz"
    with pytest.raises(FileNotFoundError, match="nowhere-idx3-ubyte.gz"):
        read_idx(path)


def test_parse_idx_names_source_in_errors():
    with pytest.raises(IDXFormatError, match="my-buffer"):
        parse_idx(GOOD[:-3], "my-buffer")


def test_writer_rejects_unsupported(tmp_path):
    with pytest.raises(TypeError, match="uint16"):
        write_idx(tmp_path / "x", np.zeros(3, np.uint16))
    with pytest.raises(ValueError, match="shape"):
        write_idx(tmp_path / "x", np.zeros((), np.uint8))


def test_dims_product_is_exact_not_wrapped(tmp_path):
    # four dims of 65536: the int64 product wraps to 0; an empty data part must not pass as 0 bytes
    path = tmp_path / "wrap-idx4-ubyte"
    path.write_bytes(_raw_idx(0x08, [65536] * 4, b""))
    with pytest.raises(IDXFormatError, match=r"need 18446744073709551616 data bytes, found 0") as info:
        read_idx(path)
    assert info.value.path == str(path) and info.value.field == "data"


def _peak_bytes(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_gzip_bomb_stops_at_declared_size(tmp_path):
    # header declares 10 bytes; the stream then inflates to 256 MiB of zeros (about 250 KB on disk)
    path = tmp_path / "bomb-idx1-ubyte.gz"
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    parts = [compressor.compress(_raw_idx(0x08, [10], bytes(10)))]
    block = bytes(1 << 20)
    parts += [compressor.compress(block) for _ in range(256)]
    parts.append(compressor.flush())
    path.write_bytes(b"".join(parts))
    assert path.stat().st_size < 1 << 20

    def load():
        with pytest.raises(IDXFormatError, match=r"extra bytes after the data.*found more than 10"):
            read_idx(path)

    assert _peak_bytes(load) < 8 << 20  # blockwise: a few MiB, never the 256 MiB


def test_gzip_declaring_huge_size_with_little_data(tmp_path):
    # 255^4 bytes declared, 6 bytes present: truncated, and nothing near the declared size allocated
    path = tmp_path / "liar-idx4-ubyte.gz"
    path.write_bytes(gzip.compress(_raw_idx(0x08, [255] * 4, bytes(6))))

    def load():
        with pytest.raises(IDXFormatError, match=r"truncated.*need 4228250625 data bytes, found 6"):
            read_idx(path)

    assert _peak_bytes(load) < 8 << 20


def test_raw_file_size_checked_before_reading(tmp_path):
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(_raw_idx(0x0D, [1000, 1000, 1000], bytes(40)))
    assert _peak_bytes(lambda: pytest.raises(IDXFormatError, read_idx, path)) < 1 << 20


@pytest.mark.parametrize("dtype", ["int16", "float64"])
def test_gzip_round_trip_multibyte_native(tmp_path, rng, dtype):
    array = rng.normal(size=(3, 5)).astype(dtype) * 100
    path = tmp_path / "m.gz"
    write_idx(path, array)
    loaded = read_idx(path)
    assert loaded.dtype == np.dtype(dtype) and loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, array)
