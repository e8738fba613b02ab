"""Benchmark: the SDBN study's three hot paths (Siegert forward, one RBM CD epoch, event-driven simulation).

Rows (float64, MNIST-5k digits repeated to the batch size; synthetic digits when the data is absent):

    siegert_forward   SDBN.label_rates on B = 10,000 images through 784-500-500-10
                      vs the bare NumPy matmuls of the same shapes: the two moment GEMMs per layer
                      (x @ W and x @ W², what the Siegert layer needs; goal <= 1.5x) and one GEMM
                      per layer (a plain MLP forward)
    rbm_cd_epoch      one PCD epoch of SiegertRBM(784, 500) on 4,000 images (batch 50, 80 updates)
    sdbn_sim          the event-driven simulator (Numba kernel) on a 784-500-500-10 SDBN whose
                      first RBM had one CD epoch: synaptic events / s (one event = one presynaptic
                      spike reaching one postsynaptic neuron; goal >= 100 M/s on 2 cores)

``--quick`` shrinks every size (smoke test only, numbers meaningless).  Writes
benchmarks/results/sdbn.json and prints a table.

    python benchmarks/sdbn.py [--quick] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
import numpy as np
from _util import machine, table, timeit, write

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DATA = Path(os.environ.get("REFSNN_DATA", SHARED)) / "mnist-5k"


def images(n: int) -> np.ndarray:
    """``n`` MNIST-5k training digits in [0, 1] ``[n, 784]`` (cycled), or smooth blobs without the data."""
    path = DATA / "train-images-idx3-ubyte.gz"
    if path.exists():
        with gzip.open(path) as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784) / 255.0
    else:
        g = np.random.default_rng(0)
        yy, xx = np.mgrid[:28, :28]
        c = g.uniform(8, 20, (200, 2))
        x = np.exp(-((yy - c[:, :1, None]) ** 2 + (xx - c[:, 1:, None]) ** 2) / 20).reshape(200, 784)
    return x[np.arange(n) % len(x)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from refsnn.models import SDBN
    from refsnn.models.rbm import SiegertRBM

    q = args.quick
    B, n_cd, B_sim, T_sim = (500, 200, 4, 0.05) if q else (10_000, 4000, 32, 0.5)
    rep = 1 if q else args.repeat
    results, rows = {"machine": machine(), "quick": q}, []

    net = SDBN(rng=0)
    x = images(B)
    v = net.rates(x)
    t = timeit(lambda: net.label_rates(x), repeat=rep, warmup=1)
    Ws = [r.W for r in net.rbms]
    W2s = [W * W for W in Ws]

    def moments():
        h = v
        for W, W2 in zip(Ws, W2s):
            _, h = h @ W, h @ W2
        return h

    def single():
        h = v
        for W in Ws:
            h = h @ W
        return h

    tm, ts = timeit(moments, repeat=rep, warmup=1), timeit(single, repeat=rep, warmup=1)
    results["siegert_forward"] = {"batch": B, "sdbn": t, "moment_gemms": tm, "single_gemm": ts}
    rows.append({"case": f"siegert_forward B={B}", "time_ms": 1e3 * t["median_s"],
                 "baseline_ms": 1e3 * tm["median_s"], "ratio": t["median_s"] / tm["median_s"],
                 "goal": "<= 1.5x", "note": f"vs 1 GEMM/layer {t['median_s'] / ts['median_s']:.2f}x"})

    rbm = SiegertRBM(784, 500, rng=0)
    vcd = images(n_cd) * 0.2
    t0 = time.perf_counter()
    rbm.fit(vcd, epochs=1, rng=np.random.default_rng(1))
    cd = time.perf_counter() - t0
    results["rbm_cd_epoch"] = {"images": n_cd, "seconds": cd, "updates": n_cd // 50}
    rows.append({"case": f"rbm_cd_epoch 784x500 n={n_cd}", "time_ms": 1e3 * cd, "baseline_ms": "",
                 "ratio": "", "goal": "", "note": f"{1e3 * cd / (n_cd // 50):.1f} ms/update"})

    net.rbms[0] = rbm
    xs = images(B_sim)
    net.simulate(xs[:1], 0.01, 0.0005, np.random.default_rng(0))  # compile
    t0 = time.perf_counter()
    res = net.simulate(xs, T_sim, 0.0005, np.random.default_rng(2))
    sim = time.perf_counter() - t0
    ops = int(res.synaptic_ops.sum())
    results["sdbn_sim"] = {"images": B_sim, "sim_time": T_sim, "dt": 0.0005, "seconds": sim,
                           "synaptic_events": ops, "events_per_s": ops / sim,
                           "input_events": int(res.n_input_events.sum())}
    rows.append({"case": f"sdbn_sim B={B_sim} T={T_sim}", "time_ms": 1e3 * sim, "baseline_ms": "",
                 "ratio": f"{ops / sim / 1e6:.1f} M ev/s", "goal": ">= 100 M/s", "note": f"{ops:.3g} events"})
    path = write("sdbn_quick" if q else "sdbn", results)
    print(table(rows, ["case", "time_ms", "baseline_ms", "ratio", "goal", "note"]))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
