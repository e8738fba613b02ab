"""Machinery shared by the CuPy kernels: lazy CuPy import, CUDA prelude, compilation, checks, launch.

Nothing here imports CuPy at module import time: :func:`cp` does, on the
first kernel call, so ``import accel.cupy`` (and the source strings it holds)
works on a machine without CuPy — the compile test extracts the sources and
feeds them to ``nvcc``.

Sources.  Each kernel module keeps its CUDA code as a readable string next
to its Python wrapper and declares it once with :func:`declare`::

    CUDA = declare("lif_delayed", SOURCE, ["lif_delayed_forward", "lif_delayed_backward"])
    CUDA.function("lif_delayed_forward", X.dtype)   # -> compiled cupy.RawKernel

The kernels are C++ templates over the float type ``F``; ``RawModule``
(NVRTC) instantiates ``name<float>`` and ``name<double>`` for each declared
name (``name_expressions``), and :meth:`CudaSource.function` picks the one
matching the array dtype.  Every source is compiled once per device, on the
first call that needs it.  Every source is prefixed with :data:`PRELUDE`: the
reset and surrogate codes as ``#define`` s generated from
:mod:`refsnn.kernels.codes` (``RS_RESET_SOFT``, ``RS_SG_SPIKE_TIME``, ...),
typed math overloads, the non-finite test and the surrogate gradient ``sg_eval``.

Forward kernels write float spikes and count the non-finite inputs of each
neuron into ``bad[n]``; :func:`check_count` sums them and raises.

Compilation flags: ``--fmad=false``.  NVRTC contracts ``a*b + c`` into a
fused multiply-add by default, which rounds once instead of twice; Numba and
NumPy do not, so with contraction on the GPU membrane would drift from the
reference by an ulp and, near the threshold, flip a spike.  With it off,
every ``+ − × ÷ √`` is the same IEEE operation in the same order as the
Numba kernel, so spikes and membranes agree bit for bit; only ``exp``,
``erfcx`` and friends (CUDA's libdevice vs the host libm) may differ by an
ulp or two.  (The host emulator in ``tests/accel`` compiles the same
sources with ``g++ -ffp-contract=off`` for the same reason.)

Launch configuration (all fused time loops): one thread per neuron ``n``,
``THREADS = 256`` threads per block, ``ceil(N / 256)`` blocks; each thread
walks t = 0..T-1 (or back) touching element ``t·N + n``, so a warp reads and
writes 32 consecutive elements per step — fully coalesced.
"""

from __future__ import annotations

import importlib

import numpy as np

from refsnn.kernels._common import empty_out, raise_if_nonfinite
from refsnn.kernels.codes import cuda_defines

THREADS = 256
NVRTC_OPTIONS = ("--fmad=false",)
FLOAT_SUFFIX = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}

PRELUDE_CODES = cuda_defines()  # RS_RESET_*, RS_SG_*, RS_FIRST_SPIKE_LAG from refsnn.kernels.codes

