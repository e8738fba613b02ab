"""Benchmark: the GAMIN-study SNN (784-3000-10, LIF β=0.7, T=25, batch 128), refsnn vs snnTorch (CPU).

Times one training step (rate coding excluded: both frameworks get the same
pre-encoded real-digit spikes; forward over 25 steps, cross-entropy on the
summed output membrane, BPTT, Adam) and one inference batch (forward only),
from the same weights, in the user's default environment: nothing is set for
either framework except the same thread count (``_util.worker_env``; no BLAS
or malloc tuning).  Each framework runs in its own subprocess; the two
alternate over ``--rounds`` rounds (order flipped every round), so load on a
shared machine hits both alike.  Reported: per round the median step time, and
over rounds the median speedup (snnTorch time / refsnn time) with its min–max.

The bound: the first layer's spike gather adds one row of ``W1ᵀ`` (3000
floats) per input spike, ``nnz(S)·3000 ≈ 1.3·10⁹`` adds per pass at the
measured input density (~0.17); inference is one pass, training two (forward
and ``dW1``).  ``roof`` measures this machine's add rate for the same
8-rows-at-a-time add pattern on cache-resident rows (Numba, all threads), and
``bound_ms = adds / roof``; ``refsnn_ms / bound_ms`` says how close refsnn is.

    python benchmarks/snn_train.py [--rounds 5] [--repeat 7] [--env-variants] [--data DIR]

``--env-variants`` also times refsnn alone with ``OPENBLAS_NUM_THREADS=1``,
with the old ``GLIBC_TUNABLES`` malloc setting, and with both, to show they
no longer change refsnn's timings.  Writes benchmarks/results/snn_train.json
and prints a table.
"""

from __future__ import annotations

import argparse
import os
import statistics
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
    tuning_env,
    worker_env,
    write,
)

T, B, HIDDEN = 25, 128, 3000
SETTLE = 10  # extra warm-up steps allowed until a step time settles (see _util.timeit)
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "mnist-5k"))
ENV_VARIANTS = {"OPENBLAS_NUM_THREADS=1": {"OPENBLAS_NUM_THREADS": "1"},
                "GLIBC_TUNABLES malloc": {"GLIBC_TUNABLES": "glibc.malloc.mmap_max=0:"
                                                            "glibc.malloc.trim_threshold=17179869184"}}
ENV_VARIANTS["both"] = {**ENV_VARIANTS["OPENBLAS_NUM_THREADS=1"], **ENV_VARIANTS["GLIBC_TUNABLES malloc"]}


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
    import numba

    from refsnn.autograd import cross_entropy, no_grad
    from refsnn.models import GaminSNN
    from refsnn.nn import Adam

    numba.set_num_threads(threads())
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

    return {"train": timeit(train_step, repeat, settle=SETTLE),
            "infer": timeit(infer, repeat, settle=SETTLE), "roof": add_roof()}


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

    return {"train": timeit(train_step, repeat, settle=SETTLE),
            "infer": timeit(infer, repeat, settle=SETTLE)}


def add_roof(width: int = 512, rows: int = 8, iters: int = 20000) -> dict:
    """Adds/s of ``out += ((a+b)+(c+d))+((e+f)+(g+h))`` on L1-resident rows, every Numba thread."""
    import time

    from numba import njit, prange

    @njit(parallel=True, cache=False)
    def kernel(A, out, iters):
        for job in prange(out.shape[0]):
            o = out[job]
            a, b, c, d = A[job, 0], A[job, 1], A[job, 2], A[job, 3]
            e, f, g, h = A[job, 4], A[job, 5], A[job, 6], A[job, 7]
            for _ in range(iters):
                for n in range(o.shape[0]):
                    o[n] += ((a[n] + b[n]) + (c[n] + d[n])) + ((e[n] + f[n]) + (g[n] + h[n]))

    jobs = threads()
    A = np.full((jobs, rows, width), 1e-7, np.float32)
    out = np.zeros((jobs, width), np.float32)
    kernel(A, out, 1)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        kernel(A, out, iters)
        best = min(best, time.perf_counter() - t0)
    return {"adds_per_s": jobs * rows * width * iters / best, "threads": jobs}


WORKERS = {"refsnn": run_refsnn, "snntorch": run_snntorch}


def worker(name, data, repeat):
    spikes, y, state = make_inputs(data)
    out = WORKERS[name](spikes, y, state, repeat)
    out["peak_rss_mb"] = peak_rss_mb()
    out["input_density"] = float(spikes.mean())
    out["input_nnz"] = int(np.count_nonzero(spikes))
    emit(out)


