"""ANP: adversarial neuron pruning (Wu & Wang, NeurIPS 2021), on the channels of spiking layers.

Backdoor neurons are the ones whose small perturbation flips many clean
predictions.  ANP learns a mask ``m_c ∈ [0, 1]`` per channel under an
adversarial multiplicative perturbation ``δ_c ∈ [−ε, ε]`` and prunes the
channels whose mask falls below a threshold.

Spiking version (our choice, stated): every neuron layer ``l`` is wrapped in
:class:`ChannelMask`, which scales the layer's *input current* per channel
before the neuron fires::

    X'[t, b, c, ...] = m_c · (1 + δ_c) · X[t, b, c, ...]       X [T, B, C, ...]

(the original ANP perturbs the BatchNorm scale, which is the same per-channel
multiplication of the current; the additive bias perturbation is left out).
Per batch of the clean set, with the model frozen in evaluation mode:

    δ ← clip(δ + (ε/steps)·sign ∇_δ CE(F(x; m, δ)), −ε, ε)          (``steps`` ascent steps from U(−ε, ε))
    L(m) = α·CE(F(x; m, 0), y) + (1 − α)·CE(F(x; m, δ), y)
    m ← clip(m − lr·∇_m L, 0, 1)                                     (SGD, momentum 0.9)

then ``m_c ← [m_c ≥ threshold]`` (ANP prunes by threshold, default 0.2).
Defaults ``ε = 0.4``, ``α = 0.5`` (BadSNN Table 2), ``lr = 0.2``.
"""

from __future__ import annotations

import numpy as np

from refsnn import autograd as ag
from refsnn.autograd import Tensor
from refsnn.backend import to_backend, to_host, xp_of
from refsnn.nn import SGD, Module
from refsnn.train import model_backend
from refsnn.validation import check_interval

__all__ = ["ChannelMask", "anp_prune"]


class ChannelMask(Module):
    """``neuron(m·(1 + δ)·X)`` with ``m``, ``δ`` of shape ``[C]`` on axis 2 of ``X [T, B, C, ...]``."""

    def __init__(self, neuron, channels: int, xp=np, dtype=np.float32):
        super().__init__()
        self.neuron = neuron
        self.mask = Tensor(xp.ones(channels, dtype), requires_grad=True)
        self.noise = Tensor(xp.zeros(channels, dtype), requires_grad=True)
        self.perturb = False

    def forward(self, x, **overrides):
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim < 3 or x.shape[2] != self.mask.shape[0]:
            raise ValueError(f"ChannelMask: input {tuple(x.shape)} has no {self.mask.shape[0]} "
                             "channels on axis 2")
        scale = self.mask * (self.noise + 1.0) if self.perturb else self.mask
        shape = (1, 1, -1) + (1,) * (x.ndim - 3)
        return self.neuron(x * scale.reshape(shape), **overrides)


def _wrap(model, x_probe):
    """Wrap every neuron slot's neuron in a ChannelMask (channel counts from one probe pass)."""
    _, traces = model(Tensor(to_backend(x_probe[:1], model_backend(model))), trace=True)
    masks = []
    for slot, tr in zip(model.slots(), traces):
        if not isinstance(slot.neuron, ChannelMask):
            cur = tr.current.data
            slot.neuron = ChannelMask(slot.neuron, cur.shape[2], xp_of(cur), cur.dtype)
        masks.append(slot.neuron)
    return masks


def anp_prune(model, x_clean, y_clean, *, eps=0.4, alpha=0.5, steps=1, lr=0.2, epochs=1, batch_size=64,
              threshold=0.2, hyper=(1.0, 0.5), seed=0) -> dict:
    """Run ANP on ``model`` (a SpikingNet, changed in place); returns ``{"pruned", "masks"}`` per layer."""
    eps = check_interval("anp_prune", "eps", eps, 0.0, 1.0)
    alpha = check_interval("anp_prune", "alpha", alpha, 0.0, 1.0)
    threshold = check_interval("anp_prune", "threshold", threshold, 0.0, 1.0)
    x_clean, y_clean = np.asarray(x_clean, np.float32), np.asarray(y_clean)
    if len(x_clean) == 0 or len(x_clean) != len(y_clean):
        raise ValueError(f"anp_prune: {len(x_clean)} clean images for {len(y_clean)} labels")
    model.eval()
    frozen = [(p, p.requires_grad) for p in model.parameters()]
    masks = _wrap(model, x_clean)
    for p, _ in frozen:
        p.requires_grad = False
    opt = SGD([m.mask for m in masks], lr=lr, momentum=0.9)
    gen, device = np.random.default_rng(seed), model_backend(model)
    v, t = hyper
    run = lambda xb: model(xb, v_thr=v, tau=t)  # noqa: E731
    try:
        for _ in range(int(epochs)):
            order = gen.permutation(len(y_clean))
            for i in range(0, len(order), batch_size):
                idx = order[i:i + batch_size]
                xb, yb = Tensor(to_backend(x_clean[idx], device)), y_clean[idx]
                for m in masks:
                    draw = gen.uniform(-eps, eps, m.noise.shape) if eps > 0 else np.zeros(m.noise.shape)
                    m.noise.data[...] = to_backend(draw.astype(m.noise.dtype), device)
                    m.perturb = True
                for _ in range(int(steps) if eps > 0 else 0):
                    for m in masks:
                        m.noise.grad = None
                    ag.cross_entropy(run(xb), yb).backward()
                    for m in masks:
                        xp = xp_of(m.noise.data)
                        step = eps / steps * xp.sign(m.noise.grad)
                        m.noise.data[...] = xp.clip(m.noise.data + step, -eps, eps)
                opt.zero_grad()
                loss_rob = ag.cross_entropy(run(xb), yb)
                for m in masks:
                    m.perturb = False
                loss = ag.cross_entropy(run(xb), yb) * alpha + loss_rob * (1 - alpha)
                loss.backward()
                opt.step()
                for m in masks:
                    m.mask.data[...] = xp_of(m.mask.data).clip(m.mask.data, 0, 1)
    finally:
        for p, flag in frozen:
            p.requires_grad = flag
    report = {"masks": [to_host(m.mask.data).tolist() for m in masks], "pruned": []}
    for m in masks:
        m.perturb = False
        keep = m.mask.data >= threshold
        report["pruned"].append(np.flatnonzero(~to_host(keep)).tolist())
        m.mask.data[...] = keep.astype(m.mask.dtype)
        m.mask.requires_grad = False
        m.noise.requires_grad = False
    return report
