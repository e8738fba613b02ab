"""npz: round trips checked with NumPy's own reader, archives from np.savez, atomic writes,
and a pickle payload that must be refused without running."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from refsnn.io import load_npz, save_npz


def _state(rng):
    return {
        "fc1.weight": rng.standard_normal((4, 3)).astype(np.float32),
        "fc1.bias": rng.standard_normal(4),
        "half": rng.standard_normal(3).astype(np.float16),
        "count": np.array(3, dtype=np.int64),
        "empty": np.zeros((2, 0), dtype=np.int32),
        "mask": np.array([True, False]),
        "file": np.arange(3, dtype=np.uint8),  # would clash with np.savez's own parameters
        "allow_pickle": np.ones(1, dtype=np.int16),
    }


@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_and_numpy_reads_it(tmp_path, rng, compress):
    state = _state(rng)
    p = tmp_path / "w.npz"
    save_npz(p, state, compress=compress)
    assert [q.name for q in tmp_path.iterdir()] == ["w.npz"]  # no ".npz.npz", no temp file
    got = load_npz(p)
    assert list(got) == list(state)
    with np.load(p) as ref:  # NumPy's reader agrees, independently of ours
        for k, v in state.items():
            assert got[k].dtype == v.dtype and got[k].shape == v.shape, k
            np.testing.assert_array_equal(got[k], v)
            np.testing.assert_array_equal(ref[k], v)
    with zipfile.ZipFile(p) as zf:
        kinds = {i.compress_type for i in zf.infolist()}
    assert kinds == {zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED}


def test_reads_np_savez(tmp_path, rng):
    a, b = rng.standard_normal((2, 2)), np.arange(5, dtype=np.int8)
    p = tmp_path / "np.npz"
    np.savez_compressed(p, **{"layer.0.weight": a, "b": b})
    got = load_npz(p)
    np.testing.assert_array_equal(got["layer.0.weight"], a)
    np.testing.assert_array_equal(got["b"], b)


class _Payload:
    """Unpickling this calls open(path, "w") — creating a file proves code ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_object_array_payload_is_refused_and_never_runs(tmp_path):
    live = tmp_path / "live"
    live.mkdir()
    # the payload is real: NumPy with allow_pickle=True does execute it
    p_live = live / "evil.npz"
    np.savez(p_live, w=np.zeros(2), obj=np.array([_Payload(live / "PWNED")], dtype=object))
    with np.load(p_live, allow_pickle=True) as f:
        f["obj"]
    assert (live / "PWNED").exists()

    p = tmp_path / "evil.npz"
    sentinel = tmp_path / "PWNED"
    np.savez(p, w=np.zeros(2), obj=np.array([_Payload(sentinel)], dtype=object))
    with pytest.raises(ValueError, match=r"evil\.npz.*'obj'.*object array"):
        load_npz(p)
    assert not sentinel.exists()


def test_error_cases(tmp_path):
    with pytest.raises(FileNotFoundError, match="gone.npz"):
        load_npz(tmp_path / "gone.npz")
    npy = tmp_path / "single.npz"
    with open(npy, "wb") as fh:
        np.save(fh, np.zeros(3))  # a .npy file under an .npz name
    with pytest.raises(ValueError, match=r"single\.npz.*not an \.npz"):
        load_npz(npy)
    cut = tmp_path / "cut.npz"
    save_npz(cut, {"w": np.arange(1000.0), "v": np.arange(1000.0)})
    raw = cut.read_bytes()
    cut.write_bytes(raw[:9000] + b"\0" * 500 + raw[9500:])  # damage the second member
    with pytest.raises(ValueError, match=r"cut\.npz"):
        load_npz(cut)
    with pytest.raises(TypeError, match="'o'"):
        save_npz(tmp_path / "o.npz", {"o": np.array([None], dtype=object)})
    assert not (tmp_path / "o.npz").exists()


def test_atomic_save_keeps_old_archive_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "w.npz"
    save_npz(p, {"w": np.zeros(3)})
    real, calls = np.lib.format.write_array, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing)
    with pytest.raises(OSError, match="disk full"):
        save_npz(p, {"a": np.ones(3), "b": np.ones(3)})
    monkeypatch.undo()
    assert len(calls) == 2
    assert [q.name for q in tmp_path.iterdir()] == ["w.npz"]
    np.testing.assert_array_equal(load_npz(p)["w"], np.zeros(3))
