"""Robust training of spiking nets: plain BPTT, AT, RAT — each optionally with TGO.

One training step on a batch ``(x [B, ...], y [B])``::

    x̃ = x                                   strategy "bptt"
    x̃ = attack(model, x, y)                  strategies "at" and "rat" (model in eval mode)
    logits, traces = model(x̃, trace=True)
    L = CE(logits, y) + λ(e) · Σ_l C(H_l)     (TGO Eq. 13; the second term only with ``tgo``)
    θ ← optimizer step on ∇L
    W ← (1 + β)·W − β·W·Wᵀ·W   per Conv2d / Linear weight (rows = out channels)   "rat" only

**AT** is Madry-style adversarial training on the crafted batch only.  The inner
attack is our choice (TGO does not state it, ``003-tgo-details.md``): FGSM with
ε = 2/255 — SNN-RAT's released training setting (a ``FGSM[0.007843]`` log) — or
PGD (``inner="pgd"``, ``inner_steps`` steps of ``α = 2.5·ε/steps``, random start).
**RAT** (Ding et al., NeurIPS 2022, "SNN-RAT") is AT plus the Parseval orthogonal
retraction above (at each layer's own scale, see :func:`parseval_retraction`) after each
optimizer step, β = 0.004 (the value in the same
released log name); this follows the public SNN-RAT code, which applies it to every
Conv2d / Linear (it samples 30% of the rows of Linear layers with > 200 rows; we
retract all rows — stated difference) and, for its ResNets, a convex-combination
constraint on shortcut weights that our nets do not have.

``tgo``: a :class:`TGOConfig` — ``λ`` on :class:`~refsnn.defenses.tgo.CosineRamp`
from ``lam_min`` to ``lam_max`` over the epochs, margin ``δ`` and hinge power.
The noisy neuron is part of the model (:func:`refsnn.models.tgo_nets.tgo_neuron`).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import numpy as np

from data_tools.batches import as_generator, batch_iterator
from refsnn.attacks import FGSM, PGD
from refsnn.autograd import Tensor, cross_entropy, no_grad
from refsnn.backend import to_backend, to_host
from refsnn.defenses.tgo import CosineRamp, membrane_constraint
from refsnn.models.spiking import weight_layers
from refsnn.nn import SGD, Adam
from refsnn.nn.schedule import CosineAnnealingLR
from refsnn.validation import check_interval

STRATEGIES = ("bptt", "at", "rat")
INNER = ("fgsm", "pgd")


@dataclass
class TGOConfig:
    """TGO's loss settings: ``λ_max`` (0.6 VGG-11, 0.4 WRN-16 per the source), ``δ``, hinge power.

    ``delta = 0.2`` (in units of θ = 1) is our choice (not stated in any source; swept by the study).
    """

    lam_max: float = 0.6
    delta: float = 0.2
    power: int = 1
    lam_min: float = 0.0

    def __post_init__(self):
        self.lam_max = check_interval("TGOConfig", "lam_max", self.lam_max, 0.0, math.inf)
        self.lam_min = check_interval("TGOConfig", "lam_min", self.lam_min, 0.0, self.lam_max)
        self.delta = check_interval("TGOConfig", "delta", self.delta, 0.0, math.inf)
        if self.power not in (1, 2):
            raise ValueError(f"TGOConfig: power must be 1 (Eq. 12) or 2 (squared hinge), got {self.power!r}")


@dataclass
class RobustConfig:
    """Strategy and optimisation settings of :func:`train_robust` (module docstring)."""

    strategy: str = "bptt"
    epochs: int = 3
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    inner: str = "fgsm"
    eps: float = 2 / 255
    inner_steps: int = 3
    beta: float = 0.004

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"RobustConfig: strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.inner not in INNER:
            raise ValueError(f"RobustConfig: inner attack must be one of {INNER}, got {self.inner!r}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"RobustConfig: optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        for name in ("epochs", "batch_size", "inner_steps"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 1:
                raise ValueError(f"RobustConfig: {name} must be an integer >= 1, got {getattr(self, name)!r}")
        self.eps = check_interval("RobustConfig", "eps", self.eps, 0.0, math.inf)
        self.lr = check_interval("RobustConfig", "lr", self.lr, 0.0, math.inf, lo_open=True)
        self.beta = check_interval("RobustConfig", "beta", self.beta, 0.0, 1.0)


def parseval_retraction(model, beta: float, keep_scale: bool = True) -> None:
    """SNN-RAT's step ``Ŵ ← (1 + β)·Ŵ − β·Ŵ·Ŵᵀ·Ŵ`` on every Conv2d / Linear weight, in place.

    ``W`` is the weight reshaped to ``[out, in·k·k]``.  ``keep_scale=False``: ``Ŵ = W``, SNN-RAT's
    step as published; a fixed point is any ``W`` with orthonormal rows (``W·Wᵀ = I``).
    ``keep_scale=True`` (default): ``Ŵ = W/s`` with ``s`` the RMS row norm of ``W`` and the
    result scaled back by ``s`` — the step at the layer's own scale.  SNN-RAT's nets put batch
    norm after every conv, so a conv's scale does not change the function there; our nets have
    no BN, their scale is set by :func:`~refsnn.models.tgo_nets.data_init`, and the raw step
    (which pulls every row norm to 1) silences them (a measured collapse to chance).
    """
    beta = check_interval("parseval_retraction", "beta", beta, 0.0, 1.0)
    for layer in weight_layers(model):
        w = layer.weight.data
        m = w.reshape(w.shape[0], -1)
        s = float((m * m).sum(axis=1).mean()) ** 0.5 if keep_scale else 1.0
        if s == 0.0:
            continue
        m = m / s
        new = ((1 + beta) * m - beta * (m @ m.T) @ m) * s
        w[...] = new.reshape(w.shape).astype(w.dtype, copy=False)


def inner_attack(model, cfg: RobustConfig, rng):
    """The crafting attack of AT / RAT (module docstring)."""
    if cfg.inner == "fgsm":
        return FGSM(model, eps=cfg.eps)
    return PGD(model, eps=cfg.eps, alpha=2.5 * cfg.eps / cfg.inner_steps, steps=cfg.inner_steps,
               random_start=True, rng=rng)


def tgo_loss(model, x, y, tgo: TGOConfig | None, lam: float):
    """``(L, CE, ΣC)`` for one batch: cross-entropy plus ``λ·Σ_l C(H_l)`` (ΣC is 0.0 without ``tgo``)."""
    if tgo is None:
        logits = model(x)
        ce = cross_entropy(logits, y)
        return ce, logits, ce, 0.0
    logits, traces = model(x, trace=True)
    ce = cross_entropy(logits, y)
    membranes = [t.membrane for t in traces if t.membrane is not None]
    thetas = [float(getattr(t, "theta", 1.0)) for t in (s.neuron for s in model.slots())]
    c = membrane_constraint(membranes, thetas, tgo.delta, tgo.power)
    return ce + c * lam, logits, ce, float(c.item())


def train_robust(model, x: np.ndarray, y: np.ndarray, cfg: RobustConfig | None = None,
                 tgo: TGOConfig | None = None, rng=0, verbose: bool = True, out=None,
                 checkpoint=None) -> list[dict]:
    """Train ``model`` in place (module docstring); one dict per epoch; optional HDF5 checkpoint."""
    cfg = cfg or RobustConfig()
    gen = as_generator(rng, "train_robust")
    out = sys.stdout if out is None else out
    params = list(model.parameters())
    opt = (Adam(params, lr=cfg.lr) if cfg.optimizer == "adam"
           else SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=5e-4))
    sched = CosineAnnealingLR(opt, T_max=cfg.epochs)
    ramp = CosineRamp(tgo.lam_max, max(1, cfg.epochs - 1), tgo.lam_min) if tgo else None
    atk = inner_attack(model, cfg, gen) if cfg.strategy != "bptt" else None
    from refsnn.train import model_backend

    dev = model_backend(model)
    history = []
    for epoch in range(cfg.epochs):
        lam = ramp(epoch) if ramp else 0.0
        start, tot, tot_c, correct, seen = time.perf_counter(), 0.0, 0.0, 0, 0
        for xb, yb in batch_iterator(x, y, cfg.batch_size, rng=gen):
            xb, yd = to_backend(xb, dev), to_backend(yb, dev)
            if atk is not None:
                xb = atk(xb, yd)
            model.train()
            loss, logits, ce, c = tgo_loss(model, Tensor(xb), yd, tgo, lam)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if cfg.strategy == "rat":
                with no_grad():
                    parseval_retraction(model, cfg.beta)
            tot += float(ce.item()) * len(yb)
            tot_c += c * len(yb)
            correct += int((to_host(logits.data).argmax(axis=1) == yb).sum())
            seen += len(yb)
        sched.step()
        rec = dict(epoch=epoch + 1, loss=tot / seen, constraint=tot_c / seen, lam=lam,
                   train_acc=correct / seen, seconds=time.perf_counter() - start)
        history.append(rec)
        if verbose:
            print(f"  [{cfg.strategy}{'+tgo' if tgo else ''}] epoch {epoch + 1}/{cfg.epochs} "
                  f"CE {rec['loss']:.3f} C {rec['constraint']:.4f} λ {lam:.3f} "
                  f"train acc {rec['train_acc']:.3f} ({rec['seconds']:.1f} s)", file=out, flush=True)
    model.eval()
    if checkpoint is not None:
        from refsnn.io import save_checkpoint

        save_checkpoint(checkpoint, model.state_dict(), step=cfg.epochs,
                        config=dict(strategy=cfg.strategy, tgo=None if tgo is None else vars(tgo)),
                        extra=dict(history=history))
    return history
