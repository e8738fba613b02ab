"""Shared pieces of the GPU benchmarks: synchronised timing, device facts, worker subprocesses.

Every framework runs in its own subprocess (``python <script> --worker NAME``)
so a missing package, a CUDA error or an out-of-memory in one of them is
recorded as ``{"error": ...}`` in the results and the others still run.

Timing on a GPU: kernels are asynchronous, so each timed call is bracketed by
a device synchronisation (``cupy.cuda.Device().synchronize()`` or
``torch.cuda.synchronize()``); the median of ``repeat`` calls after
``warmup`` calls is reported.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _util import emit, machine, run_workers, table, write  # noqa: F401  (re-exported for the gpu_* scripts)

H200_PEAK_TBPS = 4.8  # HBM3e, NVIDIA's data sheet figure for the H200 SXM


def sync_fn(kind: str):
    """A function that waits for the device: ``kind`` is ``"cupy"`` or ``"torch"``."""
    if kind == "cupy":
        import cupy

        return cupy.cuda.Device().synchronize
    import torch

    return torch.cuda.synchronize


def gpu_timeit(fn, sync, repeat: int = 10, warmup: int = 2) -> dict:
    """Median/min/mean seconds of ``fn()`` with the device synchronised around every call."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeat):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times),
            "mean_s": statistics.fmean(times), "repeat": repeat}


def device_info() -> dict:
    """Name, memory and compute capability of GPU 0 (via CuPy, else torch; {} if neither works)."""
    try:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"]
        return {"name": name.decode() if isinstance(name, bytes) else str(name),
                "total_memory_gib": props["totalGlobalMem"] / 2**30,
                "compute_capability": f"{props['major']}.{props['minor']}",
                "cupy": cupy.__version__, "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion()}
    except Exception:
        pass
    try:
        import torch

        if torch.cuda.is_available():
            p = torch.cuda.get_device_properties(0)
            return {"name": p.name, "total_memory_gib": p.total_memory / 2**30,
                    "compute_capability": f"{p.major}.{p.minor}", "torch": torch.__version__}
    except Exception:
        pass
    return {}


def copy_bandwidth_cupy(n_bytes: int = 1 << 31) -> float | None:
    """Achieved device-to-device copy bandwidth in bytes/s (read + write counted), or None."""
    try:
        import cupy

        a = cupy.ones(n_bytes // 4, cupy.float32)
        b = cupy.empty_like(a)
        t = gpu_timeit(lambda: cupy.copyto(b, a), cupy.cuda.Device().synchronize, 10, 2)
        return 2 * a.nbytes / t["median_s"]
    except Exception:
        return None


