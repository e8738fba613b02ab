"""Fuzz one refsnn.io parser inside one memory-capped subprocess (hypothesis mutations of valid files).

Run by ``tests/io/test_io_fuzz.py`` as ``python tests/io/fuzz_harness.py PARSER EXAMPLES SEED MEM_MB``
(or by hand).  The child caps its address space with ``resource.setrlimit(RLIMIT_AS)``,
writes valid files of the format, and lets hypothesis mutate them — byte flips,
truncations, insertions, deletions, little-endian integer overwrites with edge
values, and format-aware header edits.  Every mutated file must give either a load
whose arrays total no more bytes than the file can back (and whose peak allocation, by
tracemalloc, stays within 8x that plus 1 MiB), or a
:class:`refsnn.errors.DataFormatError` naming the file; anything else (another
exception, a MemoryError under the cap) fails, and hypothesis shrinks it.  The
child prints one JSON line: ``{"parser", "examples", "loads", "refusals",
"max_load_alloc_kb", "peak_rss_mb", "ok", "failure"}`` (peak RSS from VmHWM, see :func:`peak_rss_mb`).
"""

from __future__ import annotations

import io
import json
import os
import resource
import struct
import sys
import tempfile
import traceback
import tracemalloc
import zipfile
from pathlib import Path

EDGE_INTS = [0, 1, 7, 8, 255, 2**15, 2**16 - 1, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**40,
             2**62, 2**63 - 1, 2**64 - 1]
PARSERS = ("safetensors", "npz", "h5", "npz-numpy")  # npz-numpy: NumPy's own reader, to show a failure


# ----------------------------------------------------------------------------- valid files
def valid_files(parser: str, d: Path) -> list[bytes]:
    """Small valid files of ``parser``'s format, written by refsnn itself."""
    import numpy as np

    from refsnn.io import save_checkpoint, save_npz, save_safetensors

    rng = np.random.default_rng(0)
    state = {"fc1.weight": rng.standard_normal((6, 5)).astype(np.float32),
             "fc1.bias": np.arange(6, dtype=np.int64), "flag": np.array([True, False])}
    out = []
    if parser == "safetensors":
        save_safetensors(d / "a.safetensors", state, metadata={"format": "pt"})
        save_safetensors(d / "b.safetensors", {"w": np.float64(2.5) * np.ones((2, 2))})
        out = [(d / n).read_bytes() for n in ("a.safetensors", "b.safetensors")]
    elif parser.startswith("npz"):
        save_npz(d / "a.npz", state)
        save_npz(d / "b.npz", state, compress=True)
        np.savez(d / "c.npz", w=np.asfortranarray(rng.standard_normal((3, 4))))
        out = [(d / n).read_bytes() for n in ("a.npz", "b.npz", "c.npz")]
    elif parser == "h5":
        save_checkpoint(d / "a.h5", state, config={"model": "ann", "hidden": 6}, seed=1, step=2,
                        optimizer={"lr": 0.1, "state": [np.ones(3, np.float32)], "n": 2**70},
                        extra={"tag": "x", "none": None})
        out = [(d / "a.h5").read_bytes()]
    return out


