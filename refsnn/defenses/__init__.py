"""Defenses: TGO's membrane constraint (:mod:`refsnn.defenses.tgo`).

Backdoor defenses (fine-tuning, CLP, ANP, NAD, TSBD) and adversarial training
build on the spiking models of :mod:`refsnn.models` and join this package.
"""

from refsnn.defenses.tgo import CosineRamp, ThresholdHinge, membrane_constraint, threshold_hinge

__all__ = ["ThresholdHinge", "threshold_hinge", "membrane_constraint", "CosineRamp"]
