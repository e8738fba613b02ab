"""GPU benchmark: one LIF layer, T=500, B=16, N=16384, forward + backward, on a CUDA device.

Needs a CUDA GPU.  Compares, each in its own subprocess (a framework that is
not installed is reported as an error row, the others still run):

* ``refsnn-cupy kernels (delayed)`` — ``accel.cupy`` form-1 kernels (snnTorch
  ``Leaky`` semantics), called directly: ``lif_delayed_forward`` + ``_backward``;
* ``refsnn-cupy kernels (sj)`` — the form-4 kernels (SpikingJelly ``LIFNode``
  semantics: τ = 2, hard reset, sigmoid surrogate α = 4), the like-for-like
  comparison with SpikingJelly;
* ``refsnn-cupy layer`` — ``refsnn.neurons.lif_delayed`` on a CuPy Tensor
  through the autograd engine (no pass of its own: the forward kernel writes
  the float spikes the layer returns and counts non-finite inputs);
* ``spikingjelly-cupy`` / ``spikingjelly-torch`` — ``LIFNode(tau=2,
  step_mode="m", backend=...)`` on CUDA tensors;
* ``snntorch`` — ``Leaky(beta=0.7)`` stepped over T in Python on CUDA tensors.

Bandwidth model (the memory traffic a fused fwd + bwd cannot avoid, float32):
forward reads X (4 B) and writes S (4 B, float spikes) and U (4 B); backward
reads gS (4 B) and U (4 B) and writes dX (4 B) — 24 B per element, 3.1 GB at
this shape.  The forward's non-finite count (one uint32 per neuron, summed on
the host) is a 4-byte read-back per call.
"GB/s" = 24·T·B·N / median time for every row (the same useful work), and
"% peak" divides by the HBM peak (``--peak-tbps``, default 4.8 for the H200).
The measured device-to-device copy bandwidth is printed as the practical
ceiling.  The refsnn rows also check parity against the CPU reference on the
first 2048 neurons (spikes exact, membranes to 1e-5).

    python benchmarks/gpu_lif_layer.py [--repeat 20] [--T 500 --B 16 --N 16384]
                                       [--only refsnn-cupy kernels (delayed),snntorch]

Writes ``benchmarks/results/gpu_lif_layer.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import numpy as np
from gpu_common import (
    H200_PEAK_TBPS,
    copy_bandwidth_cupy,
    device_info,
    emit,
    gpu_timeit,
    machine,
    run_workers,
    sync_fn,
    table,
    write,
)

BYTES_PER_ELEMENT = 24
PARITY_NEURONS = 2048


def host_inputs(T, B, N):
    rng = np.random.default_rng(0)
    x = (0.6 * rng.standard_normal((T, B * N), dtype=np.float32) + 0.3).astype(np.float32)
    g = rng.standard_normal((T, B * N), dtype=np.float32)
    return x, g


def _parity(name, S_dev, U_dev, ref_fn, x):
    """Spikes/membranes of the first PARITY_NEURONS neurons vs the CPU reference kernel."""
    import cupy

    n = min(PARITY_NEURONS, x.shape[1])
    S_ref, U_ref = ref_fn(np.ascontiguousarray(x[:, :n]))
    S = cupy.asnumpy(S_dev[:, :n])
    U = cupy.asnumpy(U_dev[:, :n])
    return {"spikes_equal": bool(np.array_equal(S, S_ref)),
            "membrane_max_rel_err": float(np.max(np.abs(U - U_ref)) / max(1e-30, np.abs(U_ref).max()))}


def run_refsnn_delayed(T, B, N, repeat):
    import cupy

    import accel.cupy
    from refsnn.backend import kernel

    accel.cupy.register()
    x, g = host_inputs(T, B, N)
    X, G = cupy.asarray(x), cupy.asarray(g)
    from refsnn.kernels.codes import Reset, SurrogateKind

    fwd, bwd = kernel("lif_delayed_forward", "cupy"), kernel("lif_delayed_backward", "cupy")

    def step():
        S, U = fwd(X, 0.7, 1.0, Reset.SOFT)
        bwd(G, None, S, U, 0.7, 1.0, Reset.SOFT, SurrogateKind.FAST_SIGMOID, 25.0, 0.0, True)

    out = gpu_timeit(step, sync_fn("cupy"), repeat)
    S, U = fwd(X, 0.7, 1.0, Reset.SOFT)
    out["parity"] = _parity("delayed", S, U, lambda a: kernel("lif_delayed_forward", "numpy")(
        a, 0.7, 1.0, Reset.SOFT), x)
    return out


def run_refsnn_sj(T, B, N, repeat):
    import cupy

    import accel.cupy
    from refsnn.backend import kernel

    accel.cupy.register()
    x, g = host_inputs(T, B, N)
    X, G = cupy.asarray(x), cupy.asarray(g)
    from refsnn.kernels.codes import Reset, SurrogateKind

    fwd, bwd = kernel("lif_sj_forward", "cupy"), kernel("lif_sj_backward", "cupy")
    cfg = (0.5, 1.0, 0.0, Reset.HARD, True)  # 1/tau, v_th, v_reset, reset, decay_input

    def step():
        S, H = fwd(X, *cfg)
        bwd(G, None, S, H, None, *cfg, SurrogateKind.SIGMOID, 4.0, 0.0, False, False)

    out = gpu_timeit(step, sync_fn("cupy"), repeat)
    S, H = fwd(X, *cfg)
    out["parity"] = _parity("sj", S, H, lambda a: kernel("lif_sj_forward", "numpy")(a, *cfg), x)
    return out


def run_refsnn_layer(T, B, N, repeat):
    import cupy

    import accel.cupy
    from refsnn.autograd import Tensor
    from refsnn.neurons.lif_delayed import lif_delayed

    accel.cupy.register()
    x, g = host_inputs(T, B, N)
    X = Tensor(cupy.asarray(x.reshape(T, B, N)), requires_grad=True)
    G = cupy.asarray(g.reshape(T, B, N))

    def step():
        X.grad = None
        lif_delayed(X, beta=0.7, theta=1.0).backward(G)

    return gpu_timeit(step, sync_fn("cupy"), repeat)


def _spikingjelly(T, B, N, repeat, backend):
    import torch
    from spikingjelly.activation_based import functional, neuron

    x, g = host_inputs(T, B, N)
    xt = torch.from_numpy(x.reshape(T, B, N)).cuda().requires_grad_(True)
    gt = torch.from_numpy(g.reshape(T, B, N)).cuda()
    node = neuron.LIFNode(tau=2.0, step_mode="m", backend=backend).cuda()

    def step():
        functional.reset_net(node)
        xt.grad = None
        node(xt).backward(gt)

    return gpu_timeit(step, sync_fn("torch"), repeat)


def run_spikingjelly_cupy(T, B, N, repeat):
    return _spikingjelly(T, B, N, repeat, "cupy")


def run_spikingjelly_torch(T, B, N, repeat):
    return _spikingjelly(T, B, N, repeat, "torch")


def run_snntorch(T, B, N, repeat):
    import snntorch
    import torch

    x, g = host_inputs(T, B, N)
    xt = torch.from_numpy(x.reshape(T, B, N)).cuda().requires_grad_(True)
    gt = torch.from_numpy(g.reshape(T, B, N)).cuda()
    lif = snntorch.Leaky(beta=0.7).cuda()

    def step():
        xt.grad = None
        mem = lif.init_leaky()
        spikes = []
        for t in range(T):
            spk, mem = lif(xt[t], mem)
            spikes.append(spk)
        torch.stack(spikes).backward(gt)

    return gpu_timeit(step, sync_fn("torch"), max(3, repeat // 4), warmup=1)


WORKERS = {
    "refsnn-cupy kernels (delayed)": run_refsnn_delayed,
    "refsnn-cupy kernels (sj)": run_refsnn_sj,
    "refsnn-cupy layer": run_refsnn_layer,
    "spikingjelly-cupy": run_spikingjelly_cupy,
    "spikingjelly-torch": run_spikingjelly_torch,
    "snntorch": run_snntorch,
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--T", type=int, default=500)
    p.add_argument("--B", type=int, default=16)
    p.add_argument("--N", type=int, default=16384)
    p.add_argument("--peak-tbps", type=float, default=H200_PEAK_TBPS,
                   help="HBM peak bandwidth in TB/s for the '%% peak' column (H200: 4.8)")
    p.add_argument("--only", default=None, help="comma-separated subset of: " + ", ".join(WORKERS))
    p.add_argument("--out", default=None, help="results directory (default benchmarks/results)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    shape = (args.T, args.B, args.N)
    if args.worker:
        emit(WORKERS[args.worker](*shape, args.repeat))
        return None
    names = [n.strip() for n in args.only.split(",")] if args.only else list(WORKERS)
    unknown = [n for n in names if n not in WORKERS]
    if unknown:
        p.error(f"unknown worker(s) {unknown}; choose from {list(WORKERS)}")
    extra = ["--repeat", str(args.repeat), "--T", str(args.T), "--B", str(args.B), "--N", str(args.N)]
    res = run_workers(os.path.abspath(__file__), names, extra)
    elems = args.T * args.B * args.N
    peak = args.peak_tbps * 1e12
    base = res.get("refsnn-cupy kernels (delayed)", {}).get("median_s")
    rows = []
    for name, r in res.items():
        if "error" in r:
            rows.append({"framework": name, "ms": "error", "note": r["error"][:60]})
            continue
        gbps = BYTES_PER_ELEMENT * elems / r["median_s"]
        r.update(achieved_GBps=gbps / 1e9, fraction_of_peak=gbps / peak)
        par = r.get("parity")
        rows.append({"framework": name, "ms": 1e3 * r["median_s"], "GB/s": gbps / 1e9,
                     "% peak": 100 * gbps / peak,
                     "x vs refsnn": (r["median_s"] / base) if base else "",
                     "note": "" if not par else
                     f"parity: spikes {'ok' if par['spikes_equal'] else 'DIFFER'}, "
                     f"U rel {par['membrane_max_rel_err']:.1e}"})
    copy_bw = copy_bandwidth_cupy()
    result = {"benchmark": f"LIF layer T={args.T} B={args.B} N={args.N} fwd+bwd on GPU",
              "machine": machine(), "device": device_info(),
              "bytes_per_element": BYTES_PER_ELEMENT, "peak_bandwidth_TBps": args.peak_tbps,
              "copy_bandwidth_GBps": copy_bw / 1e9 if copy_bw else None,
              "bandwidth_bound_s": BYTES_PER_ELEMENT * elems / peak, "results": res,
              "columns": {"x vs refsnn": "time / time of 'refsnn-cupy kernels (delayed)' (lower is faster)"}}
    path = write("gpu_lif_layer", result, args.out)
    print(table(rows, ["framework", "ms", "GB/s", "% peak", "x vs refsnn", "note"]))
    print(f"bytes model {BYTES_PER_ELEMENT} B/element; peak {args.peak_tbps} TB/s -> bound "
          f"{1e3 * result['bandwidth_bound_s']:.2f} ms"
          + (f"; measured copy bandwidth {copy_bw / 1e9:.0f} GB/s" if copy_bw else ""))
    print(f"wrote {path}")
    if all("error" in r for r in res.values()):
        print("no framework ran: is there a CUDA GPU, and are cupy-cuda13x / torch installed?",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
