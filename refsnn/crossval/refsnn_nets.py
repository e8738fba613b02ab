"""The cross-validation network in refsnn, loaded from the torch framework's weights.

``refsnn.nn.Sequential(Linear, neuron, Linear, neuron)`` with the neuron of
DESIGN form 1 (``LIFDelayed``, for snnTorch ``Leaky``) or form 4
(``LIFNodeSJ`` / ``PLIF``, for SpikingJelly).  Parameter names match the
torch ``Sequential`` (``0.weight``, ``1.w``, ...), so the torch
``state_dict`` loads with ``load_state_dict(strict=True)`` once the
snnTorch hyper-parameter buffers (``1.beta``, ``1.threshold``, ... —
refsnn keeps them as plain attributes) are checked against the config and
set aside by :func:`split_state`.

Membranes recorded (the ones the frameworks expose):

* form 1: ``U[t]``, the membrane compared with θ — refsnn ``return_membrane``
  gives exactly this (snnTorch's ``mem``);
* form 4: the post-reset ``V[t]`` (SpikingJelly's ``v_seq``).  refsnn's
  ``return_membrane`` gives the pre-reset ``H[t]``; :func:`sj_post_reset`
  applies SpikingJelly's reset to ``(H, S)`` with autograd ops —
  ``V = (1 − S')·H + S'·V_reset`` (hard) or ``V = H − V_th·S'`` (soft),
  ``S' = S.detach()`` when ``detach_reset`` — so the loss sees the same
  function of the same graph as in SpikingJelly.

``path="fused"`` runs each layer's fused multi-step kernel (``forward``);
``path="steps"`` runs its single-step autograd reference (``run_steps``).
"""

from __future__ import annotations

import numpy as np

from refsnn.autograd import Tensor
from refsnn.backend import active_backend, backend_of, to_backend, to_host
from refsnn.crossval.spec import CrossvalConfig
from refsnn.neurons.lif_delayed import LIFDelayed
from refsnn.neurons.lif_sj import LIFNodeSJ
from refsnn.neurons.plif import PLIF
from refsnn.neurons.surrogate import ArcTan, FastSigmoid, Sigmoid
from refsnn.nn import Linear, Sequential

PATHS = ("fused", "steps")
# snnTorch Leaky buffers refsnn holds as plain attributes: name -> how to check it
SNNTORCH_BUFFERS = ("beta", "threshold", "graded_spikes_factor", "reset_mechanism_val")
SNNTORCH_RESET_CODE = {"subtract": 0, "zero": 1}


def refsnn_surrogate(config: CrossvalConfig):
    """refsnn's ``FastSigmoid(k)`` / ``ArcTan(alpha)`` / ``Sigmoid(alpha)`` for ``config``."""
    name, a = config.surrogate_spec()
    return {"fast_sigmoid": FastSigmoid, "atan": ArcTan, "sigmoid": Sigmoid}[name](a)


def refsnn_neuron(config: CrossvalConfig):
    """The refsnn neuron layer of ``config`` (``return_membrane=True``)."""
    sg = refsnn_surrogate(config)
    detach = config.resolved_detach_reset()
    if config.neuron == "leaky":
        return LIFDelayed(beta=config.beta, theta=config.threshold, reset=config.reset, surrogate=sg,
                          detach_reset=detach, return_membrane=True)
    common = dict(v_threshold=config.threshold, v_reset=config.sj_v_reset(), decay_input=config.decay_input,
                  surrogate=sg, detach_reset=detach, return_membrane=True)
    if config.neuron == "plif":
        return PLIF(init_tau=config.tau, dtype=config.np_dtype, **common)
    return LIFNodeSJ(tau=config.tau, **common)


def split_state(config: CrossvalConfig, state: dict, prefixes=("1.", "3.")) -> dict:
    """``state`` minus snnTorch's neuron buffers, after checking they agree with ``config``.

    A disagreement (a checkpoint whose β or θ is not the config's) is a
    ValueError naming the key and both values.
    """
    out = {}
    expected = {
        "beta": config.beta,
        "threshold": config.threshold,
        "graded_spikes_factor": 1.0,
        "reset_mechanism_val": SNNTORCH_RESET_CODE.get(config.reset, -1),
    }
    for key, value in state.items():
        prefix, _, name = key.rpartition(".")
        layer = prefix + "." if prefix else ""
        if config.framework == "snntorch" and name in SNNTORCH_BUFFERS and layer in prefixes:
            want = np.asarray(expected[name], dtype=np.asarray(value).dtype)
            if not np.allclose(np.asarray(value), want, rtol=0, atol=0):
                raise ValueError(f"split_state: snnTorch buffer {key} = {np.asarray(value)!r} but the config "
                                 f"says {name} = {expected[name]!r}")
            continue
        out[key] = value
    return out


