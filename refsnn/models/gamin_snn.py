"""The GAMIN-study target SNN (Poursiami et al., "Do Spikes Protect Privacy?", §IV-A).

Architecture, with ``T = 25`` steps, batch ``B``, ``N = in_features`` pixels
(784 for MNIST, 92·112 = 10304 for AT&T faces), ``H = 3000`` hidden neurons
and ``C = num_classes`` (10, or 40 for AT&T)::

    x [B, N] in [0, 1]       (or [B, 1, h, w] with h·w = N)
      → rate coding          S0[t] = [u < x],  u ~ U(0, 1)            S0: [T, B, N] uint8
      → fc1 (N → H)          Z1[t] = S0[t] W1ᵀ + b1                   Z1: [T, B, H]
      → LIF, delayed reset   β = 0.7, θ = 1, subtract (DESIGN form 1)  S1: [T, B, H]
      → fc2 (H → C)          Z2[t] = S1[t] W2ᵀ + b2                   Z2: [T, B, C]
      → LIF, delayed reset   (same), membrane U2                       U2: [T, B, C]
      → logits               Σ_t U2[t]                                 [B, C]

Training losses (``loss=`` of the constructor picks the default of :meth:`GaminSNN.loss`):

* ``"sum_ce"`` — the paper's (§IV-A, "accumulates the softmax cross-entropy
  across all time steps, computed from the membrane potentials of the output
  neurons"): ``L = Σ_t CE(U2[t], y)``, each ``CE`` the batch mean (snnTorch's
  tutorial loop ``loss += ce(mem_rec[t], y)``).  The study default.
* ``"ce_sum"`` — ``L = CE(Σ_t U2[t], y)``, cross-entropy of the logits; this is
  what ``refsnn.train.fit`` computes with its default ``loss_fn`` and what the
  golden files were trained with, so existing callers keep their numbers.

To train the paper's loss with ``fit``, pass ``loss_fn=gamin_loss("sum_ce")``:
``forward`` attaches the per-step membrane ``U2 [T, B, C]`` (with its graph)
to the logits Tensor it returns as ``logits.membrane``, and that loss reads it.

BPTT uses the fast-sigmoid surrogate of slope 40, Adam.  The first layer sees
binary spikes, so it runs as a spike-gather (``spike_linear``) instead of a
dense GEMM — same numbers, a fraction of the work.  Parameter names
``fc1.weight`` ``[H, N]``, ``fc1.bias``, ``fc2.weight`` ``[C, H]``, ``fc2.bias``
match the snnTorch tutorial network, so its ``state_dict`` loads one to one.

The encoder draws from the model's own Generator (``encode_seed``), so two
models built with the same seeds train bit-identically.

>>> import numpy as np
>>> net = GaminSNN(hidden=16, num_steps=4, rng=0)
>>> net(np.full((2, 784), 0.5, np.float32)).shape
(2, 10)
>>> net.loss(np.full((2, 784), 0.5, np.float32), np.array([1, 2])).item() > 0
True
"""

from __future__ import annotations

import numpy as np

from data_tools.batches import as_generator
from refsnn.autograd import Tensor, cross_entropy
from refsnn.autograd.ops_spike import spike_linear
from refsnn.backend import xp_of
from refsnn.encoding import rate
from refsnn.neurons import lif_delayed
from refsnn.neurons.surrogate import FastSigmoid
from refsnn.nn import Linear, Module
from refsnn.nn.layers import linear

LOSSES = ("sum_ce", "ce_sum")


def _check_loss(kind, where: str) -> str:
    if kind not in LOSSES:
        raise ValueError(f"{where}: unknown loss {kind!r}; choose from {LOSSES} "
                         "('sum_ce' = Σ_t CE(U2[t]) of the paper, 'ce_sum' = CE(Σ_t U2[t]))")
    return kind


