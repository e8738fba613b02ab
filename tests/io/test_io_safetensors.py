"""safetensors: files built by hand with struct + json are read back exactly; the writer's
bytes are checked by a hand parser; every corruption gives an error naming the file and
tensor; cross-checks against torch / the safetensors package where installed."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from refsnn.io import bf16_to_float32, load_safetensors, save_safetensors


def build(path, entries, metadata=None, pad=True, header_override=None, tail=b""):
    """Write a safetensors file by hand: entries = [(name, dtype tag, shape, raw bytes)]."""
    header, blobs, off = {}, b"", 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, tag, shape, raw in entries:
        header[name] = {"dtype": tag, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        blobs += raw
        off += len(raw)
    text = json.dumps(header).encode() if header_override is None else header_override
    if pad:
        text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + blobs + tail)
    return path


def parse(path):
    """A second, independent reader used to check the writer: (header dict, data bytes, header length)."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), raw[8 + n :], n


def test_hand_built_file_every_dtype(tmp_path):
    f32 = np.array([[1.5, -2.0, 3.25], [0.0, 1e-3, -7.0]], dtype="<f4")
    f64 = np.array([np.pi, -np.e], dtype="<f8")
    f16 = np.array([0.5, -65504.0], dtype="<f2")
    i64 = np.array([-(2**40), 2**62], dtype="<i8")
    i32 = np.array([[-1], [2**31 - 1]], dtype="<i4")
    i16 = np.array([-32768, 5], dtype="<i2")
    i8 = np.array([-128, 127], dtype="i1")
    u8 = np.array([0, 200, 255], dtype="u1")
    entries = [
        ("a.f32", "F32", (2, 3), f32.tobytes()),
        ("b.f64", "F64", (2,), f64.tobytes()),
        ("c.f16", "F16", (2,), f16.tobytes()),
        ("d.i64", "I64", (2,), i64.tobytes()),
        ("e.i32", "I32", (2, 1), i32.tobytes()),
        ("f.i16", "I16", (2,), i16.tobytes()),
        ("g.i8", "I8", (2,), i8.tobytes()),
        ("h.u8", "U8", (3,), u8.tobytes()),
        ("i.bool", "BOOL", (4,), bytes([1, 0, 0, 1])),
        ("j.scalar", "F32", (), struct.pack("<f", 2.5)),
        ("k.empty", "F32", (0, 4), b""),
    ]
    p = build(tmp_path / "hand.safetensors", entries, metadata={"format": "pt"})
    state, meta = load_safetensors(p)
    assert meta == {"format": "pt"}
    assert list(state) == [e[0] for e in entries]
    expected = {"a.f32": f32, "b.f64": f64, "c.f16": f16, "d.i64": i64, "e.i32": i32, "f.i16": i16,
                "g.i8": i8, "h.u8": u8, "i.bool": np.array([True, False, False, True])}
    for name, arr in expected.items():
        assert state[name].dtype == arr.dtype.newbyteorder("="), name
        np.testing.assert_array_equal(state[name], arr, err_msg=name)
    assert state["j.scalar"].shape == () and state["j.scalar"] == 2.5
    assert state["k.empty"].shape == (0, 4) and state["k.empty"].dtype == np.float32
    state["a.f32"][0, 0] = 9.0  # arrays are writable copies, not views of a file buffer


def test_bf16_widened_by_bit_shift(tmp_path):
    # bfloat16 bit patterns with hand-derived values: sign | 8-bit exponent | 7-bit mantissa
    bits = [0x3F80, 0xC000, 0x4049, 0x3E20, 0x7F80, 0x8000, 0x0001]
    values = [1.0, -2.0, 3.140625, 0.15625, np.inf, -0.0, 2.0**-133]
    p = build(tmp_path / "bf.safetensors", [("w", "BF16", (7,), struct.pack("<7H", *bits))])
    state, meta = load_safetensors(p)
    assert meta == {}
    assert state["w"].dtype == np.float32
    np.testing.assert_array_equal(state["w"], np.array(values, np.float32))
    assert np.signbit(state["w"][5])
    np.testing.assert_array_equal(bf16_to_float32(np.array([0x3F80], np.uint16)), [1.0])


