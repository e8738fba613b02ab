"""Every registered neuron form on the CUDA template: host emulation by default, a GPU under ``-m gpu``.

The generic check of ``tests/neurons/form_checks.py`` over ``refsnn.neurons.forms.FORMS`` and
each form's ``examples``: spikes and membranes bit for bit, gradients bit for bit without
``exp`` (and always under emulation), ``dL/dk`` to 1e-6 relative.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "neurons"))
import form_checks as fc

from refsnn.neurons.forms import FORMS

EXAMPLES = [(name, i) for name in sorted(FORMS) for i in range(len(FORMS[name].examples))]


@pytest.mark.parametrize("case", EXAMPLES, ids=lambda c: f"{c[0]}-{c[1]}")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_form_cuda_matches_reference(device, rng, case, dtype):
    form = FORMS[case[0]]
    fc.check_cuda_matches_reference(form, form.examples[case[1]], device, rng, dtype)
