"""Regenerate the golden reference outputs in tests/golden/*.npz.

    python tests/golden/make_golden.py            # rewrites kernels.npz and snn.npz here

How they are produced: the public refsnn APIs (``refsnn.neurons`` functional
neurons, ``spike_linear``, ``siegert``) are run forward and backward on seeded
inputs with the NumPy/Numba reference backend, and every kernel call they make
is *recorded* — kernel name, positional arguments and results — by wrapping
the registered ``numpy`` kernels.  So the files hold exactly the calls the
library makes, with its own argument conventions.  ``snn.npz`` also holds a
small GAMIN SNN (784-64-10, T = 10) trained for 30 Adam steps on the shipped
MNIST sample, its input spikes for 16 test digits and its logits, replayed
through the callable ``refsnn.models.gamin_snn:snn_logits``.

File format: see the docstring of tests/accel/test_golden_parity.py
(``<case>__<field>`` arrays plus a ``__meta__`` JSON string).  The default
test run checks the reference against these files
(tests/test_golden_reference.py); the ``gpu`` tests check the CuPy backend.
Regenerate only when a semantic change is intended, and say so in the commit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from refsnn import backend  # noqa: E402
from refsnn.autograd import Tensor  # noqa: E402


class Recorder:
    """Wraps every registered numpy kernel; ``capture(prefix)`` collects the calls made inside."""

    def __init__(self):
        self.cases, self.arrays, self.prefix, self.count = {}, {}, None, 0
        table = backend._KERNELS["numpy"]
        for name in backend.registered_kernels("numpy"):
            table[name] = self._wrap(name, table[name])

    def _wrap(self, name, fn):
        def wrapped(*args):
            out = fn(*args)
            if self.prefix is not None:
                self._record(name, args, out)
            return out
        return wrapped

    def _record(self, name, args, out):
        case = f"{self.prefix}_{self.count}"
        self.count += 1
        spec_args = []
        for i, a in enumerate(args):
            if isinstance(a, np.ndarray):
                self.arrays[f"{case}__a{i}"] = a.copy()
                spec_args.append({"array": f"a{i}"})
            elif a is None or isinstance(a, (bool, int, float, str)):
                spec_args.append(a)
            elif isinstance(a, np.generic):
                spec_args.append(a.item())
            else:
                raise TypeError(f"{name}: cannot record argument {i} of type {type(a).__name__}")
        outs = out if isinstance(out, tuple) else (out,)
        names = []
        for j, o in enumerate(outs):
            o = np.asarray(o)
            self.arrays[f"{case}__o{j}"] = o.copy()
            # forward kernels return float 0/1 spikes first: checked exactly, not to a tolerance
            spikes = name.endswith("_forward") and j == 0 and np.isin(o, (0, 1)).all()
            names.append({"field": f"o{j}", "check": "exact"} if spikes else f"o{j}")
        self.cases[case] = {"kernel": name, "args": spec_args, "outputs": names}

    def capture(self, prefix, fn):
        self.prefix, self.count = prefix, 0
        try:
            fn()
        finally:
            self.prefix = None


def _run(fn, x, *outputs_cot):
    """Forward ``fn(x)`` and backward of ⟨outputs, cotangents⟩."""
    outs = fn(x)
    outs = outs if isinstance(outs, tuple) else (outs,)
    total = None
    for o, g in zip(outs, outputs_cot):
        term = (o * Tensor(g)).sum()
        total = term if total is None else total + term
    total.backward()


def neuron_cases(rec: Recorder, rng) -> None:
    from refsnn import neurons

    T, B, N = 8, 3, 40
    x = (0.8 * rng.standard_normal((T, B, N)) + 0.5).astype(np.float32)
    gs = rng.standard_normal((T, B, N)).astype(np.float32)
    gu = rng.standard_normal((T, B, N)).astype(np.float32)
    surrogates = ["fast_sigmoid", "arctan", "sigmoid", "triangle", "linear", "spike_time"]

    def go(prefix, f):
        rec.capture(prefix, lambda: _run(f, Tensor(x, requires_grad=True), gs, gu))

    for reset in ("subtract", "zero"):
        for detach in (True, False):
            for sg in surrogates:
                go(f"delayed_{reset}_{int(detach)}_{sg}",
                   lambda t, r=reset, d=detach, s=sg: neurons.lif_delayed(
                       t, beta=0.7, theta=1.0, reset=r, surrogate=s, detach_reset=d, return_membrane=True))
    for reset in ("soft", "hard"):
        for lam in (1.0, 0.9):
            go(f"immediate_{reset}_{lam}", lambda t, r=reset, lam=lam: neurons.lif_immediate(
                t, lam=lam, theta=1.0, reset=r, v_reset=0.0, surrogate="linear", return_membrane=True))
    for detach in (True, False):
        go(f"decay_{int(detach)}", lambda t, d=detach: neurons.lif_decay(
            t, v_thr=1.0, tau=0.5, detach_reset=d, return_membrane=True))
        go(f"decay_override_{int(detach)}", lambda t, d=detach: neurons.lif_decay(
            t, v_thr=0.7, tau=0.8, detach_reset=d, return_membrane=True))
    for v_reset in (0.0, None):
        for decay_input in (True, False):
            go(f"sj_{v_reset}_{int(decay_input)}", lambda t, v=v_reset, di=decay_input: neurons.lif_sj(
                t, tau=2.0, v_threshold=1.0, v_reset=v, decay_input=di, return_membrane=True))
    w = Tensor(np.array(neurons.plif_init_w(2.0), np.float32), requires_grad=True)
    go("plif", lambda t: neurons.plif(t, w, return_membrane=True))
    u_rng = np.random.default_rng(7)
    go("noisy_train", lambda t: neurons.noisy_lif(t, lam=0.9, theta=1.0, t_noise=0.2, reset="soft",
                                                  rng=u_rng, training=True, return_membrane=True))
    go("noisy_eval", lambda t: neurons.noisy_lif(t, lam=0.9, theta=1.0, t_noise=0.2, reset="hard",
                                                 rng=u_rng, training=False, return_membrane=True))


def other_cases(rec: Recorder, rng) -> None:
    from refsnn.autograd.ops_spike import spike_linear
    from refsnn.neurons import siegert

    s = (rng.random((60, 50)) < 0.2).astype(np.uint8)
    w = Tensor(rng.standard_normal((30, 50)).astype(np.float32), requires_grad=True)
    b = Tensor(rng.standard_normal(30).astype(np.float32), requires_grad=True)
    g = rng.standard_normal((60, 30)).astype(np.float32)
    rec.capture("spike_linear", lambda: (spike_linear(s, w, b) * Tensor(g)).sum().backward())
    rates = rng.random((6, 20)) * 0.3
    W = rng.standard_normal((20, 12)) * 0.05
    rec.capture("siegert", lambda: siegert(rates, W))
    from refsnn.kernels.sdbn_sim import simulate  # own Generator: the shared rng's draws stay as they were

    g = np.random.default_rng(11)
    Ws = [g.normal(0.002, 0.02, (12, 8)), g.normal(0.002, 0.02, (8, 3))]
    bs = [g.normal(0.0, 0.002, 8), g.normal(0.0, 0.002, 3)]
    rec.capture("sdbn_sim", lambda: simulate(Ws, bs, g.random((2, 12)) * 20.0, 0.5, 0.001, g,
                                             rate_unit=1.0, release=[0.5]))


def snn_case(rng) -> tuple[dict, dict]:
    from refsnn.autograd import cross_entropy
    from refsnn.datasets import load_sample
    from refsnn.models import GaminSNN
    from refsnn.nn import Adam

    x, y = load_sample("train")
    xt, yt = load_sample("test")
    net = GaminSNN(hidden=64, num_steps=10, rng=0, encode_seed=1)
    opt = Adam(net.parameters(), lr=2e-3)
    order = np.random.default_rng(2).permutation(len(x))
    for i in range(30):
        idx = order[(i * 64) % len(x):][:64]
        loss = cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    spikes = net.encode(xt[:16])
    logits = net.forward_spikes(spikes).data
    sd = net.state_dict()
    arrays = {"snn__spikes": spikes, **{f"snn__{k.replace('.', '_')}": v for k, v in sd.items()},
              "snn__logits": logits, "snn__labels": yt[:16]}
    tensor = [{"array": f"{k.replace('.', '_')}", "tensor": True} for k in
              ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")]
    case = {"callable": "refsnn.models.gamin_snn:snn_logits",
            "args": [{"array": "spikes"}, *tensor], "kwargs": {"beta": 0.7, "theta": 1.0},
            "outputs": ["logits"], "note": "GaminSNN 784-64-10, T=10, 30 Adam steps on the shipped sample"}
    return {"snn": case}, arrays


def save(path: Path, cases: dict, arrays: dict) -> None:
    meta = json.dumps({"format": 1, "cases": cases}, sort_keys=True)
    np.savez_compressed(path, __meta__=np.array(meta), **arrays)
    print(f"wrote {path} ({len(cases)} cases, {path.stat().st_size / 1024:.0f} KiB)")


def main() -> None:
    rec = Recorder()
    rng = np.random.default_rng(20261124)
    neuron_cases(rec, rng)
    other_cases(rec, rng)
    save(HERE / "kernels.npz", rec.cases, rec.arrays)
    cases, arrays = snn_case(rng)
    save(HERE / "snn.npz", cases, arrays)


if __name__ == "__main__":
    main()