PRELUDE = "// ---- refsnn CUDA prelude: codes (generated from refsnn.kernels.codes) ----\n" + \
    PRELUDE_CODES + r"""
// ---- typed math (float/double overloads), non-finite test, surrogate gradients ----
__device__ __forceinline__ float rs_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double rs_abs(double x) { return fabs(x); }
__device__ __forceinline__ float rs_exp(float x) { return expf(x); }
__device__ __forceinline__ double rs_exp(double x) { return exp(x); }
__device__ __forceinline__ float rs_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double rs_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float rs_erfcx(float x) { return erfcxf(x); }
__device__ __forceinline__ double rs_erfcx(double x) { return erfcx(x); }

// 1 if x is NaN or +-inf: x - x is 0 for every finite x and NaN otherwise (no fast-math here).
template <typename F>
__device__ __forceinline__ unsigned int rs_nonfinite(F x) { return (x - x) != F(0); }

// dS/dU at x = U - theta, constants from refsnn's sg_constants: RS_SG_FAST_SIGMOID
// 1/(c0|x|+1)^2; RS_SG_ARCTAN c0/(1+(c1 x)^2) (c0 = a/2, c1 = pi/2 a); RS_SG_SIGMOID
// c0 s(1-s), s = 1/(1+e^{-c0 x}); RS_SG_TRIANGLE max(0, c0-|x|)/c1 (c1 = a^2); RS_SG_LINEAR
// c0 max(0, 1-|x|/c1) (c0 = a/theta, c1 = theta); RS_SG_SPIKE_TIME table[dt] = a e^{-b dt}.
template <typename F>
__device__ __forceinline__ F sg_eval(int kind, F c0, F c1, F x, long long dt, const F* table) {
    const F one = F(1), zero = F(0);
    if (kind == RS_SG_FAST_SIGMOID) {
        F q = c0 * rs_abs(x) + one;
        return one / (q * q);
    } else if (kind == RS_SG_ARCTAN) {
        F z = c1 * x;
        return c0 / (one + z * z);
    } else if (kind == RS_SG_SIGMOID) {
        F s = one / (one + rs_exp(-(c0 * x)));
        return c0 * s * (one - s);
    } else if (kind == RS_SG_TRIANGLE) {
        F v = c0 - rs_abs(x);
        return (v > zero ? v : zero) / c1;
    } else if (kind == RS_SG_LINEAR) {
        F v = one - rs_abs(x) / c1;
        return c0 * (v > zero ? v : zero);
    }
    return table[dt];
}

// The reset shared by forms 2-5, once: V = H - theta S (soft) or (1 - S) H + S V_reset (hard).
template <typename F>
__device__ __forceinline__ F rs_reset(F h, F s, F theta, F v_reset, int reset) {
    if (reset == RS_RESET_SOFT) return h - theta * s;
    return (F(1) - s) * h + s * v_reset;
}

// The BPTT recurrence shared by every form, once:  delta = gM + g (gS + [!detach] d' cs) + d' cu
// (d' the gradient arriving from step t+1 through the carried membrane; cs, cu per form).
template <typename F>
__device__ __forceinline__ F bptt_delta(F gm, F g, F gs, F dn, F cs, F cu, int detach) {
    F inner = detach ? gs : gs + dn * cs;
    return gm + (g * inner + dn * cu);
}

// Spike-time surrogate cursor: index of neuron n's last spike in rows [0, i) of the float
// spikes S [T, N] (strictly before row i), -RS_FIRST_SPIKE_LAG if none (the last spike counts
// as 1000 steps before step 0).  A backward sweep calls it again only when it passes that
// spike, so each row is scanned at most once per neuron.
template <typename F>
__device__ __forceinline__ long long last_spike_before(const F* S, long long i, long long N,
                                                       long long n) {
    for (long long k = i - 1; k >= 0; --k) {
        if (S[k * N + n] != F(0)) return k;
    }
    return -RS_FIRST_SPIKE_LAG;
}
"""

_ALL: dict[str, CudaSource] = {}


def cp():
    """The ``cupy`` module, imported on first use; ``ImportError`` naming the extra if missing."""
    try:
        return importlib.import_module("cupy")
    except ImportError as exc:
        from accel import CUPY_EXTRA_HINT

        raise ImportError(f"accel.cupy: CuPy is not installed; {CUPY_EXTRA_HINT}") from exc


class CudaSource:
    """One CUDA translation unit: ``PRELUDE + code``, with its template kernels' names.

    ``kernels`` are template names (``"lif_delayed_forward"``); each is
    instantiated for ``float`` and ``double``.  Compiled lazily, once per
    CUDA device, through ``cupy.RawModule``.
    """

    def __init__(self, key: str, code: str, kernels: list[str]):
        self.key, self.code, self.kernels = key, code, list(kernels)
        self._modules: dict[int, object] = {}

    @property
    def full_code(self) -> str:
        return PRELUDE + self.code

    @property
    def name_expressions(self) -> list[str]:
        return [f"{k}<{f}>" for k in self.kernels for f in ("float", "double")]

    def function(self, name: str, dtype):
        """The compiled kernel ``name<F>`` for ``dtype`` (float32 → float, float64 → double)."""
        if name not in self.kernels:
            raise KeyError(f"{self.key}: no CUDA kernel {name!r}; have {self.kernels}")
        f = FLOAT_SUFFIX.get(np.dtype(dtype))
        if f is None:
            raise TypeError(f"{self.key}: no {name} kernel for dtype {np.dtype(dtype)}")
        cupy = cp()
        dev = cupy.cuda.runtime.getDevice()
        mod = self._modules.get(dev)
        if mod is None:
            mod = cupy.RawModule(code=self.full_code, options=NVRTC_OPTIONS,
                                 name_expressions=self.name_expressions)
            self._modules[dev] = mod
        return mod.get_function(f"{name}<{f}>")