class GaminSNN(Module):
    """``in_features``-``hidden``-``num_classes`` LIF network with rate-coded input (module docstring).

    Parameters
    ----------
    hidden : hidden width (3000 in the study).
    num_steps : time steps ``T`` (25).
    beta, theta : LIF decay and threshold (0.7, 1.0).
    slope : fast-sigmoid surrogate slope ``k`` (40).
    rng : Generator or seed for the weight initialisation (PyTorch defaults).
    encode_seed : seed of the rate encoder's Generator (defaults to ``rng``'s next draw).
    in_features : pixels per sample ``N`` (784; AT&T faces 92·112 = 10304).
    num_classes : output classes ``C`` (10; AT&T faces 40).
    loss : default kind of :meth:`loss`, ``"sum_ce"`` (paper) or ``"ce_sum"``.
    """

    def __init__(self, hidden: int = 3000, num_steps: int = 25, beta: float = 0.7, theta: float = 1.0,
                 slope: float = 40.0, rng=None, encode_seed=None, dtype=np.float32,
                 in_features: int = 784, num_classes: int = 10, loss: str = "sum_ce"):
        super().__init__()
        if num_steps < 1:
            raise ValueError(f"GaminSNN: num_steps must be >= 1, got {num_steps}")
        for name, value in (("hidden", hidden), ("in_features", in_features), ("num_classes", num_classes)):
            if int(value) != value or value < 1:
                raise ValueError(f"GaminSNN: {name} must be a positive integer, got {value!r}")
        if num_classes < 2:
            raise ValueError(f"GaminSNN: num_classes must be >= 2, got {num_classes}")
        self.loss_kind = _check_loss(loss, "GaminSNN")
        self.in_features, self.num_classes = int(in_features), int(num_classes)
        rng = as_generator(rng, "GaminSNN")
        self.fc1 = Linear(self.in_features, int(hidden), rng=rng, dtype=dtype)
        self.fc2 = Linear(int(hidden), self.num_classes, rng=rng, dtype=dtype)
        self.num_steps, self.beta, self.theta = int(num_steps), float(beta), float(theta)
        self.surrogate = FastSigmoid(k=slope)
        seed = encode_seed if encode_seed is not None else int(rng.integers(2**63))
        self.encoder_rng = np.random.default_rng(seed)

    def _on_weights_backend(self, a):
        """``a`` (array or Tensor) as an array where the weights live (NumPy, or CuPy on the GPU)."""
        return xp_of(self.fc1.weight.data).asarray(a.data if isinstance(a, Tensor) else a)

    def encode(self, x) -> np.ndarray:
        """Bernoulli rate coding of ``x`` ([B, N] or [B, 1, h, w], in [0, 1]) → uint8 [T, B, N]."""
        data = self._on_weights_backend(x)
        n = self.in_features
        if data.size == 0 or data.reshape(len(data), -1).shape[1] != n:
            raise ValueError(f"GaminSNN: expected inputs of {n} pixels per sample, got shape {data.shape}")
        return rate(data.reshape(len(data), n), self.num_steps, self.encoder_rng, dtype=np.uint8)

    def forward(self, x) -> Tensor:
        """Logits ``[B, C]`` = output membrane summed over T, for images ``x`` in [0, 1].

        The returned Tensor carries ``.membrane``, the per-step ``U2 [T, B, C]``.
        """
        return self.forward_spikes(self.encode(x))

    def forward_spikes(self, spikes) -> Tensor:
        """Logits ``Σ_t U2[t]`` for pre-encoded spikes ``[T, B, N]`` (binary, any int/bool/float dtype)."""
        u2 = self.membrane_spikes(spikes)
        logits = u2.sum(axis=0)
        logits.membrane = u2
        return logits

    def membrane_spikes(self, spikes) -> Tensor:
        """Output membrane ``U2 [T, B, C]`` for pre-encoded spikes ``[T, B, N]``."""
        spikes = self._on_weights_backend(spikes)
        if spikes.ndim != 3 or spikes.shape[2] != self.in_features:
            raise ValueError(f"GaminSNN.forward_spikes: expected [T, B, {self.in_features}] spikes, "
                             f"got {spikes.shape}")
        return snn_membrane(spikes, self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias,
                            beta=self.beta, theta=self.theta, surrogate=self.surrogate)

    def loss(self, x, y, kind: str | None = None) -> Tensor:
        """Training loss of images ``x`` against labels ``y [B]``; ``kind`` defaults to ``self.loss_kind``.

        ``"sum_ce"``: ``Σ_t CE(U2[t], y)``; ``"ce_sum"``: ``CE(Σ_t U2[t], y)`` (each CE a batch mean).
        """
        return gamin_loss(self.loss_kind if kind is None else kind)(self(x), y)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, num_classes={self.num_classes}, T={self.num_steps}, "
                f"beta={self.beta}, theta={self.theta}, surrogate={self.surrogate!r}, "
                f"loss={self.loss_kind!r}")


