"""The network every cross-validation run builds, and the data and loss it is driven with.

Network (identical in every framework)::

    x [T, B, n0]  (float 0/1 input spikes, time first)
      -> Linear(n0, n1) -> neuron -> S1, U1 [T, B, n1]
      -> Linear(n1, n2) -> neuron -> S2, U2 [T, B, n2]
    out  = Σ_t U2[t]                                   [B, n2]   (summed output membrane)
    loss = Σ_{t,b,i} C[t,b,i]·U2[t,b,i] + λ·(Σ S1 + Σ S2)         (scalar)

``C`` is a fixed random cotangent (standard normal) and ``λ = count_weight``;
the spike-count term sends gradient through the surrogate of every spike, the
membrane term through every membrane.  Recorded quantities (the keys of a
run): ``spk1 mem1`` [T,B,n1], ``spk2 mem2`` [T,B,n2], ``out``, ``loss``,
``grad.input`` = ``∂loss/∂x`` [T,B,n0], and ``grad.<name>`` = ``∂loss/∂`` every
parameter (``0.weight 0.bias 2.weight 2.bias``, plus ``1.w 3.w`` for PLIF),
under PyTorch ``Sequential`` names.

Neurons (``neuron``) and the framework that runs them:

=========  =============  =========================================  =========================
neuron     framework      torch module                               refsnn form (DESIGN.md)
=========  =============  =========================================  =========================
``leaky``  snntorch       ``snntorch.Leaky(beta, threshold, ...)``   1 (LIF, delayed reset)
``lif``    spikingjelly   ``neuron.LIFNode(tau, ..., step_mode='m')`` 4 (SpikingJelly LIFNode)
``plif``   spikingjelly   ``neuron.ParametricLIFNode(init_tau, ...)`` 4 with ``1/τ = σ(w)``
=========  =============  =========================================  =========================

Example::

    >>> cfg = CrossvalConfig(neuron="leaky", beta=0.8, reset="zero", T=5)
    >>> cfg.framework, cfg.surrogate_spec()
    ('snntorch', ('atan', 2.0))
    >>> x, cot = make_data(cfg)
    >>> x.shape, cot.shape
    ((5, 3, 12), (5, 3, 6))
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

FRAMEWORK_OF = {"leaky": "snntorch", "lif": "spikingjelly", "plif": "spikingjelly"}
RESETS = {"snntorch": ("subtract", "zero"), "spikingjelly": ("hard", "soft")}  # first = framework default
# surrogate name -> default parameter, per framework (None: the framework has no such surrogate)
SURROGATE_DEFAULTS = {
    "snntorch": {"fast_sigmoid": 25.0, "atan": 2.0, "sigmoid": 25.0},
    "spikingjelly": {"atan": 2.0, "sigmoid": 4.0},
}
DEFAULT_SURROGATE = {"snntorch": "atan", "spikingjelly": "sigmoid"}  # the frameworks' own defaults
DEFAULT_DETACH = {"snntorch": True, "spikingjelly": False}
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class CrossvalConfig:
    """One cross-validation setting; every field is checked on construction.

    neuron: ``leaky`` | ``lif`` | ``plif`` (see the module table).
    sizes: ``(n0, n1, n2)``; T: time steps; batch: B.
    beta: snnTorch decay β in [0, 1] (``leaky`` only).
    tau: SpikingJelly τ > 1 (``lif``) or initial τ0 > 1 (``plif``, ``w0 = −ln(τ0 − 1)``).
    threshold: θ (snnTorch ``threshold``, SpikingJelly ``v_threshold``), > 0.
    reset: ``subtract``/``zero`` (snnTorch), ``soft``/``hard`` (SpikingJelly; hard resets to ``v_reset``).
    decay_input: SpikingJelly ``decay_input``.
    detach_reset: None = the framework's default (snnTorch True — it cannot be False; SpikingJelly False).
    surrogate, surrogate_param: ``fast_sigmoid`` (slope k, snnTorch only) | ``atan`` (α) |
        ``sigmoid`` (slope α); None = the framework's default surrogate / parameter.
    dtype: ``float32`` | ``float64`` (torch ``.double()``; separates rounding from semantics).
    seed: seeds the torch weight Generator and the NumPy input/cotangent Generator.
    input_rate: probability of an input spike; weight_gain: weights ~ U(±gain/√fan_in).
    count_weight: λ of the spike-count term of the loss.
    """

    neuron: str = "leaky"
    sizes: tuple = (12, 10, 6)
    T: int = 5
    batch: int = 3
    beta: float = 0.7
    tau: float = 2.0
    threshold: float = 1.0
    reset: str | None = None
    v_reset: float = 0.0
    decay_input: bool = True
    detach_reset: bool | None = None
    surrogate: str | None = None
    surrogate_param: float | None = None
    dtype: str = "float32"
    seed: int = 0
    input_rate: float = 0.3
    weight_gain: float = 8.0
    count_weight: float = 0.1

    def __post_init__(self):
        if self.neuron not in FRAMEWORK_OF:
            raise ValueError(f"CrossvalConfig: neuron must be one of {sorted(FRAMEWORK_OF)}, "
                             f"got {self.neuron!r}")
        fw = self.framework
        sizes = tuple(self.sizes)
        if len(sizes) != 3 or any(int(n) != n or n < 1 for n in sizes):
            raise ValueError(f"CrossvalConfig: sizes must be three positive ints (n0, n1, n2), "
                             f"got {self.sizes!r}")
        object.__setattr__(self, "sizes", tuple(int(n) for n in sizes))
        for name in ("T", "batch"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"CrossvalConfig: {name} must be a positive int, got {value!r}")
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"CrossvalConfig: beta must lie in [0, 1] (snnTorch clamps β to [0, 1]), "
                             f"got {self.beta!r}")
        if not self.tau > 1.0:
            raise ValueError(f"CrossvalConfig: tau must be > 1 (SpikingJelly asserts it), got {self.tau!r}")
        if not self.threshold > 0.0:
            raise ValueError(f"CrossvalConfig: threshold must be > 0, got {self.threshold!r}")
        reset = RESETS[fw][0] if self.reset is None else self.reset
        if reset not in RESETS[fw]:
            raise ValueError(f"CrossvalConfig: reset for {fw} must be one of {RESETS[fw]}, "
                             f"got {self.reset!r}")
        object.__setattr__(self, "reset", reset)
        if fw == "snntorch" and self.detach_reset is False:
            raise ValueError("CrossvalConfig: detach_reset=False is impossible with snnTorch Leaky "
                             "(it always computes the reset from a detached copy of the spike)")
        surrogate = DEFAULT_SURROGATE[fw] if self.surrogate is None else self.surrogate
        if surrogate not in SURROGATE_DEFAULTS[fw]:
            raise ValueError(f"CrossvalConfig: surrogate for {fw} must be one of "
                             f"{sorted(SURROGATE_DEFAULTS[fw])}, got {self.surrogate!r}")
        object.__setattr__(self, "surrogate", surrogate)
        if self.surrogate_param is not None and not self.surrogate_param > 0:
            raise ValueError(f"CrossvalConfig: surrogate_param must be > 0, got {self.surrogate_param!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"CrossvalConfig: dtype must be one of {DTYPES}, got {self.dtype!r}")
        if not 0.0 <= self.input_rate <= 1.0:
            raise ValueError(f"CrossvalConfig: input_rate must lie in [0, 1], got {self.input_rate!r}")
        for name in ("weight_gain", "count_weight", "v_reset"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"CrossvalConfig: {name} must be finite, got {getattr(self, name)!r}")

    # ------------------------------------------------------------------ derived values
    @property
    def framework(self) -> str:
        """``snntorch`` for ``leaky``, ``spikingjelly`` for ``lif`` / ``plif``."""
        return FRAMEWORK_OF[self.neuron]

    @property
    def np_dtype(self):
        return np.dtype(self.dtype)

    def surrogate_spec(self) -> tuple[str, float]:
        """``(name, parameter)`` with the framework default filled in."""
        default = SURROGATE_DEFAULTS[self.framework][self.surrogate]
        return self.surrogate, float(default if self.surrogate_param is None else self.surrogate_param)

    def resolved_detach_reset(self) -> bool:
        return DEFAULT_DETACH[self.framework] if self.detach_reset is None else bool(self.detach_reset)

    def sj_v_reset(self) -> float | None:
        """SpikingJelly ``v_reset``: None for soft reset, the float reset value for hard."""
        return None if self.reset == "soft" else float(self.v_reset)

    def replace(self, **changes) -> CrossvalConfig:
        return dataclasses.replace(self, **changes)

    def label(self) -> str:
        """A short human-readable name for tables."""
        sg, a = self.surrogate_spec()
        if self.framework == "snntorch":
            core = f"beta={self.beta:g} th={self.threshold:g} {self.reset}"
        else:
            core = (f"tau={self.tau:g} th={self.threshold:g} {self.reset} "
                    f"di={int(self.decay_input)} dr={int(self.resolved_detach_reset())}")
        n0, n1, n2 = self.sizes
        return f"{self.neuron} {core} {sg}({a:g}) T={self.T} {n0}-{n1}-{n2} {self.dtype}"

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["sizes"] = list(self.sizes)
        out["framework"] = self.framework
        out["surrogate_param"] = self.surrogate_spec()[1]
        out["detach_reset"] = self.resolved_detach_reset()
        return out


def make_data(config: CrossvalConfig) -> tuple[np.ndarray, np.ndarray]:
    """Input spikes ``x [T, B, n0]`` (0/1 in ``config.dtype``) and cotangent ``C [T, B, n2]``.

    Drawn from ``numpy.random.default_rng(config.seed)``: x first, then C, so
    the same config always gives the same bits.
    """
    if not isinstance(config, CrossvalConfig):
        raise TypeError(f"make_data: expected a CrossvalConfig, got {type(config).__name__}")
    rng = np.random.default_rng(config.seed)
    n0, _, n2 = config.sizes
    x = (rng.random((config.T, config.batch, n0)) < config.input_rate).astype(config.np_dtype)
    cot = rng.standard_normal((config.T, config.batch, n2)).astype(config.np_dtype)
    return x, cot

