"""NAD: neural attention distillation (Li et al., ICLR 2021), with attention maps from spike rates.

A teacher is the backdoored model fine-tuned on the clean set (:func:`finetune`);
the student (the backdoored model itself) is then trained on the clean set with
cross-entropy plus an attention-distillation term per convolutional neuron layer::

    r_l   = (1/T)·Σ_t S_l[t]                       spike rate   [B, C, H, W]
    A_l   = mean_c |r_l|^p                          attention    [B, H·W]    (p = 2)
    L_AT  = Σ_l mean_{b,i} ( A_l/‖A_l‖₂ − A_l^T/‖A_l^T‖₂ )²_{b,i}     (NAD's code: squared, averaged)
    L     = CE(F(x; S_n), y) + β·L_AT

Why spike rates (not membranes): the rate is what a layer transmits — the
next layer sees only spikes, so it is the spiking counterpart of the ANN's
post-ReLU activation NAD distils; the membrane also holds sub-threshold charge
that never leaves the neuron, and after a hard reset it is zero exactly where
the neuron spoke, which would make ``A`` small where the layer is most active.
The rate is differentiable through the surrogate (BPTT).  Defaults: β = 5000
(NAD's CIFAR value), teacher fine-tuning 2 epochs, student 2 epochs.
"""

from __future__ import annotations

import copy

import numpy as np

from refsnn import autograd as ag
from refsnn.autograd import Tensor, no_grad
from refsnn.backend import to_backend
from refsnn.defenses.finetune import finetune
from refsnn.nn import Adam
from refsnn.train import model_backend

__all__ = ["spike_attention", "attention_loss", "nad"]


def spike_attention(spikes: Tensor, p: float = 2.0) -> Tensor:
    """``A [B, H·W]`` from spikes ``[T, B, C, H, W]``: ``mean_c |mean_t S|^p``, L2-normalised per sample."""
    if spikes.ndim != 5:
        raise ValueError(f"spike_attention: spikes must be [T, B, C, H, W], got shape {tuple(spikes.shape)}")
    rate = spikes.mean(axis=0)
    a = (rate ** p).mean(axis=1)                      # rates are >= 0, so |r|^p = r^p
    a = a.reshape((a.shape[0], -1))
    return a / ((a * a).sum(axis=1, keepdims=True) ** 0.5 + 1e-8)


def attention_loss(student_traces, teacher_traces, p: float = 2.0) -> Tensor:
    """``L_AT`` over the convolutional (5-D) neuron layers of two traces of the same network."""
    total = None
    for s, t in zip(student_traces, teacher_traces):
        if s.spikes.ndim != 5:
            continue
        d = spike_attention(s.spikes, p) - Tensor(spike_attention(t.spikes, p).data)
        term = (d * d).mean()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("attention_loss: the network has no convolutional neuron layer to distil")
    return total


def nad(model, x_clean, y_clean, *, beta=5000.0, p=2.0, teacher_epochs=2, epochs=2, lr=1e-3, batch_size=64,
        hyper=(1.0, 0.5), seed=0, verbose=False) -> list[dict]:
    """Distil ``model`` (in place) toward its fine-tuned copy; returns the student's epoch records."""
    x_clean, y_clean = np.asarray(x_clean, np.float32), np.asarray(y_clean)
    teacher = copy.deepcopy(model)
    finetune(teacher, x_clean, y_clean, epochs=teacher_epochs, lr=lr, batch_size=batch_size, seed=seed,
             hyper=hyper, verbose=verbose)
    teacher.eval()
    v, t = hyper
    opt = Adam(model.parameters(), lr=lr)
    history, device = [], model_backend(model)
    for epoch in range(1, int(epochs) + 1):
        model.train()
        order = np.random.default_rng([seed, 1000 + epoch]).permutation(len(y_clean))
        sums, seen = 0.0, 0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            xb = Tensor(to_backend(x_clean[idx], device))
            with no_grad():
                _, t_tr = teacher(xb, trace=True, v_thr=v, tau=t)
            logits, s_tr = model(xb, trace=True, v_thr=v, tau=t)
            loss = ag.cross_entropy(logits, y_clean[idx]) + attention_loss(s_tr, t_tr, p) * beta
            opt.zero_grad()
            loss.backward()
            opt.step()
            sums, seen = sums + float(loss.item()) * len(idx), seen + len(idx)
        history.append({"epoch": epoch, "loss": sums / seen})
    return history
