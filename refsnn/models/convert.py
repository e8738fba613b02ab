"""ANN → SNN conversion with threshold balancing, and the hybrid (conversion + BPTT) pipeline.

Sharmin et al. §2.2–3.2 (after Diehl et al. 2015, Sengupta et al. 2019, Rathi et al. 2020):

* **SNN-conv** (:func:`convert`): the ANN's weights in a :class:`~refsnn.models.spiking.SpikingNet`
  of the same spec with IF neurons (form 2, ``λ = 1``, immediate soft reset), signed-Poisson
  input; thresholds balanced layer by layer (:func:`balance_thresholds`)::

      θ_l = max_{batches, t, b, i}  X_l[t, b, i]          (X_l = input current of neuron layer l,
                                                            layers 0..l−1 already balanced)

  The output layer accumulates membrane without threshold (the net's readout).
* **SNN-BP** (:func:`to_lif` + :func:`train_hybrid`): the converted net as initialisation,
  neurons swapped for LIF ``λ = 0.99`` keeping each layer's θ, then surrogate BPTT (linear
  ``a = 0.3`` or spike-time ``α = 0.3, β = 0.01``) with Adam, weight decay ``5e-4``, lr ``1e-4``
  halved every 5 epochs (15 epochs in the paper).
* **ANN** (:func:`train_ann`): SGD momentum 0.9, weight decay ``1e-4``, pad-4 random crop +
  horizontal flip each epoch, lr 0.1 divided by 10 at epochs 100 and 150 (of 200).

Choices, stated: the maximum is taken over every step and every sample of the calibration
batches (no percentile); a layer that never receives a positive current is an error (its IF
neurons could never fire).  ResNet blocks are balanced like every other layer (the paper
balances only the stem; ``layers=`` limits balancing to chosen layers, the others keep θ = 1).

>>> import numpy as np
>>> from refsnn.models.vgg import build_ann
>>> spec = [("flatten",), ("linear", 4, 3), ("relu",), ("linear", 3, 2)]
>>> ann = build_ann(spec, rng=0)
>>> snn = convert(ann, spec, np.full((5, 1, 2, 2), 0.5, np.float32), T=4, encoder="direct")
>>> len(snn.slots()), snn.slots()[0].neuron.theta > 0
(1, True)
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from data_tools.augment import random_crop_flip
from data_tools.batches import as_generator
from refsnn.attacks.base import attack_mode
from refsnn.autograd import no_grad
from refsnn.backend import to_backend, to_host
from refsnn.models.spiking import SpikingNet, copy_weights, neurons, spiking_from_spec
from refsnn.neurons import IF, LIFImmediate
from refsnn.nn import SGD, Adam, MultiStepLR, StepLR
from refsnn.train import fit, model_backend


def _batches(x, batch_size: int, where: str):
    if int(batch_size) < 1:
        raise ValueError(f"{where}: batch_size must be >= 1, got {batch_size}")
    if len(x) == 0:
        raise ValueError(f"{where}: no calibration images")
    return [x[i:i + int(batch_size)] for i in range(0, len(x), int(batch_size))]


def _peak(snn, x, l, batch_size, device, percentile):
    """Max (``percentile = 100``) or the given percentile of layer ``l``'s input current over ``x``."""
    batches = _batches(x, batch_size, "balance_thresholds")
    if percentile >= 100:
        return max(float(to_host(snn.current_into(to_backend(xb, device), l).data.max())) for xb in batches)
    values = np.concatenate([to_host(snn.current_into(to_backend(xb, device), l).data).ravel()
                             for xb in batches])
    return float(np.percentile(values, percentile))


def balance_thresholds(snn: SpikingNet, x, batch_size: int = 64, layers=None, verbose: bool = False,
                       silent: str = "raise", percentile: float = 100.0) -> list:
    """Set θ of each neuron layer to the maximum input current it receives, layer by layer.

    ``x [N, ...]`` calibration images (training data); ``layers`` the indices to balance
    (default all).  Returns the thresholds of every layer.  The net runs in evaluation mode;
    batches go to its backend.
    A layer that never gets a positive current is an error (``silent="raise"``) or, with
    ``silent="warn"``, keeps its θ with a warning (tiny runs with few steps).
    ``percentile < 100`` takes that percentile of all current values instead of the maximum
    (Rueckauer et al.'s robust normalisation; it keeps deep layers firing at small T — not the
    paper's rule, which is the maximum).
    """
    if not 0.0 < float(percentile) <= 100.0:
        raise ValueError(f"balance_thresholds: percentile must be in (0, 100], got {percentile}")
    if silent not in ("raise", "warn"):
        raise ValueError(f"balance_thresholds: silent must be 'raise' or 'warn', got {silent!r}")
    slots = snn.slots()
    chosen = range(len(slots)) if layers is None else [int(i) for i in layers]
    device = model_backend(snn)
    with no_grad(), attack_mode(snn):
        for l in chosen:
            peak = _peak(snn, x, l, batch_size, device, percentile)
            if not peak > 0 and silent == "warn":
                warnings.warn(f"balance_thresholds: neuron layer {l} never receives a positive input current "
                              f"(max {peak:g}); it keeps theta = {slots[l].neuron.theta:g}", RuntimeWarning,
                              stacklevel=2)
                continue
            if not peak > 0:
                raise ValueError(f"balance_thresholds: neuron layer {l} never receives a positive input "
                                 f"current on the calibration data (max {peak:g}); it could never fire")
            slots[l].neuron.theta = peak
            if verbose:
                print(f"  threshold balancing: layer {l}: theta = {peak:.4f}", flush=True)
    return [float(s.neuron.theta) for s in slots]


