"""Benchmark: binary-spike × dense products at the GAMIN first-layer shape, vs a dense GEMM.

M = T·B = 25·128 = 3200 rate-coded MNIST-5k rows (real digits, density ~0.17),
K = 784 inputs, N = 3000 hidden units, float32.  Rows timed (each against the
dense product it replaces, OpenBLAS ``np.matmul`` on the same thread count):

    spike_matmul        Z = S @ Wt                     vs  S.astype(f32) @ Wt
    spike_matmul_t      dWt = Sᵀ @ G                   vs  S.T.astype(f32) @ G
    spike_linear        forward + backward through     vs  the same through a dense
                        refsnn.autograd (dW, db)           Tensor matmul (linear layer)

Each thread count runs in its own subprocess (BLAS reads its thread count at
start-up); ``--threads 1 2`` by default.  Writes benchmarks/results/spikemm.json.

    python benchmarks/spikemm.py [--repeat 7] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
import numpy as np
from _util import machine, table, timeit, write

DATA = Path(os.environ.get("REFSNN_DATA", "/work/shared/data")) / "mnist-5k"
T, B, K, N = 25, 128, 784, 3000


def inputs():
    """Rate-coded spikes S [T·B, 784] of 128 real digits, weight W [N, K], upstream grad G [T·B, N]."""
    with gzip.open(DATA / "train-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, K)[:B] / 255.0
    rng = np.random.default_rng(0)
    S = (rng.random((T, B, K)) < x).astype(np.uint8).reshape(T * B, K)
    W = (0.03 * rng.standard_normal((N, K))).astype(np.float32)
    G = rng.standard_normal((T * B, N)).astype(np.float32)
    return S, W, G


def run_child(repeat: int) -> dict:
    from refsnn.autograd import Tensor
    from refsnn.autograd.ops_spike import spike_linear
    from refsnn.kernels.spikemm import spike_matmul, spike_matmul_t

    S, W, G = inputs()
    Wt = np.ascontiguousarray(W.T)
    b = np.zeros(N, np.float32)

    def fwd_bwd(dense: bool):
        w, bb = Tensor(W, requires_grad=True), Tensor(b, requires_grad=True)
        z = (Tensor(S.astype(np.float32)) @ w.T + bb) if dense else spike_linear(S, w, bb)
        z.backward(G)

    cases = {
        "spike_matmul": (lambda: spike_matmul(S, Wt), lambda: S.astype(np.float32) @ Wt),
        "spike_matmul_t": (lambda: spike_matmul_t(S, G), lambda: S.T.astype(np.float32) @ G),
        "spike_linear fwd+bwd": (lambda: fwd_bwd(False), lambda: fwd_bwd(True)),
    }
    out = {"density": float(S.mean())}
    for name, (sparse, dense) in cases.items():
        out[name] = {"spike": timeit(sparse, repeat), "dense": timeit(dense, repeat)}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_child(args.repeat)))
        return
    results = {"machine": machine(), "shape": {"M": T * B, "K": K, "N": N, "dtype": "float32"},
               "runs": {}}
    rows = []
    for th in args.threads:
        env = dict(os.environ, NUMBA_NUM_THREADS=str(th), OPENBLAS_NUM_THREADS=str(th),
                   OMP_NUM_THREADS=str(th), MKL_NUM_THREADS=str(th), REFSNN_BENCH_THREADS=str(th),
                   REFSNN_BLAS_THREADS=str(th))  # the dense reference GEMM keeps every thread
        proc = subprocess.run([sys.executable, __file__, "--child", "--repeat", str(args.repeat)],
                              env=env, capture_output=True, text=True, check=True)
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        results["runs"][str(th)] = res
        for name, r in res.items():
            if name == "density":
                continue
            sp, de = r["spike"]["median_s"] * 1e3, r["dense"]["median_s"] * 1e3
            rows.append({"threads": th, "op": name, "spike_ms": sp, "dense_ms": de,
                         "spike_min_ms": r["spike"]["min_s"] * 1e3, "speedup": de / sp})
    path = write("spikemm", results)
    print(table(rows, ["threads", "op", "spike_ms", "spike_min_ms", "dense_ms", "speedup"]))
    print(f"density {results['runs'][str(args.threads[0])]['density']:.3f}; wrote {path}")


if __name__ == "__main__":
    main()
