"""Benchmark: one LIF layer, T=500, B=16, N=16384, forward + backward (the Open Neuromorphic shape).

refsnn (Numba kernels through the autograd layer, and the bare kernels) vs
SpikingJelly ``LIFNode`` (torch backend, multi-step) vs snnTorch ``Leaky``
(a Python loop over T; ~100 s here, so it runs once and only with
``--snntorch``).  Same input, same upstream gradient, same thread count; each
framework in its own subprocess (own peak RSS).

Memory-traffic bound: forward reads X (4 B/elem) and writes S (4 B, float
spikes, the array the layer returns) and U (4 B), counting non-finite X in
the same pass; backward reads gS (4 B) and U (4 B) and writes dX (4 B; S is
recomputed from U except for the spike-time surrogate): 24 B per element,
3.1 GB at this shape.  Achieved GB/s = 24·T·B·N / time.  The autograd layer
adds no streaming pass of its own (no separate finiteness scan, no
uint8 → float conversion); ``layer_over_kernels`` is its time over the bare
kernels' (target ≤ 1.3).

    python benchmarks/lif_layer.py [--repeat 5] [--snntorch] [--T 500 --B 16 --N 16384]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import numpy as np
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

BYTES_PER_ELEMENT = 24


def inputs(T, B, N):
    rng = np.random.default_rng(0)
    x = (0.6 * rng.standard_normal((T, B, N), dtype=np.float32) + 0.3).astype(np.float32)
    g = rng.standard_normal((T, B, N), dtype=np.float32)
    return x, g


def run_refsnn_layer(T, B, N, repeat):
    from refsnn.autograd import Tensor
    from refsnn.neurons import lif_delayed

    x, g = inputs(T, B, N)
    xt = Tensor(x, requires_grad=True)

    def step():
        xt.grad = None
        s = lif_delayed(xt, beta=0.7, theta=1.0)
        s.backward(g)
    return timeit(step, repeat, warmup=1)


def run_refsnn_sj_layer(T, B, N, repeat):
    from refsnn.autograd import Tensor
    from refsnn.neurons import lif_sj

    x, g = inputs(T, B, N)
    xt = Tensor(x, requires_grad=True)

    def step():
        xt.grad = None
        lif_sj(xt, tau=2.0, v_threshold=1.0, v_reset=0.0, surrogate="sigmoid").backward(g)
    return timeit(step, repeat, warmup=1)


def run_refsnn_kernel(T, B, N, repeat):
    from refsnn.backend import kernel
    from refsnn.kernels.codes import Reset
    from refsnn.neurons.surrogate import get_surrogate

    x, g = inputs(T, B, N)
    x2, g2 = x.reshape(T, B * N), g.reshape(T, B * N)
    fwd, bwd = kernel("lif_delayed_forward"), kernel("lif_delayed_backward")
    kind, a, b = get_surrogate("fast_sigmoid").kernel_args()

    def step():
        s, u = fwd(x2, 0.7, 1.0, Reset.SOFT)  # subtract
        bwd(g2, None, s, u, 0.7, 1.0, Reset.SOFT, kind, a, b, True)
    return timeit(step, repeat, warmup=1)


def run_spikingjelly(T, B, N, repeat):
    import torch
    from spikingjelly.activation_based import functional, neuron

    torch.set_num_threads(threads())
    x, g = inputs(T, B, N)
    xt, gt = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(g)
    node = neuron.LIFNode(tau=2.0, step_mode="m")  # SpikingJelly 2.0: torch path, no backend arg

    def step():
        functional.reset_net(node)
        xt.grad = None
        node(xt).backward(gt)
    return timeit(step, repeat, warmup=1)


def run_snntorch(T, B, N, repeat):
    import snntorch
    import torch

    torch.set_num_threads(threads())
    x, g = inputs(T, B, N)
    xt, gt = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(g)
    lif = snntorch.Leaky(beta=0.7)

    def step():
        mem = lif.init_leaky()
        spikes = []
        for t in range(T):
            spk, mem = lif(xt[t], mem)
            spikes.append(spk)
        torch.stack(spikes).backward(gt)
    return timeit(step, repeat=1, warmup=0)


WORKERS = {"refsnn (autograd layer)": run_refsnn_layer, "refsnn (bare kernels)": run_refsnn_kernel,
           "refsnn lif_sj (autograd layer)": run_refsnn_sj_layer,
           "spikingjelly-torch": run_spikingjelly, "snntorch": run_snntorch}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--T", type=int, default=500)
    p.add_argument("--B", type=int, default=16)
    p.add_argument("--N", type=int, default=16384)
    p.add_argument("--snntorch", action="store_true", help="also run snnTorch (~100 s per step)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        out = WORKERS[args.worker](args.T, args.B, args.N, args.repeat)
        out["peak_rss_mb"] = peak_rss_mb()
        emit(out)
        return None
    env = worker_env()
    elems = args.T * args.B * args.N
    names = [n for n in WORKERS if n != "snntorch" or args.snntorch]
    extra = ["--repeat", str(args.repeat), "--T", str(args.T), "--B", str(args.B), "--N", str(args.N)]
    results = run_workers(__file__, names, extra, env=env)
    res = {k: v for k, v in results.items() if "error" not in v}
    errors = {k: v["error"] for k, v in results.items() if "error" in v}
    rows = [{"framework": name, "seconds": r["median_s"],
             "GB/s": BYTES_PER_ELEMENT * elems / r["median_s"] / 1e9, "peak_rss_mb": r["peak_rss_mb"]}
            for name, r in res.items()]
    copy_bw = measure_copy_bandwidth()
    bound_s = BYTES_PER_ELEMENT * elems / copy_bw
    ratios = {}
    sj = res.get("spikingjelly-torch")
    for name in ("refsnn (autograd layer)", "refsnn (bare kernels)", "refsnn lif_sj (autograd layer)"):
        if name in res:
            ratios[name] = {"over_bound": res[name]["median_s"] / bound_s}
            if sj:
                ratios[name]["speedup_vs_spikingjelly"] = sj["median_s"] / res[name]["median_s"]
    if "refsnn (autograd layer)" in res and "refsnn (bare kernels)" in res:
        ratios["refsnn (autograd layer)"]["layer_over_kernels"] = (
            res["refsnn (autograd layer)"]["median_s"] / res["refsnn (bare kernels)"]["median_s"])
    result = {"benchmark": f"LIF layer T={args.T} B={args.B} N={args.N} fwd+bwd",
              "machine": machine(), "tuning_env": tuning_env(),
              "bytes_per_element": BYTES_PER_ELEMENT, "copy_bandwidth_GBps": copy_bw / 1e9,
              "bandwidth_bound_s": bound_s, "results": res, "errors": errors, "ratios": ratios,
              "targets": {"speedup_vs_spikingjelly": ">= 4", "over_bound": "<= 2",
                          "layer_over_kernels": "<= 1.3"}}
    path = write("lif_layer", result)
    print(table(rows, ["framework", "seconds", "GB/s", "peak_rss_mb"]))
    print(f"memory-copy bandwidth {copy_bw / 1e9:.1f} GB/s -> bound {bound_s:.3f} s")
    for name, r in ratios.items():
        print(f"{name}: " + ", ".join(f"{k} {v:.2f}" for k, v in r.items()))
    print(f"wrote {path}")
    return result


def measure_copy_bandwidth(n_bytes: int = 1 << 29) -> float:
    """Bytes/s of a large NumPy copy (read + write counted), on this process's threads."""
    a = np.ones(n_bytes // 4, np.float32)
    b = np.empty_like(a)
    t = timeit(lambda: np.copyto(b, a), repeat=5, warmup=1)["median_s"]
    return 2 * a.nbytes / t


if __name__ == "__main__":
    main()
