"""BadSNN's losses: dual-spike learning (Eq. 2), the trigger target (Eq. 4), the trigger loss (Eq. 5–6).

A backdoored model here is any callable ``model(x, v_thr=..., tau=...) ->
logits [B, K]`` whose spiking layers take the neuron hyperparameters of the
whole network per call (DESIGN form 3).  ``nominal`` and ``malicious`` are
``(V_thr, τ)`` pairs: ``S_n`` and ``S_t`` of the paper.

Dual-spike learning, Eq. 2, for a batch with poisoned mask ``p`` (the
``D_t^p`` samples of :func:`~refsnn.attacks.backdoor.dual_spike_split`)::

    L_B = mean_b CE(F(x_b; S_n), y_b) + mean_{b: p_b} CE(F(x_b; S_t), y_b)

(the paper's sums, averaged per term so the batch size does not scale them;
``D_t^p`` samples carry the target label, so both terms teach it).

Trigger target, Eq. 4 as printed, for the power trigger ``T_p`` and the
DeepFool perturbation ``δ_DF``::

    x_blend = (1 − α)·|x − T_p(x)| + α·(x + δ_DF(x)),      Δx = |x − x_blend|

``α`` is chosen per image by a grid search over ``k`` candidates: the
smallest ``α`` whose ``x_blend`` the backdoored model (under the attack
hyperparameters) already assigns to the target; the largest when none does.

Trigger loss, Eq. 5–6, for the generator output ``g = T_o(x, y_t)``::

    L_sim  = 1 − ⟨g, Δx⟩ / (‖g‖₂ ‖Δx‖₂)                       (per image, then the batch mean)
    L_adv  = CE(F(x + g; S), y_t)
    L_wmse = 1/(C·H·W) · Σ w·(g − Δx)²,   w = 1 + Δx / mean(Δx)  (our weights; the paper leaves w open)
    L      = λ₁·L_sim + λ₂·L_adv + λ₃·L_wmse,   λ = (1.0, 0.1, 1.0)
"""

from __future__ import annotations

import numpy as np

from refsnn import autograd as ag
from refsnn.autograd import Tensor
from refsnn.backend import xp_of
from refsnn.validation import check_interval, check_positive

__all__ = ["check_hyper", "dual_spike_loss", "blend_target", "choose_alpha", "trigger_loss",
           "attack_success_rate"]

LAMBDAS = (1.0, 0.1, 1.0)


def check_hyper(where: str, hyper) -> tuple[float, float]:
    """``(V_thr, τ)`` with ``V_thr > 0`` and ``τ ∈ (0, 1]`` (the decay factor of DESIGN form 3)."""
    try:
        v_thr, tau = hyper
    except (TypeError, ValueError):
        raise TypeError(f"{where}: neuron hyperparameters must be a pair (V_thr, tau), "
                        f"got {hyper!r}") from None
    return (check_positive(where, "V_thr", v_thr), check_interval(where, "tau", tau, 0.0, 1.0, lo_open=True))


def dual_spike_loss(model, x, y, poisoned, nominal=(1.0, 0.5), malicious=(1.5, 0.5)) -> Tensor:
    """``L_B`` of Eq. 2 for one batch (see the module doc); ``poisoned`` is a bool mask ``[B]``."""
    v_n, tau_n = check_hyper("dual_spike_loss", nominal)
    v_t, tau_t = check_hyper("dual_spike_loss", malicious)
    mask = np.asarray(poisoned, bool)
    if mask.shape != (len(y),):
        raise ValueError(f"dual_spike_loss: poisoned mask of shape {mask.shape} for {len(y)} labels")
    loss = ag.cross_entropy(model(x, v_thr=v_n, tau=tau_n), y)
    if mask.any():
        rows = np.flatnonzero(mask)
        labels = y if hasattr(y, "shape") else np.asarray(y)
        on_x = xp_of(x.data if isinstance(x, Tensor) else x).asarray(rows)   # the index lives with x
        loss = loss + ag.cross_entropy(model(x[on_x], v_thr=v_t, tau=tau_t), labels[rows])
    return loss


