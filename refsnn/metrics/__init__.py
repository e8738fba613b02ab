"""Metrics of the studies, as plain functions of host or device arrays.

Classification (:mod:`refsnn.metrics.classification`):

* :func:`accuracy` — top-1 accuracy of scores ``[N, C]`` or labels ``[N]``.
* :func:`a_s`, :func:`a_sog`, :func:`a_t` — GAMIN's surrogate test accuracy,
  combined (surrogate ∘ generator) accuracy and target accuracy on inverted
  samples (Poursiami et al. §IV-B3–B5).

GAMIN convergence and fidelity (:mod:`refsnn.metrics.gamin`):

* :func:`m_global` — Eq. 7 as printed, ``L_S − |λ_k·L_S − L_G|``;
  :func:`m_global_began` — BEGAN's ``L + |γ·L − L_G|``; :func:`m_global_report`
  gives both.
* :func:`fidelity_fs` — Eq. 8, ``F_S = 1 − MAE(y, ŷ)``.

Every function returns a Python float (fractions in ``[0, 1]``: multiply by
100 to compare with the paper's percentages).
"""

from refsnn.metrics.classification import a_s, a_sog, a_t, accuracy, predicted_labels
from refsnn.metrics.gamin import fidelity_fs, m_global, m_global_began, m_global_report

__all__ = ["accuracy", "predicted_labels", "a_s", "a_sog", "a_t",
           "m_global", "m_global_began", "m_global_report", "fidelity_fs"]
