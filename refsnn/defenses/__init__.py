"""Defenses.

* :mod:`refsnn.defenses.tgo` — TGO's threshold-guarding membrane constraint and λ ramp.
* :mod:`refsnn.defenses.adversarial` — BPTT / AT / RAT training, each optionally with TGO.
* :mod:`refsnn.defenses.clp` — CLP, data-free channel-Lipschitz pruning (a BadSNN baseline defense).
* :mod:`refsnn.defenses.finetune` — clean fine-tuning; :mod:`refsnn.defenses.anp` — adversarial
  neuron pruning on spiking channels; :mod:`refsnn.defenses.nad` — attention distillation from
  spike rates, :mod:`refsnn.defenses.tsbd` — unlearning weight change + gradient-norm fine-tuning
  (BadSNN's Table 2 defenses).
"""

from refsnn.defenses.adversarial import RobustConfig, TGOConfig, parseval_retraction, train_robust
from refsnn.defenses.anp import ChannelMask, anp_prune
from refsnn.defenses.clp import channel_lipschitz, clp_prune
from refsnn.defenses.finetune import finetune
from refsnn.defenses.nad import attention_loss, nad, spike_attention
from refsnn.defenses.tgo import CosineRamp, ThresholdHinge, membrane_constraint, threshold_hinge
from refsnn.defenses.tsbd import neuron_weight_change, tsbd

__all__ = ["ThresholdHinge", "threshold_hinge", "membrane_constraint", "CosineRamp",
           "channel_lipschitz", "clp_prune",
           "finetune", "anp_prune", "ChannelMask", "nad", "spike_attention", "attention_loss",
           "tsbd", "neuron_weight_change",
           "TGOConfig", "RobustConfig", "train_robust", "parseval_retraction"]