def spread(values) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5, help="alternating refsnn/snnTorch worker pairs")
    p.add_argument("--repeat", type=int, default=7, help="timed steps per worker (after 2 warm-up)")
    p.add_argument("--data", default=DEFAULT_DATA if os.path.isdir(DEFAULT_DATA) else None,
                   help="IDX directory (default: ../shared/data/mnist-5k if there, else the shipped sample)")
    p.add_argument("--env-variants", action="store_true",
                   help="also time refsnn with OPENBLAS_NUM_THREADS=1 / GLIBC_TUNABLES set")
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.data, args.repeat)
    extra = ["--repeat", str(args.repeat)] + (["--data", args.data] if args.data else [])
    variants = {"default": {}, **(ENV_VARIANTS if args.env_variants else {})}
    rounds, errors = [], {}
    for r in range(args.rounds):
        order = ["refsnn", "snntorch"] if r % 2 == 0 else ["snntorch", "refsnn"]
        runs = [(n, "default") for n in order] + [("refsnn", v) for v in variants if v != "default"]
        out = {"load_avg_1min": os.getloadavg()[0]}
        for name, variant in runs:
            key = name if variant == "default" else f"refsnn [{variant}]"
            res = run_workers(__file__, [name], extra, env=worker_env(variants[variant]))[name]
            if "error" in res:
                errors.setdefault(key, res["error"])
            else:
                out[key] = res
        rounds.append(out)
    keys = sorted({k for rd in rounds for k in rd if k != "load_avg_1min"},
                  key=lambda k: (k != "refsnn", k != "snntorch", k))
    summary, rows = {}, []
    for key in keys:
        summary[key] = {ph: spread([1e3 * rd[key][ph]["median_s"] for rd in rounds if key in rd])
                        for ph in ("train", "infer")}
        rows.append({"run": key, **{f"{ph}_ms": summary[key][ph]["median"] for ph in ("train", "infer")},
                     **{f"{ph}_ms min-max": "{min:.0f}-{max:.0f}".format(**summary[key][ph])
                        for ph in ("train", "infer")},
                     "peak_rss_mb": max(rd[key]["peak_rss_mb"] for rd in rounds if key in rd)})
    speedup, bound = {}, {}
    paired = [rd for rd in rounds if "refsnn" in rd and "snntorch" in rd]
    for ph in ("train", "infer"):
        if paired:
            speedup[ph] = spread([rd["snntorch"][ph]["median_s"] / rd["refsnn"][ph]["median_s"]
                                  for rd in paired])
    ref = [rd["refsnn"] for rd in rounds if "refsnn" in rd]
    if ref:
        adds = ref[0]["input_nnz"] * HIDDEN
        roof = statistics.median(r["roof"]["adds_per_s"] for r in ref)
        for ph, passes in (("infer", 1), ("train", 2)):
            bound_ms = 1e3 * passes * adds / roof
            bound[ph] = {"gather_adds": passes * adds, "bound_ms": bound_ms,
                         "refsnn_over_bound": summary["refsnn"][ph]["median"] / bound_ms}
        bound["roof_adds_per_s"] = roof
    result = {"benchmark": f"GAMIN SNN 784-{HIDDEN}-10, T={T}, batch {B}", "machine": machine(),
              "tuning_env": tuning_env(), "load_avg": os.getloadavg(), "rounds": rounds,
              "summary_ms": summary, "errors": errors, "speedup_vs_snntorch": speedup,
              "bound": bound, "targets": {"train": ">= 3", "infer": ">= 4"}}
    path = write("snn_train", result)
    print(table(rows, ["run", "train_ms", "train_ms min-max", "infer_ms", "infer_ms min-max",
                       "peak_rss_mb"]))
    for ph, v in speedup.items():
        print(f"{ph}: refsnn is {v['median']:.2f}x snnTorch (min {v['min']:.2f}, max {v['max']:.2f}, "
              f"{v['n']} rounds; target {result['targets'][ph]})")
    for ph in ("train", "infer"):
        if ph in bound:
            b = bound[ph]
            print(f"{ph} bound: {b['gather_adds'] / 1e9:.2f} G adds at {bound['roof_adds_per_s'] / 1e9:.0f} "
                  f"G adds/s = {b['bound_ms']:.1f} ms; refsnn is {b['refsnn_over_bound']:.1f}x the bound")
    loads = [rd["load_avg_1min"] for rd in rounds]
    print(f"1-min load average per round {min(loads):.2f}-{max(loads):.2f} on {os.cpu_count()} CPUs "
          f"(timings need an idle machine); wrote {path}")
    return result


if __name__ == "__main__":
    main()
