"""CIFAR-10/100 binary and python batches, and the restricted unpickler."""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys

import numpy as np
import pytest

from data_tools.cifar import (
    RestrictedUnpickler,
    UnsafePickleError,
    load_cifar10,
    load_cifar100,
    read_cifar_binary,
    read_cifar_pickle,
    safe_load_pickle,
)
from data_tools.errors import DataFormatError


def _records(n, head, seed):
    g = np.random.default_rng(seed)
    rec = g.integers(0, 256, (n, head + 3072), dtype=np.uint8)
    rec[:, 0] = g.integers(0, 20 if head == 2 else 10, n)
    if head == 2:
        rec[:, 1] = g.integers(0, 100, n)
    return rec


def _expected_image(record, head):
    """Pixel [c, h, w] is byte head + 1024*c + 32*h + w of the record (red, green, blue planes)."""
    img = np.empty((3, 32, 32), np.uint8)
    for c in range(3):
        for h in range(32):
            img[c, h] = record[head + 1024 * c + 32 * h: head + 1024 * c + 32 * h + 32]
    return img


def test_cifar10_binary(tmp_path):
    base = tmp_path / "cifar-10-batches-bin"
    base.mkdir()
    parts = []
    for i, name in enumerate([f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]):
        rec = _records(3, 1, i)
        (base / name).write_bytes(rec.tobytes())
        parts.append(rec)
    x, y = load_cifar10(tmp_path, "train")
    assert x.shape == (15, 3, 32, 32) and x.dtype == np.float32
    train = np.concatenate(parts[:5])
    np.testing.assert_array_equal(y, train[:, 0])
    for n in (0, 7, 14):
        np.testing.assert_array_equal(x[n], _expected_image(train[n], 1) / np.float32(255))
    xt, yt = load_cifar10(base, "test", normalize=False)  # the batch folder itself works too
    assert xt.dtype == np.uint8
    np.testing.assert_array_equal(xt[1], _expected_image(parts[5][1], 1))
    np.testing.assert_array_equal(yt, parts[5][:, 0])


def test_cifar100_binary_fine_and_coarse(tmp_path):
    rec = _records(4, 2, 1)
    (tmp_path / "train.bin").write_bytes(rec.tobytes())
    (tmp_path / "test.bin").write_bytes(rec[:2].tobytes())
    x, fine = load_cifar100(tmp_path, "train", normalize=False)
    _, coarse = load_cifar100(tmp_path, "train", label="coarse")
    np.testing.assert_array_equal(fine, rec[:, 1])
    np.testing.assert_array_equal(coarse, rec[:, 0])
    np.testing.assert_array_equal(x[3], _expected_image(rec[3], 2))
    assert load_cifar100(tmp_path, "test")[0].shape == (2, 3, 32, 32)


def _batch_dict(n, seed, cifar100=False, str_keys=False):
    g = np.random.default_rng(seed)
    d = {b"batch_label": b"training batch 1 of 5",
         b"data": g.integers(0, 256, (n, 3072), dtype=np.uint8),
         b"filenames": [f"img_{i}.png".encode() for i in range(n)]}
    if cifar100:
        d[b"fine_labels"] = [int(v) for v in g.integers(0, 100, n)]
        d[b"coarse_labels"] = [int(v) for v in g.integers(0, 20, n)]
    else:
        d[b"labels"] = [int(v) for v in g.integers(0, 10, n)]
    if str_keys:
        d = {k.decode(): v for k, v in d.items()}
    return d


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar10_python(tmp_path, protocol):
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    dicts = []
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        d = _batch_dict(2, i, str_keys=(i == 1))
        (base / name).write_bytes(pickle.dumps(d, protocol=protocol))
        dicts.append(d)
    x, y = load_cifar10(tmp_path, "train", format="python")
    assert x.shape == (10, 3, 32, 32)
    np.testing.assert_array_equal(y[:4], dicts[0][b"labels"] + dicts[1]["labels"])
    np.testing.assert_array_equal(x[3], _expected_image(dicts[1]["data"][1], 0) / np.float32(255))
    xt, _ = load_cifar10(tmp_path, "test", normalize=False)
    np.testing.assert_array_equal(xt.reshape(2, -1), dicts[5][b"data"])


def test_cifar100_python(tmp_path):
    d = _batch_dict(3, 9, cifar100=True)
    (tmp_path / "train").write_bytes(pickle.dumps(d, protocol=2))
    _, fine = load_cifar100(tmp_path, "train")
    _, coarse = load_cifar100(tmp_path, "train", label="coarse")
    np.testing.assert_array_equal(fine, d[b"fine_labels"])
    np.testing.assert_array_equal(coarse, d[b"coarse_labels"])


