"""Shared helpers for the benchmark scripts: timing, peak memory, JSON + table output."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Every benchmark imports this module first: the checkout's own refsnn is imported (no install
# needed), never another copy that happens to be installed.
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))


def threads() -> int:
    """Thread count used for every framework in one run (env REFSNN_BENCH_THREADS, else cores)."""
    return int(os.environ.get("REFSNN_BENCH_THREADS", os.cpu_count() or 1))


def timeit(fn, repeat: int = 7, warmup: int = 2, settle: int = 0) -> dict:
    """Median/min/mean seconds of ``fn()`` over ``repeat`` runs after ``warmup`` runs.

    ``settle`` > 0: keep warming up (at most ``settle`` more runs) until a run takes less than
    1.25× the fastest so far — torch's first CPU steps are seconds long while its allocator
    and kernels warm up.
    """
    best = float("inf")
    for i in range(warmup + settle):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        if i >= warmup and dt < 1.25 * best:
            break
        best = min(best, dt)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times),
            "mean_s": statistics.fmean(times), "repeat": repeat, "times_s": times}


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_env(extra: dict | None = None) -> dict:
    """The user's own environment plus the same thread count for every framework, nothing else.

    ``OMP_NUM_THREADS`` (torch, and NumPy's OpenBLAS when ``OPENBLAS_NUM_THREADS`` is unset),
    ``NUMBA_NUM_THREADS`` and ``MKL_NUM_THREADS`` are set to :func:`threads`; no malloc or
    BLAS tuning — refsnn manages its BLAS threads and big buffers itself (refsnn.blas,
    refsnn.memory).  ``extra`` adds variables (e.g. to show that setting them changes nothing).
    """
    env = dict(os.environ, OMP_NUM_THREADS=str(threads()), NUMBA_NUM_THREADS=str(threads()),
               MKL_NUM_THREADS=str(threads()))
    env.update(extra or {})
    return env


TUNING_VARS = ("OPENBLAS_NUM_THREADS", "GLIBC_TUNABLES", "REFSNN_BLAS_THREADS", "REFSNN_WORKSPACE_MB")


def tuning_env() -> dict:
    """The tuning variables set in this environment (recorded in every benchmark's JSON)."""
    return {k: os.environ[k] for k in TUNING_VARS if k in os.environ}


def machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "threads": threads()}


def write(name: str, results: dict, out_dir: str | None = None) -> Path:
    """Write ``results`` to benchmarks/results/<name>.json (or ``out_dir``) and return the path."""
    out = Path(out_dir or Path(__file__).parent / "results")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(results, indent=2))
    return path


def table(rows: list[dict], columns: list[str]) -> str:
    """A plain fixed-width table of ``rows`` (dicts) over ``columns``."""
    def fmt(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def run_workers(script: str, names, extra_args, timeout_s: int = 1800, env=None) -> dict:
    """Run ``script --worker NAME extra_args`` for each name; ``{name: json or {"error": ...}}``.

    ``env``: the workers' environment — a dict, or a function of the worker's name (None: inherit).
    """
    results = {}
    for name in names:
        cmd = [sys.executable, script, "--worker", name, *extra_args]
        print(f"-- running {name} ...", flush=True)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                                  env=env(name) if callable(env) else env)
        except subprocess.TimeoutExpired:
            results[name] = {"error": f"timed out after {timeout_s} s"}
            continue
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            tail = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
            message = tail[-1].strip() if tail else f"exit code {proc.returncode}"
            results[name] = {"error": message, "traceback_tail": tail[-8:]}
            print(f"   {name} failed: {message[:300]}", file=sys.stderr)
            continue
        try:
            results[name] = json.loads(lines[-1])
        except json.JSONDecodeError:
            results[name] = {"error": f"unparsable worker output: {lines[-1][:200]}"}
    return results


def emit(result: dict) -> None:
    """Print a worker's result as the last line of stdout (what :func:`run_workers` reads)."""
    print(json.dumps(result))
