"""Binary-spike × dense matrix products: sum the rows the spikes select, skip the zeros.

A layer that sees binary spikes ``S ∈ {0,1}^{M×K}`` (for the GAMIN SNN: rate-coded
MNIST, about 17 % ones, ``M = T·B``) computes ``Z = S @ Wt`` — and in BPTT
``dWt = Sᵀ @ G``.  Each output row is a *sum of selected rows*, no multiplications::

    Z[m]   = Σ_{k : S[m,k] = 1} Wt[k]          spike_matmul      Z [M, N]
    dWt[k] = Σ_{m : S[m,k] = 1} G[m]           spike_matmul_t    dWt [K, N]

so the work is ``nnz(S)·N`` additions instead of ``2·M·K·N`` flops.

Kernels (``numpy`` backend; the CuPy backend mirrors names and signatures)::

    spike_matmul(S, Wt) -> Z        S uint8/bool [M, K], Wt float32/64 [K, N] -> Z [M, N]
                                    (NumPy: optional bias [N], added last)
    spike_matmul_t(S, G) -> dWt     S uint8/bool [M, K], G  float32/64 [M, N] -> dWt [K, N]

Any nonzero byte of ``S`` counts as a 1 (binary input is the caller's
precondition; :func:`refsnn.autograd.ops_spike.spike_linear` checks it).  Float
inputs are made C-contiguous (a copy if they are not).  Twins (the readable
definition, dense): ``S.astype(W.dtype) @ Wt`` and ``S.T.astype(G.dtype) @ G``.
The kernels add the selected rows in ascending index order, 8 at a time as
``((a+b)+(c+d))+((e+f)+(g+h))``, restarting the groups of 8 at every multiple
of the row chunk ``rc = max(64, CHUNK_BYTES // (min(N, TILE_N)·itemsize))`` of
the summed matrix (so the exact float result depends on ``rc`` alone, not on
the thread count; the GPU backend repeats the same additions bit for bit).
They differ from the dense BLAS twin by rounding only:
``|Z − Z_twin| ≲ nnz_row·ε·(|S| @ |Wt|)``.

How (both products are one routine, :func:`_gather_rows_sum`): the spike
pattern is turned into index lists (CSR rows of ``S`` for the forward, of
``Sᵀ`` for the transpose — built in parallel and branch-free: 0.65 ms for
3200×784, 1.6 ms with the blocked transpose, on 2 threads); the output is
cut into column tiles of ``TN = 512`` and row blocks (≤ 1 MiB of output, and
at least two jobs per thread); ``prange`` runs over (tile, row block) jobs;
within a job the summed matrix is walked in row chunks of ≤ 512 KiB so that
each chunk is reused from the L2 cache by every output row of the block.
Outputs and the transposes (``transpose``) come from the workspace
(:mod:`refsnn.memory`: no fresh pages per step), and every kernel call ends
with :func:`refsnn.blas.engage` (NumPy's BLAS limited so that its idle
workers do not take the cores from these kernels).

Measured (AMD EPYC, float32, M = 3200 = T·B = 25·128, K = 784, N = 3000,
real MNIST-5k rate-coded input, density 0.174; median of 7 runs, against a
dense float32 ``np.matmul`` of the same product on OpenBLAS with the same
thread count; ``python benchmarks/spikemm.py``)::

    threads                 1                      2
    spike_matmul            83 ms (dense 144 ms)   38 ms (dense 74 ms)
    spike_matmul_t          80 ms (dense 143 ms)   42 ms (dense 75 ms)
    spike_linear fwd+bwd   179 ms (dense 303 ms)   94 ms (dense 162 ms)

>>> S = np.array([[1, 0, 1], [0, 0, 0]], np.uint8)
>>> spike_matmul(S, np.arange(6, dtype=np.float32).reshape(3, 2)).tolist()
[[4.0, 6.0], [0.0, 0.0]]
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from refsnn import blas, memory
from refsnn.backend import register_kernel

TILE_N = 512
CHUNK_BYTES = 1 << 19
BLOCK_BYTES = 1 << 20

# ----------------------------------------------------------------- NumPy twins


def spike_matmul_twin(S, Wt):
    """``Z = S @ Wt`` (dense definition)."""
    return S.astype(Wt.dtype) @ Wt


def spike_matmul_t_twin(S, G):
    """``dWt = Sᵀ @ G`` (dense definition)."""
    return S.T.astype(G.dtype) @ G


# --------------------------------------------------------------- Numba kernels


@njit(parallel=True, cache=True)
def _csr(S):
    """Row pointers ``ptr [R+1]`` (int64) and ascending column indices ``idx`` (int32) of S != 0.

    Branch-free: each row's candidate indices go to a scratch row whose cursor
    advances by ``S[r, j] != 0`` (no mispredicted jumps at ~17 % density).
    """
    R, C = S.shape
    count = np.zeros(R + 1, np.int64)
    for r in prange(R):
        c = 0
        for j in range(C):
            c += np.int64(S[r, j] != 0)
        count[r + 1] = c
    ptr = np.cumsum(count)
    idx = np.empty(ptr[R], np.int32)
    for r in prange(R):
        tmp = np.empty(C + 1, np.int32)
        c = 0
        for j in range(C):
            tmp[c] = j
            c += np.int64(S[r, j] != 0)
        p = ptr[r]
        for q in range(c):
            idx[p + q] = tmp[q]
    return ptr, idx


@njit(parallel=True, cache=True)
def _transpose_into(S, T):
    """``T[:] = S.T`` (C-contiguous ``T [K, M]``), copied in 64×64 blocks (cache friendly)."""
    M, K = S.shape
    for b in prange((K + 63) // 64):
        k0 = b * 64
        k1 = min(K, k0 + 64)
        for m0 in range(0, M, 64):
            for k in range(k0, k1):
                for m in range(m0, min(M, m0 + 64)):
                    T[k, m] = S[m, k]


@njit(parallel=True, cache=True)
def _gather_rows_sum(ptr, idx, A, bias, out, tn, rc, rb):
    """``out[r] = Σ_{p in ptr[r]..ptr[r+1]} A[idx[p]] (+ bias)`` (idx ascending within each row).

    ``bias`` [N] is added last, to each finished block while it is in cache (the same
    float operation as ``out += bias`` afterwards); an empty ``bias`` adds nothing.
    """
    R = out.shape[0]
    NA, N = A.shape
    ntile = (N + tn - 1) // tn
    nrb = (R + rb - 1) // rb
    for job in prange(ntile * nrb):
        n0 = (job % ntile) * tn
        n1 = min(N, n0 + tn)
        L = n1 - n0
        r0 = (job // ntile) * rb
        r1 = min(R, r0 + rb)
        out[r0:r1, n0:n1] = 0
        cur = ptr[r0:r1].copy()  # next unread entry of each row
        for j0 in range(0, NA, rc):
            j1 = j0 + rc  # this pass adds rows j0 <= idx < j1 of A
            for r in range(r0, r1):
                o = out[r, n0:n1]
                p = cur[r - r0]
                pe = ptr[r + 1]
                while p + 8 <= pe and idx[p + 7] < j1:
                    a = A[idx[p], n0:n1]
                    b = A[idx[p + 1], n0:n1]
                    c = A[idx[p + 2], n0:n1]
                    d = A[idx[p + 3], n0:n1]
                    e = A[idx[p + 4], n0:n1]
                    f = A[idx[p + 5], n0:n1]
                    g = A[idx[p + 6], n0:n1]
                    h = A[idx[p + 7], n0:n1]
                    for n in range(L):
                        o[n] += ((a[n] + b[n]) + (c[n] + d[n])) + ((e[n] + f[n]) + (g[n] + h[n]))
                    p += 8
                while p < pe and idx[p] < j1:
                    a = A[idx[p], n0:n1]
                    for n in range(L):
                        o[n] += a[n]
                    p += 1
                cur[r - r0] = p
        if bias.shape[0] > 0:
            bt = bias[n0:n1]
            for r in range(r0, r1):
                o = out[r, n0:n1]
                for n in range(L):
                    o[n] += bt[n]


def _tiling(R: int, NA: int, N: int, itemsize: int) -> tuple[int, int, int]:
    """Column tile, row chunk of A, output row block (see module docstring)."""
    tn = max(1, min(N, TILE_N))
    rc = max(64, CHUNK_BYTES // (tn * itemsize))
    ntile = -(-N // tn)
    nrb = -(-2 * numba.get_num_threads() // ntile)  # enough jobs for every thread
    if NA > rc:  # several passes over each output block: keep the block in L2
        nrb = max(nrb, -(-R * tn * itemsize // BLOCK_BYTES))
    nrb = max(1, min(nrb, R))
    return tn, rc, max(1, -(-R // nrb))


def _check(where: str, S, A, a_name: str, rows: int):
    if not isinstance(S, np.ndarray) or S.ndim != 2:
        raise TypeError(f"{where}: S must be a 2-D numpy.ndarray of spikes, "
                        f"got {type(S).__name__} {getattr(S, 'shape', '')}")
    if S.dtype == np.bool_:
        S = S.view(np.uint8)
    if S.dtype != np.uint8:
        raise TypeError(f"{where}: S must be uint8 or bool spikes, got {S.dtype} "
                        "(convert with (s != 0).astype(np.uint8))")
    if not isinstance(A, np.ndarray) or A.ndim != 2 or A.dtype not in (np.float32, np.float64):
        raise TypeError(f"{where}: {a_name} must be a 2-D float32/float64 numpy.ndarray, "
                        f"got {type(A).__name__} {getattr(A, 'dtype', '')} {getattr(A, 'shape', '')}")
    if A.shape[0] != S.shape[rows]:
        raise ValueError(f"{where}: S is {S.shape} but {a_name} is {A.shape} "
                         f"({a_name} needs {S.shape[rows]} rows)")
    return np.ascontiguousarray(S), np.ascontiguousarray(A)


def transpose(A):
    """``A.T`` as a C-contiguous array (2-D NumPy; a parallel blocked copy into the workspace)."""
    out = memory.empty(A.shape[::-1], A.dtype)
    if out.size:
        _transpose_into(A, out)
        blas.engage()
    return out


def spike_matmul(S, Wt, bias=None):
    """``Z [M, N] = S [M, K] @ Wt [K, N] (+ bias [N])`` for binary ``S`` (see module docstring).

    ``bias`` (NumPy backend only) is added to each finished block of ``Z`` in cache:
    the same result as ``Z += bias`` afterwards, one pass over ``Z`` less.
    """
    S, Wt = _check("spike_matmul", S, Wt, "Wt", 1)
    M, N = S.shape[0], Wt.shape[1]
    if bias is None:
        bias = np.empty(0, Wt.dtype)
    elif bias.shape != (N,):
        raise ValueError(f"spike_matmul: bias must be [{N}], got {bias.shape}")
    bias = np.ascontiguousarray(bias, dtype=Wt.dtype)
    Z = memory.empty((M, N), Wt.dtype)
    if Z.size:
        ptr, idx = _csr(S)
        _gather_rows_sum(ptr, idx, Wt, bias, Z, *_tiling(M, Wt.shape[0], N, Wt.itemsize))
        blas.engage()
    return Z


def spike_matmul_t(S, G):
    """``dWt [K, N] = S [M, K]ᵀ @ G [M, N]`` for binary ``S`` (see module docstring)."""
    S, G = _check("spike_matmul_t", S, G, "G", 0)
    K, N = S.shape[1], G.shape[1]
    D = memory.empty((K, N), G.dtype)
    if D.size:
        ptr, idx = _csr(transpose(S))
        _gather_rows_sum(ptr, idx, G, np.empty(0, G.dtype), D, *_tiling(K, G.shape[0], N, G.itemsize))
        blas.engage()
    return D


register_kernel("numpy", "spike_matmul", spike_matmul)
register_kernel("numpy", "spike_matmul_t", spike_matmul_t)