def test_numpy1_global_names_accepted(tmp_path):
    """Pickles written by NumPy 1.x name numpy.core.multiarray._reconstruct."""
    d = _batch_dict(2, 3)
    raw = pickle.dumps(d, protocol=2)
    assert b"cnumpy._core.multiarray\n_reconstruct\n" in raw
    legacy = raw.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    (tmp_path / "legacy").write_bytes(legacy)
    x, y = read_cifar_pickle(tmp_path / "legacy")
    np.testing.assert_array_equal(x.reshape(2, -1), d[b"data"])
    np.testing.assert_array_equal(y, d[b"labels"])


def _py2_pickle(data: np.ndarray, labels) -> bytes:
    """A protocol-2 pickle laid out as Python 2 + NumPy 1 wrote CIFAR (str = SHORT_BINSTRING)."""
    def s(b):
        return b"U" + bytes([len(b)]) + b

    n = data.shape[0]
    array = (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + s(b"b")
             + b"\x87R(K\x01M" + struct.pack("<H", n) + b"M" + struct.pack("<H", 3072) + b"\x86"
             + b"cnumpy\ndtype\n" + s(b"u1") + b"\x89\x88\x87R"
             + b"(K\x03" + s(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
             + b"\x89T" + struct.pack("<I", data.nbytes) + data.tobytes() + b"tb")
    label_list = b"](" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    return b"\x80\x02}(" + s(b"data") + array + s(b"labels") + label_list + b"u."


def test_python2_style_pickle(tmp_path):
    data = np.random.default_rng(2).integers(0, 256, (3, 3072), dtype=np.uint8)
    (tmp_path / "test_batch").write_bytes(_py2_pickle(data, [4, 0, 9]))
    x, y = read_cifar_pickle(tmp_path / "test_batch")
    np.testing.assert_array_equal(y, [4, 0, 9])
    np.testing.assert_array_equal(x[2], _expected_image(data[2], 0))


class _SystemPayload:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _EvalPayload:
    def __init__(self, code, fn):
        self.code, self.fn = code, fn

    def __reduce__(self):
        return (self.fn, (self.code,))


def test_malicious_pickle_executes_nothing(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({b"data": _SystemPayload(f"touch {marker}"), b"labels": [0]})
    path = tmp_path / "data_batch_1"
    path.write_bytes(payload)
    with pytest.raises(UnsafePickleError, match=r"data_batch_1: refusing to load global "
                                                r"(posix|nt)\.system"):
        read_cifar_pickle(path)
    assert not marker.exists()
    # control, in a child process: a plain pickle.loads of the same bytes does run the command
    code = f"import pickle; pickle.loads(open({str(path)!r}, 'rb').read())"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    assert marker.exists()


@pytest.mark.parametrize("protocol", [2, 5])
@pytest.mark.parametrize("fn", [eval, exec])
def test_eval_exec_payloads_refused(tmp_path, fn, protocol):
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').close()"
    raw = pickle.dumps([1, 2, _EvalPayload(code, fn)], protocol=protocol)
    # protocol 2 writes the Python 2 module name __builtin__
    with pytest.raises(UnsafePickleError, match=rf"(builtins|__builtin__)\.{fn.__name__}"):
        safe_load_pickle(raw)
    assert not marker.exists()
    pickle.loads(raw)  # control: the unrestricted loader runs the payload
    assert marker.exists()


@pytest.mark.parametrize("module,name", [("numpy", "load"), ("builtins", "getattr"),
                                         ("numpy", "ndarray.tofile"), ("subprocess", "Popen")])
def test_find_class_allow_list(module, name):
    import io

    unpickler = RestrictedUnpickler(io.BytesIO(b""))
    with pytest.raises(UnsafePickleError, match=f"{module}.{name}"):
        unpickler.find_class(module, name)
    ndarray = unpickler.find_class("numpy", "ndarray")  # an inert token, not the class
    with pytest.raises(UnsafePickleError, match="calls numpy.ndarray directly"):
        ndarray((2, 3), np.uint8)


class _OpenPayload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))  # unpickling creates the file


def test_refusal_is_an_unpickling_error_callers_can_catch(tmp_path):
    """Code that guards a load with ``except pickle.UnpicklingError`` catches the refusal, from
    safe_load_pickle and read_cifar_pickle alike, and it is not re-labelled a broken pickle."""
    marker = tmp_path / "opened"
    raw = pickle.dumps({b"data": _OpenPayload(str(marker)), b"labels": [0]})
    path = tmp_path / "data_batch_1"
    path.write_bytes(raw)
    refused = r"refusing to load global (builtins|io)\.open"
    for load in (lambda: safe_load_pickle(raw), lambda: read_cifar_pickle(path)):
        with pytest.raises(pickle.UnpicklingError, match=refused) as info:
            load()
        assert type(info.value) is UnsafePickleError
        assert not marker.exists()


