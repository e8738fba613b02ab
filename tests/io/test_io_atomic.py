"""Atomic writes: kill-safety, stale-temp cleanup that touches only the same target's dead temps,
errors that name the requested path, and output checks before any work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from refsnn.io import (
    check_writable,
    load_checkpoint,
    save_checkpoint,
    save_npz,
    save_safetensors,
    stale_temps,
)
from refsnn.io.atomic import host_tag, temp_name

ROOT = Path(__file__).resolve().parents[2]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temp_names_are_tied_to_target_and_process(tmp_path):
    t = temp_name(tmp_path / "run.h5")
    assert t.parent == tmp_path
    head = f".run.h5.refsnn-{host_tag()}-{os.getpid()}-"
    assert t.name.startswith(head) and t.name.endswith(".tmp") and len(t.name) == len(head) + 8 + 4


@pytest.mark.parametrize("save, name", [
    (lambda p: save_checkpoint(p, {"w": np.ones(2)}), "run.h5"),
    (lambda p: save_npz(p, {"w": np.ones(2)}), "w.npz"),
    (lambda p: save_safetensors(p, {"w": np.ones(2)}), "w.safetensors"),
])
def test_next_save_removes_only_dead_temps_of_the_same_target(tmp_path, save, name):
    dead, live, host = _dead_pid(), os.getpid(), host_tag()
    stale = tmp_path / f".{name}.refsnn-{host}-{dead}-abcdefgh.tmp"
    keep = [
        tmp_path / f".{name}.refsnn-{host}-{live}-abcdefgh.tmp",      # a save in progress (live process)
        tmp_path / f".{name}.refsnn-{host}x-{dead}-abcdefgh.tmp",     # written on another host
        tmp_path / f".{name}.bak.refsnn-{host}-{dead}-abcdefgh.tmp",  # another target's temp
        tmp_path / f".other.h5.refsnn-{host}-{dead}-abcdefgh.tmp",    # another target's temp
        tmp_path / f".{name}.refsnn-{host}-{dead}-abcdefgh.tmp.keep", # not our pattern
        tmp_path / f".{name}.mine.tmp",                               # not our pattern
    ]
    for p in [stale, *keep]:
        p.write_bytes(b"x" * 100)
    assert stale_temps(tmp_path / name) == [stale]
    save(tmp_path / name)
    assert not stale.exists()
    assert all(p.exists() for p in keep)
    assert (tmp_path / name).exists()


def test_error_names_the_requested_path_not_the_temp(tmp_path):
    with pytest.raises(OSError) as info:
        save_checkpoint("/proc/run.h5", {"w": np.ones(2)})
    assert "/proc/run.h5" in str(info.value) and ".tmp" not in str(info.value)
    with pytest.raises(FileNotFoundError, match=r"cannot write .*nope/run\.h5: directory .*nope does not"):
        save_checkpoint(tmp_path / "nope" / "run.h5", {"w": np.ones(2)})
    with pytest.raises(IsADirectoryError, match="is a directory"):
        save_npz(tmp_path, {"w": np.ones(2)})


def test_check_writable_before_work(tmp_path):
    assert check_writable(tmp_path / "a.h5", (".h5",)) == tmp_path / "a.h5"
    with pytest.raises(ValueError, match=r"run\.pt.*unsupported extension '\.pt'"):
        check_writable(tmp_path / "run.pt", (".h5", ".hdf5"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_writable("/nonexistent/run.h5")
    with pytest.raises(IsADirectoryError):
        check_writable(tmp_path)


_WRITER = textwrap.dedent("""
    import sys, numpy as np
    from pathlib import Path
    from refsnn.io import save_checkpoint
    target, ready = Path(sys.argv[1]), Path(sys.argv[2])
    step = 0
    while True:
        step += 1
        save_checkpoint(target, {"w": np.full((1000, 1000), step, np.float32)}, step=step)
        ready.touch()
""")


def test_sigkill_during_saves_never_loses_the_file_and_temps_are_reclaimed(tmp_path):
    target, ready = tmp_path / "run.h5", tmp_path / "ready"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    for delay in (0.05, 0.13, 0.29):
        ready.unlink(missing_ok=True)
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target), str(ready)], env=env)
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ck = load_checkpoint(target)  # always a whole checkpoint: the old one or the new one
        assert ck.step >= 1 and np.all(ck.state["w"] == ck.step)
    save_checkpoint(target, {"w": np.zeros(2)}, step=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ready", "run.h5"]