def declare(key: str, code: str, kernels: list[str]) -> CudaSource:
    """Declare a CUDA source (kept in :func:`all_sources` for the compile test)."""
    src = CudaSource(key, code, kernels)
    _ALL[key] = src
    return src


def clear_cache() -> None:
    """Forget every compiled module (the next call recompiles; used by tests that swap CuPy)."""
    for src in _ALL.values():
        src._modules.clear()


def all_sources() -> dict[str, CudaSource]:
    """Every declared CUDA source, by key (imports the kernel modules first)."""
    from accel.cupy import import_kernel_modules

    import_kernel_modules()
    return dict(_ALL)


# ------------------------------------------------------------------ checks


def check_input(where: str, X, name: str = "X"):
    """``X`` must be a C-contiguous 2-D float32/float64 ``cupy.ndarray`` ``[T, N]`` with T ≥ 1."""
    cupy = cp()
    if not isinstance(X, cupy.ndarray):
        raise TypeError(
            f"{where}: {name} must be a cupy.ndarray, got {type(X).__name__} "
            "(move host arrays with accel.to_device)"
        )
    if X.ndim != 2:
        raise ValueError(f"{where}: {name} must be 2-D [T, N], got shape {X.shape}")
    if X.dtype not in (np.float32, np.float64):
        raise TypeError(f"{where}: {name} must be float32 or float64, got {X.dtype}")
    if X.shape[0] < 1:
        raise ValueError(f"{where}: {name} has T = 0 time steps")
    if not X.flags.c_contiguous:
        raise ValueError(f"{where}: {name} must be C-contiguous (use cupy.ascontiguousarray)")


def grad_arg(where: str, name: str, g, like):
    """An upstream gradient as ``(array, present)``; ``None`` → a 1×1 dummy that is never read.

    Like the reference, a gradient of the right shape is made C-contiguous in
    ``like``'s dtype (a copy only when needed).
    """
    cupy = cp()
    if g is None:
        return cupy.zeros((1, 1), like.dtype), False
    if not isinstance(g, cupy.ndarray):
        raise TypeError(f"{where}: {name} must be a cupy.ndarray or None, got {type(g).__name__}")
    if g.shape != like.shape:
        raise ValueError(f"{where}: {name} has shape {g.shape}, expected {like.shape}")
    return cupy.ascontiguousarray(g, dtype=like.dtype), True


def spikes_arg(where: str, S, like, name: str = "S"):
    """Spikes as C-contiguous floats in ``like``'s dtype and shape (the forward's own is reused)."""
    cupy = cp()
    if not isinstance(S, cupy.ndarray):
        raise TypeError(f"{where}: {name} must be a cupy.ndarray, got {type(S).__name__}")
    if S.shape != like.shape:
        raise ValueError(f"{where}: {name} has shape {S.shape}, expected {like.shape}")
    return cupy.ascontiguousarray(S, dtype=like.dtype)


def forward_outputs(X):
    """``(S, M, bad)`` for a forward kernel: float spikes and membrane like ``X``, counts ``[N]``."""
    cupy = cp()
    T, N = X.shape
    return (empty_out((T, N), X.dtype, cupy), empty_out((T, N), X.dtype, cupy),
            cupy.zeros(N, dtype=np.uint32))


def check_count(where: str, bad) -> None:
    """Raise the non-finite-input error when the per-neuron counts ``bad`` sum to > 0."""
    raise_if_nonfinite(where, int(bad.sum()))


def typed(dtype, *values):
    """Python scalars as NumPy scalars of ``dtype`` (what RawKernel needs for ``F`` arguments)."""
    t = np.dtype(dtype).type
    return tuple(t(v) for v in values)


def launch(where: str, fn, n_threads: int, args: tuple, named: dict | None = None) -> None:
    """Launch ``fn`` with one thread per item of ``n_threads`` (see module docstring).

    ``named`` maps argument names to the device arrays among ``args`` with the
    dtype each must have; every one is checked C-contiguous and of that dtype
    right before the launch, so a wrong buffer is an error naming it, never a
    silent out-of-bounds read.
    """
    for name, (arr, dtype) in (named or {}).items():
        if not arr.flags.c_contiguous:
            raise ValueError(f"{where}: internal buffer {name} is not C-contiguous")
        if arr.dtype != np.dtype(dtype):
            raise TypeError(f"{where}: internal buffer {name} has dtype {arr.dtype}, expected {dtype}")
    if n_threads <= 0:
        return
    blocks = (int(n_threads) + THREADS - 1) // THREADS
    fn((blocks,), (THREADS,), args)
