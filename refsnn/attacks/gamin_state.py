"""GAMIN's pieces around the training step: the soft cross-entropy ``L_H``, answer checks,
the HDF5 checkpoint of a run (save / verified load) and the result object.

A checkpoint (:func:`refsnn.io.save_checkpoint`) holds::

    /model/G.<name>, /model/S.<name>   the last generator and surrogate (PyTorch names)
    /optimizer/G, /optimizer/S         both Adam states (moments and step counts)
    /extra/fingerprint                 SHA-256 of the configuration, the shapes and the oracle's fingerprint
    /extra/k, /extra/rng               k_t and the attack Generator's PCG64 state (128-bit integers)
    /extra/oracle                      Oracle.state_dict(): the query count and the target encoder's state
    /extra/best                        the kept pair (step, scores, both state dicts) or None
    /extra/history                     per-step L_HS, L_HG, L_G, k_t, both M_global, queries used
    root attrs: step, seed, config (JSON)

>>> import numpy as np
>>> from refsnn.autograd import Tensor
>>> y = np.array([[0.5, 0.5]], np.float32)
>>> bool(abs(soft_cross_entropy(Tensor(np.zeros((1, 2), np.float32)), y).item() - np.log(2)) < 1e-6)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_tools.batches import as_generator
from refsnn.autograd import Tensor, log_softmax, no_grad
from refsnn.backend import to_backend, to_host
from refsnn.io import load_checkpoint, save_checkpoint
from refsnn.models.gamin_gs import gamin_generator, gamin_surrogate

HISTORY_KEYS = ("l_s", "l_g", "loss_g", "k", "m_global", "m_global_began", "queries")


def soft_cross_entropy(logits, targets) -> Tensor:
    """``L_H = −(1/B) Σ_b Σ_c Y_bc · log softmax(logits)_bc`` for logits ``[B, C]`` and answers ``Y [B, C]``.

    With one-hot ``Y`` this is the usual cross-entropy of the labels.
    """
    y = targets.data if isinstance(targets, Tensor) else targets
    if tuple(y.shape) != tuple(logits.shape):
        raise ValueError(f"soft_cross_entropy: logits {tuple(logits.shape)} and targets "
                         f"{tuple(y.shape)} differ")
    return -(log_softmax(logits, axis=1) * y).sum(axis=1).mean()


def check_answers(answers, output: str, n: int, num_classes: int, where: str) -> np.ndarray:
    """The oracle's answers as float32 ``[n, C]`` probabilities (labels become one-hot); width checked."""
    a = np.asarray(answers)
    if output == "labels":
        if a.shape != (n,):
            raise ValueError(f"{where}: the oracle answered shape {a.shape} for {n} samples")
        if a.min() < 0 or a.max() >= num_classes:
            raise ValueError(f"{where}: the target answered a label outside 0..{num_classes - 1}")
        return np.eye(num_classes, dtype=np.float32)[a]
    if a.ndim != 2 or a.shape[0] != n or a.shape[1] != num_classes:
        raise ValueError(f"{where}: the target's output width {a.shape[1:] or a.shape} does not match "
                         f"num_classes={num_classes} (answers of shape {a.shape} for {n} samples)")
    return a.astype(np.float32)


def copy_state(module) -> dict:
    """Host copies of ``module``'s parameters (name → ndarray)."""
    return {k: np.array(v, copy=True) for k, v in module.state_dict().items()}


def save_run(path: Path, run: dict, oracle, fingerprint: str, config: dict) -> None:
    """Write the whole state of a run to ``path`` atomically (layout in the module docstring)."""
    state = {f"G.{k}": v for k, v in run["G"].state_dict().items()}
    state.update({f"S.{k}": v for k, v in run["S"].state_dict().items()})
    best = run["best"]
    extra = {"fingerprint": fingerprint, "k": float(run["k"]), "rng": run["rng"].bit_generator.state,
             "oracle": oracle.state_dict(), "best": best,
             "history": {k: np.asarray(v, np.int64 if k == "queries" else np.float64)
                         for k, v in run["history"].items()}}
    save_checkpoint(path, state, config=config, seed=int(config["seed"]), step=int(run["step"]),
                    optimizer={"G": run["opt_g"].state_dict(), "S": run["opt_s"].state_dict()}, extra=extra)


