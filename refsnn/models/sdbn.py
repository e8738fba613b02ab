"""The spiking DBN of "Is Spiking Secure?" (O'Connor et al.'s SDBN): 784-500-500-10 Siegert RBMs.

Images ``x ∈ [0, 1]`` ``[B, 784]`` (or ``[B, 1, 28, 28]``) are scaled to input
rates ``v = input_scale·x`` (``input_scale = 0.2``: the paper's [0, 0.2]) and
passed up a stack of :class:`~refsnn.models.rbm.SiegertRBM` layers::

    h₁ = S(v, W₁, b₁)  [B, 500],   h₂ = S(h₁, W₂, b₂)  [B, 500],   r = S(h₂, W₃, b₃)  [B, 10]

Training (:meth:`SDBN.fit`) is greedy and layer-wise: RBM 1 on ``v``, then the
top *jointly with the labels*.  Two rules (``top=``):

* ``"joint"`` (default; O'Connor's ``edbntoptrain``, after Hinton, Osindero & Teh
  2006): one RBM ``[h₁, ℓ] ↔ h₂`` whose visible layer is the penultimate layer's
  rates beside the label units ``ℓ = input_scale·onehot(y)`` (labels are rates
  like pixels, in [0, 0.2] as in O'Connor's code), initialised from, and sliced
  back into, RBM 2 (``W[:n₁]``, ``b_h``) and the top RBM (``W[n₁:]ᵀ``, the label
  units' visible bias as its ``b_h``).  Inference is the same stack: ``h₂`` from
  ``h₁`` alone (label inputs silent), then ``r = S(h₂, W_ℓᵀ, b_ℓ)`` — the
  down pass to the label units.
* ``"clamped"``: RBM 2 on ``h₁`` alone, then the top RBM ``h₂ → 10`` whose hidden
  units are the label units, clamped to ``label_rate·onehot(y)`` in the positive
  phase and free in the persistent chain (see :mod:`refsnn.models.rbm`).  A weaker
  rule (the label units only ever see ``h₂``); kept for comparison.

The class decision is ``argmax r``.

Output probabilities (the black-box attack's answer) — :meth:`SDBN.predict_proba`::

    P(c | x) = r_c / Σ_k r_k        (rates normalised to sum 1;  uniform 1/10 if all r = 0)

Why this rule: the label units' firing rates are the SDBN's evidence, and a
spiking readout counts spikes, whose normalised counts estimate exactly these
shares.  It is also the rule the paper's numbers imply: its Table III reports
P = 0 for a class and two classes at 50.60 % / 49.40 % (summing to 100 %) —
rate shares can be exactly 0, a softmax never is.

Two ways to run a trained SDBN: the rate network above, and :meth:`SDBN.simulate`,
an event-driven spiking simulation with the same weights (Poisson inputs, LIF
neurons; :mod:`refsnn.kernels.sdbn_sim`) whose label-unit spike counts decide.

Noise: O'Connor's Siegert adds ``temp·N(0,1)`` to every call's inputs,
evaluation included; ``predict_proba(x, noise=True, rng=gen)`` does that, the
default ``noise=False`` is the deterministic rate network.

>>> import numpy as np
>>> net = SDBN(sizes=(16, 8, 8), n_classes=3, rng=0)
>>> p = net.predict_proba(np.random.default_rng(1).random((4, 16)))
>>> p.shape, bool(np.allclose(p.sum(1), 1))
((4, 3), True)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from refsnn.models.rbm import RBMConfig, SiegertRBM
from refsnn.nn.init import as_generator
from refsnn.validation import check_finite

INPUT_SCALE = 0.2  # pixel intensity 1 → rate 0.2 (paper §III-A)


def check_images(x, n: int, where: str) -> np.ndarray:
    """Images as float64 ``[B, n]`` in ``[0, 1]``; anything else is a clear ValueError."""
    x = np.asarray(x)
    x = x.reshape(len(x), -1) if x.ndim > 2 else x
    if x.ndim != 2 or x.shape[1] != n:
        raise ValueError(f"{where}: expected images [B, {n}] (or [B, 1, H, W]), got shape {x.shape}")
    x = x.astype(np.float64)
    check_finite(where, "images", x)
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{where}: pixel intensities must lie in [0, 1] (the SDBN scales them to "
                         f"[0, {INPUT_SCALE}] rates); got [{x.min():.4g}, {x.max():.4g}]")
    return x


class SDBN:
    """Stack of Siegert RBMs ``sizes[0]-…-sizes[-1]`` plus a top RBM to ``n_classes`` label units."""

    def __init__(self, sizes=(784, 500, 500), n_classes: int = 10, rng=0, config: RBMConfig | None = None,
                 input_scale: float = INPUT_SCALE, top: str = "joint", **overrides):
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1 or int(n_classes) < 2:
            raise ValueError(f"SDBN: need >= 2 layer sizes >= 1 and >= 2 classes, got {sizes}, {n_classes}")
        if top not in ("joint", "clamped"):
            raise ValueError(f"SDBN: top must be 'joint' or 'clamped', got {top!r}")
        if top == "joint" and len(sizes) < 3:
            raise ValueError(f"SDBN: top='joint' needs a penultimate layer (>= 3 sizes), got {sizes}")
        self.top = top
        if not 0 < float(input_scale) <= 1:
            raise ValueError(f"SDBN: input_scale must lie in (0, 1], got {input_scale}")
        gen = as_generator(rng, "SDBN")
        dims = [*sizes, int(n_classes)]
        self.rbms = [SiegertRBM(a, b, rng=gen, config=config, **overrides)
                     for a, b in zip(dims[:-1], dims[1:])]
        self.sizes, self.n_classes, self.input_scale = sizes, int(n_classes), float(input_scale)

    def rates(self, x) -> np.ndarray:
        """Input rates ``input_scale·x`` ``[B, sizes[0]]`` for images ``x ∈ [0, 1]``."""
        return self.input_scale * check_images(x, self.sizes[0], "SDBN")

    def layer_rates(self, x, noise: bool = False, rng=None) -> list:
        """Rates of every layer: ``[v, h₁, …, r]`` (each ``[B, n]``, rate·t_ref; v as scaled input)."""
        gen = as_generator(rng, "SDBN(noise=True)") if noise else None
        out = [self.rates(x)]
        for rbm in self.rbms:
            out.append(rbm.transform(out[-1], noise=noise, rng=gen))
        return out

    def label_rates(self, x, noise: bool = False, rng=None) -> np.ndarray:
        """The top layer's label-unit rates ``r`` ``[B, n_classes]``."""
        return self.layer_rates(x, noise, rng)[-1]

    def predict_proba(self, x, noise: bool = False, rng=None) -> np.ndarray:
        """``r / Σr`` per sample (module docstring); uniform where every label unit is silent."""
        return normalise_rates(self.label_rates(x, noise, rng))

    def predict(self, x, noise: bool = False, rng=None) -> np.ndarray:
        return self.label_rates(x, noise, rng).argmax(axis=1)

    def accuracy(self, x, y, noise: bool = False, rng=None) -> float:
        return float((self.predict(x, noise, rng) == np.asarray(y)).mean())

    def simulate(self, x, duration: float, dt: float, rng, **kwargs):
        """Event-driven spiking run of this SDBN (:func:`refsnn.kernels.sdbn_sim.simulate`).

        Poisson inputs at the scaled rates, LIF units with the RBMs' Siegert
        constants, weights ``W`` and biases ``b_h`` of each RBM.  The spiking
        decision is ``argmax`` of the label units' spike counts (``.counts[-1]``);
        ``.trace`` gives the counts over simulated time.  ``kwargs`` go to
        ``simulate`` (``release``, ``record_every``, ``backend``).
        """
        from refsnn.kernels.sdbn_sim import simulate

        c = self.rbms[0].config
        return simulate([r.W for r in self.rbms], [r.b_h for r in self.rbms], self.rates(x), duration, dt,
                        rng, tau_m=c.tau_m, t_ref=c.t_ref, v_th=c.v_th, **kwargs)

    def fit(self, x, y, epochs, rng, checkpoint_dir=None, max_batches=None) -> SDBN:
        """Greedy layer-wise training; ``epochs`` is one int or one per training stage.

        Stages: ``top="clamped"`` trains each RBM in turn (one stage per RBM);
        ``top="joint"`` trains the RBMs below the penultimate one, then the joint
        ``[h, ℓ] ↔ h_top`` RBM (one stage fewer).  With ``checkpoint_dir`` each
        stage checkpoints to ``rbm{i}.h5`` (the joint stage to ``joint.h5``) and a
        rerun resumes (finished stages are reloaded, not retrained).
        """
        gen = as_generator(rng, "SDBN.fit")
        n_stages = len(self.rbms) - (self.top == "joint")
        epochs = [int(epochs)] * n_stages if np.ndim(epochs) == 0 else [int(e) for e in epochs]
        if len(epochs) != n_stages:
            raise ValueError(f"SDBN.fit: {len(epochs)} epoch counts for {n_stages} training stages "
                             f"({len(self.rbms)} RBMs, top={self.top!r})")
        v = self.rates(x)
        y = np.asarray(y)
        if checkpoint_dir is not None:
            Path(checkpoint_dir).mkdir(parents=True, exist_ok=True)
        ck = (lambda name: None) if checkpoint_dir is None else (lambda name: Path(checkpoint_dir) / name)
        greedy = self.rbms if self.top == "clamped" else self.rbms[:-2]
        for i, (rbm, ep) in enumerate(zip(greedy, epochs)):
            top = rbm is self.rbms[-1]
            rbm.fit(v, ep, gen, labels=y if top else None, checkpoint=ck(f"rbm{i}.h5"),
                    max_batches=max_batches)
            if not top:
                v = rbm.transform(v)
        if self.top == "joint":
            self._fit_joint(v, y, epochs[-1], gen, ck("joint.h5"), max_batches)
        return self

    def _fit_joint(self, v, y, epochs, gen, checkpoint, max_batches) -> None:
        """O'Connor's joint top stage: train ``[v, ℓ] ↔ h`` and slice it into the last two RBMs."""
        pen, lab = self.rbms[-2], self.rbms[-1]
        n = pen.n_visible
        if y.shape != (len(v),) or y.dtype.kind not in "iu" or (len(y) and (y.min() < 0 or
                                                                         y.max() >= self.n_classes)):
            raise ValueError(f"SDBN.fit: labels must be {len(v)} integers in [0, {self.n_classes})")
        joint = SiegertRBM(n + self.n_classes, pen.n_hidden, rng=0, config=pen.config)
        joint.W = np.vstack([pen.W, lab.W.T])
        joint.b_v = np.concatenate([pen.b_v, lab.b_h])
        joint.b_h = pen.b_h.copy()
        labels = self.input_scale * np.eye(self.n_classes)[y]
        joint.fit(np.hstack([v, labels]), epochs, gen, checkpoint=checkpoint, max_batches=max_batches)
        pen.W, pen.b_v, pen.b_h = joint.W[:n].copy(), joint.b_v[:n].copy(), joint.b_h.copy()
        lab.W, lab.b_h, lab.b_v = joint.W[n:].T.copy(), joint.b_v[n:].copy(), joint.b_h.copy()
        pen.epoch = lab.epoch = joint.epoch
        pen.history = lab.history = list(getattr(joint, "history", []))

    def save(self, directory) -> None:
        """Write every RBM to ``directory/rbm{i}.h5`` (the files :meth:`fit` checkpoints to)."""
        for i, rbm in enumerate(self.rbms):
            rbm.save(Path(directory) / f"rbm{i}.h5")

    def load(self, directory) -> SDBN:
        """Read ``directory/rbm{i}.h5`` into the RBMs; shapes must match (clear error otherwise)."""
        for i, rbm in enumerate(self.rbms):
            rbm.load(Path(directory) / f"rbm{i}.h5")
        return self


def normalise_rates(r: np.ndarray) -> np.ndarray:
    """``r / Σ_k r_k`` along the last axis; rows summing to 0 become uniform."""
    r = np.asarray(r, np.float64)
    total = r.sum(axis=-1, keepdims=True)
    uniform = np.full_like(r, 1.0 / r.shape[-1])
    return np.where(total > 0, r / np.where(total > 0, total, 1.0), uniform)