def test_pickle_content_errors(tmp_path):
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(DataFormatError, match="batch: batch must be a pickled dict, found list"):
        read_cifar_pickle(path)
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}))
    with pytest.raises(DataFormatError, match="batch: 'labels' is missing") as info:
        read_cifar_pickle(path)
    assert info.value.path == str(path) and info.value.field == "'labels'"
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(DataFormatError, match=r"'data' must be uint8 \[N, 3072\], found \(2, 100\)"):
        read_cifar_pickle(path)
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}))
    with pytest.raises(DataFormatError, match=r"'labels' must lie in \[0, 9\], found \[0, 10\]"):
        read_cifar_pickle(path)
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [[0], [1, 2]]}))
    with pytest.raises(DataFormatError, match=r"'labels' are not a flat list of integers"):
        read_cifar_pickle(path)
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)})[:-10])
    with pytest.raises(DataFormatError, match="batch: pickle is not a valid data pickle"):
        read_cifar_pickle(path)


class _StrideZero:
    """``np.ndarray(shape, 'u1', buffer=b'x', strides=(0, 0))``: 2M images viewed on one byte."""

    def __reduce__(self):
        return (np.ndarray, ((2_000_000, 3072), "u1", b"x", 0, (0, 0)))


def test_stride_zero_pickle_refused(tmp_path):
    raw = pickle.dumps({b"data": _StrideZero(), b"labels": [0] * 3}, protocol=2)
    assert len(raw) < 400
    control = pickle.loads(raw)[b"data"]  # plain pickle: a 6 GB view of one byte (nothing copied)
    assert control.nbytes == 2_000_000 * 3072 and control.strides == (0, 0)
    path = tmp_path / "data_batch_1"
    path.write_bytes(raw)
    with pytest.raises(UnsafePickleError, match="data_batch_1: calls numpy.ndarray directly"):
        read_cifar_pickle(path)


def _proto2(body: bytes) -> bytes:
    return b"\x80\x02" + body + b"."


_RECONSTRUCT = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
_DTYPE_U1 = (b"cnumpy\ndtype\nX\x02\x00\x00\x00u1\x89\x88\x87R"
             b"(K\x03X\x01\x00\x00\x00|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")


def _array_pickle(shape_state: bytes, data: bytes) -> bytes:
    """``_reconstruct(ndarray, (0,), b'b')`` + BUILD((1, shape, dtype u1, False, data)), by hand."""
    return _proto2(_RECONSTRUCT + b"K\x00\x85C\x01b\x87R(K\x01" + shape_state + _DTYPE_U1
                   + b"\x89C" + bytes([len(data)]) + data + b"tb")


def test_hand_built_array_pickle_and_size_lie():
    good = _array_pickle(b"K\x02K\x03\x86", bytes(range(6)))
    np.testing.assert_array_equal(pickle.loads(good), np.arange(6, dtype=np.uint8).reshape(2, 3))
    np.testing.assert_array_equal(safe_load_pickle(good), pickle.loads(good))
    # the state claims 2M x 3072 for 6 bytes: refused before anything is allocated
    liar = _array_pickle(b"J\x80\x84\x1e\x00M\x00\x0c\x86", bytes(range(6)))
    with pytest.raises(UnsafePickleError, match=r"\(2000000, 3072\) x 1 byte\(s\) needs 6144000000 "
                                                r"bytes, the pickle holds 6"):
        safe_load_pickle(liar)


@pytest.mark.parametrize("raw,fragment", [
    (_proto2(b"L" + b"9" * 5000 + b"L\n"), "not a valid data pickle"),  # int digit limit
    (_proto2(b"]" * 200 + b"a" * 199), "nesting is deeper than 64"),  # lists inside lists
    (_proto2(b"c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00utf16\x86R"), "only latin1"),
    (pickle.dumps(np.array([None, 1], dtype=object), protocol=2), "'O8' is not a plain number"),
    (b"\xff\xfe", "not a valid data pickle"),
])
def test_hostile_pickles_give_data_format_errors(raw, fragment):
    with pytest.raises(DataFormatError, match=fragment) as info:
        safe_load_pickle(raw)
    assert info.value.path == "<bytes>"



def test_binary_errors(tmp_path):
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(bytes(3073 * 2 - 1))
    with pytest.raises(ValueError, match=r"data_batch_1.bin: size 6145 bytes .*3073-byte CIFAR-10"):
        read_cifar_binary(path)
    rec = _records(1, 1, 0)
    rec[0, 0] = 12
    path.write_bytes(rec.tobytes())
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\], found \[12, 12\]"):
        read_cifar_binary(path)
    with pytest.raises(FileNotFoundError, match="missing.bin"):
        read_cifar_binary(tmp_path / "missing.bin")


def test_loader_argument_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data_batch_1.bin.*data_batch_1"):
        load_cifar10(tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        load_cifar10(tmp_path, "valid")
    with pytest.raises(ValueError, match="format must be"):
        load_cifar10(tmp_path, format="png")
    with pytest.raises(ValueError, match="label must be 'fine' or 'coarse'"):
        load_cifar100(tmp_path, label="super")
