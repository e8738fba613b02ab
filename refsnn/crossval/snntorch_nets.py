"""The cross-validation network in snnTorch: ``Linear → Leaky → Linear → Leaky``.

``snntorch.Leaky`` (1.0) per step, with ``mem`` passed explicitly (zeros at t = 1)::

    R[t] = Θ(U[t-1] − θ)   computed by ``mem_reset`` from a detached spike
    subtract: U[t] = clamp(β, 0, 1)·U[t-1] + X[t] − R[t]·θ
    zero:     U[t] = clamp(β, 0, 1)·(1 − R[t])·U[t-1] + X[t]
    S[t] = Θ(U[t] − θ) = spike_grad(U[t] − θ)           Θ strict (> 0)

which is DESIGN form 1 (``refsnn.neurons`` ``lif_delayed``) with
``detach_reset=True``; the returned ``mem`` is ``U[t]``.  The layers live in a
``torch.nn.Sequential`` only so the parameter names are ``0.weight``,
``2.weight``, ... (the refsnn names); the time loop is explicit because
``Leaky`` with ``init_hidden=False`` returns ``(spk, mem)``.

Example (needs ``pip install -e .[crossval]``)::

    >>> from refsnn.crossval.spec import make_data
    >>> cfg = CrossvalConfig(neuron="leaky", surrogate="fast_sigmoid", surrogate_param=25)
    >>> net = build_snntorch(cfg)                 # doctest: +SKIP
    >>> x, cot = make_data(cfg)
    >>> res = run_snntorch(net, x, cot, cfg)      # doctest: +SKIP
    >>> res["spk2"].shape                         # doctest: +SKIP
    (5, 3, 6)
"""

from __future__ import annotations

import numpy as np

from refsnn.crossval._deps import require, torch_dtype
from refsnn.crossval.spec import CrossvalConfig
from refsnn.crossval.torch_common import finish_run, init_linears_


def _check(config, where: str) -> None:
    if not isinstance(config, CrossvalConfig):
        raise TypeError(f"{where}: expected a CrossvalConfig, got {type(config).__name__}")
    if config.framework != "snntorch":
        raise ValueError(f"{where}: config.neuron={config.neuron!r} is a {config.framework} neuron; "
                         f"snnTorch runs neuron='leaky'")


def snntorch_surrogate(config: CrossvalConfig):
    """``snntorch.surrogate.fast_sigmoid(slope=k)`` / ``atan(alpha=α)`` / ``sigmoid(slope=α)``."""
    snn = require("snntorch", "snntorch_surrogate")
    name, a = config.surrogate_spec()
    if name == "fast_sigmoid":
        return snn.surrogate.fast_sigmoid(slope=a)
    if name == "atan":
        return snn.surrogate.atan(alpha=a)
    return snn.surrogate.sigmoid(slope=a)


def build_snntorch(config: CrossvalConfig):
    """``torch.nn.Sequential(Linear, Leaky, Linear, Leaky)`` with seeded weights in ``config.dtype``.

    β and θ are given as tensors of the run dtype: a Python float becomes a
    float32 buffer, and ``.double()`` would then widen ``float32(0.7)``
    rather than use ``0.7``.
    """
    _check(config, "build_snntorch")
    torch = require("torch", "build_snntorch")
    snn = require("snntorch", "build_snntorch")
    dt = torch_dtype(config.dtype)
    n0, n1, n2 = config.sizes

    def leaky():
        return snn.Leaky(
            beta=torch.tensor(config.beta, dtype=dt),
            threshold=torch.tensor(config.threshold, dtype=dt),
            spike_grad=snntorch_surrogate(config),
            reset_mechanism=config.reset,
            init_hidden=False,
            reset_delay=True,
        )

    net = torch.nn.Sequential(torch.nn.Linear(n0, n1), leaky(), torch.nn.Linear(n1, n2), leaky()).to(dt)
    init_linears_((net[0], net[2]), config)
    return net


def run_snntorch(net, x: np.ndarray, cot: np.ndarray, config: CrossvalConfig) -> dict[str, np.ndarray]:
    """Run ``net`` over ``x [T, B, n0]``, backpropagate the spec loss, return NumPy arrays.

    Keys: ``spk1 spk2 mem1 mem2 out loss grad.input grad.0.weight grad.0.bias
    grad.2.weight grad.2.bias`` (see :mod:`refsnn.crossval.spec`).
    """
    _check(config, "run_snntorch")
    torch = require("torch", "run_snntorch")
    fc1, lif1, fc2, lif2 = net
    x_t = torch.tensor(np.ascontiguousarray(x), dtype=torch_dtype(config.dtype), requires_grad=True)
    T, B, _ = x_t.shape
    _, n1, n2 = config.sizes
    # Explicit zero initial state: with mem=None Leaky would reuse the membrane left in its
    # ``mem`` buffer by the previous call (it only re-zeros when the shape changes).
    mem1 = torch.zeros(B, n1, dtype=x_t.dtype)
    mem2 = torch.zeros(B, n2, dtype=x_t.dtype)
    s1, m1, s2, m2 = [], [], [], []
    for t in range(T):
        # snnTorch's surrogate forwards return ``(x > 0).float()``: float32 spikes even in a
        # float64 net, so they are cast (differentiably) back to the run dtype.
        spk1, mem1 = lif1(fc1(x_t[t]), mem1)
        spk1 = spk1.to(x_t.dtype)
        spk2, mem2 = lif2(fc2(spk1), mem2)
        spk2 = spk2.to(x_t.dtype)
        s1.append(spk1)
        m1.append(mem1)
        s2.append(spk2)
        m2.append(mem2)
    stack = torch.stack
    return finish_run(net, x_t, stack(s1), stack(m1), stack(s2), stack(m2), cot, config)


def run_neuron_snntorch(config: CrossvalConfig, currents: np.ndarray, cot: np.ndarray):
    """One ``Leaky`` layer over ``currents [T, B, N]``; loss ``Σ cot ⊙ U + λ·Σ S``.

    Returns ``(results, state)``: results keys ``spk mem loss grad.input``;
    ``state`` is the layer's ``state_dict`` as NumPy (β, θ, ... buffers).
    """
    _check(config, "run_neuron_snntorch")
    torch = require("torch", "run_neuron_snntorch")
    snn = require("snntorch", "run_neuron_snntorch")
    dt = torch_dtype(config.dtype)
    lif = snn.Leaky(beta=torch.tensor(config.beta, dtype=dt),
                    threshold=torch.tensor(config.threshold, dtype=dt),
                    spike_grad=snntorch_surrogate(config), reset_mechanism=config.reset).to(dt)
    x_t = torch.tensor(np.ascontiguousarray(currents), dtype=dt, requires_grad=True)
    mem = torch.zeros(x_t.shape[1:], dtype=dt)
    spk_seq, mem_seq = [], []
    for t in range(x_t.shape[0]):
        spk, mem = lif(x_t[t], mem)
        spk_seq.append(spk.to(dt))
        mem_seq.append(mem)
    spk, mem = torch.stack(spk_seq), torch.stack(mem_seq)
    loss = (mem * torch.from_numpy(np.ascontiguousarray(cot))).sum() + config.count_weight * spk.sum()
    loss.backward()
    results = {"spk": spk.detach().numpy().copy(), "mem": mem.detach().numpy().copy(),
               "loss": np.asarray(loss.item(), dtype=config.np_dtype), "grad.input": x_t.grad.numpy().copy()}
    state = {k: v.detach().numpy().copy() for k, v in lif.state_dict().items()}
    return results, state
