"""Seed architectures of the five studies.

* :func:`mlp` / :func:`gamin_ann` — the GAMIN-study ANN, 784-3000-10 with ReLU.
* :class:`GaminSNN` — the GAMIN-study SNN, 784-3000-10 LIF (delayed reset), rate-coded input.
"""

from refsnn.models.gamin_snn import GaminSNN
from refsnn.models.mlp import gamin_ann, mlp

__all__ = ["mlp", "gamin_ann", "GaminSNN"]