def load_run(path: Path, run: dict, oracle, fingerprint: str) -> None:
    """Restore ``run`` (a fresh one) and the oracle's count from ``path``.

    A checkpoint of another configuration, or one that is not a GAMIN run, is a ValueError raised
    before the oracle changes; the file itself is never written here.
    """
    ck = load_checkpoint(path)
    extra = ck.extra if isinstance(ck.extra, dict) else {}
    saved = extra.get("fingerprint")
    if saved != fingerprint:
        raise ValueError(f"Gamin: checkpoint {path} belongs to another configuration (fingerprint "
                         f"{str(saved)[:12]}… vs this run's {fingerprint[:12]}…); refusing to resume — "
                         "use the same settings, or another checkpoint path for a new run")
    try:
        for name in ("G", "S"):
            run[name].load_state_dict({k[2:]: v for k, v in ck.state.items() if k.startswith(name + ".")})
        run["opt_g"].load_state_dict(ck.optimizer["G"])
        run["opt_s"].load_state_dict(ck.optimizer["S"])
        run["rng"].bit_generator.state = dict(extra["rng"])
        run["k"], run["step"] = float(extra["k"]), int(ck.step)
        run["best"] = extra["best"]
        run["history"] = {k: np.asarray(extra["history"][k]).tolist() for k in HISTORY_KEYS}
    except (KeyError, TypeError) as exc:
        raise ValueError(f"Gamin: checkpoint {path} is incomplete or damaged ({exc!r})") from exc
    oracle.load_state_dict(extra["oracle"])  # last: validated inside, changes nothing on error


@dataclass
class GaminResult:
    """What :meth:`Gamin.run` returns: the kept (best) pair, the last pair, scores and history.

    ``generator``/``surrogate``: the pair with the lowest selection score; ``m_global`` and
    ``m_global_began``: that pair's scores (Eq. 7 printed; BEGAN's); ``history``: per-step arrays.
    """

    target_label: int
    generator: object
    surrogate: object
    last_generator: object
    last_surrogate: object
    best_step: int
    m_global: float
    m_global_began: float
    history: dict
    queries_used: int
    steps: int
    noise_dim: int
    fingerprint: str

    @classmethod
    def build(cls, attack, run: dict, best: dict) -> GaminResult:
        cfg = attack.config
        g = gamin_generator(cfg.noise_dim, attack.N, cfg.gen_hidden, rng=0).to(attack.device)
        s = gamin_surrogate(attack.N, attack.C, cfg.sur_hidden, rng=0).to(attack.device)
        g.load_state_dict(best["G"])
        s.load_state_dict(best["S"])
        history = {k: np.asarray(v, np.int64 if k == "queries" else np.float64)
                   for k, v in run["history"].items()}
        return cls(cfg.target_label, g, s, run["G"], run["S"], int(best["step"]), float(best["m_global"]),
                   float(best["m_global_began"]), history, attack.oracle.queries_used, attack.steps,
                   cfg.noise_dim, attack.fingerprint)

    def samples(self, n: int, rng=None) -> np.ndarray:
        """``n`` inverted samples ``G(Z)``, ``Z ~ N(0, 1)`` from ``rng``, as host float32 ``[n, N]``."""
        rng = as_generator(rng, "GaminResult.samples")
        z = rng.standard_normal((int(n), self.noise_dim), dtype=np.float32)
        device = getattr(self.generator, "backend", "numpy")
        with no_grad():
            return np.asarray(to_host(self.generator(Tensor(to_backend(z, device))).data))
