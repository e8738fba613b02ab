"""Benchmark: the GAMIN-study SNN (784-3000-10, LIF β=0.7, T=25, batch 128), refsnn vs snnTorch (CPU).

Times one training step (rate coding excluded: both frameworks get the same
pre-encoded input spikes; forward over 25 steps, cross-entropy on the summed
output membrane, BPTT, Adam) and one inference batch (forward only), from the
same weights, same thread count.  Each framework runs in its own subprocess so
its peak RSS is its own.  Also times the bare dense GEMM of the first layer
([T·B, 784] × [784, 3000]) as the bound a dense implementation cannot beat.

    python benchmarks/snn_train.py [--repeat 10] [--data ../shared/data/mnist-5k]

Writes benchmarks/results/snn_train.json and prints a table.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import numpy as np
from _peers import snntorch_gamin_net
from _util import (
    emit,
    machine,
    peak_rss_mb,
    run_workers,
    table,
    threads,
    timeit,
    worker_env,
    write,
)

T, B, HIDDEN = 25, 128, 3000


def make_inputs(data: str | None, seed: int = 0):
    """Rate-coded MNIST spikes [T, B, 784] (uint8), labels [B], and initial weights."""
    from refsnn.encoding import rate
    from refsnn.models import GaminSNN

    rng = np.random.default_rng(seed)
    if data:
        from data_tools import load_mnist

        x, y = load_mnist(data, "train")
    else:
        from refsnn.datasets import load_sample

        x, y = load_sample("train")
    idx = rng.choice(len(x), B, replace=False)
    spikes = rate(x[idx].reshape(B, -1), T, rng).astype(np.uint8)
    state = GaminSNN(hidden=HIDDEN, rng=seed).state_dict()
    return spikes, y[idx].astype(np.int64), state


def run_refsnn(spikes, y, state, repeat):
    from refsnn.autograd import cross_entropy, no_grad
    from refsnn.models import GaminSNN
    from refsnn.nn import Adam

    model = GaminSNN(hidden=HIDDEN, rng=0)
    model.load_state_dict(state)
    opt = Adam(model.parameters(), lr=5e-4)

    def train_step():
        loss = cross_entropy(model.forward_spikes(spikes), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def infer():
        with no_grad():
            model.forward_spikes(spikes)

    return {"train": timeit(train_step, repeat), "infer": timeit(infer, repeat)}


def run_snntorch(spikes, y, state, repeat):
    import torch

    torch.set_num_threads(threads())
    net = snntorch_gamin_net(state, hidden=HIDDEN)
    opt = torch.optim.Adam(net.parameters(), lr=5e-4)
    s, yt = torch.from_numpy(spikes.astype(np.float32)), torch.from_numpy(y)

    def train_step():
        loss = torch.nn.functional.cross_entropy(net(s), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def infer():
        with torch.no_grad():
            net(s)

    return {"train": timeit(train_step, repeat), "infer": timeit(infer, repeat)}


def run_gemm(spikes, y, state, repeat):
    x = spikes.reshape(T * B, 784).astype(np.float32)
    wt = np.ascontiguousarray(state["fc1.weight"].T)
    return {"gemm_fwd": timeit(lambda: x @ wt, repeat),
            "gemm_dW": timeit(lambda: x.T @ np.ones((T * B, HIDDEN), np.float32), repeat)}


WORKERS = {"refsnn": run_refsnn, "snntorch": run_snntorch, "gemm": run_gemm}


def worker(name, data, repeat):
    spikes, y, state = make_inputs(data)
    out = WORKERS[name](spikes, y, state, repeat)
    out["peak_rss_mb"] = peak_rss_mb()
    out["input_density"] = float(spikes.mean())
    emit(out)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--data", default=None, help="IDX directory (default: shipped sample)")
    p.add_argument("--blas-threads", type=int, default=1,
                   help="OPENBLAS_NUM_THREADS for every worker (see _util.worker_env)")
    p.add_argument("--default-malloc", action="store_true",
                   help="run workers with glibc's default malloc settings (see _util.TUNED_MALLOC)")
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.data, args.repeat)
    env = worker_env(args.default_malloc, blas_threads=args.blas_threads)
    extra = ["--repeat", str(args.repeat)] + (["--data", args.data] if args.data else [])
    # the dense-GEMM bound is BLAS itself: give it every thread
    gemm_env = dict(env, OPENBLAS_NUM_THREADS=str(threads()))
    results = run_workers(__file__, list(WORKERS), extra,
                          env=lambda name: gemm_env if name == "gemm" else env)
    res = {k: v for k, v in results.items() if "error" not in v}
    errors = {k: v["error"] for k, v in results.items() if "error" in v}
    rows = []
    for name in ("refsnn", "snntorch"):
        if name in res:
            rows.append({"framework": name, "train_ms": 1e3 * res[name]["train"]["median_s"],
                         "infer_ms": 1e3 * res[name]["infer"]["median_s"],
                         "peak_rss_mb": res[name]["peak_rss_mb"]})
    if "gemm" in res:
        rows.append({"framework": "dense GEMM fc1 fwd (bound)",
                     "train_ms": 1e3 * res["gemm"]["gemm_fwd"]["median_s"],
                     "infer_ms": 1e3 * res["gemm"]["gemm_fwd"]["median_s"]})
    speedup = {}
    if "refsnn" in res and "snntorch" in res:
        for k in ("train", "infer"):
            speedup[k] = res["snntorch"][k]["median_s"] / res["refsnn"][k]["median_s"]
    result = {"benchmark": f"GAMIN SNN 784-{HIDDEN}-10, T={T}, batch {B}",
              "machine": machine(), "glibc_tunables": env.get("GLIBC_TUNABLES"),
              "openblas_threads": env.get("OPENBLAS_NUM_THREADS"),
              "results": res, "errors": errors, "speedup_vs_snntorch": speedup,
              "targets": {"train": ">= 1.5", "infer": ">= 2"}}
    path = write("snn_train", result)
    print(table(rows, ["framework", "train_ms", "infer_ms", "peak_rss_mb"]))
    for k, v in speedup.items():
        print(f"{k}: refsnn is {v:.2f}x faster than snnTorch")
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
