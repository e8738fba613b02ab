"""Fuzz harness: a hypothesis loop run inside one memory-capped child process per parser.

A *target* is a function ``target(data, workdir) -> str`` (``data`` a hypothesis
``st.data()`` object): it writes a valid file, mutates it with :func:`mutated`,
runs the loader and checks the result, returning an outcome label
(``"ok"`` for a load that passed its checks, ``"refused"`` for the project's own
error naming the file). Any other exception fails the run.

:func:`run_fuzz` starts ``python tests/fuzz/fuzz_util.py <module> <target> ...``;
the child sets ``RLIMIT_AS`` (address space) to ``mem_mb`` *after* its imports,
records its peak resident memory (``VmHWM``),
runs ``max_examples`` examples from a fixed seed, and prints one JSON line::

    {"target": ..., "examples": 300, "outcomes": {"ok": 80, "refused": 220},
     "baseline_rss_mb": 95.1, "peak_rss_mb": 101.3, "failure": null}

A loader that tries to allocate past the cap gets a ``MemoryError`` (a failure,
reported with its traceback); one that hangs is killed at ``timeout`` seconds.
Other helpers' parsers plug in by writing a targets module with a ``TARGETS``
dict and calling :func:`run_fuzz` with its path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INTERESTING_INTS = (0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000,
                    0xFFFFFFFF)


def mutated(data, raw: bytes, max_ops: int = 4) -> tuple[bytes, list[str]]:
    """``raw`` after 0..``max_ops`` drawn edits: byte flips and sets, truncation, insertion,
    deletion, duplication and 1/2/4/8-byte integer overwrites (both byte orders).

    Returns the bytes and a list naming the edits (``[]``: unchanged, the load must be exact).
    """
    import hypothesis.strategies as st

    ops = data.draw(st.lists(st.sampled_from(["flip", "set", "truncate", "insert", "delete",
                                              "duplicate", "int"]), max_size=max_ops), label="ops")
    out, names = bytearray(raw), []
    for op in ops:
        n = len(out)
        at = data.draw(st.integers(0, max(n - 1, 0)), label="at") if n else 0
        if op == "flip" and n:
            out[at] ^= data.draw(st.integers(1, 255), label="xor")
        elif op == "set" and n:
            out[at] = data.draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, 0x20, 0x0A, 0x2D]), label="byte")
        elif op == "truncate":
            del out[at:]
        elif op == "insert":
            out[at:at] = data.draw(st.binary(min_size=1, max_size=16), label="inserted")
        elif op == "delete" and n:
            del out[at:at + data.draw(st.integers(1, 16), label="length")]
        elif op == "duplicate" and n:
            out[at:at] = out[at:at + data.draw(st.integers(1, 64), label="length")]
        elif op == "int" and n:
            width = data.draw(st.sampled_from([1, 2, 4, 8]), label="width")
            value = data.draw(st.sampled_from(INTERESTING_INTS + (n,)), label="value") % (1 << 8 * width)
            order = data.draw(st.sampled_from(["big", "little"]), label="order")
            out[at:at + width] = value.to_bytes(width, order)
        else:
            continue
        names.append(op)
    return bytes(out), names


def run_fuzz(module: str | os.PathLike, target: str, max_examples: int, seed: int = 0,
             mem_mb: int = 1024, timeout: float = 600) -> dict:
    """Run ``TARGETS[target]`` of the targets file ``module`` in a capped child; its JSON report."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    cmd = [sys.executable, str(Path(__file__).resolve()), str(module), target, str(max_examples),
           str(seed), str(mem_mb)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise AssertionError(f"fuzz child for {target} died (rc {proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    report = json.loads(lines[-1])
    report["returncode"] = proc.returncode
    return report


def _child(module: str, target: str, max_examples: int, seed: int, mem_mb: int) -> int:
    import importlib.util
    import resource
    import tempfile
    import traceback
    from collections import Counter

    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hyp_seed
    from hypothesis import strategies as st

    spec = importlib.util.spec_from_file_location("fuzz_targets_module", module)
    targets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(targets)
    fn = targets.TARGETS[target]
    outcomes: Counter = Counter()

    workdir = Path(tempfile.mkdtemp(prefix=f"fuzz-{target}-"))

    @hyp_seed(seed)
    @settings(max_examples=max_examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def body(data):
        outcomes[fn(data, workdir)] += 1

    def rss_mb() -> float:
        """Peak resident set of this process image: VmHWM (Linux), else ru_maxrss.

        ru_maxrss survives execve on Linux, so it would report the parent's (pytest's) peak."""
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    baseline = rss_mb()
    cap = mem_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    failure = None
    try:
        body()
    except BaseException:
        failure = traceback.format_exc()[-4000:]
    report = {"target": target, "examples": sum(outcomes.values()), "outcomes": dict(outcomes),
              "baseline_rss_mb": round(baseline, 1), "peak_rss_mb": round(rss_mb(), 1),
              "mem_cap_mb": mem_mb, "failure": failure}
    print(json.dumps(report), flush=True)
    return 1 if failure else 0


if __name__ == "__main__":
    module_arg, target_arg, n_arg, seed_arg, mem_arg = sys.argv[1:6]
    sys.exit(_child(module_arg, target_arg, int(n_arg), int(seed_arg), int(mem_arg)))