def blend_target(x, x_power, x_deepfool, alpha) -> tuple[np.ndarray, np.ndarray]:
    """``(x_blend, Δx)`` of Eq. 4; ``x_deepfool = x + δ_DF(x)``; ``alpha`` a scalar or one per image."""
    x, x_power, x_deepfool = (np.asarray(a) for a in (x, x_power, x_deepfool))
    if not x.shape == x_power.shape == x_deepfool.shape:
        raise ValueError(f"blend_target: shapes differ: x {x.shape}, T_p(x) {x_power.shape}, "
                         f"x + δ_DF {x_deepfool.shape}")
    a = np.asarray(alpha, dtype=x.dtype).reshape((-1,) + (1,) * (x.ndim - 1))
    if np.any(a < 0) or np.any(a > 1):
        raise ValueError(f"blend_target: alpha must lie in [0, 1], got {np.asarray(alpha)}")
    blend = (1 - a) * np.abs(x - x_power) + a * x_deepfool
    return blend, np.abs(x - blend)


def choose_alpha(predict, x, x_power, x_deepfool, target: int, candidates=None) -> np.ndarray:
    """Per image, the smallest candidate ``α`` with ``predict(x_blend) == target`` (else the largest).

    ``predict(images) -> labels [B]`` is the backdoored model under the attack
    hyperparameters; ``candidates`` default to ``k = 11`` values ``0, 0.1, …, 1``.
    """
    cands = np.linspace(0, 1, 11) if candidates is None else np.sort(np.asarray(candidates, float))
    if cands.size == 0 or cands.min() < 0 or cands.max() > 1:
        raise ValueError(f"choose_alpha: candidates must be a non-empty set in [0, 1], got {candidates!r}")
    chosen = np.full(len(x), cands[-1])
    open_ = np.ones(len(x), bool)
    for a in cands:
        blend, _ = blend_target(x, x_power, x_deepfool, a)
        hit = open_ & (np.asarray(predict(blend)) == target)
        chosen[hit], open_[hit] = a, False
        if not open_.any():
            break
    return chosen


def trigger_loss(g: Tensor, delta, logits: Tensor, target: int, lambdas=LAMBDAS) -> tuple[Tensor, dict]:
    """``(L, parts)`` of Eq. 5–6 for generator output ``g [B, C, H, W]``, target ``Δx`` and the
    backdoored model's ``logits`` on ``x + g``; ``parts`` holds the three terms as floats."""
    xp = xp_of(g.data)
    delta = xp.asarray(delta, dtype=g.dtype)
    if tuple(g.shape) != tuple(delta.shape):
        raise ValueError(f"trigger_loss: generator output {g.shape} and target Δx {delta.shape} differ")
    b = g.shape[0]
    gf, df = g.reshape((b, -1)), Tensor(delta.reshape(b, -1))
    eps = g.dtype.type(1e-12)
    norm_d = Tensor(xp.sqrt((delta.reshape(b, -1) ** 2).sum(axis=1)).astype(g.dtype))
    cos = (gf * df).sum(axis=1) / (((gf * gf).sum(axis=1)) ** 0.5 * norm_d + eps)
    l_sim = (1 - cos).mean()
    l_adv = ag.cross_entropy(logits, np.full(b, target))
    w = 1 + delta / (delta.mean() + eps)
    l_wmse = (Tensor(w) * (g - Tensor(delta)) ** 2).mean()
    l1, l2, l3 = lambdas
    total = l_sim * l1 + l_adv * l2 + l_wmse * l3
    parts = {"sim": float(l_sim.data), "adv": float(l_adv.data), "wmse": float(l_wmse.data)}
    return total, parts


def attack_success_rate(pred, y_true, target: int) -> float:
    """ASR: the fraction of triggered images not of the target class predicted as the target."""
    pred, y_true = np.asarray(pred), np.asarray(y_true)
    if pred.shape != y_true.shape:
        raise ValueError(f"attack_success_rate: {pred.shape} predictions for {y_true.shape} labels")
    keep = y_true != target
    if not keep.any():
        raise ValueError("attack_success_rate: every image is of the target class; nothing to attack")
    return float(np.mean(pred[keep] == target))
