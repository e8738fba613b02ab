"""Torch-side pieces shared by the snnTorch and SpikingJelly builders.

* :func:`init_linears_` — seeded weights ``U(±gain/√fan_in)`` from a
  ``torch.Generator`` (no global torch RNG state is touched);
* :func:`finish_run` — the loss of :mod:`refsnn.crossval.spec`, its backward
  pass, and every recorded quantity as NumPy arrays;
* :func:`torch_state_dict` — ``{name: ndarray}`` of a torch module, the form
  refsnn's ``load_state_dict`` and ``save_safetensors`` take.

torch is imported inside each function (see :mod:`refsnn.crossval._deps`).
"""

from __future__ import annotations

import math

import numpy as np

from refsnn.crossval._deps import require
from refsnn.crossval.spec import CrossvalConfig


def init_linears_(linears, config: CrossvalConfig) -> None:
    """Overwrite every ``torch.nn.Linear`` in ``linears`` with ``U(−a, a)``, ``a = gain/√fan_in``.

    One ``torch.Generator`` seeded with ``config.seed`` draws, layer by layer,
    the weight and then the bias (in float64, cast to the layer's dtype), so a
    float32 and a float64 run of the same config start from the same numbers
    up to the float32 rounding of the weights.
    """
    torch = require("torch", "init_linears_")
    gen = torch.Generator().manual_seed(int(config.seed))
    with torch.no_grad():
        for layer in linears:
            bound = config.weight_gain / math.sqrt(layer.in_features)
            for p in (layer.weight, layer.bias):
                if p is None:
                    continue
                draw = torch.rand(p.shape, generator=gen, dtype=torch.float64) * (2 * bound) - bound
                p.copy_(draw.to(p.dtype))


def torch_state_dict(module) -> dict[str, np.ndarray]:
    """``{name: ndarray copy}`` of ``module.state_dict()`` (torch tensors -> NumPy)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def loss_terms(mem2, spikes, cot, count_weight: float):
    """``Σ C ⊙ U2 + λ·Σ_layers Σ S`` as a torch scalar (see the spec module)."""
    loss = (mem2 * cot).sum()
    for s in spikes:
        loss = loss + count_weight * s.sum()
    return loss


def finish_run(net, x_t, spk1, mem1, spk2, mem2, cot, config: CrossvalConfig) -> dict[str, np.ndarray]:
    """Compute the loss, backpropagate, and return every recorded quantity as NumPy.

    ``x_t`` is the leaf input tensor (``requires_grad=True``); ``spk*``/``mem*``
    are ``[T, B, n]`` tensors of the run.  Parameter gradients are keyed
    ``grad.<state_dict name>``.
    """
    torch = require("torch", "finish_run")
    cot_t = torch.from_numpy(np.ascontiguousarray(cot))
    loss = loss_terms(mem2, (spk1, spk2), cot_t, config.count_weight)
    net.zero_grad(set_to_none=True)
    loss.backward()
    out = {
        "spk1": spk1.detach().numpy().copy(),
        "spk2": spk2.detach().numpy().copy(),
        "mem1": mem1.detach().numpy().copy(),
        "mem2": mem2.detach().numpy().copy(),
        "out": mem2.detach().sum(0).numpy().copy(),
        "loss": np.asarray(loss.detach().item(), dtype=config.np_dtype),
        "grad.input": x_t.grad.detach().numpy().copy(),
    }
    for name, p in net.named_parameters():
        if p.grad is None:
            raise RuntimeError(f"finish_run: parameter {name} received no gradient")
        out[f"grad.{name}"] = p.grad.detach().numpy().copy()
    return out
