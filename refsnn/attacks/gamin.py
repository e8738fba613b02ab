"""GAMIN: black-box model inversion by a generator and a surrogate trained in tandem.

Poursiami et al., "Do Spikes Protect Privacy?" §III, after Aïvodji, Gambs &
Ther, "GAMIN: An Adversarial Approach to Black-Box Model Inversion"
(arXiv:1909.11835).  The attacker holds only an :class:`~refsnn.oracle.Oracle`
around the target ``T``; every label it ever sees is an oracle answer.  One
step ``t`` (batch ``B``, noise width ``d_z``, ``N`` pixels, ``C`` classes)::

    Z_G ~ N(0, 1) [B, d_z];   X_G = G(Z_G) [B, N];   X_S ~ U(0, 1) [B, N]
    Y_G = T(X_G), Y_S = T(X_S)           two oracle calls, 2B queries, answers [B, C]
    L_HS = L_H(X_S, Y_S), L_HG = L_H(X_G, Y_G),  L_H(X, Y) = −(1/B) Σ_b Σ_c Y_bc log softmax(S(X))_bc
    S:  one Adam step on   L_S = L_HS − k_t · L_HG                       (Eq. 4)
        k_{t+1} = k_t + λ_k (γ_k L_HS − L_HG)                     (Eq. 5; BEGAN's clip to [0, 1] optional)
    G:  one Adam step on   L_G = CE(S(G(Z'_G)), y_t),  Z'_G ~ N(0, 1)    (Eq. 6; S frozen: only G steps)
    M_global = L_HS − |λ_k·L_HS − L_HG|   (Eq. 7 as printed)   and BEGAN's  L_HS + |γ_k·L_HS − L_HG|

The pair ``(G_t, S_t)`` whose score (``select_by``: the printed M_global by
default, lower is better as the paper says) is lowest is kept — the paper's
"retains the best-performing model" — and returned beside the last pair.
Only steps after a warm-up (``select_after``, a fraction of the steps; our
choice, 0.5) compete: at step 0 a random pair has ``L_HS ≈ L_HG ≈ ln C`` and
so ``M_global ≈ 0``, which would win every run (the printed form rewards
``L_HG > L_HS``, i.e. a generator the surrogate has not learned yet).

Defaults and where they come from (each a field of :class:`GaminConfig`):

* ``batch_size = 64`` and the budget of 20,000 batches of 64 = 1,280,000 queries: Poursiami §IV-A
  ("aligning with the original framework").  A step asks ``2B`` queries, so the paper's budget is
  10,000 steps.
* ``lambda_k = 0.001``, ``k0 = 0``: BEGAN (Berthelot, Schumm & Metz 2017, arXiv:1703.10717, §3.4
  and §4); ``gamma_k = 0.5``: BEGAN's diversity ratio (its experiments use γ ∈ [0.3, 0.7], 0.5 in
  most figures).  ``k_range``: BEGAN keeps ``k_t ∈ [0, 1]``; Poursiami's Eq. 5 states no bound, and
  the default follows the printed equation (None, unbounded).  This matters: on uniform-noise
  ``X_S`` a trained target answers one class almost always, so ``L_HG > γ_k·L_HS`` from the start;
  clipped at 0, ``k_t`` stays 0 and S never learns from the generated samples, while unbounded,
  ``k_t`` turns negative and ``−k_t·L_HG`` makes S fit the target's answers on ``X_G`` until
  ``L_HG ≈ γ_k·L_HS`` — the equilibrium the equation describes.
* Adam with ``lr = 1e-4`` for both networks: BEGAN §4 (initial learning rate 0.0001); betas are
  PyTorch's defaults (0.9, 0.999) — BEGAN states none.
* ``noise_dim = 64``: BEGAN's ``N_z``; Poursiami §III draws ``Z_G ~ N(0, 1)``.
* Architectures of G and S: :mod:`refsnn.models.gamin_gs` (our choice; GAMIN's full text could not
  be consulted here, so no value above is claimed to be GAMIN's own).
* ``X_S ~ U(0, 1)`` per pixel: GAMIN's "random inputs"; uniform over the pixel range is our reading.

Checkpoints (HDF5, :func:`refsnn.io.save_checkpoint`) every ``checkpoint_every`` steps hold G, S,
both Adam states, ``k_t``, the Generator state, the oracle's count (and its target's encoder
state), the best pair, the loss history and a fingerprint of the whole configuration; a killed run
resumed with ``run(resume=True)`` ends bit-identical to an uninterrupted one.  A checkpoint of
another configuration is a ``ValueError`` before anything is changed or written.

>>> import numpy as np
>>> from refsnn.models import mlp
>>> from refsnn.oracle import Oracle
>>> oracle = Oracle(mlp([16, 8, 3], rng=0), budget=200, classes=3)
>>> attack = Gamin(oracle, in_features=16, num_classes=3,
...                config=GaminConfig(target_label=1, batch_size=10, steps=5, log_every=0))
>>> res = attack.run()
>>> oracle.queries_used, res.samples(4, rng=0).shape
(100, (4, 16))
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from data_tools.batches import as_generator
from refsnn import blas
from refsnn.attacks.gamin_state import (
    GaminResult,
    check_answers,
    copy_state,
    load_run,
    save_run,
    soft_cross_entropy,
)
from refsnn.autograd import Tensor, no_grad
from refsnn.backend import to_backend, to_host
from refsnn.metrics.gamin import m_global, m_global_began
from refsnn.models.gamin_gs import gamin_generator, gamin_surrogate
from refsnn.nn import Adam
from refsnn.oracle import Oracle
from refsnn.validation import check_finite

SELECT = ("m_global", "m_global_began")


@dataclass(frozen=True)
class GaminConfig:
    """Every setting of one GAMIN run; sources of the defaults in the module docstring."""

    target_label: int
    steps: int | None = None            # None: as many as the oracle's remaining budget allows (2B per step)
    batch_size: int = 64
    noise_dim: int = 64
    gen_hidden: tuple = (256, 256)
    sur_hidden: tuple = (256,)
    lr_g: float = 1e-4
    lr_s: float = 1e-4
    betas: tuple = (0.9, 0.999)
    lambda_k: float = 0.001
    gamma_k: float = 0.5
    k0: float = 0.0
    k_range: tuple | None = None        # None: Eq. 5 as printed (k_t unbounded); BEGAN clips to (0.0, 1.0)
    select_by: str = "m_global"
    select_after: float = 0.5           # the first select_after·steps steps are never kept (warm-up)
    seed: int = 0
    checkpoint_every: int = 0           # 0: only at the end (when a checkpoint path is given)
    log_every: int = 100                # progress line every this many steps (0: silent)
    blas_threads: int | None = 1        # BLAS threads during the run (None: leave BLAS as it is)


def _check_config(cfg: GaminConfig, num_classes: int) -> None:
    where = "GaminConfig"
    if not isinstance(cfg, GaminConfig):
        raise TypeError(f"Gamin: config must be a GaminConfig, got {type(cfg).__name__}")
    label = cfg.target_label
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < num_classes:
        raise ValueError(f"{where}: target_label {label!r} is outside the model's classes "
                         f"0..{num_classes - 1}")
    for name in ("batch_size", "noise_dim", "seed"):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (0 if name == "seed" else 1):
            raise ValueError(f"{where}: {name} must be a positive int, got {v!r}")
    for name in ("steps",):
        v = getattr(cfg, name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
            raise ValueError(f"{where}: steps must be a positive int or None, got {v!r}")
    if not (isinstance(cfg.select_after, (int, float)) and 0 <= cfg.select_after < 1):
        raise ValueError(f"{where}: select_after must be a fraction in [0, 1), got {cfg.select_after!r}")
    for name in ("checkpoint_every", "log_every"):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{where}: {name} must be an int >= 0, got {v!r}")
    for name in ("lr_g", "lr_s", "lambda_k", "gamma_k"):
        v = getattr(cfg, name)
        if not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0):
            raise ValueError(f"{where}: {name} must be a finite number > 0, got {v!r}")
    if not (isinstance(cfg.k0, (int, float)) and np.isfinite(cfg.k0)):
        raise ValueError(f"{where}: k0 must be a finite number, got {cfg.k0!r}")
    rng_k = cfg.k_range
    if rng_k is not None and not (len(rng_k) == 2 and rng_k[0] <= cfg.k0 <= rng_k[1]):
        raise ValueError(f"{where}: k_range must be None or (lo, hi) with lo <= k0 <= hi, got {rng_k!r}")
    bt = cfg.blas_threads
    if bt is not None and (isinstance(bt, bool) or not isinstance(bt, (int, np.integer)) or bt < 1):
        raise ValueError(f"{where}: blas_threads must be a positive int or None, got {bt!r}")
    if cfg.select_by not in SELECT:
        raise ValueError(f"{where}: select_by must be one of {SELECT}, got {cfg.select_by!r}")


class Gamin:
    """GAMIN against ``oracle`` for the inputs ``[B, in_features]`` in ``[0, 1]`` and ``num_classes`` classes.

    ``checkpoint``: HDF5 path written every ``config.checkpoint_every`` steps and at the end (None:
    no checkpoints).  ``device``: backend of G and S (default NumPy; the oracle moves inputs itself).
    ``out``: stream for the progress lines (default ``sys.stdout``).
    """

    def __init__(self, oracle: Oracle, in_features: int, num_classes: int, config: GaminConfig,
                 checkpoint=None, device: str = "numpy", out=None, on_checkpoint=None):
        if not isinstance(oracle, Oracle):
            raise TypeError(f"Gamin: oracle must be a refsnn.oracle.Oracle, got {type(oracle).__name__}")
        if oracle.output == "logits":
            raise ValueError("Gamin: the oracle must answer 'probs' or 'labels' (L_H is a cross-entropy "
                             "against the target's answers)")
        for name, v in (("in_features", in_features), ("num_classes", num_classes)):
            least = 2 if name == "num_classes" else 1
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < least:
                raise ValueError(f"Gamin: {name} must be a positive int (classes >= 2), got {v!r}")
        if oracle.classes is not None and oracle.classes != num_classes:
            raise ValueError(f"Gamin: the oracle answers {oracle.classes} classes but "
                             f"num_classes={num_classes}")
        _check_config(config, int(num_classes))
        self.oracle, self.N, self.C = oracle, int(in_features), int(num_classes)
        per_step = 2 * config.batch_size
        steps = config.steps if config.steps is not None else oracle.remaining // per_step
        if steps < 1 or steps * per_step > oracle.remaining:
            n = max(steps, 1)
            raise ValueError(f"Gamin: {n} steps need {n * per_step} queries but the oracle "
                             f"has {oracle.remaining} left of its budget {oracle.budget}")
        self.steps, self.config, self.device = int(steps), config, device
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.out, self.on_checkpoint = out, on_checkpoint
        self.fingerprint = self._fingerprint()

    def _fingerprint(self) -> str:
        cfg = {**asdict(self.config), "steps": self.steps}
        text = json.dumps({"config": cfg, "in_features": self.N, "num_classes": self.C,
                           "oracle": self.oracle.fingerprint, "oracle_budget": self.oracle.budget,
                           "oracle_output": self.oracle.output}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    # ------------------------------------------------------------------ building blocks
    def _fresh(self) -> dict:
        cfg = self.config
        init = as_generator(cfg.seed, "Gamin (initialisation)")
        g = gamin_generator(cfg.noise_dim, self.N, cfg.gen_hidden, rng=init).to(self.device)
        s = gamin_surrogate(self.N, self.C, cfg.sur_hidden, rng=init).to(self.device)
        return {"G": g, "S": s, "opt_g": Adam(g.parameters(), lr=cfg.lr_g, betas=cfg.betas),
                "opt_s": Adam(s.parameters(), lr=cfg.lr_s, betas=cfg.betas), "k": float(cfg.k0),
                "rng": np.random.default_rng(int(init.integers(2**63))), "step": 0,
                "best": None, "history": {k: [] for k in ("l_s", "l_g", "loss_g", "k", "m_global",
                                                            "m_global_began", "queries")}}

    def _query(self, x, where: str) -> np.ndarray:
        answers = self.oracle(x)
        return check_answers(answers, self.oracle.output, len(x), self.C, where)

    def _step(self, run: dict) -> None:
        cfg, G, S, rng = self.config, run["G"], run["S"], run["rng"]
        t, B = run["step"], cfg.batch_size
        where = f"Gamin step {t + 1}"
        z = rng.standard_normal((B, cfg.noise_dim), dtype=np.float32)
        xs = rng.random((B, self.N), dtype=np.float32)
        with no_grad():
            xg = to_host(G(Tensor(to_backend(z, self.device))).data)
        if not np.isfinite(xg).all():  # (check_finite's kernel is slow on small arrays; it words the error)
            check_finite(where, "the generator's output X_G (diverged? lower lr_g)", xg)
        yg, ys = self._query(xg, where), self._query(xs, where)
        l_hs = soft_cross_entropy(S(Tensor(to_backend(xs, self.device))), to_backend(ys, self.device))
        l_hg = soft_cross_entropy(S(Tensor(to_backend(xg, self.device))), to_backend(yg, self.device))
        ls, lg = float(l_hs.item()), float(l_hg.item())
        if not np.isfinite([ls, lg]).all():
            check_finite(where, "the surrogate losses L_HS, L_HG", np.array([ls, lg]))
        m, mb = m_global(ls, lg, cfg.lambda_k), m_global_began(ls, lg, cfg.gamma_k)
        score = m if cfg.select_by == "m_global" else mb
        if t >= int(cfg.select_after * self.steps) and (run["best"] is None or score < run["best"]["score"]):
            run["best"] = {"step": t, "score": score, "m_global": m, "m_global_began": mb,
                           "G": copy_state(G), "S": copy_state(S)}  # the pair these losses belong to
        run["opt_s"].zero_grad()
        (l_hs - l_hg * run["k"]).backward()                                         # Eq. 4
        run["opt_s"].step()
        k = run["k"] + cfg.lambda_k * (cfg.gamma_k * ls - lg)                      # Eq. 5
        run["k"] = float(k if cfg.k_range is None else min(max(k, cfg.k_range[0]), cfg.k_range[1]))
        z2 = rng.standard_normal((B, cfg.noise_dim), dtype=np.float32)
        onehot = to_backend(np.eye(self.C, dtype=np.float32)[np.full(B, cfg.target_label)], self.device)
        loss_g = soft_cross_entropy(S(G(Tensor(to_backend(z2, self.device)))), onehot)  # Eq. 6: CE to y_t
        run["opt_g"].zero_grad()
        loss_g.backward()
        run["opt_g"].step()                                                        # S is not stepped: frozen
        run["opt_s"].zero_grad()
        h = run["history"]
        for key, v in (("l_s", ls), ("l_g", lg), ("loss_g", float(loss_g.item())), ("k", run["k"]),
                       ("m_global", m), ("m_global_began", mb), ("queries", self.oracle.queries_used)):
            h[key].append(v)
        run["step"] = t + 1

    def _progress(self, run: dict) -> None:
        h, out = run["history"], self.out if self.out is not None else sys.stdout
        best = run["best"]
        print(f"  gamin[label {self.config.target_label}] step {run['step']}/{self.steps}  queries "
              f"{self.oracle.queries_used}/{self.oracle.budget}  M_global {h['m_global'][-1]:.4f} "
              f"(BEGAN {h['m_global_began'][-1]:.4f})  k_t {run['k']:.4g}  best "
              f"{'-' if best is None else format(best['score'], '.4f')}", file=out, flush=True)

    # ------------------------------------------------------------------ the run
    def run(self, resume: bool = False) -> GaminResult:
        """Train to ``steps`` (resuming from ``checkpoint`` when ``resume`` and the file exists)."""
        run = self._fresh()
        if resume:
            if self.checkpoint is None:
                raise ValueError("Gamin.run: resume=True needs a checkpoint path")
            if self.checkpoint.exists():
                load_run(self.checkpoint, run, self.oracle, self.fingerprint)
        cfg = self.config
        # GAMIN's GEMMs are small (batch 64): a multi-threaded BLAS pool only spins between them
        with blas.threads(cfg.blas_threads) if cfg.blas_threads else contextlib.nullcontext():
            self._loop(run)
        best = run["best"] or {"step": run["step"] - 1, "score": float("nan"), "m_global": float("nan"),
                               "m_global_began": float("nan"), "G": copy_state(run["G"]),
                               "S": copy_state(run["S"])}
        return GaminResult.build(self, run, best)

    def _loop(self, run: dict) -> None:
        cfg = self.config
        while run["step"] < self.steps:
            self._step(run)
            t = run["step"]
            if cfg.log_every and (t % cfg.log_every == 0 or t == self.steps):
                self._progress(run)
            if self.checkpoint is not None and (t == self.steps or (cfg.checkpoint_every
                                                                     and t % cfg.checkpoint_every == 0)):
                save_run(self.checkpoint, run, self.oracle, self.fingerprint, asdict(cfg))
                if self.on_checkpoint is not None:
                    self.on_checkpoint(t, self.checkpoint)
