"""``gradcheck``: compare a function's autograd gradient with central differences.

For ``f: inputs -> Tensor`` the check draws a random cotangent ``v`` of the
output's shape, computes ``⟨v, ∂f/∂xᵢ⟩`` by ``backward`` and by

    (⟨v, f(x + h·eⱼ)⟩ − ⟨v, f(x − h·eⱼ)⟩) / 2h      for every element j of xᵢ,

in float64, and requires ``|analytic − numeric| ≤ atol + rtol·|numeric|``
elementwise.  Inputs must be float64 Tensors with ``requires_grad=True``.

>>> import numpy as np
>>> from refsnn.autograd import Tensor
>>> x = Tensor(np.array([0.3, -1.2]), requires_grad=True)
>>> gradcheck(lambda x: (x * x).sum(), [x])
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from refsnn.autograd import Tensor


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree."""


def _value(out) -> Tensor:
    return out[0] if isinstance(out, tuple) else out


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check ``fn``'s gradients w.r.t. every input that requires grad (see module doc)."""
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad and x.dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {x.dtype}; use float64 for finite differences")
    rng = np.random.default_rng(seed)
    out = _value(fn(*inputs))
    v = rng.standard_normal(out.shape)
    for x in inputs:
        if isinstance(x, Tensor):
            x.grad = None
    out.backward(v.astype(out.dtype))
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        analytic = np.zeros_like(x.data) if x.grad is None else np.asarray(x.grad)
        numeric = np.zeros_like(x.data)
        flat = x.data.reshape(-1)
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            plus = float((_value(fn(*inputs)).data * v).sum())
            flat[j] = orig - eps
            minus = float((_value(fn(*inputs)).data * v).sum())
            flat[j] = orig
            numeric.reshape(-1)[j] = (plus - minus) / (2 * eps)
        bad = np.abs(analytic - numeric) > atol + rtol * np.abs(numeric)
        if bad.any():
            j = int(np.flatnonzero(bad.reshape(-1))[0])
            msg = (
                f"gradcheck failed for input {i} (shape {x.shape}) at flat index {j}: "
                f"analytic {analytic.reshape(-1)[j]:.8g} vs numeric {numeric.reshape(-1)[j]:.8g} "
                f"({int(bad.sum())} of {bad.size} elements off)"
            )
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True
