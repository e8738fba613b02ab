"""CLP: data-free backdoor removal by channel Lipschitzness (Zheng et al., ECCV 2022).

A backdoor tends to live in a few channels that react strongly to a small
input pattern: their Lipschitz constant is large.  CLP bounds it per output
channel ``k`` of each convolution and prunes the outliers, with no data.

For a convolution ``W [O, I, kh, kw]`` followed by a BatchNorm (scale ``γ``,
running variance ``σ²``), channel ``k``'s upper bound is the largest singular
value of its kernel as an ``[I, kh·kw]`` matrix, scaled by the BatchNorm::

    UCLC_k = σ_max( W[k].reshape(I, kh·kw) ) · |γ_k / sqrt(σ²_k + ε)|

(without a BatchNorm the factor is 1 — Sharmin's VGG has none).  Per layer,
channels with ``UCLC_k > mean + u·std`` (``std`` with Bessel's correction, as
``torch.std``; ``u = 3`` in BadSNN's Table 2) are pruned: the BatchNorm's
``γ_k`` and ``β_k`` are set to 0, or, without a BatchNorm, the kernel
``W[k]`` and bias ``b_k``.  The convolutions of spiking models sit inside
:class:`~refsnn.nn.SeqToANN`; the walk finds them anywhere in the module tree,
in registration order, and pairs a convolution with a BatchNorm2d that comes
next (before any other convolution).
"""

from __future__ import annotations

import numpy as np

from refsnn.backend import to_host, xp_of
from refsnn.nn import BatchNorm2d, Conv2d
from refsnn.validation import check_real

__all__ = ["channel_lipschitz", "clp_prune"]


def channel_lipschitz(conv: Conv2d, bn: BatchNorm2d | None = None) -> np.ndarray:
    """``UCLC [O]`` of ``conv`` (and the BatchNorm after it, if any)."""
    w = to_host(conv.weight.data).astype(np.float64)
    o, i = w.shape[:2]
    sigma = np.linalg.svd(w.reshape(o, i, -1), compute_uv=False).max(axis=1)
    if bn is None:
        return sigma
    if bn.weight is None or bn.running_var is None:
        raise ValueError("channel_lipschitz: the BatchNorm needs affine weights and running statistics")
    scale = np.abs(to_host(bn.weight.data) / np.sqrt(to_host(bn.running_var) + bn.eps))
    return sigma * scale


def _pairs(model):
    """``[(name, conv, bn or None)]`` in registration order."""
    out, pending = [], None
    for name, m in model.named_modules():
        if isinstance(m, Conv2d):
            if pending is not None:
                out.append(pending + (None,))
            pending = (name, m)
        elif isinstance(m, BatchNorm2d) and pending is not None:
            out.append(pending + (m,))
            pending = None
    if pending is not None:
        out.append(pending + (None,))
    return out


def clp_prune(model, u: float = 3.0) -> dict[str, list[int]]:
    """Prune ``model`` in place by CLP; returns ``{conv name: [pruned channels]}`` for every convolution."""
    u = check_real("clp_prune", "u", u)
    pairs = _pairs(model)
    if not pairs:
        raise ValueError("clp_prune: the model has no Conv2d layer; CLP prunes convolution channels")
    report = {}
    for name, conv, bn in pairs:
        lips = channel_lipschitz(conv, bn)
        std = lips.std(ddof=1) if lips.size > 1 else 0.0
        idx = np.flatnonzero(lips > lips.mean() + u * std)
        for param in ((bn.weight, bn.bias) if bn is not None else (conv.weight, conv.bias)):
            if param is not None and idx.size:
                param.data[xp_of(param.data).asarray(idx)] = 0
        report[name] = idx.tolist()
    return report