def test_unpadded_header_is_accepted(tmp_path):
    p = build(tmp_path / "u.safetensors", [("x", "I32", (1,), struct.pack("<i", -5))], pad=False)
    assert load_safetensors(p)[0]["x"].tolist() == [-5]


def test_writer_bytes_match_the_spec(tmp_path, rng):
    w = rng.standard_normal((3, 4)).astype(">f4")  # big-endian input must be stored little-endian
    fort = np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3))
    p = tmp_path / "out.safetensors"
    save_safetensors(p, {"fc.weight": w, "idx": fort, "s": np.float64(0.25)}, metadata={"step": "3"})
    header, data, n = parse(p)
    assert n % 8 == 0
    assert header.pop("__metadata__") == {"step": "3"}
    assert header["fc.weight"] == {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]}
    assert header["idx"] == {"dtype": "I16", "shape": [2, 3], "data_offsets": [48, 60]}
    assert header["s"] == {"dtype": "F64", "shape": [], "data_offsets": [60, 68]}
    assert len(data) == 68
    assert data[:48] == w.astype("<f4").tobytes()
    assert data[48:60] == struct.pack("<6h", 0, 1, 2, 3, 4, 5)  # C order
    assert data[60:] == struct.pack("<d", 0.25)


@pytest.mark.parametrize(
    "dtype", ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "uint16",
              "uint32", "uint64", "bool"]
)
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (5,), (2, 3, 4)])
def test_round_trip(tmp_path, rng, dtype, shape):
    arr = (rng.standard_normal(shape) * 50).astype(dtype)
    p = tmp_path / "rt.safetensors"
    save_safetensors(p, {"a": arr, "b.c": arr[..., None]})
    state, meta = load_safetensors(p)
    assert meta == {}
    for k, v in (("a", arr), ("b.c", arr[..., None])):
        assert state[k].dtype == v.dtype and state[k].shape == v.shape
        np.testing.assert_array_equal(state[k], v)


def test_writer_errors():
    with pytest.raises(TypeError, match="'z'.*complex"):
        save_safetensors("never.safetensors", {"z": np.zeros(2, np.complex64)})
    with pytest.raises(TypeError, match="metadata"):
        save_safetensors("never.safetensors", {"x": np.zeros(1)}, metadata={"step": 3})
    with pytest.raises(ValueError, match="__metadata__"):
        save_safetensors("never.safetensors", {"__metadata__": np.zeros(1)})


def _ok_header(**changes):
    entry = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    entry.update(changes)
    return json.dumps({"w.bad": entry}).encode()


F32X2 = struct.pack("<2f", 1.0, 2.0)


