"""Neurons for :func:`refsnn.crossval.from_torch`: snnTorch ``Leaky``, SpikingJelly nodes, surrogates.

==========================================  ==================================================
torch neuron                                refsnn (DESIGN form)
==========================================  ==================================================
snnTorch ``Leaky`` (reset_delay=True)       ``LIFDelayed`` (1): ``U = β·U + X − R·θ`` / zero reset,
                                            fires on ``U − θ > 0``; β clamped to [0, 1] as snnTorch
SJ ``LIFNode`` / ``ParametricLIFNode``      ``LIFNodeSJ`` / ``PLIF`` (4): fires on ``H − V_th ≥ 0``
SJ ``IFNode``                               ``IF`` (2, λ = 1): ``H = V + X``, fires on ``≥``;
                                            soft reset, or hard to 0 (refsnn's IF starts from
                                            0, SpikingJelly's from v_reset: other v_reset refused)
==========================================  ==================================================

Surrogates: snnTorch ``fast_sigmoid(slope)`` → ``FastSigmoid(k=slope)``,
``atan(alpha)`` → ``ArcTan(alpha)``, ``sigmoid(slope)`` → ``Sigmoid(alpha=slope)``
(snnTorch's closures are recognised by their factory name and closed-over
parameter); SpikingJelly ``Sigmoid(alpha)``, ``ATan(alpha)`` likewise.  A
``Leaky`` with inhibition, state quantisation, learnable β / θ / graded
spikes, ``surrogate_disable``, ``reset_mechanism='none'`` or
``reset_delay=False`` has no refsnn form and is refused, as is any other
surrogate.  Each stage's ``spec`` keeps what :mod:`refsnn.crossval.check`
needs: threshold, reset, ``v_reset``, fire rule and which membrane the
framework exposes (``U`` or the post-reset ``V``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from refsnn.crossval._deps import require
from refsnn.neurons import IF, PLIF, LIFDelayed, LIFNodeSJ
from refsnn.neurons.surrogate import ArcTan, FastSigmoid, Sigmoid
from refsnn.nn import Module

# snnTorch Leaky buffers refsnn keeps as constructor arguments (not state)
LEAKY_BUFFERS = ("beta", "threshold", "graded_spikes_factor", "reset_mechanism_val")
LEAKY_RESETS = {0: "subtract", 1: "zero", 2: "none"}


@dataclass
class Stage:
    """One link of the imported chain: a torch module (by path) and its refsnn twin.

    kind: ``"layer"`` (stateless) or ``"neuron"``; framework: ``torch`` |
    ``snntorch`` | ``spikingjelly``; names: refsnn local name → torch local name
    of every parameter/buffer; spec: the neuron's hyper-parameters (threshold,
    reset, v_reset, surrogate, ... — used to recompute the framework's membrane
    and to explain differences).
    """

    path: str
    torch_type: str
    kind: str
    framework: str
    module: Module
    names: dict = field(default_factory=dict)
    spec: dict = field(default_factory=dict)


def type_name(m) -> str:
    return type(m).__name__


def framework_of(m) -> str:
    mod = type(m).__module__
    if mod.startswith("snntorch"):
        return "snntorch"
    if mod.startswith("spikingjelly"):
        return "spikingjelly"
    return "torch" if mod.startswith("torch") else mod


def unsupported(path: str, m, why: str = ""):
    return NotImplementedError(
        f"from_torch: unsupported layer {type(m).__module__}.{type(m).__name__} at {path or '<root>'!r}"
        + (f" ({why})" if why else "") + "; supported: Sequential, Linear, Conv2d, AvgPool2d, MaxPool2d, "
        "Flatten, Dropout, BatchNorm2d, ReLU, snnTorch Leaky, SpikingJelly LIFNode / ParametricLIFNode / "
        "IFNode, SeqToANNContainer and layer.* wrappers")


def neuron_stage(path: str, m, notes) -> Stage:
    if framework_of(m) == "snntorch":
        return _leaky(path, m, notes)
    return _sj_node(path, m)


def _scalar(path: str, what: str, value) -> float:
    arr = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
    if arr.size != 1:
        raise NotImplementedError(f"from_torch: {what} at {path!r} has shape {arr.shape}; only a scalar "
                                  f"(one value for the whole layer) is translated")
    return float(arr.reshape(-1)[0])


def _leaky(path: str, m, notes) -> Stage:
    torch = require("torch", "from_torch")
    checks = {
        "inhibition": bool(m.inhibition), "state_quant": bool(m.state_quant),
        "surrogate_disable": bool(getattr(m, "surrogate_disable", False)),
        "learn_beta": isinstance(m.beta, torch.nn.Parameter),
        "learn_threshold": isinstance(m.threshold, torch.nn.Parameter),
        "reset_delay=False": not getattr(m, "reset_delay", True),
    }
    bad = [k for k, v in checks.items() if v]
    gsf = _scalar(path, "graded_spikes_factor", m.graded_spikes_factor)
    if gsf != 1.0:
        bad.append(f"graded_spikes_factor={gsf}")
    reset = LEAKY_RESETS[int(_scalar(path, "reset_mechanism_val", m.reset_mechanism_val))]
    if reset == "none":
        bad.append("reset_mechanism='none'")
    if bad:
        raise unsupported(path, m, "snnTorch Leaky with " + ", ".join(bad) + " has no refsnn form")
    beta_raw = _scalar(path, "beta", m.beta)
    beta = min(max(beta_raw, 0.0), 1.0)
    if beta != beta_raw:
        notes.append(f"{path}: snnTorch clamps beta={beta_raw:g} to {beta:g} in every step; "
                     f"imported as {beta:g}")
    theta = _scalar(path, "threshold", m.threshold)
    sg = _snntorch_surrogate(path, m.spike_grad)
    neuron = LIFDelayed(beta=beta, theta=theta, reset=reset, surrogate=sg, detach_reset=True,
                        return_membrane=True)
    buffers = {"beta": beta_raw, "threshold": theta, "graded_spikes_factor": 1.0,
               "reset_mechanism_val": {"subtract": 0, "zero": 1}[reset]}
    spec = {"threshold": theta, "reset": reset, "v_reset": 0.0, "fire": ">", "membrane": "U",
            "surrogate": repr(sg), "detach_reset": True, "buffers": buffers,
            "snntorch_sigmoid": sg.name == "sigmoid"}
    return Stage(path, "Leaky", "neuron", "snntorch", neuron, {}, spec)


def _snntorch_surrogate(path: str, fn):
    """refsnn surrogate of a snnTorch ``spike_grad`` closure (``fast_sigmoid(slope)`` etc.)."""
    qual = getattr(fn, "__qualname__", "") or ""
    owner = getattr(fn, "__module__", "") or ""
    factory = qual.split(".")[0]
    known = {"fast_sigmoid": ("slope", FastSigmoid), "atan": ("alpha", ArcTan), "sigmoid": ("slope", Sigmoid)}
    if owner.startswith("snntorch") and qual.endswith("<locals>.inner") and factory in known:
        cells = dict(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__ or ())))
        arg, cls = known[factory]
        if arg in cells:
            return cls(float(cells[arg]))
    raise NotImplementedError(
        f"from_torch: the spike_grad of the snnTorch Leaky at {path!r} ({owner}.{qual or type(fn).__name__}) "
        f"has no refsnn equivalent; supported: snntorch.surrogate.fast_sigmoid(slope), atan(alpha), "
        f"sigmoid(slope)")


def _sj_surrogate(path: str, sf):
    name = type(sf).__name__
    if not getattr(sf, "spiking", True):
        raise NotImplementedError(f"from_torch: the surrogate of the node at {path!r} has spiking=False "
                                  f"(its forward is the smooth function, not a spike)")
    if name == "Sigmoid" and type(sf).__module__.startswith("spikingjelly"):
        return Sigmoid(float(sf.alpha))
    if name == "ATan" and type(sf).__module__.startswith("spikingjelly"):
        return ArcTan(float(sf.alpha))
    raise NotImplementedError(f"from_torch: SpikingJelly surrogate {name} at {path!r} has no refsnn "
                              f"equivalent; supported: surrogate.Sigmoid(alpha), surrogate.ATan(alpha)")


def _sj_node(path: str, m) -> Stage:
    ab = require("spikingjelly", "from_torch")
    neuron = ab.neuron
    name = type(m).__name__
    if type(m) not in (neuron.LIFNode, neuron.ParametricLIFNode, neuron.IFNode):
        raise unsupported(path, m)
    sg = _sj_surrogate(path, m.surrogate_function)
    v_th, v_reset = float(m.v_threshold), (None if m.v_reset is None else float(m.v_reset))
    detach = bool(m.detach_reset)
    spec = {"threshold": v_th, "reset": "soft" if v_reset is None else "hard", "v_reset": v_reset or 0.0,
            "fire": ">=", "membrane": "V", "surrogate": repr(sg), "detach_reset": detach}
    if name == "IFNode":
        if v_reset not in (None, 0.0):
            raise unsupported(path, m, f"IFNode with hard reset to v_reset={v_reset}: refsnn IF starts "
                               f"from 0, SpikingJelly from v_reset; use v_reset=0.0 or None")
        node = IF(theta=v_th, reset=spec["reset"], v_reset=0.0, surrogate=sg, detach_reset=detach,
                  return_membrane=True)
        return Stage(path, name, "neuron", "spikingjelly", node, {}, spec)
    common = dict(v_threshold=v_th, v_reset=v_reset, decay_input=bool(m.decay_input), surrogate=sg,
                  detach_reset=detach, return_membrane=True)
    if name == "ParametricLIFNode":
        node = PLIF(init_tau=2.0, dtype=np.dtype(str(m.w.dtype).replace("torch.", "")), **common)
        return Stage(path, name, "neuron", "spikingjelly", node, {"w": "w"}, spec)
    node = LIFNodeSJ(tau=float(m.tau), **common)
    return Stage(path, name, "neuron", "spikingjelly", node, {}, spec)
