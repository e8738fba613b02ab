"""The integer codes the kernels understand, once: reset modes and surrogate kinds.

Python, Numba and CUDA all use these :class:`~enum.IntEnum` s — Numba
kernels compare against module-level ints taken from them, and
:func:`cuda_defines` writes them into the CUDA prelude of ``accel.cupy``.

Reset vocabulary (one across forms 1–5).  ``Reset.SOFT`` subtracts the
threshold after a spike; ``Reset.HARD`` sets the membrane to ``v_reset``
(0 by default).  Accepted aliases, with the same meaning: ``"subtract"`` →
soft and ``"zero"`` → hard (snnTorch's words, form 1); SpikingJelly's
``v_reset=None`` means soft (forms 4 / PLIF).

>>> reset_code("demo", "zero"), reset_code("demo", "soft")
(<Reset.HARD: 1>, <Reset.SOFT: 0>)
>>> print(cuda_defines().splitlines()[0])
#define RS_RESET_SOFT 0
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Reset(IntEnum):
    """What a spike does to the membrane."""

    SOFT = 0  # V ← V − θ   ("subtract")
    HARD = 1  # V ← v_reset ("zero" when v_reset = 0)


RESET_ALIASES = {"soft": Reset.SOFT, "subtract": Reset.SOFT, "hard": Reset.HARD,
                 "zero": Reset.HARD}


class SurrogateKind(IntEnum):
    """The six surrogate gradients (formulas in :mod:`refsnn.kernels.surrogate`)."""

    FAST_SIGMOID = 0
    ARCTAN = 1
    SIGMOID = 2
    TRIANGLE = 3
    LINEAR = 4
    SPIKE_TIME = 5


# Spike-time surrogate: before a neuron's first spike its last spike counts as this many
# steps before step 0 (0-based step i, last = −FIRST_SPIKE_LAG, Δt = i − last).
FIRST_SPIKE_LAG = 1000


def reset_code(where: str, value) -> Reset:
    """``value`` as a :class:`Reset`: a member, its int code, or a name/alias (any case)."""
    if isinstance(value, str):
        code = RESET_ALIASES.get(value.lower())
        if code is not None:
            return code
    elif isinstance(value, (bool, np.bool_, int, np.integer)) and int(value) in (0, 1):
        return Reset(int(value))
    raise ValueError(f"{where}: unknown reset {value!r}; valid: 'soft' (alias 'subtract', "
                     f"code 0) or 'hard' (alias 'zero', code 1) — reset code must be 0 or 1")


def surrogate_kind(where: str, kind) -> SurrogateKind:
    """``kind`` as a :class:`SurrogateKind` (an int code 0..5, not a bool)."""
    if isinstance(kind, (int, np.integer)) and not isinstance(kind, (bool, np.bool_)) and (
            int(kind) in SurrogateKind._value2member_map_):
        return SurrogateKind(int(kind))
    codes = ", ".join(f"{k.value}={k.name.lower()}" for k in SurrogateKind)
    raise ValueError(f"{where}: unknown surrogate code sg_kind={kind!r}; valid: {codes}")


def cuda_defines() -> str:
    """``#define`` lines for every code, for the CUDA prelude (generated, never hand-copied)."""
    lines = [f"#define RS_RESET_{r.name} {r.value}" for r in Reset]
    lines += [f"#define RS_SG_{k.name} {k.value}" for k in SurrogateKind]
    lines.append(f"#define RS_FIRST_SPIKE_LAG {FIRST_SPIKE_LAG}")
    return "\n".join(lines) + "\n"
