"""Defenses.

* :mod:`refsnn.defenses.tgo` — TGO's threshold-guarding membrane constraint and λ ramp.
* :mod:`refsnn.defenses.adversarial` — BPTT / AT / RAT training, each optionally with TGO.
* :mod:`refsnn.defenses.clp` — CLP, data-free channel-Lipschitz pruning (a BadSNN baseline defense).

The other backdoor defenses (fine-tuning, ANP, NAD, TSBD) and adversarial
training build on the spiking models of :mod:`refsnn.models` and join this package.
"""

from refsnn.defenses.adversarial import RobustConfig, TGOConfig, parseval_retraction, train_robust
from refsnn.defenses.clp import channel_lipschitz, clp_prune
from refsnn.defenses.tgo import CosineRamp, ThresholdHinge, membrane_constraint, threshold_hinge

__all__ = ["ThresholdHinge", "threshold_hinge", "membrane_constraint", "CosineRamp",
           "channel_lipschitz", "clp_prune",
           "TGOConfig", "RobustConfig", "train_robust", "parseval_retraction"]
