"""HDF5 checkpoints: round trips, the on-disk layout (read back with raw h5py), atomic writes,
resume lookup and the errors for missing / foreign / corrupt files."""

from __future__ import annotations

import json
from datetime import datetime

import h5py
import numpy as np
import pytest

import refsnn
from refsnn.io import checkpoint as ckmod
from refsnn.io import latest_checkpoint, load_checkpoint, save_checkpoint


def _state(rng):
    return {
        "fc1.weight": rng.standard_normal((4, 3)).astype(np.float32),
        "fc1.bias": rng.standard_normal(4),  # float64
        "conv.weight": rng.standard_normal((2, 1, 3, 3)).astype(np.float16),
        "bn.num_batches_tracked": np.array(7, dtype=np.int64),  # 0-d
        "empty": np.zeros((0, 5), dtype=np.float32),
        "mask": np.array([True, False, True]),
        "codes": np.array([-3, 0, 127], dtype=np.int8),
        "pix": np.array([[0, 255]], dtype=np.uint8),
        "z": np.array([1 + 2j, -0.5j], dtype=np.complex64),
    }


def _assert_same_state(a, b):
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == np.asarray(b[k]).dtype, k
        assert a[k].shape == np.asarray(b[k]).shape, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _files(d):
    return sorted(p.name for p in d.iterdir())


def test_round_trip_all_dtypes_and_attributes(tmp_path, rng):
    state = _state(rng)
    config = {"model": "fc", "sizes": [784, 3000, 10], "beta": 0.7, "nested": {"reset": "subtract"}}
    path = tmp_path / "run.h5"
    save_checkpoint(path, state, config=config, seed=1234, step=42)
    ck = load_checkpoint(path)
    _assert_same_state(ck.state, state)
    assert isinstance(ck.state["bn.num_batches_tracked"], np.ndarray)
    assert ck.state["bn.num_batches_tracked"].ndim == 0
    assert ck.config == config
    assert (ck.seed, ck.step) == (1234, 42)
    assert ck.version == refsnn.__version__
    assert datetime.fromisoformat(ck.created).tzinfo is not None
    assert ck.optimizer is None and ck.extra is None
    assert ck.path == path


def test_layout_read_with_raw_h5py(tmp_path, rng):
    """The file is self-describing: one dataset per PyTorch name under /model, attrs at the root."""
    w = rng.standard_normal((3, 2)).astype(np.float32)
    path = tmp_path / "a.h5"
    save_checkpoint(path, {"fc1.weight": w, "fc1.bias": np.arange(3.0)}, config={"k": 1}, seed=5, step=9)
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "refsnn-checkpoint"
        assert json.loads(f.attrs["config"]) == {"k": 1}
        assert int(f.attrs["seed"]) == 5 and int(f.attrs["step"]) == 9
        assert f.attrs["refsnn_version"] == refsnn.__version__
        np.testing.assert_array_equal(f["model"]["fc1.weight"][()], w)
        assert list(f["model"]) == ["fc1.weight", "fc1.bias"]  # insertion order kept


def test_optimizer_and_extra_trees_round_trip_with_types(tmp_path, rng):
    m = rng.standard_normal((4, 3)).astype(np.float32)
    optimizer = {
        "state": {0: {"exp_avg": m, "step": 5}, 1: {"exp_avg": m[0], "step": 5}},
        "param_groups": [
            {"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1], "amsgrad": False, "name": "all",
             "weight_decay": None, "eps": np.float32(1e-8)}
        ],
    }
    gen = np.random.default_rng(99)
    extra = {"rng": gen.bit_generator.state, "history": [0.5, 0.25], "empty": {}, "none": [],
             "count": np.array(3, dtype=np.int32)}
    path = tmp_path / "o.h5"
    save_checkpoint(path, {"w": m}, optimizer=optimizer, extra=extra)
    ck = load_checkpoint(path)
    opt = ck.optimizer
    assert list(opt["state"]) == [0, 1]  # int keys come back as ints
    np.testing.assert_array_equal(opt["state"][0]["exp_avg"], m)
    assert opt["state"][1]["step"] == 5 and type(opt["state"][1]["step"]) is int
    g = opt["param_groups"][0]
    assert g["betas"] == (0.9, 0.999) and isinstance(g["betas"], tuple)
    assert g["params"] == [0, 1] and g["amsgrad"] is False and g["weight_decay"] is None
    assert g["name"] == "all" and g["lr"] == 1e-3
    assert isinstance(g["eps"], np.float32) and g["eps"] == np.float32(1e-8)
    assert isinstance(ck.extra["count"], np.ndarray) and ck.extra["count"].shape == ()
    assert ck.extra["count"].dtype == np.int32 and ck.extra["count"] == 3
    assert ck.extra["history"] == [0.5, 0.25] and ck.extra["empty"] == {} and ck.extra["none"] == []
    # the PCG64 state holds 128-bit integers; restoring it must reproduce the stream
    restored = np.random.default_rng(0)
    restored.bit_generator.state = ck.extra["rng"]
    np.testing.assert_array_equal(restored.random(5), gen.random(5))


