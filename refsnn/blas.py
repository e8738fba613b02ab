"""BLAS threads: keep NumPy's BLAS pool from fighting refsnn's Numba kernels for the cores.

refsnn's fused kernels (spike products, LIF time loops) run on Numba's thread
pool, one thread per core.  NumPy's BLAS (OpenBLAS) has a pool of its own, and
after every multi-threaded call its workers keep spinning for a while, waiting
for the next one.  In a training step the two alternate — a spike gather, a
small GEMM, a LIF loop, another GEMM — so the spinning BLAS workers take cores
from the Numba threads all the time (the GAMIN SNN's step ran 1.5–2× slower).

So the first time a refsnn Numba-parallel kernel runs, refsnn limits the BLAS
libraries loaded in the process to ``REFSNN_BLAS_THREADS`` threads (default 1)
with threadpoolctl, and leaves them there.  The small GEMMs between spike
kernels lose little from a single thread; the idle BLAS workers go to sleep
and stay asleep.  What a user can do about it:

* ``REFSNN_BLAS_THREADS=n`` — the limit to apply (a positive integer), or
  ``REFSNN_BLAS_THREADS=off`` — never touch BLAS (for example a conv SNN whose
  big convolution GEMMs matter more than the contention);
* :func:`restore` — put BLAS back to the thread counts it had before refsnn
  changed them, and stop limiting it for the rest of the process;
* :func:`limit` — apply a limit now (``limit(None)`` is :func:`restore`);
* :func:`threads` — a ``with`` block with another BLAS thread count, restored
  on exit (e.g. a big dense GEMM of your own between SNN steps).

:func:`engage` is what a Numba-parallel kernel wrapper calls after its kernel
ran (a kernel's first run may load more BLAS libraries, e.g. SciPy's): a no-op
after its first call, or while the limit is off.  Only BLAS libraries loaded
at that moment are limited.  ``state()`` says what was done.

>>> import refsnn.blas as blas
>>> with blas.threads(1):
...     pass
"""

from __future__ import annotations

import contextlib
import os
import threading

ENV = "REFSNN_BLAS_THREADS"
DEFAULT = 1
_lock = threading.Lock()
# engaged: the automatic limit has been decided (applied, or refused by the setting / restore());
# limiter: threadpoolctl's handle of what refsnn changed (None when BLAS is as it found it)
_state = {"engaged": False, "limiter": None, "threads": None}


def setting() -> int | None:
    """The limit ``REFSNN_BLAS_THREADS`` asks for: a positive int, or None for ``off``."""
    raw = os.environ.get(ENV, "").strip().lower()
    if raw == "":
        return DEFAULT
    if raw in ("off", "none", "keep"):
        return None
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    raise ValueError(f"{ENV}={raw!r}: expected a positive integer or 'off'")


def _controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise ImportError("refsnn.blas needs threadpoolctl (pip install 'threadpoolctl>=3')") from e
    return ThreadpoolController()


def _apply(n: int) -> None:
    """Limit BLAS to ``n`` threads, remembering the original counts only the first time."""
    limiter = _controller().limit(limits=n, user_api="blas")
    if _state["limiter"] is None:
        _state["limiter"] = limiter  # its restore puts back what BLAS had before refsnn
    _state["threads"] = n


def engage() -> None:
    """Apply the automatic limit once (see module docstring); cheap after the first call."""
    if _state["engaged"]:
        return
    with _lock:
        if _state["engaged"]:
            return
        n = setting()
        if n is not None:
            _apply(n)
        _state["engaged"] = True


def limit(n: int | None) -> None:
    """Limit BLAS to ``n`` threads now (and keep the automatic limit from changing it); None restores."""
    if n is None:
        return restore()
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"refsnn.blas.limit: n must be a positive int or None, got {n!r}")
    with _lock:
        _apply(n)
        _state["engaged"] = True


def restore() -> None:
    """Give BLAS back the thread counts it had before refsnn limited it; no automatic limit after."""
    with _lock:
        if _state["limiter"] is not None:
            _state["limiter"].restore_original_limits()
        _state.update(engaged=True, limiter=None, threads=None)


def state() -> dict:
    """``{"engaged": bool, "threads": int | None}`` — None: refsnn has not changed BLAS."""
    return {"engaged": _state["engaged"], "threads": _state["threads"]}


@contextlib.contextmanager
def threads(n: int):
    """``with threads(n):`` BLAS runs on ``n`` threads inside the block, as before it after."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"refsnn.blas.threads: n must be a positive int, got {n!r}")
    with _controller().limit(limits=n, user_api="blas"):
        yield


def _reset_for_tests() -> None:
    """Forget every decision (restoring BLAS first), as in a fresh process."""
    restore()
    _state["engaged"] = False
