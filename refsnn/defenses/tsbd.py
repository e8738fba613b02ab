"""TSBD: two-stage backdoor defense (Lin et al., NeurIPS 2024), on spiking nets, with a clean set.

Stage 1 — neuron weight change and zero reinitialisation.  A copy of the model
is *unlearned* on the clean set by gradient ascent on cross-entropy (SGD,
``unlearn_lr``) until its clean batch accuracy falls to ``unlearn_acc`` or
``unlearn_steps`` steps have run.  Per output channel ``k`` of every
convolution (and output unit of every linear layer but the last)::

    NWC_k = Σ | W'_k − W_k |              (W' the unlearned weights)

the channels whose weights moved most in unlearning are the backdoor-active
ones (backdoor neurons are the easiest to disturb on clean data); the
``reinit_ratio`` fraction of each layer's channels with the largest NWC have
their weights set to zero in the defended model.

Stage 2 — activeness-aware fine-tuning.  Fine-tuning on the clean set under
the nominal values with gradient-norm regularisation, ``L + λ‖∇L‖``, by the
finite-difference form (Zhao et al. 2022) so no second derivative is needed::

    g₁ = ∇L(θ),  θ' = θ + ρ·g₁/‖g₁‖,  g₂ = ∇L(θ'),  θ ← Adam step with (1 − a)·g₁ + a·g₂

Our documented defaults (the paper's are for ANNs): ``unlearn_lr = 0.01``,
``unlearn_acc = 0.10``, ``unlearn_steps = 20``, ``reinit_ratio = 0.1``,
``ρ = 0.05``, ``a = 0.7``, 2 epochs at lr 1e-3.
"""

from __future__ import annotations

import copy

import numpy as np

from refsnn import autograd as ag
from refsnn.autograd import Tensor
from refsnn.backend import to_backend, to_host, xp_of
from refsnn.nn import SGD, Adam, Conv2d, Linear
from refsnn.train import model_backend
from refsnn.validation import check_interval

__all__ = ["neuron_weight_change", "tsbd"]


def _layers(model):
    layers = [m for m in model.modules() if isinstance(m, (Conv2d, Linear))]
    return layers[:-1]                         # the output layer's units are the classes: never reset


def neuron_weight_change(before, after) -> list[np.ndarray]:
    """``NWC [out_channels]`` per convolution / hidden linear layer of two copies of one net."""
    out = []
    for a, b in zip(_layers(before), _layers(after)):
        d = np.abs(to_host(b.weight.data) - to_host(a.weight.data))
        out.append(d.reshape(d.shape[0], -1).sum(axis=1))
    return out


def _loss(model, xb, yb, hyper):
    return ag.cross_entropy(model(xb, v_thr=hyper[0], tau=hyper[1]), yb)


def _unlearn(model, x, y, hyper, lr, acc, steps, batch_size, gen):
    opt, device = SGD(model.parameters(), lr=lr), model_backend(model)
    model.train()
    for _ in range(int(steps)):
        idx = gen.choice(len(y), size=min(batch_size, len(y)), replace=False)
        out = model(Tensor(to_backend(x[idx], device)), v_thr=hyper[0], tau=hyper[1])
        if float(np.mean(to_host(out.data).argmax(1) == y[idx])) <= acc:
            break
        loss = ag.cross_entropy(out, y[idx]) * -1.0
        opt.zero_grad()
        loss.backward()
        opt.step()


def tsbd(model, x_clean, y_clean, *, reinit_ratio=0.1, unlearn_lr=0.01, unlearn_acc=0.1, unlearn_steps=20,
         epochs=2, lr=1e-3, rho=0.05, a=0.7, batch_size=64, hyper=(1.0, 0.5), seed=0) -> dict:
    """Defend ``model`` in place (module doc); returns ``{"reset": [channels per layer], "nwc": [...]}``."""
    reinit_ratio = check_interval("tsbd", "reinit_ratio", reinit_ratio, 0.0, 1.0)
    a = check_interval("tsbd", "a", a, 0.0, 1.0)
    x_clean, y_clean = np.asarray(x_clean, np.float32), np.asarray(y_clean)
    if len(x_clean) == 0 or len(x_clean) != len(y_clean):
        raise ValueError(f"tsbd: {len(x_clean)} clean images for {len(y_clean)} labels")
    gen = np.random.default_rng(seed)
    unlearned = copy.deepcopy(model)
    _unlearn(unlearned, x_clean, y_clean, hyper, unlearn_lr, unlearn_acc, unlearn_steps, batch_size, gen)
    nwc = neuron_weight_change(model, unlearned)
    reset = []
    for layer, change in zip(_layers(model), nwc):
        k = int(round(reinit_ratio * change.size))
        idx = np.argsort(-change, kind="stable")[:k]
        layer.weight.data[xp_of(layer.weight.data).asarray(idx)] = 0
        reset.append(sorted(idx.tolist()))
    params = [p for p in model.parameters() if p.requires_grad]
    opt, device = Adam(params, lr=lr), model_backend(model)
    for _ in range(int(epochs)):
        model.train()
        order = gen.permutation(len(y_clean))
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            xb, yb = Tensor(to_backend(x_clean[idx], device)), y_clean[idx]
            opt.zero_grad()
            _loss(model, xb, yb, hyper).backward()
            g1 = [xp_of(p.data).zeros_like(p.data) if p.grad is None else p.grad.copy() for p in params]
            norm = float(sum(float((g * g).sum()) for g in g1)) ** 0.5 + 1e-12
            steps = [rho * g / norm for g in g1]
            for p, s in zip(params, steps):
                p.data += s
            opt.zero_grad()
            _loss(model, xb, yb, hyper).backward()
            for p, s, g in zip(params, steps, g1):
                p.data -= s
                p.grad = (1 - a) * g + (0 if p.grad is None else a * p.grad)
            opt.step()
    return {"reset": reset, "nwc": [c.tolist() for c in nwc]}
