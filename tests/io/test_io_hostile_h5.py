"""Hostile HDF5 checkpoints: each trick a tester used is refused before any data is read.

Every file starts as a valid checkpoint written by ``save_checkpoint``; raw h5py then adds the
hostile part.  The expected outcome is a :class:`DataFormatError` naming the file and the object.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from refsnn.errors import DataFormatError
from refsnn.io import load_checkpoint, load_module, save_checkpoint
from refsnn.models import mlp


def _base(path, **kw):
    save_checkpoint(path, {"w": np.ones((2, 3), np.float32)}, config={"k": 1}, **kw)
    return path


def _refused(path, match):
    with pytest.raises(DataFormatError, match=match) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
    return info.value


def test_chunked_never_written_dataset_is_refused_not_allocated(tmp_path):
    p = _base(tmp_path / "chunk.h5")
    with h5py.File(p, "a") as f:  # declares 3.2 GB, stores nothing
        f["model"].create_dataset("big", shape=(1000, 1000, 800), chunks=(10, 10, 10), dtype="f4")
    assert p.stat().st_size < 20_000
    err = _refused(p, r"model entry 'big'.*chunked")
    assert err.field == "model entry 'big'"


def test_contiguous_never_written_dataset_is_refused(tmp_path):
    p = _base(tmp_path / "hole.h5")
    with h5py.File(p, "a") as f:
        f["model"].create_dataset("big", shape=(20000, 20000), dtype="f4")  # no data: fill value
    _refused(p, r"'big'.*1600000000 bytes\) but stores 0 bytes")


def test_external_storage_pointing_at_etc_passwd_is_refused(tmp_path):
    p = _base(tmp_path / "ext.h5")
    with h5py.File(p, "a") as f:
        f["model"].create_dataset("leak", shape=(64,), dtype="u1", external=[("/etc/passwd", 0, 64)])
    _refused(p, r"'leak'.*external files")


def test_external_and_soft_links_are_not_followed(tmp_path):
    other = _base(tmp_path / "other.h5")
    p = _base(tmp_path / "elink.h5")
    with h5py.File(p, "a") as f:
        f["model/x"] = h5py.ExternalLink(str(other), "/model/w")
    _refused(p, r"'x'.*external link")
    q = _base(tmp_path / "soft.h5")
    with h5py.File(q, "a") as f:
        f["model/y"] = h5py.SoftLink("/model/w")
    _refused(q, r"'y'.*soft link")
    r = _base(tmp_path / "rootlink.h5")
    with h5py.File(r, "a") as f:
        del f["model"]
        f["model"] = h5py.ExternalLink(str(other), "/model")
    _refused(r, r"'model'.*external link")


def test_virtual_dataset_is_refused(tmp_path):
    src = tmp_path / "src.h5"
    with h5py.File(src, "w") as f:
        f.create_dataset("d", data=np.arange(4.0))
    p = _base(tmp_path / "vds.h5")
    layout = h5py.VirtualLayout(shape=(4,), dtype="f8")
    layout[:] = h5py.VirtualSource(str(src), "d", shape=(4,))
    with h5py.File(p, "a") as f:
        f["model"].create_virtual_dataset("v", layout)
    _refused(p, r"'v'.*virtual")


def test_aliases_and_cycles_are_refused(tmp_path):
    p = _base(tmp_path / "alias.h5")
    with h5py.File(p, "a") as f:  # the same megabyte read many times would multiply memory
        for i in range(3):
            f["model"][f"copy{i}"] = f["model/w"]
    _refused(p, "second link to an object already read")
    q = _base(tmp_path / "cycle.h5", optimizer={"a": {"b": 1}})
    with h5py.File(q, "a") as f:
        g = f["optimizer/a"]
        g.attrs["__keys__"] = '["b", "loop"]'
        g["loop"] = f["optimizer"]
    _refused(q, "second link")


def test_committed_datatype_in_a_tree_is_refused(tmp_path):
    p = _base(tmp_path / "dtype.h5", extra={"a": 1})
    with h5py.File(p, "a") as f:
        f["dt"] = np.dtype("f4")
        del f["extra/a"]
        f["extra/a"] = f["dt"]
    _refused(p, r"extra\['a'\] is a Datatype")


def test_compression_filters_are_refused(tmp_path):
    p = _base(tmp_path / "gz.h5")
    with h5py.File(p, "a") as f:
        f["model"].create_dataset("z", data=np.zeros((100, 100)), chunks=(10, 10), compression="gzip")
    _refused(p, r"'z'.*chunked")


def test_non_numeric_model_dataset_is_refused(tmp_path):
    p = _base(tmp_path / "str.h5")
    with h5py.File(p, "a") as f:
        f["model"].create_dataset("s", data="hello", dtype=h5py.string_dtype())
    _refused(p, r"'s'.*string dtype")


@pytest.mark.parametrize("config, match", [
    ("[" * 100_000 + "]" * 100_000, "config attribute is not valid JSON"),
    ("{not json", "config attribute is not valid JSON"),
])
def test_bad_config_text_names_the_file(tmp_path, config, match):
    p = _base(tmp_path / "cfg.h5")
    with h5py.File(p, "a") as f:
        f.attrs["config"] = config
    _refused(p, match)


def test_over_long_integer_in_a_tree_names_file_and_entry(tmp_path):
    p = _base(tmp_path / "digits.h5", extra={"n": 2**70})
    with h5py.File(p, "a") as f:
        del f["extra/n"]
        ds = f["extra"].create_dataset("n", data="9" * 5000, dtype=h5py.string_dtype())
        ds.attrs["__py__"] = "int"
    _refused(p, r"extra\['n'\].*decimal integer")


def test_deep_nesting_of_trees_is_refused(tmp_path):
    tree: dict = {}
    node = tree
    for _ in range(40):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(ValueError, match="nests deeper than 32"):  # refused when saving, too
        _base(tmp_path / "deep.h5", extra=tree)
    p = _base(tmp_path / "deep.h5", extra={"x": 1})
    with h5py.File(p, "a") as f:  # build the deep tree with raw h5py
        del f["extra/x"]
        g = f["extra"]
        for _ in range(40):
            g.attrs["__keys__"] = '["x"]'
            g = g.create_group("x")
            g.attrs["__kind__"] = "dict"
        g.attrs["__keys__"] = "[]"
    _refused(p, "nests deeper than 32")


def test_non_scalar_header_attribute_is_refused(tmp_path):
    p = _base(tmp_path / "attr.h5")
    with h5py.File(p, "a") as f:
        f.attrs["step"] = np.arange(1000)
    _refused(p, r"'step'.*expected a scalar")


def test_valid_big_int_and_trees_still_load(tmp_path):
    p = _base(tmp_path / "ok.h5", extra={"rng": 2**100, "s": "x", "t": (1, 2.5)}, step=4)
    ck = load_checkpoint(p)
    assert ck.extra == {"rng": 2**100, "s": "x", "t": (1, 2.5)} and ck.step == 4


def test_float64_value_overflowing_float32_is_refused_by_load_module(tmp_path):
    net = mlp([3, 2], rng=0)
    state = {k: v.astype(np.float64) for k, v in net.state_dict().items()}
    key = next(iter(state))
    state[key].flat[0] = 1e300  # finite in float64, inf once cast to the model's float32
    p = tmp_path / "big.h5"
    save_checkpoint(p, state)
    before = net.state_dict()[key].copy()
    with pytest.raises(ValueError, match=rf"non-finite.*after the cast.*{key}"):
        load_module(p, net)
    np.testing.assert_array_equal(net.state_dict()[key], before)  # nothing changed


def test_complex_values_are_refused_for_a_real_model(tmp_path):
    net = mlp([3, 2], rng=0)
    state = {k: v.astype(np.complex64) + 1j for k, v in net.state_dict().items()}
    p = tmp_path / "c.h5"
    save_checkpoint(p, state)
    with pytest.raises(TypeError, match="complex64, which cannot be stored in a float32 parameter"):
        load_module(p, net)


def test_string_attribute_declaring_gigabytes_is_refused_without_allocating(tmp_path):
    """A flipped byte in a variable-length string attribute's length once made libhdf5 fill 1.5 GB."""
    p = tmp_path / "vlen.h5"
    save_checkpoint(p, {"w": np.ones(2, np.float32)}, extra={"s": "hello"})
    raw = bytearray(p.read_bytes())
    ref = struct.pack("<IQ", 3, raw.index(b"GCOL"))  # the heap reference of extra/s's __py__ = "str"
    assert raw.count(ref) == 1
    at = raw.index(ref)
    raw[at:at + 4] = struct.pack("<I", 0x5B000000)  # 1.5 GB
    p.write_bytes(bytes(raw))
    code = ("import sys; from refsnn.io import load_checkpoint; from refsnn.errors import "
            "DataFormatError\ntry:\n    load_checkpoint(sys.argv[1])\nexcept DataFormatError as e:\n"
            "    print('refused', e)\n"  # VmHWM: ru_maxrss would report the pytest parent's size after exec
            "print([ln.split()[1] for ln in open('/proc/self/status') if ln.startswith('VmHWM')][0])")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]), OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, env=env,
                         timeout=120).stdout.splitlines()
    assert out[0].startswith("refused") and str(p) in out[0]
    assert int(out[1]) < 400_000  # peak RSS in KB: far from the 1.5 GB the file asks for
