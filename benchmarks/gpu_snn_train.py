"""GPU benchmark: one GAMIN-SNN training step (784-3000-10 LIF, β = 0.7, T = 25, batch 128).

Needs a CUDA GPU.  Times, each in its own subprocess (a framework that is not
installed is reported as an error row, the others still run):

* ``refsnn-cupy`` — the GAMIN SNN computation written with refsnn's
  primitives on CuPy arrays (``spike_linear`` on the binary input spikes →
  LIF delayed reset → ``linear`` → LIF → Σ_t U → cross-entropy, BPTT with the
  fast sigmoid k = 40, refsnn's Adam), i.e. what ``GaminSNN.forward_spikes``
  computes, with the CUDA kernels of ``accel.cupy``;
* ``refsnn-cupy GaminSNN`` — ``refsnn.models.GaminSNN`` itself with its
  parameters moved to the GPU (an error row if the model does not yet accept
  device arrays);
* ``snntorch`` — the snnTorch tutorial network (two ``nn.Linear``, two
  ``Leaky``, fast-sigmoid slope 40, ``torch.optim.Adam``) on CUDA;
* ``cublas dense fc1`` — the dense GEMM ``[T·B, 784] @ [784, 3000]`` of the
  first layer in float32 (what a dense implementation cannot beat for that layer).

Every framework gets the same pre-encoded input spikes (rate coding is not
timed), labels and initial weights.  Input: Bernoulli spikes with density
0.174 (rate-coded MNIST-5k has 0.174), or real MNIST with ``--data DIR``.
One "train" step = forward over 25 steps + loss + BPTT + Adam; "infer" =
forward only.  Medians over ``--repeat`` synchronised runs.

    python benchmarks/gpu_snn_train.py [--repeat 20] [--data ../shared/data/mnist-5k]

Writes ``benchmarks/results/gpu_snn_train.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import numpy as np
from _peers import snntorch_gamin_net
from gpu_common import device_info, emit, gpu_timeit, machine, run_workers, sync_fn, table, write

T, B, N_IN, HIDDEN, N_OUT = 25, 128, 784, 3000, 10
DENSITY = 0.174


def make_inputs(data: str | None, seed: int = 0):
    """Spikes uint8 [T, B, 784], labels int64 [B], initial weights (PyTorch layout and init)."""
    rng = np.random.default_rng(seed)
    if data:
        from data_tools import load_mnist

        x, y = load_mnist(data, "train")
        idx = rng.choice(len(x), B, replace=False)
        p = np.clip(x[idx].reshape(B, -1).astype(np.float64), 0, 1)
        spikes = (rng.random((T, B, N_IN)) < p).astype(np.uint8)
        labels = np.asarray(y[idx], np.int64)
    else:
        spikes = (rng.random((T, B, N_IN)) < DENSITY).astype(np.uint8)
        labels = rng.integers(0, N_OUT, B).astype(np.int64)
    b1, b2 = 1 / np.sqrt(N_IN), 1 / np.sqrt(HIDDEN)
    state = {"fc1.weight": rng.uniform(-b1, b1, (HIDDEN, N_IN)).astype(np.float32),
             "fc1.bias": rng.uniform(-b1, b1, HIDDEN).astype(np.float32),
             "fc2.weight": rng.uniform(-b2, b2, (N_OUT, HIDDEN)).astype(np.float32),
             "fc2.bias": rng.uniform(-b2, b2, N_OUT).astype(np.float32)}
    return spikes, labels, state


def run_refsnn(spikes, labels, state, repeat):
    import cupy

    import accel.cupy
    from refsnn.autograd import Tensor, no_grad
    from refsnn.autograd.ops_loss import cross_entropy
    from refsnn.autograd.ops_spike import spike_linear
    from refsnn.neurons.lif_delayed import lif_delayed
    from refsnn.neurons.surrogate import FastSigmoid
    from refsnn.nn.layers import linear
    from refsnn.nn.optim import Adam

    accel.cupy.register()
    p = {k: Tensor(cupy.asarray(v), requires_grad=True) for k, v in state.items()}
    s0 = cupy.asarray(spikes.reshape(T * B, N_IN))
    y = cupy.asarray(labels)
    sg = FastSigmoid(k=40.0)
    opt = Adam(list(p.values()), lr=5e-4)

    def forward():
        z1 = spike_linear(s0, p["fc1.weight"], p["fc1.bias"], check=False)
        s1 = lif_delayed(z1.reshape(T, B, HIDDEN), beta=0.7, theta=1.0, surrogate=sg)
        z2 = linear(s1.reshape(T * B, HIDDEN), p["fc2.weight"], p["fc2.bias"]).reshape(T, B, N_OUT)
        _, u2 = lif_delayed(z2, beta=0.7, theta=1.0, surrogate=sg, return_membrane=True)
        return u2.sum(axis=0)

    def train_step():
        loss = cross_entropy(forward(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def infer():
        with no_grad():
            forward()

    sync = sync_fn("cupy")
    return {"train": gpu_timeit(train_step, sync, repeat), "infer": gpu_timeit(infer, sync, repeat),
            "gpu_pool_gib": cupy.get_default_memory_pool().total_bytes() / 2**30}


def run_refsnn_model(spikes, labels, state, repeat):
    import cupy

    import accel.cupy
    from refsnn.autograd import no_grad
    from refsnn.autograd.ops_loss import cross_entropy
    from refsnn.models.gamin_snn import GaminSNN
    from refsnn.nn.optim import Adam

    accel.cupy.register()
    model = GaminSNN(hidden=HIDDEN, num_steps=T, rng=0)
    model.load_state_dict(state)
    for prm in model.parameters():
        prm.data = cupy.asarray(prm.data)
    s, y = cupy.asarray(spikes), cupy.asarray(labels)
    opt = Adam(model.parameters(), lr=5e-4)

    def train_step():
        loss = cross_entropy(model.forward_spikes(s), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def infer():
        with no_grad():
            model.forward_spikes(s)

    sync = sync_fn("cupy")
    return {"train": gpu_timeit(train_step, sync, repeat), "infer": gpu_timeit(infer, sync, repeat)}


def run_snntorch(spikes, labels, state, repeat):
    import torch

    net = snntorch_gamin_net(state, n_in=N_IN, hidden=HIDDEN, n_out=N_OUT)
    net = net.cuda()
    opt = torch.optim.Adam(net.parameters(), lr=5e-4)
    s = torch.from_numpy(spikes.astype(np.float32)).cuda()
    y = torch.from_numpy(labels).cuda()

    def train_step():
        loss = torch.nn.functional.cross_entropy(net(s), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def infer():
        with torch.no_grad():
            net(s)

    sync = sync_fn("torch")
    out = {"train": gpu_timeit(train_step, sync, repeat), "infer": gpu_timeit(infer, sync, repeat)}
    out["gpu_peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def run_gemm(spikes, labels, state, repeat):
    import cupy

    x = cupy.asarray(spikes.reshape(T * B, N_IN).astype(np.float32))
    wt = cupy.asarray(np.ascontiguousarray(state["fc1.weight"].T))
    t = gpu_timeit(lambda: x @ wt, sync_fn("cupy"), repeat)
    return {"train": t, "infer": t}


WORKERS = {"refsnn-cupy": run_refsnn, "refsnn-cupy GaminSNN": run_refsnn_model,
           "snntorch": run_snntorch, "cublas dense fc1": run_gemm}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--data", default=None, help="MNIST IDX directory (default: synthetic spikes)")
    p.add_argument("--only", default=None, help="comma-separated subset of: " + ", ".join(WORKERS))
    p.add_argument("--out", default=None, help="results directory (default benchmarks/results)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        spikes, labels, state = make_inputs(args.data)
        out = WORKERS[args.worker](spikes, labels, state, args.repeat)
        out["input_density"] = float(spikes.mean())
        emit(out)
        return 0
    names = [n.strip() for n in args.only.split(",")] if args.only else list(WORKERS)
    unknown = [n for n in names if n not in WORKERS]
    if unknown:
        p.error(f"unknown worker(s) {unknown}; choose from {list(WORKERS)}")
    extra = ["--repeat", str(args.repeat)] + (["--data", args.data] if args.data else [])
    res = run_workers(os.path.abspath(__file__), names, extra)
    rows = []
    for name, r in res.items():
        if "error" in r:
            rows.append({"framework": name, "train_ms": "error", "note": r["error"][:70]})
        else:
            rows.append({"framework": name, "train_ms": 1e3 * r["train"]["median_s"],
                         "infer_ms": 1e3 * r["infer"]["median_s"]})
    speedup = {}
    ref, snn = res.get("refsnn-cupy", {}), res.get("snntorch", {})
    if "train" in ref and "train" in snn:
        speedup = {k: snn[k]["median_s"] / ref[k]["median_s"] for k in ("train", "infer")}
    result = {"benchmark": f"GAMIN SNN 784-{HIDDEN}-10, T={T}, batch {B}, on GPU",
              "machine": machine(), "device": device_info(), "results": res,
              "speedup_refsnn_vs_snntorch": speedup,
              "note": "speedup > 1 means refsnn-cupy is faster than snnTorch on the same GPU"}
    path = write("gpu_snn_train", result, args.out)
    print(table(rows, ["framework", "train_ms", "infer_ms", "note"]))
    for k, v in speedup.items():
        print(f"{k}: refsnn-cupy is {v:.2f}x {'faster' if v >= 1 else 'slower'} than snnTorch")
    print(f"wrote {path}")
    if all("error" in r for r in res.values()):
        print("no framework ran: is there a CUDA GPU, and are cupy-cuda13x / torch installed?",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