def step_cross_entropy(membrane, labels) -> Tensor:
    """``Σ_t CE(U[t], y)`` for a membrane ``[T, B, C]`` and integer labels ``[B]``.

    Each step's ``CE`` is the mean over the batch, so the result is ``T`` times
    the mean of the ``T·B`` per-(step, sample) cross-entropies — computed as one
    :func:`~refsnn.autograd.cross_entropy` over ``U`` reshaped to ``[T·B, C]``
    with the labels tiled ``T`` times.
    """
    u = membrane if isinstance(membrane, Tensor) else Tensor(membrane)
    if u.ndim != 3:
        raise ValueError(f"step_cross_entropy: membrane must be [T, B, C], got shape {u.shape}")
    T, B, C = u.shape
    y = xp_of(u.data).asarray(labels.data if isinstance(labels, Tensor) else labels)
    if y.shape != (B,):
        raise ValueError(f"step_cross_entropy: labels must have shape ({B},), got {tuple(y.shape)}")
    return cross_entropy(u.reshape(T * B, C), xp_of(y).tile(y, T)) * float(T)


def gamin_loss(kind: str = "sum_ce"):
    """A ``loss_fn(logits, y)`` for :func:`refsnn.train.fit` on a :class:`GaminSNN`.

    ``"ce_sum"`` is plain ``cross_entropy(logits, y)``; ``"sum_ce"`` needs the
    ``logits`` Tensor returned by ``GaminSNN.forward`` (it reads ``logits.membrane``)
    and is a clear error for any other Tensor.
    """
    _check_loss(kind, "gamin_loss")
    if kind == "ce_sum":
        return cross_entropy

    def sum_ce(logits, y):
        membrane = getattr(logits, "membrane", None)
        if membrane is None:
            raise TypeError("gamin_loss('sum_ce') needs the per-step membrane: pass the logits returned "
                            "by GaminSNN.forward (they carry .membrane), not another tensor")
        return step_cross_entropy(membrane, y)

    sum_ce.__name__ = sum_ce.__qualname__ = "sum_ce"
    return sum_ce


def snn_membrane(spikes, fc1_weight, fc1_bias, fc2_weight, fc2_bias, beta=0.7, theta=1.0,
                 surrogate=None) -> Tensor:
    """The GAMIN SNN as a function: spikes ``[T, B, n_in]`` and weights → membrane ``U2 [T, B, n_out]``.

    ``fc*_weight`` are ``[out, in]`` Tensors (PyTorch layout); ``surrogate`` defaults to fast sigmoid, k = 40.
    """
    surrogate = FastSigmoid(k=40.0) if surrogate is None else surrogate
    T, B, n_in = spikes.shape
    z1 = spike_linear(spikes.reshape(T * B, n_in), fc1_weight, fc1_bias)
    s1 = lif_delayed(z1.reshape(T, B, -1), beta=beta, theta=theta, reset="subtract", surrogate=surrogate)
    z2 = linear(s1.reshape(T * B, -1), fc2_weight, fc2_bias).reshape(T, B, -1)
    _, u2 = lif_delayed(z2, beta=beta, theta=theta, reset="subtract", surrogate=surrogate,
                        return_membrane=True)
    return u2


def snn_logits(spikes, fc1_weight, fc1_bias, fc2_weight, fc2_bias, beta=0.7, theta=1.0,
               surrogate=None) -> Tensor:
    """Logits ``Σ_t U2[t]`` ``[B, n_out]`` of :func:`snn_membrane` (the golden-file callable)."""
    return snn_membrane(spikes, fc1_weight, fc1_bias, fc2_weight, fc2_bias, beta=beta, theta=theta,
                        surrogate=surrogate).sum(axis=0)