@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_atomic_write_failure_mid_write_keeps_old_checkpoint(tmp_path, rng, monkeypatch, exc):
    path = tmp_path / "ckpt.h5"
    old = {"fc1.weight": np.ones((2, 2), np.float32)}
    save_checkpoint(path, old, step=1)
    real, calls = ckmod._create_dataset, []

    def failing(group, name, array):
        calls.append(name)
        if len(calls) == 2:  # the first dataset of the new file is already written
            raise exc
        return real(group, name, array)

    monkeypatch.setattr(ckmod, "_create_dataset", failing)
    with pytest.raises(type(exc)):
        save_checkpoint(path, _state(rng), step=2)
    assert len(calls) == 2
    assert _files(tmp_path) == ["ckpt.h5"]  # no temp file left behind
    ck = load_checkpoint(path)
    assert ck.step == 1
    _assert_same_state(ck.state, old)


def test_unwritable_optimizer_value_fails_cleanly(tmp_path):
    path = tmp_path / "ckpt.h5"
    save_checkpoint(path, {"w": np.zeros(2)}, step=3)
    with pytest.raises(TypeError, match=r"optimizer\['state'\]"):
        save_checkpoint(path, {"w": np.ones(2)}, step=4, optimizer={"state": object()})
    assert _files(tmp_path) == ["ckpt.h5"]
    ck = load_checkpoint(path)
    assert ck.step == 3 and np.all(ck.state["w"] == 0)


def test_object_state_value_rejected_before_writing(tmp_path):
    with pytest.raises(TypeError, match="'bad'"):
        save_checkpoint(tmp_path / "x.h5", {"ok": np.zeros(1), "bad": np.array([{}], dtype=object)})
    assert _files(tmp_path) == []


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"state": [1, 2]}, TypeError, "mapping"),
        ({"state": {"a/b": np.zeros(1)}}, ValueError, "a/b"),
        ({"state": {"w": np.array(["x"])}}, TypeError, "'w'"),
        ({"seed": "abc"}, TypeError, "seed"),
        ({"step": 1.5}, TypeError, "step"),
        ({"config": {"f": object()}}, TypeError, "config"),
        ({"optimizer": {("a", 1): 1}}, TypeError, "keys"),
        ({"optimizer": {0: 1, "0": 2}}, ValueError, "collide"),
    ],
)
def test_save_argument_errors(tmp_path, kwargs, exc, match):
    args = {"state": {"w": np.zeros(2)}, **kwargs}
    with pytest.raises(exc, match=match):
        save_checkpoint(tmp_path / "x.h5", args.pop("state"), **args)
    assert _files(tmp_path) == []


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        save_checkpoint(tmp_path / "nope" / "x.h5", {"w": np.zeros(1)})


def test_config_numpy_values_become_json(tmp_path):
    save_checkpoint(tmp_path / "c.h5", {}, config={"lr": np.float32(0.5), "shape": np.array([2, 3])})
    assert load_checkpoint(tmp_path / "c.h5").config == {"lr": 0.5, "shape": [2, 3]}


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="ghost.h5"):
        load_checkpoint(tmp_path / "ghost.h5")


def test_not_hdf5(tmp_path):
    p = tmp_path / "text.h5"
    p.write_text("hello, not hdf5\n" * 10)
    with pytest.raises(ValueError, match=r"text\.h5.*not an HDF5"):
        load_checkpoint(p)


def test_foreign_hdf5_is_not_a_checkpoint(tmp_path):
    p = tmp_path / "keras.h5"
    with h5py.File(p, "w") as f:
        f["dense/kernel"] = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"keras\.h5.*not a refsnn checkpoint"):
        load_checkpoint(p)


def test_future_format_version_and_bad_config(tmp_path):
    p = tmp_path / "v.h5"
    save_checkpoint(p, {"w": np.zeros(1)})
    with h5py.File(p, "a") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(ValueError, match=r"v\.h5.*format_version 99"):
        load_checkpoint(p)
    save_checkpoint(p, {"w": np.zeros(1)})
    with h5py.File(p, "a") as f:
        f.attrs["config"] = "{not json"
    with pytest.raises(ValueError, match=r"v\.h5.*config"):
        load_checkpoint(p)
    with h5py.File(p, "a") as f:
        del f["model"]
    with pytest.raises(ValueError, match=r"v\.h5.*'model'"):
        load_checkpoint(p)


def test_truncated_checkpoint_is_reported(tmp_path, rng):
    p = tmp_path / "cut.h5"
    save_checkpoint(p, {"big": rng.standard_normal(20000)}, step=1)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.h5.*corrupt"):
        load_checkpoint(p)


def test_latest_checkpoint_by_step(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    for name, step in [("a.h5", 5), ("b.h5", 20), ("c.h5", 10)]:
        save_checkpoint(tmp_path / name, {"w": np.full(1, step)}, step=step)
    (tmp_path / "junk.h5").write_bytes(b"garbage")  # skipped, not fatal
    save_checkpoint(tmp_path / "later.hdf5", {"w": np.zeros(1)}, step=99)  # other pattern
    assert latest_checkpoint(tmp_path).name == "b.h5"
    assert latest_checkpoint(tmp_path, "*.hdf5").name == "later.hdf5"
    with pytest.raises(FileNotFoundError, match="absent"):
        latest_checkpoint(tmp_path / "absent")
