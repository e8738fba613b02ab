"""HDF5 cache: hits, misses, layouts, stale sources, corruption and atomic writes."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest

from data_tools.cache import CacheError, cached, fingerprint


class Counter:
    def __init__(self, result):
        self.calls, self.result = 0, result

    def __call__(self):
        self.calls += 1
        return self.result


def _tmp_files(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("result", [
    np.arange(12, dtype=np.int16).reshape(3, 4),
    (np.ones((2, 2), np.float32), np.array([1, 2], np.int64)),
    {"x": np.zeros((1, 3), np.uint8), "y": np.array([7.5])},
])
def test_miss_then_hit(tmp_path, result):
    path = tmp_path / "c.h5"
    build = Counter(result)
    first = cached(path, "k", build)
    second = cached(path, "k", build)
    assert build.calls == 1
    for got in (first, second):
        assert type(got) is type(result)
        for a, b in _pairs(got, result):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


def _pairs(got, want):
    if isinstance(want, np.ndarray):
        return [(got, want)]
    if isinstance(want, dict):
        assert list(got) == list(want)  # key order kept
        return [(got[k], want[k]) for k in want]
    return list(zip(got, want, strict=True))


def test_several_keys_and_attributes(tmp_path):
    path = tmp_path / "c.h5"
    cached(path, "a", lambda: np.arange(3), description="first", source="mnist-5k train")
    cached(path, "b", lambda: np.arange(4))
    np.testing.assert_array_equal(cached(path, "a", lambda: 1 / 0), np.arange(3))
    with h5py.File(path, "r") as f:
        assert set(f) == {"a", "b"}
        attrs = dict(f["a"].attrs)
    assert attrs["description"] == "first" and attrs["layout"] == "array"
    assert attrs["source_sha256"] == fingerprint("mnist-5k train")[0]
    assert len(attrs["content_sha256"]) == 64


def test_source_change_rebuilds_with_warning(tmp_path):
    src = tmp_path / "raw.bin"
    src.write_bytes(b"version 1")
    path = tmp_path / "c.h5"
    assert cached(path, "k", lambda: np.array([1]), source=src)[0] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cached(path, "k", lambda: np.array([2]), source=src)[0] == 1  # same source: hit
    src.write_bytes(b"version 2")
    with pytest.warns(UserWarning, match="source changed"):
        assert cached(path, "k", lambda: np.array([2]), source=src)[0] == 2
    assert cached(path, "k", lambda: np.array([3]), source=src)[0] == 2


def test_fingerprint_of_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"xyz")
    b.write_bytes(b"xyz")
    import hashlib

    assert fingerprint(a)[0] == hashlib.sha256(b"a\0xyz").hexdigest()
    assert fingerprint([a, b])[0] != fingerprint([a])[0]
    with pytest.raises(FileNotFoundError, match="missing-file"):
        fingerprint([tmp_path / "missing-file"])


def test_failing_builder_leaves_nothing(tmp_path):
    path = tmp_path / "c.h5"

    def boom():
        raise RuntimeError("builder failed")

    with pytest.raises(RuntimeError, match="builder failed"):
        cached(path, "k", boom)
    assert not path.exists() and _tmp_files(tmp_path) == []


def test_failed_write_keeps_old_file(tmp_path):
    path = tmp_path / "c.h5"
    cached(path, "good", lambda: np.arange(5))
    before = path.read_bytes()
    # the first array is written, the second (object dtype) makes h5py fail mid-write
    bad = (np.arange(3), np.array([object(), object()], dtype=object))
    with pytest.raises(TypeError):
        cached(path, "bad", lambda: bad)
    assert path.read_bytes() == before
    assert _tmp_files(tmp_path) == []
    np.testing.assert_array_equal(cached(path, "good", lambda: None), np.arange(5))


def test_garbage_file_raises_or_rebuilds(tmp_path):
    path = tmp_path / "c.h5"
    path.write_bytes(b"this is not HDF5" * 10)
    with pytest.raises(CacheError, match=r"c.h5: entry 'k' cannot be read.*on_corrupt"):
        cached(path, "k", lambda: np.arange(2))
    assert isinstance(CacheError("x"), ValueError)
    with pytest.warns(UserWarning, match="rebuilding"):
        got = cached(path, "k", lambda: np.arange(2), on_corrupt="rebuild")
    np.testing.assert_array_equal(got, [0, 1])
    np.testing.assert_array_equal(cached(path, "k", lambda: None), [0, 1])


def test_tampered_data_fails_hash(tmp_path):
    path = tmp_path / "c.h5"
    cached(path, "k", lambda: (np.arange(4.0), np.arange(3)))
    cached(path, "other", lambda: np.arange(2))
    with h5py.File(path, "r+") as f:
        f["k"]["1"][1] = 99
    with pytest.raises(CacheError, match=r"c.h5: entry 'k' stored arrays do not match their content_sha256"):
        cached(path, "k", lambda: None)
    with pytest.warns(UserWarning, match="rebuilding"):
        got = cached(path, "k", lambda: (np.zeros(1), np.ones(1)), on_corrupt="rebuild")
    np.testing.assert_array_equal(got[1], [1.0])
    np.testing.assert_array_equal(cached(path, "other", lambda: None), [0, 1])  # kept


def test_argument_errors(tmp_path):
    path = tmp_path / "c.h5"
    with pytest.raises(ValueError, match="key must be a non-empty name"):
        cached(path, "a/b", lambda: np.zeros(1))
    with pytest.raises(ValueError, match="on_corrupt must be"):
        cached(path, "k", lambda: np.zeros(1), on_corrupt="ignore")
    with pytest.raises(TypeError, match="builder must return"):
        cached(path, "k", lambda: 3.0)
    with pytest.raises(ValueError, match="dict keys"):
        cached(path, "k", lambda: {"0": np.zeros(1)})
    assert not path.exists()


def _entry_with(path, make):
    """A cache file whose entry 'k' holds member '0' made by ``make(group)`` (hash of 3 zeros)."""
    import h5py

    cached(path, "k", lambda: np.zeros(3))
    with h5py.File(path, "r+") as f:
        del f["k"]["0"]
        make(f["k"])


@pytest.mark.parametrize("name,make,fragment", [
    ("external storage", lambda g: g.create_dataset("0", shape=(3,), dtype="f8",
                                                    external=[("/etc/passwd", 0, 24)]),
     "keeps its data in external file '/etc/passwd'; refused"),
    ("external link", lambda g: g.__setitem__("0", __import__("h5py").ExternalLink("/etc/x.h5", "/d")),
     "is an external link to /etc/x.h5:/d"),
    ("soft link", lambda g: g.__setitem__("0", __import__("h5py").SoftLink("/k")), "is a soft link"),
    ("never written", lambda g: g.create_dataset("0", shape=(10**6, 800), chunks=(100, 100), dtype="f8"),
     r"declares 6400000000 bytes .* the file stores 0"),
    ("partly written", lambda g: g.create_dataset("0", shape=(10**4, 100), chunks=(100, 100),
                                                  dtype="f8").__setitem__(0, 1.0),
     r"declares 8000000 bytes .* the file stores 80000"),
    ("vlen", lambda g: g.create_dataset("0", data=[b"a", b"bc"], dtype=__import__("h5py").vlen_dtype(bytes)),
     "variable-length"),
])
def test_hostile_entries_refused_without_reading(tmp_path, name, make, fragment):
    import tracemalloc

    path = tmp_path / "c.h5"
    _entry_with(path, make)
    tracemalloc.start()
    try:
        with pytest.raises(CacheError, match=fragment) as info:
            cached(path, "k", lambda: np.zeros(3))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.path == str(path)
    assert peak < 8 << 20


def test_virtual_dataset_refused(tmp_path):
    import h5py

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["d"] = np.zeros(3)

    def make(group):
        layout = h5py.VirtualLayout(shape=(3,), dtype="f8")
        layout[:] = h5py.VirtualSource(str(other), "d", shape=(3,))
        group.create_virtual_dataset("0", layout)

    path = tmp_path / "c.h5"
    _entry_with(path, make)
    with pytest.raises(CacheError, match="is a virtual dataset"):
        cached(path, "k", lambda: np.zeros(3))


def test_other_entries_links_are_kept_not_followed(tmp_path):
    import h5py

    path = tmp_path / "c.h5"
    cached(path, "a", lambda: np.arange(2))
    with h5py.File(path, "r+") as f:
        f["elsewhere"] = h5py.ExternalLink(str(tmp_path / "missing.h5"), "/x")
    cached(path, "b", lambda: np.arange(3))  # rewrites the file, copying the other members
    with h5py.File(path, "r") as f:
        link = f.get("elsewhere", getlink=True)
        assert isinstance(link, h5py.ExternalLink) and link.path == "/x"
    np.testing.assert_array_equal(cached(path, "a", lambda: None), np.arange(2))


def test_unreadable_other_entries_when_rewriting(tmp_path):
    """Found by the fuzzer: zeroing 8 bytes of the root symbol table hides 'k' (a miss) and then
    breaks the copy of the other entries; the rewrite must fail cleanly or, asked to, drop them."""
    path = tmp_path / "c.h5"
    value = {"x": np.arange(12, dtype=np.float32).reshape(4, 3), "y": np.arange(5)}
    cached(path, "k", lambda: value)
    raw = bytearray(path.read_bytes())
    raw[169:177] = bytes(8)
    path.write_bytes(bytes(raw))
    with pytest.raises(CacheError, match=r"c.h5: (other entries cannot be copied|entry 'k' cannot be read)"):
        cached(path, "k", lambda: value)
    with pytest.warns(UserWarning, match="c.h5"):
        got = cached(path, "k", lambda: value, on_corrupt="rebuild")
    np.testing.assert_array_equal(got["x"], value["x"])
    np.testing.assert_array_equal(cached(path, "k", lambda: None)["y"], value["y"])