def _npz_header_edit(data: bytes, shape, descr: str) -> bytes:
    """Rewrite the first member's .npy header (shape, descr), keeping the zip consistent."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as dst:
        for i, info in enumerate(src.infolist()):
            raw = src.read(info)
            if i == 0:
                hlen = struct.unpack("<H", raw[8:10])[0]
                text = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
                raw = raw[:8] + struct.pack("<H", len(text)) + text.encode("latin1") + raw[10 + hlen:]
            dst.writestr(info, raw, compress_type=info.compress_type)
    return buf.getvalue()


def _st_header_edit(data: bytes, edit) -> bytes:
    """Apply one edit to a safetensors JSON header: (tensor index, key, new value) or a duplicate."""
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    names = [k for k in header if k != "__metadata__"]
    index, key, value = edit
    name = names[index % len(names)]
    if key == "duplicate":
        text = json.dumps(header)[:-1] + f", {json.dumps(name)}: {json.dumps(header[name])}}}"
    else:
        header[name][key] = value
        text = json.dumps(header)
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw + data[8 + n:]


# ----------------------------------------------------------------------------- mutations
def strategies(parser: str, files: list[bytes]):
    from hypothesis import strategies as st

    def mutate(draw_data):
        data = bytearray(files[draw_data.draw(st.integers(0, len(files) - 1))])
        n_ops = draw_data.draw(st.integers(1, 4))
        for _ in range(n_ops):
            n = max(len(data), 1)
            # bias positions toward the header/metadata, where parsers make decisions
            pos = draw_data.draw(st.one_of(st.integers(0, min(n - 1, 255)), st.integers(0, n - 1)))
            op = draw_data.draw(st.sampled_from(["flip", "truncate", "insert", "delete", "int", "edit"]))
            if op == "flip":
                if data:
                    data[pos % len(data)] ^= draw_data.draw(st.integers(1, 255))
            elif op == "truncate":
                del data[pos:]
            elif op == "insert":
                data[pos:pos] = draw_data.draw(st.binary(min_size=1, max_size=16))
            elif op == "delete":
                del data[pos:pos + draw_data.draw(st.integers(1, 64))]
            elif op == "int":
                width = draw_data.draw(st.sampled_from([2, 4, 8]))
                value = draw_data.draw(st.sampled_from(EDGE_INTS)) % (1 << (8 * width))
                data[pos:pos + width] = value.to_bytes(width, "little")
            else:
                data = bytearray(_format_edit(parser, bytes(data), draw_data))
        return bytes(data)

    def _format_edit(parser, data, draw_data):
        try:
            if parser == "safetensors":
                key = draw_data.draw(st.sampled_from(["shape", "data_offsets", "dtype", "duplicate"]))
                value = draw_data.draw(st.one_of(
                    st.lists(st.sampled_from(EDGE_INTS), max_size=3), st.sampled_from(["F32", "BF16", 7]),
                    st.just([[[[]]]]), st.just([1e300]), st.just("9" * 5000)))
                return _st_header_edit(data, (draw_data.draw(st.integers(0, 5)), key, value))
            if parser.startswith("npz"):
                shape = draw_data.draw(st.lists(st.sampled_from(EDGE_INTS), max_size=3))
                descr = draw_data.draw(st.sampled_from(["<f4", "<f8", "|O", "|V8", "<U3", "(4,)<f4", "<c16"]))
                return _npz_header_edit(data, shape, descr)
        except Exception:  # the earlier mutations made the edit impossible; keep the data
            return data
        return data

    return mutate


# ----------------------------------------------------------------------------- child
def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs); False if unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB: VmHWM (reset by exec), else ru_maxrss.

    ``ru_maxrss`` survives exec on Linux, so in a child of a big pytest process it reports
    the parent's size; VmHWM belongs to the new address space only.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _loader(parser: str):
    from refsnn.io import load_checkpoint, load_npz, load_safetensors

    if parser == "safetensors":
        return lambda p: load_safetensors(p)[0], 2  # BF16 is widened to float32
    if parser == "npz":
        return load_npz, 1032  # deflate can expand a member at most ~1032x
    if parser == "npz-numpy":
        import numpy as np

        return lambda p: dict(np.load(p, allow_pickle=False)), 1032
    return lambda p: load_checkpoint(p).state, 1


def _oracle(parser: str, path: Path) -> dict:
    """The same file read by an independent reader: NumPy's npz reader, raw h5py, or a plain
    safetensors reader written here (the format is JSON + raw bytes)."""
    import numpy as np

    if parser == "npz":
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    if parser == "h5":
        import h5py

        with h5py.File(path, "r") as f:
            return {k: f["model"][k][()] for k in f["model"]}
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    tags = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
            "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?", "BF16": "<u2"}
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        arr = np.frombuffer(raw[8 + n + b:8 + n + end], dtype=tags[e["dtype"]]).reshape(e["shape"])
        out[name] = (arr.astype(np.uint32) << 16).view(np.float32) if e["dtype"] == "BF16" else arr
    return out


def _same(ours: dict, ref: dict) -> bool:
    return list(ours) == list(ref) and all(
        ours[k].shape == ref[k].shape and ours[k].dtype.newbyteorder("=") == ref[k].dtype.newbyteorder("=")
        and ours[k].astype(ours[k].dtype.newbyteorder("=")).tobytes()
        == ref[k].astype(ref[k].dtype.newbyteorder("=")).tobytes() for k in ours)


def child(parser: str, examples: int, seed: int, mem_mb: int) -> dict:
    resource.setrlimit(resource.RLIMIT_AS, (mem_mb << 20, mem_mb << 20))
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    from refsnn.errors import DataFormatError

    d = Path(tempfile.mkdtemp(prefix=f"fuzz-{parser}-"))
    files = valid_files(parser, d)
    mutate = strategies(parser, files)
    load, ratio = _loader(parser)
    stats = {"parser": parser, "examples": 0, "loads": 0, "refusals": 0, "max_load_alloc_kb": 0.0}
    tracemalloc.start()  # NumPy reports its array buffers to tracemalloc
    target = d / f"fuzz.{parser.split('-')[0]}"

    @hypothesis_seed(seed)
    @settings(max_examples=examples, database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(st.data())
    def run(data):
        blob = mutate(data)
        target.write_bytes(blob)
        stats["examples"] += 1
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        rss_tracked = reset_peak_rss()
        rss_before = _status_kb("VmRSS:")
        try:
            state = load(target)
        except DataFormatError as err:
            assert str(target) in str(err), f"error does not name the file: {err}"
            stats["refusals"] += 1
            return
        finally:  # what one load allocated at its peak, against what the file can back
            alloc = tracemalloc.get_traced_memory()[1] - before
            if rss_tracked:  # C allocations too (libhdf5, zlib): the resident peak of this load
                grew = (_status_kb("VmHWM:") - rss_before) * 1024
                stats["max_load_rss_kb"] = max(stats.get("max_load_rss_kb", 0), grew // 1024)
                assert grew <= 8 * ratio * len(blob) + (32 << 20), f"one load grew RSS by {grew} " \
                    f"bytes for a {len(blob)}-byte file"
            stats["max_load_alloc_kb"] = max(stats["max_load_alloc_kb"], round(alloc / 1024, 1))
            assert alloc <= 8 * ratio * len(blob) + (1 << 20), f"one load allocated {alloc} bytes " \
                f"for a {len(blob)}-byte file"
        total = sum(a.nbytes for a in state.values())
        assert total <= ratio * len(blob) + 64, f"loaded {total} bytes from a {len(blob)}-byte file"
        if parser in ("safetensors", "npz", "h5"):
            assert _same(state, _oracle(parser, target)), "the load differs from an independent reader"
        stats["loads"] += 1

    failure = None
    try:
        run()
    except BaseException as exc:  # reported to the parent, which fails the test
        failure = "".join(traceback.format_exception(exc))[-4000:]
    stats["peak_rss_mb"] = peak_rss_mb()
    stats["ok"] = failure is None
    stats["failure"] = failure
    return stats


def run_fuzz(parser: str, examples: int, seed: int = 0, mem_mb: int = 1024, timeout: float = 600) -> dict:
    """Run :func:`child` in a fresh interpreter and return its JSON report (parent side)."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), parser, str(examples),
                           str(seed), str(mem_mb)], cwd=root, env=env, capture_output=True, text=True,
                          timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"parser": parser, "ok": False, "failure": f"child exited {proc.returncode}: "
                f"{proc.stderr[-3000:]}{proc.stdout[-1000:]}"}
    return json.loads(lines[-1])


if __name__ == "__main__":
    name, count, seed_, mem = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    if name not in PARSERS:
        raise SystemExit(f"parser must be one of {PARSERS}, got {name!r}")
    print(json.dumps(child(name, count, seed_, mem)), flush=True)
