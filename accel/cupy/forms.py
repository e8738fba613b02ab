"""Forms 1–4 on the GPU: the CUDA kernels of every form in :data:`refsnn.neurons.forms.FORMS`.

Each form's CUDA pair comes from the one template of :mod:`accel.cupy._fused` filled with
the ``CUDA`` snippets kept beside its Numba equations in its form file
(:mod:`refsnn.neurons.lif_delayed`, :mod:`~refsnn.neurons.lif_immediate`,
:mod:`~refsnn.neurons.lif_decay` (form 2's kernels), :mod:`~refsnn.neurons.lif_sj`), with the
same names, signatures and results as the reference kernels.  All arrays are
``cupy.ndarray`` (C-contiguous float32/float64 ``[T, N]``, spikes 0/1 floats); one thread
per neuron, see :mod:`accel.cupy._core`.

>>> import cupy as cp                                         # doctest: +SKIP
>>> S, U = KERNELS["lif_delayed_forward"](cp.full((3, 1), 0.6, cp.float32), 0.7, 1.0, 0)  # doctest: +SKIP
>>> S.ravel().tolist(), [round(v, 3) for v in U.ravel().tolist()]   # doctest: +SKIP
([0.0, 1.0, 0.0], [0.6, 1.02, 0.314])
"""

from __future__ import annotations

from accel.cupy._fused import form_kernels
from refsnn.neurons.forms import FORMS

KERNELS = {name: fn for form in FORMS.values() for name, fn in form_kernels(form).items()}