def convert(ann, spec, x, T: int, batch_size: int = 64, encoder="poisson", rng=0, readout: str = "mean",
            verbose: bool = False, silent: str = "raise", percentile: float = 100.0) -> SpikingNet:
    """SNN-conv: ``ann``'s weights in an IF (soft reset) net of ``spec``, thresholds balanced on ``x``.

    ``rng`` seeds the Poisson encoder (the weights are copied, not drawn); ``silent`` and
    ``percentile`` as in :func:`balance_thresholds`.
    """
    snn = spiking_from_spec(spec, neurons(IF, reset="soft"), T, encoder=encoder, readout=readout,
                            rng=0, encoder_rng=as_generator(rng, "convert")).to(model_backend(ann))
    copy_weights(ann, snn)
    balance_thresholds(snn, x, batch_size, verbose=verbose, silent=silent, percentile=percentile)
    return snn


def to_lif(snn: SpikingNet, lam: float = 0.99, surrogate="linear") -> SpikingNet:
    """Swap every neuron for ``LIFImmediate(lam, θ_l, soft reset, surrogate)`` keeping its θ (in place)."""
    for slot in snn.slots():
        slot.replace(LIFImmediate(lam=lam, theta=float(slot.neuron.theta), reset="soft", surrogate=surrogate))
    return snn


def train_hybrid(snn: SpikingNet, x, y, epochs: int = 15, lr: float = 1e-4, weight_decay: float = 5e-4,
                 step: int = 5, gamma: float = 0.5, batch_size: int = 64, rng=0, x_val=None, y_val=None,
                 verbose: bool = True) -> list:
    """Surrogate-gradient BPTT of a converted net: Adam, lr halved every ``step`` epochs (paper values)."""
    opt = Adam(snn.parameters(), lr=lr, weight_decay=weight_decay)
    return fit(snn, opt, x, y, epochs=epochs, batch_size=batch_size, rng=as_generator(rng, "train_hybrid"),
               x_val=x_val, y_val=y_val, verbose=verbose, scheduler=StepLR(opt, step, gamma))


def train_ann(ann, x, y, epochs: int = 200, lr: float = 0.1, milestones=(100, 150), momentum: float = 0.9,
              weight_decay: float = 1e-4, batch_size: int = 128, augment: bool = True, padding: int = 4,
              flip_prob: float = 0.5, rng=0, verbose: bool = True, out=None, optimizer: str = "sgd") -> list:
    """The paper's ANN recipe: SGD, lr ÷10 at ``milestones``, a fresh pad-crop/flip of ``x`` every epoch.

    ``optimizer="adam"`` swaps SGD for Adam (same lr schedule and weight decay) — for short CPU
    runs, where SGD on this bias-free, BN-free net barely leaves the start in a few epochs.
    """
    gen = as_generator(rng, "train_ann")
    out = sys.stdout if out is None else out
    if optimizer == "sgd":
        opt = SGD(ann.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    elif optimizer == "adam":
        opt = Adam(ann.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"train_ann: optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    sched = MultiStepLR(opt, [int(m) for m in milestones], 0.1)
    history = []
    for epoch in range(1, int(epochs) + 1):
        xa = random_crop_flip(x, gen, padding=padding, flip_prob=flip_prob) if augment else x
        record = fit(ann, opt, np.ascontiguousarray(xa, dtype=x.dtype), y, epochs=1, batch_size=batch_size,
                     rng=gen, verbose=False)[0]
        record.update(epoch=epoch, lr=float(opt.lr))
        sched.step()
        history.append(record)
        if verbose:
            print(f"  ANN epoch {epoch}/{epochs}: loss {record['loss']:.4f}, train acc "
                  f"{record['train_acc']:.4f} (lr {record['lr']:g})", file=out, flush=True)
    return history
