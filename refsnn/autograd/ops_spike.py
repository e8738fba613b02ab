"""``spike_linear``: a linear layer whose input is a binary spike array (no gradient to it).

For input spikes ``s ∈ {0,1}^{M×in}`` (e.g. rate-coded pixels, ``M = T·B``) and a
PyTorch-layout weight ``W [out, in]``::

    z = s @ Wᵀ + b                       [M, out]   (forward: spike_matmul(s, Wᵀ))
    dW = (sᵀ @ g)ᵀ                        [out, in]  (spike_matmul_t(s, g), transposed)
    db = Σ_m g[m]                         [out]
    ds = —                                (none: s is data, not a parameter)

The products run on the spike kernels of :mod:`refsnn.kernels.spikemm`, which
add the rows of ``Wᵀ`` that the spikes select instead of multiplying by zeros;
``Wᵀ`` is made contiguous ``[in, out]`` once per call (on NumPy a parallel
blocked copy into a reused workspace buffer, :mod:`refsnn.memory`).  Leading axes are kept:
``s [T, B, in] → z [T, B, out]``.

No gradient reaches ``s``: passing a Tensor that requires grad is a
``ValueError`` (use :func:`refsnn.nn.linear` where the input is itself trained,
e.g. spikes of a hidden layer under BPTT).  ``s`` may be uint8, bool, or a
float array / Tensor holding only 0 and 1.  Binary input is checked by default
(``check=True``: one pass over ``s``, about 1 ms for 3200×784, small next to the
product); a value other than 0/1 is a ``ValueError``.  ``check=False`` skips the
pass for callers that built ``s`` from an encoder; then any nonzero counts as 1.

>>> import numpy as np
>>> from refsnn.autograd import Tensor
>>> w = Tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True)
>>> z = spike_linear(np.array([[1, 0, 1]], np.uint8), w, Tensor(np.array([0.5])))
>>> z.data.tolist()
[[4.5]]
>>> z.sum().backward(); w.grad.tolist()
[[1.0, 0.0, 1.0]]
"""

from __future__ import annotations

import numpy as np

from refsnn.autograd.function import Function
from refsnn.autograd.tensor import Tensor
from refsnn.backend import kernel_for, xp_of
from refsnn.kernels import spikemm


def as_spike_bytes(s, where: str = "spike_linear", check: bool = True):
    """``s`` as C-contiguous uint8 (0/1); with ``check``, anything but 0/1 is a ValueError."""
    xp = xp_of(s)
    if s.dtype == xp.bool_:
        return xp.ascontiguousarray(s).view(xp.uint8)
    if s.dtype == xp.uint8:
        if check and bool((s > 1).any()):
            raise ValueError(f"{where}: spikes s must be 0/1, found a value {int(s.max())}")
        return xp.ascontiguousarray(s)
    if s.dtype.kind in "fiu":
        if check and not bool(((s == 0) | (s == 1)).all()):
            raise ValueError(f"{where}: spikes s must hold only 0 and 1 "
                             f"(dtype {s.dtype}); use refsnn.nn.linear for real-valued input")
        return xp.ascontiguousarray(s != 0).view(xp.uint8)
    raise TypeError(f"{where}: spikes s must be uint8, bool or a 0/1 numeric array, got {s.dtype}")


def _transposed(a):
    """``a.T`` C-contiguous: on NumPy a parallel blocked copy into the workspace (refsnn.memory)."""
    if type(a) is np.ndarray:  # exactly host NumPy (not a test-double subclass)
        return spikemm.transpose(a)
    return xp_of(a).ascontiguousarray(a.T)


class SpikeLinear(Function):
    """``z = s @ Wᵀ + b`` for binary ``s`` ``[..., in]``; gradients to ``W`` and ``b`` only."""

    def forward(self, s, weight, bias=None, *, check=True):
        if self.needs_input_grad and self.needs_input_grad[0]:
            raise ValueError("spike_linear: s requires grad, but no gradient flows to the spikes; "
                             "pass s.detach() or use refsnn.nn.linear")
        if weight.ndim != 2 or weight.dtype.kind != "f":
            raise ValueError(f"spike_linear: weight must be a 2-D float [out, in], "
                             f"got {weight.dtype} {weight.shape}")
        out_f, in_f = weight.shape
        if s.ndim < 1 or s.shape[-1] != in_f:
            raise ValueError(f"spike_linear: s must be [..., {in_f}] for weight {weight.shape}, "
                             f"got {s.shape}")
        if bias is not None and bias.shape != (out_f,):
            raise ValueError(f"spike_linear: bias must be [{out_f}], got {bias.shape}")
        xp_of(s, weight, bias)  # all on one backend (raises otherwise)
        S2 = as_spike_bytes(s.reshape(-1, in_f), check=check)
        Wt = _transposed(weight)  # [in, out]
        if type(Wt) is np.ndarray:  # the NumPy kernel adds the bias in cache (same floats)
            z = spikemm.spike_matmul(S2, Wt, bias)
        else:
            z = kernel_for("spike_matmul", Wt)(S2, Wt)
            if bias is not None:
                z += bias.astype(z.dtype)
        self.S2, self.lead, self.has_bias = S2, s.shape[:-1], bias is not None
        return z.reshape(*self.lead, out_f)

    def backward(self, g):
        xp = xp_of(g)
        G2 = xp.ascontiguousarray(g.reshape(-1, g.shape[-1]))
        dW = db = None
        if self.needs_input_grad[1]:
            dWt = kernel_for("spike_matmul_t", G2)(self.S2, G2)  # [in, out]
            dW = _transposed(dWt)
        if self.has_bias and self.needs_input_grad[2]:
            db = G2.sum(axis=0)
        return (None, dW, db)


def spike_linear(s, weight, bias=None, check: bool = True) -> Tensor:
    """``s @ weightᵀ + bias`` for binary spikes ``s`` (see module docstring)."""
    if isinstance(s, Tensor) and s.requires_grad:
        raise ValueError("spike_linear: s requires grad, but no gradient flows to the spikes; "
                         "pass s.detach() or use refsnn.nn.linear")
    if not isinstance(s, Tensor) and not hasattr(s, "dtype"):
        s = np.asarray(s)
    return SpikeLinear.apply(s, weight, bias, check=check)
