"""Binary-spike × dense matrix products on the GPU: sum the rows the spikes select.

Same names, signatures and results as :mod:`refsnn.kernels.spikemm`::

    spike_matmul(S, Wt) -> Z        S uint8/bool [M, K], Wt float32/64 [K, N] -> Z [M, N]
    spike_matmul_t(S, G) -> dWt     S uint8/bool [M, K], G  float32/64 [M, N] -> dWt [K, N]

    Z[m]   = Σ_{k : S[m,k] ≠ 0} Wt[k]        dWt[k] = Σ_{m : S[m,k] ≠ 0} G[m]

How.  Both are one CUDA kernel, ``gather_rows_sum``: ``out[r] = Σ_{p} A[idx[p]]``
over a CSR index list (``ptr``, ``idx``) of the nonzeros of ``S`` (forward)
or ``Sᵀ`` (transpose), built with CuPy array ops (``flatnonzero`` is in
ascending order, so each row's indices ascend).  One thread per output
element ``(r, n)``, ``i = r·N + n``: the threads of a warp share ``r`` and
read ``A[idx[p], n..n+31]`` — coalesced — while the index list is a broadcast
read.  Work is ``nnz(S)·N`` additions, no multiplications.

Bit-exact with the reference.  The Numba kernel adds the selected rows in
ascending order, 8 at a time as ``((a+b)+(c+d))+((e+f)+(g+h))``, restarting
the groups of 8 at every multiple of its row-chunk ``rc`` (a cache-blocking
parameter: ``rc = max(64, 2^20 // (min(N, 512)·itemsize))``).  The CUDA
kernel walks the same chunks and groups, so every output element is the
same sequence of IEEE additions (compiled without FMA contraction) — equal
bit for bit, unlike a cuBLAS GEMM.

>>> import cupy as cp                                                     # doctest: +SKIP
>>> S = cp.array([[1, 0, 1], [0, 0, 0]], cp.uint8)                        # doctest: +SKIP
>>> spike_matmul(S, cp.arange(6, dtype=cp.float32).reshape(3, 2)).tolist()  # doctest: +SKIP
[[4.0, 6.0], [0.0, 0.0]]
"""

from __future__ import annotations

import numpy as np

from accel.cupy._core import cp, declare, launch
from refsnn.kernels.spikemm import CHUNK_BYTES, TILE_N

SOURCE = r"""
// out[r, n] = sum over p in [ptr[r], ptr[r+1]) of A[idx[p], n], idx ascending within a row.
// Grouping (same as the reference): within each chunk of rc rows of A, add 8 rows at a time
// as ((a+b)+(c+d))+((e+f)+(g+h)) while the 8th index is still inside the chunk, then singles.
template <typename F>
__global__ void gather_rows_sum(const long long* ptr, const int* idx, const F* A, F* out,
                                long long R, long long N, long long rc) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= R * N) return;
    long long r = i / N, n = i - r * N;
    long long p = ptr[r], pe = ptr[r + 1];
    F acc = F(0);
    for (long long j1 = rc; p < pe; j1 += rc) {          // this pass: rows j1 - rc <= idx < j1
        while (p + 8 <= pe && idx[p + 7] < j1) {
            F a = A[(long long)idx[p] * N + n], b = A[(long long)idx[p + 1] * N + n];
            F c = A[(long long)idx[p + 2] * N + n], d = A[(long long)idx[p + 3] * N + n];
            F e = A[(long long)idx[p + 4] * N + n], f = A[(long long)idx[p + 5] * N + n];
            F g = A[(long long)idx[p + 6] * N + n], h = A[(long long)idx[p + 7] * N + n];
            acc += ((a + b) + (c + d)) + ((e + f) + (g + h));
            p += 8;
        }
        while (p < pe && idx[p] < j1) {
            acc += A[(long long)idx[p] * N + n];
            ++p;
        }
    }
    out[i] = acc;
}
"""

CUDA = declare("spikemm", SOURCE, ["gather_rows_sum"])


def _check(where: str, S, A, a_name: str, rows: int):
    cupy = cp()
    if not isinstance(S, cupy.ndarray) or S.ndim != 2:
        raise TypeError(f"{where}: S must be a 2-D cupy.ndarray of spikes, "
                        f"got {type(S).__name__} {getattr(S, 'shape', '')}")
    if S.dtype == np.bool_:
        S = S.view(np.uint8)
    if S.dtype != np.uint8:
        raise TypeError(f"{where}: S must be uint8 or bool spikes, got {S.dtype} "
                        "(convert with (s != 0).astype(cupy.uint8))")
    if not isinstance(A, cupy.ndarray) or A.ndim != 2 or A.dtype not in (np.float32, np.float64):
        raise TypeError(f"{where}: {a_name} must be a 2-D float32/float64 cupy.ndarray, "
                        f"got {type(A).__name__} {getattr(A, 'dtype', '')} {getattr(A, 'shape', '')}")
    if A.shape[0] != S.shape[rows]:
        raise ValueError(f"{where}: S is {S.shape} but {a_name} is {A.shape} "
                         f"({a_name} needs {S.shape[rows]} rows)")
    return cupy.ascontiguousarray(S), cupy.ascontiguousarray(A)


def _csr(S):
    """``(ptr int64 [R+1], idx int32 [nnz])`` of the nonzeros of the C-contiguous ``S [R, C]``."""
    cupy = cp()
    R, C = S.shape
    flat = cupy.flatnonzero(S)  # ascending: row by row, columns ascending within a row
    ptr = cupy.zeros(R + 1, dtype=np.int64)
    ptr[1:] = cupy.cumsum((S != 0).sum(axis=1, dtype=np.int64))
    idx = (flat % C).astype(np.int32) if C else flat.astype(np.int32)
    return ptr, cupy.ascontiguousarray(idx)


def _chunk_rows(N: int, itemsize: int) -> int:
    """The reference's row chunk ``rc`` (it fixes where groups of 8 restart)."""
    tn = max(1, min(N, TILE_N))
    return max(64, CHUNK_BYTES // (tn * itemsize))


def _gather(where: str, S_rows, A):
    """``out[r] = Σ_{S_rows[r, j] ≠ 0} A[j]`` for ``S_rows [R, NA]`` and ``A [NA, N]``."""
    cupy = cp()
    R, N = S_rows.shape[0], A.shape[1]
    out = cupy.empty((R, N), dtype=A.dtype)
    if out.size == 0:
        return out
    ptr, idx = _csr(S_rows)
    fn = CUDA.function("gather_rows_sum", A.dtype)
    args = (ptr, idx, A, out, np.int64(R), np.int64(N), np.int64(_chunk_rows(N, A.itemsize)))
    launch(where, fn, R * N, args, {"ptr": (ptr, np.int64), "idx": (idx, np.int32),
                                    "A": (A, A.dtype), "out": (out, A.dtype)})
    return out


def spike_matmul(S, Wt):
    """``Z [M, N] = S [M, K] @ Wt [K, N]`` for binary ``S`` on the GPU (see module docstring)."""
    S, Wt = _check("spike_matmul", S, Wt, "Wt", 1)
    return _gather("spike_matmul", S, Wt)


def spike_matmul_t(S, G):
    """``dWt [K, N] = S [M, K]ᵀ @ G [M, N]`` for binary ``S`` on the GPU (see module docstring)."""
    S, G = _check("spike_matmul_t", S, G, "G", 0)
    return _gather("spike_matmul_t", cp().ascontiguousarray(S.T), G)


KERNELS = {"spike_matmul": spike_matmul, "spike_matmul_t": spike_matmul_t}
