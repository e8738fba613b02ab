"""Adversarial attacks: FGSM, PGD, transfer (black-box) evaluation, the SNN-crafted route.

torchattacks' call style: build the attack around a model, then call it on a
batch.  The model is any callable ``Tensor [B, ...] -> logits [B, C]`` — an ANN
Module, or an SNN wrapper (encode over ``T`` steps, spiking layers, decode),
differentiated through autograd / BPTT; the loss is cross-entropy or any
``loss(output, y) -> scalar Tensor``.  NumPy in, NumPy out, same dtype.

* :class:`FGSM` — Sharmin Eq. 1, ``x' = clip(x + ε·sign ∇_x J)``.
* :class:`PGD` — Eq. 2, ``k`` steps of ``α``, projection onto the ε-ball and the range
  (defaults ε = 8/255, α = 2/255, k = 7, no random start).
* :func:`transfer` — craft on a source, accuracy on every target (black-box, §4).
* :class:`Gamin`, :class:`GaminConfig` — black-box model inversion through an Oracle (Poursiami §III).
* :class:`Conv1Route`, :func:`conv1_input_gradient` — the SNN-crafted gradient for
  rate-coded inputs (Eq. 5–6, Algorithm 1).
* :class:`RFGSM`, :class:`APGD` (CE / DLR, restarts), :class:`DeepFool` — torchattacks'
  semantics, cross-checked against it; :class:`EOT` wraps a stochastic model so any
  attack uses the mean gradient over draws (TGO's evaluation, BadSNN's triggers).
* :mod:`refsnn.attacks.backdoor` — BadSNN's poisoning split and triggers, the BadNet /
  Blend / WaNet / clean-label poisons; :mod:`refsnn.attacks.badsnn` — Eq. 2 / 4 / 5–6
  (:func:`dual_spike_loss`, :func:`trigger_loss`, ...); :mod:`refsnn.attacks.badsnn_train` —
  dual-spike training with checkpoints and the T_o generator training (imported on use).
* :class:`GreedySD` — the SDBN study's greedy SD-weighted black-box attack through an Oracle.

>>> import numpy as np
>>> from refsnn.nn import Flatten, Linear, Sequential
>>> from refsnn.attacks import PGD
>>> net = Sequential(Flatten(), Linear(16, 3, rng=0))
>>> x = np.random.default_rng(0).random((5, 1, 4, 4), dtype=np.float32)
>>> y = np.array([0, 1, 2, 0, 1])
>>> atk = PGD(net, eps=8/255, alpha=2/255, steps=7)
>>> x_adv = atk(x, y)
>>> x_adv.dtype, bool(np.abs(x_adv - x).max() <= 8/255 + 1e-6), bool(x_adv.min() >= 0)
(dtype('float32'), True, True)
"""

from refsnn.attacks.apgd import APGD
from refsnn.attacks.badsnn import attack_success_rate, dual_spike_loss, trigger_loss
from refsnn.attacks.base import Attack, AttackWarning, attack_mode
from refsnn.attacks.deepfool import DeepFool
from refsnn.attacks.eot import EOT, RFGSM
from refsnn.attacks.fgsm_pgd import FGSM, PGD
from refsnn.attacks.gamin import Gamin, GaminConfig, GaminResult
from refsnn.attacks.greedy_sd import GreedySD, GreedySDResult
from refsnn.attacks.snn_crafted import Conv1Route, conv1_input_gradient
from refsnn.attacks.transfer import TransferResult, accuracy, predict, transfer

__all__ = [
    "Attack", "AttackWarning", "attack_mode", "FGSM", "PGD",
    "Conv1Route", "conv1_input_gradient",
    "transfer", "TransferResult", "accuracy", "predict",
    "RFGSM", "APGD", "DeepFool", "EOT",
    "GreedySD", "GreedySDResult",
    "Gamin", "GaminConfig", "GaminResult",
    "dual_spike_loss", "trigger_loss", "attack_success_rate",
]
