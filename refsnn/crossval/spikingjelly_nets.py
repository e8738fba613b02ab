"""The cross-validation network in SpikingJelly: ``Linear → LIFNode/ParametricLIFNode → Linear → ...``.

SpikingJelly 2.0 ``activation_based.neuron.LIFNode`` (multi-step, ``step_mode='m'``)::

    decay_input=True:  H[t] = V[t-1] + (X[t] − (V[t-1] − V_reset))/τ
    decay_input=False: H[t] = V[t-1] − (V[t-1] − V_reset)/τ + X[t]
    S[t] = Θ≥(H[t] − V_th)                                (fires at equality: ``>= 0``)
    hard (v_reset = float): V[t] = S[t]·V_reset + (1 − S[t])·H[t]
    soft (v_reset = None):  V[t] = H[t] − S[t]·V_th      (V_reset := 0 in the charge)
    V[0] = V_reset (hard) or 0 (soft)

``ParametricLIFNode`` replaces ``1/τ`` by ``σ(w)``, ``w`` a scalar parameter
named ``w`` (initial ``−ln(τ0 − 1)``).  ``detach_reset=True`` detaches the
``S`` inside the reset (the charge and fire gradients are unchanged).
``store_v_seq=True`` makes the node keep ``v_seq = V[1..T]`` (after reset) —
the membrane recorded here.  This is DESIGN form 4 (``refsnn.neurons``
``lif_sj`` / ``LIFNodeSJ`` / ``PLIF``).

SpikingJelly 2.0 has no ``backend=`` argument: on CPU, float32 runs through
its registered fused operator (hand-written BPTT), any other dtype through
its plain-torch reference loop (torch autograd).  A float32 and a float64
comparison therefore check two different SpikingJelly code paths.

Each node keeps its last ``v`` between calls (reused while the shape is the
same), so :func:`run_spikingjelly` calls ``functional.reset_net`` first.

Example (needs ``pip install -e .[crossval]``)::

    >>> from refsnn.crossval.spec import make_data
    >>> cfg = CrossvalConfig(neuron="plif", tau=2.0, reset="soft", decay_input=False)
    >>> net = build_spikingjelly(cfg)             # doctest: +SKIP
    >>> res = run_spikingjelly(net, *make_data(cfg), cfg)   # doctest: +SKIP
    >>> sorted(k for k in res if k.startswith("grad."))     # doctest: +SKIP
    ['grad.0.bias', 'grad.0.weight', 'grad.1.w', 'grad.2.bias', 'grad.2.weight', 'grad.3.w', 'grad.input']
"""

from __future__ import annotations

import numpy as np

from refsnn.crossval._deps import require, torch_dtype
from refsnn.crossval.spec import CrossvalConfig
from refsnn.crossval.torch_common import finish_run, init_linears_


def _check(config, where: str) -> None:
    if not isinstance(config, CrossvalConfig):
        raise TypeError(f"{where}: expected a CrossvalConfig, got {type(config).__name__}")
    if config.framework != "spikingjelly":
        raise ValueError(f"{where}: config.neuron={config.neuron!r} is a {config.framework} neuron; "
                         f"SpikingJelly runs neuron='lif' or 'plif'")


def spikingjelly_surrogate(config: CrossvalConfig):
    """``surrogate.Sigmoid(alpha=α)`` or ``surrogate.ATan(alpha=α)``."""
    ab = require("spikingjelly", "spikingjelly_surrogate")
    name, a = config.surrogate_spec()
    return ab.surrogate.ATan(alpha=a) if name == "atan" else ab.surrogate.Sigmoid(alpha=a)


def spikingjelly_node(config: CrossvalConfig):
    """One ``LIFNode`` or ``ParametricLIFNode`` for ``config`` (``step_mode='m'``, ``store_v_seq=True``)."""
    _check(config, "spikingjelly_node")
    ab = require("spikingjelly", "spikingjelly_node")
    common = dict(
        decay_input=bool(config.decay_input),
        v_threshold=float(config.threshold),
        v_reset=config.sj_v_reset(),
        surrogate_function=spikingjelly_surrogate(config),
        detach_reset=config.resolved_detach_reset(),
        step_mode="m",
        store_v_seq=True,
    )
    if config.neuron == "plif":
        return ab.neuron.ParametricLIFNode(init_tau=float(config.tau), **common)
    return ab.neuron.LIFNode(tau=float(config.tau), **common)


def build_spikingjelly(config: CrossvalConfig):
    """``torch.nn.Sequential(Linear, node, Linear, node)`` with seeded weights in ``config.dtype``."""
    _check(config, "build_spikingjelly")
    torch = require("torch", "build_spikingjelly")
    n0, n1, n2 = config.sizes
    net = torch.nn.Sequential(
        torch.nn.Linear(n0, n1), spikingjelly_node(config), torch.nn.Linear(n1, n2), spikingjelly_node(config)
    ).to(torch_dtype(config.dtype))
    init_linears_((net[0], net[2]), config)
    return net


def run_spikingjelly(net, x: np.ndarray, cot: np.ndarray, config: CrossvalConfig) -> dict[str, np.ndarray]:
    """Run ``net`` over ``x [T, B, n0]`` in multi-step mode, backpropagate the spec loss, return NumPy.

    Keys as :func:`refsnn.crossval.snntorch_nets.run_snntorch`, plus
    ``grad.1.w grad.3.w`` for PLIF.
    """
    _check(config, "run_spikingjelly")
    torch = require("torch", "run_spikingjelly")
    ab = require("spikingjelly", "run_spikingjelly")
    ab.functional.reset_net(net)
    fc1, node1, fc2, node2 = net
    x_t = torch.tensor(np.ascontiguousarray(x), dtype=torch_dtype(config.dtype), requires_grad=True)
    spk1 = node1(fc1(x_t))
    spk2 = node2(fc2(spk1))
    out = finish_run(net, x_t, spk1, node1.v_seq, spk2, node2.v_seq, cot, config)
    ab.functional.reset_net(net)
    return out


def run_neuron_spikingjelly(config: CrossvalConfig, currents: np.ndarray, cot: np.ndarray):
    """One ``LIFNode``/``ParametricLIFNode`` over ``currents [T, B, N]``; loss ``Σ cot ⊙ V + λ·Σ S``.

    Returns ``(results, state)``: results keys ``spk mem loss grad.input``
    (+ ``grad.w`` for PLIF); ``state`` is the node's ``state_dict`` as NumPy
    (``{"w": ...}`` for PLIF, empty for LIFNode).
    """
    _check(config, "run_neuron_spikingjelly")
    torch = require("torch", "run_neuron_spikingjelly")
    ab = require("spikingjelly", "run_neuron_spikingjelly")
    dt = torch_dtype(config.dtype)
    node = spikingjelly_node(config).to(dt)
    ab.functional.reset_net(node)
    x_t = torch.tensor(np.ascontiguousarray(currents), dtype=dt, requires_grad=True)
    spk = node(x_t)
    mem = node.v_seq
    loss = (mem * torch.from_numpy(np.ascontiguousarray(cot))).sum() + config.count_weight * spk.sum()
    loss.backward()
    results = {"spk": spk.detach().numpy().copy(), "mem": mem.detach().numpy().copy(),
               "loss": np.asarray(loss.item(), dtype=config.np_dtype), "grad.input": x_t.grad.numpy().copy()}
    if config.neuron == "plif":
        results["grad.w"] = node.w.grad.detach().numpy().copy()
    state = {k: v.detach().numpy().copy() for k, v in node.state_dict().items()}
    ab.functional.reset_net(node)
    return results, state