@pytest.mark.parametrize(
    "kind, match",
    [
        ("short", "too short"),
        ("header_too_long", "header length 4096 exceeds"),
        ("bad_json", "not valid UTF-8 JSON"),
        ("not_object", "must be a JSON object"),
        ("unknown_dtype", "'w.bad'.*unknown dtype 'F8_E4M3'"),
        ("missing_key", "'w.bad'.*lacks"),
        ("bad_shape", "'w.bad'.*shape"),
        ("reversed", r"'w.bad'.*out of range"),
        ("negative", r"'w.bad'.*out of range"),
        ("size_mismatch", r"'w.bad'.*span 4 bytes.*needs 8"),
        ("past_end", r"'w.bad'.*past the end"),
        ("truncated", r"'w.bad'.*past the end.*truncated"),
        ("overlap", r"'a'.*'b'.*overlap"),
        ("bad_metadata", "__metadata__"),
    ],
)
def test_corrupt_files_name_file_and_tensor(tmp_path, kind, match):
    p = tmp_path / f"{kind}.safetensors"
    if kind == "short":
        p.write_bytes(b"\x05\x00\x00")
    elif kind == "header_too_long":
        p.write_bytes(struct.pack("<Q", 4096) + b"{}")
    elif kind == "bad_json":
        build(p, [], header_override=b'{"w": {"dtype": "F32",')
    elif kind == "not_object":
        build(p, [], header_override=b"[1, 2]")
    elif kind == "unknown_dtype":
        build(p, [], header_override=_ok_header(dtype="F8_E4M3"), tail=F32X2)
    elif kind == "missing_key":
        build(p, [], header_override=json.dumps({"w.bad": {"dtype": "F32"}}).encode(), tail=F32X2)
    elif kind == "bad_shape":
        build(p, [], header_override=_ok_header(shape=[-2]), tail=F32X2)
    elif kind == "reversed":
        build(p, [], header_override=_ok_header(data_offsets=[8, 0]), tail=F32X2)
    elif kind == "negative":
        build(p, [], header_override=_ok_header(data_offsets=[-8, 0]), tail=F32X2)
    elif kind == "size_mismatch":
        build(p, [], header_override=_ok_header(data_offsets=[0, 4]), tail=F32X2)
    elif kind == "past_end":
        build(p, [], header_override=_ok_header(data_offsets=[8, 16]), tail=F32X2)
    elif kind == "truncated":
        build(p, [("w.bad", "F32", (2,), F32X2)])
        p.write_bytes(p.read_bytes()[:-3])
    elif kind == "overlap":
        header = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                  "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}
        build(p, [], header_override=json.dumps(header).encode(), tail=F32X2)
    elif kind == "bad_metadata":
        build(p, [("w", "F32", (2,), F32X2)], metadata={"step": 3})
    with pytest.raises(ValueError, match=match) as info:
        load_safetensors(p)
    assert p.name in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.safetensors"):
        load_safetensors(tmp_path / "nothing.safetensors")


@pytest.mark.crossval
def test_bf16_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)
    t = (torch.randn(64, 5, generator=g) * 100).to(torch.bfloat16)
    raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
    p = build(tmp_path / "t.safetensors", [("w", "BF16", tuple(t.shape), raw)])
    np.testing.assert_array_equal(load_safetensors(p)[0]["w"], t.float().numpy())


@pytest.mark.crossval
def test_against_safetensors_package(tmp_path, rng):
    st = pytest.importorskip("safetensors.numpy")
    state = {"fc1.weight": rng.standard_normal((4, 3)).astype(np.float32),
             "fc1.bias": np.arange(4, dtype=np.int64), "flag": np.array([True, False])}
    theirs = tmp_path / "theirs.safetensors"
    st.save_file(state, str(theirs), metadata={"format": "np"})
    got, meta = load_safetensors(theirs)
    assert meta == {"format": "np"}
    for k in state:
        np.testing.assert_array_equal(got[k], state[k])
    ours = tmp_path / "ours.safetensors"
    save_safetensors(ours, state)
    back = st.load_file(str(ours))
    for k in state:
        np.testing.assert_array_equal(back[k], state[k])


@pytest.mark.crossval
def test_reads_torch_safetensors_with_bf16(tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    g = torch.Generator().manual_seed(1)
    tensors = {"lin.weight": torch.randn(3, 4, generator=g).to(torch.bfloat16),
               "lin.bias": torch.randn(3, generator=g, dtype=torch.float64),
               "steps": torch.tensor(12)}
    p = tmp_path / "torch.safetensors"
    st.save_file(tensors, str(p), metadata={"format": "pt"})
    got, meta = load_safetensors(p)
    assert meta == {"format": "pt"}
    np.testing.assert_array_equal(got["lin.weight"], tensors["lin.weight"].float().numpy())
    np.testing.assert_array_equal(got["lin.bias"], tensors["lin.bias"].numpy())
    assert got["steps"].shape == () and got["steps"] == 12