def build_refsnn(config: CrossvalConfig, state: dict) -> Sequential:
    """refsnn ``Sequential(Linear, neuron, Linear, neuron)`` in ``config.dtype``, loaded from ``state``.

    ``state`` is the torch ``state_dict`` as NumPy arrays (or read back from a
    safetensors file); it is loaded with ``strict=True`` after
    :func:`split_state`, so a missing or extra weight is an error.
    """
    if not isinstance(config, CrossvalConfig):
        raise TypeError(f"build_refsnn: expected a CrossvalConfig, got {type(config).__name__}")
    n0, n1, n2 = config.sizes
    dt = config.np_dtype
    net = Sequential(Linear(n0, n1, rng=0, dtype=dt), refsnn_neuron(config),
                     Linear(n1, n2, rng=1, dtype=dt), refsnn_neuron(config))
    net.load_state_dict(split_state(config, state), strict=True)
    return net


def sj_post_reset(h: Tensor, s: Tensor, config: CrossvalConfig) -> Tensor:
    """SpikingJelly's post-reset ``V[t]`` from refsnn's ``(H, S)`` (see the module docstring)."""
    r = s.detach() if config.resolved_detach_reset() else s
    if config.reset == "hard":
        return (1 - r) * h + r * float(config.v_reset)
    return h - r * float(config.threshold)


def _neuron_run(layer, x, config: CrossvalConfig, path: str):
    """``(S, membrane)`` of one refsnn neuron layer, membrane as the framework records it."""
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}, got {path!r}")
    s, u = layer(x) if path == "fused" else layer.run_steps(x)
    if config.framework == "spikingjelly":
        u = sj_post_reset(u, s, config)
    return s, u


def _loss(mem, spikes, cot, count_weight: float):
    loss = (mem * Tensor(to_backend(cot, backend_of(mem.data)))).sum()
    for s in spikes:
        loss = loss + s.sum() * count_weight
    return loss


def run_refsnn(net: Sequential, x: np.ndarray, cot: np.ndarray, config: CrossvalConfig,
               path: str = "fused") -> dict[str, np.ndarray]:
    """Run ``net`` on ``x [T, B, n0]``, backpropagate the spec loss; same keys as the torch runs.

    Runs on the default backend (``REFSNN_BACKEND``); the results are host arrays.
    """
    fc1, lif1, fc2, lif2 = list(net.to(active_backend()))
    x_t = Tensor(to_backend(np.ascontiguousarray(x, dtype=config.np_dtype)), requires_grad=True)
    spk1, mem1 = _neuron_run(lif1, fc1(x_t), config, path)
    spk2, mem2 = _neuron_run(lif2, fc2(spk1), config, path)
    loss = _loss(mem2, (spk1, spk2), cot, config.count_weight)
    net.zero_grad()
    loss.backward()
    out = {
        "spk1": spk1.data, "spk2": spk2.data, "mem1": mem1.data, "mem2": mem2.data,
        "out": mem2.data.sum(axis=0), "loss": loss.data.astype(config.np_dtype), "grad.input": x_t.grad,
    }
    for name, p in net.named_parameters():
        if p.grad is None:
            raise RuntimeError(f"run_refsnn: parameter {name} received no gradient")
        out[f"grad.{name}"] = p.grad
    return {k: np.array(to_host(v), copy=True) for k, v in out.items()}


def run_neuron_refsnn(config: CrossvalConfig, currents: np.ndarray, cot: np.ndarray, state: dict,
                      path: str = "fused") -> dict[str, np.ndarray]:
    """One refsnn neuron layer over ``currents``; ``state`` is the framework layer's state (PLIF ``w``)."""
    layer = refsnn_neuron(config)
    layer.load_state_dict(split_state(config, state, prefixes=("",)), strict=True)
    layer.to(active_backend())
    x_t = Tensor(to_backend(np.ascontiguousarray(currents, dtype=config.np_dtype)), requires_grad=True)
    spk, mem = _neuron_run(layer, x_t, config, path)
    loss = _loss(mem, (spk,), cot, config.count_weight)
    loss.backward()
    out = {"spk": spk.data, "mem": mem.data, "loss": loss.data.astype(config.np_dtype),
           "grad.input": x_t.grad}
    if config.neuron == "plif":
        out["grad.w"] = layer.w.grad
    return {k: np.array(to_host(v), copy=True) for k, v in out.items()}
