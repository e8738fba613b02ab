"""The greedy SD-weighted black-box attack of "Is Spiking Secure?" (Algorithm 1, Eq. 1–4).

A targeted, query-only attack on one image: inside an ``N × N`` search window
it perturbs, each iteration, the ``M`` pixels whose one-unit change raises the
gap between the target class and the strongest other class most, weighted by
how well the pixel's neighbourhood hides a change.  With ``X`` the original
image and ``X*`` the current adversarial one (both on the ``[lo, hi]`` range,
the window ``A`` at rows ``r0..r0+N-1``, columns ``c0..c0+N-1``)::

    Eq. 1  SD(x_ij) = max(ε, sqrt((Σ_{k,l∈A} (x_kl − μ)² − (x_ij − μ)²) / N²)),  μ = mean over A
    Eq. 2  D(X*, X) = Σ_{i,j∈A} |X*_ij − X_ij| / SD(X_ij)          (SD of the original image)
    Eq. 3  Gap(X*)  = P(target | X*) − max_{c ≠ target} P(c | X*)
    Eq. 4  argmax_{X*} Gap(X*)  subject to  D(X*, X) ≤ D_MAX

    per iteration (Algorithm 1):
      Gap±_ij = Gap(clip(X* ± δ·e_ij))           for every pixel of A   (2·N² queries, one batch)
      s_ij    = −1 if Gap−_ij > Gap+_ij else +1                         (per-pixel direction)
      VariationPriority_ij = (Gap^{s_ij}_ij − Gap(X*))·SD(x*_ij)       (SD of the current image)
      the M pixels of highest priority (stable order on ties) move by s_ij·δ, clipped to [lo, hi]
      stop before an update that would make D > D_MAX (the last image within D_MAX is the answer),
      at success (argmax P = target; ``stop_at_success``), when no selected pixel can move
      ("stalled"), or after ``max_iter`` iterations

``δ`` is 10 % of the range by default (the paper's "10 % of the pixel intensity
scale"), ``D_MAX = 22``.  Documented choices the paper leaves open: the floor
``ε = 0.01`` of Eq. 1 (a flat window would make ``D`` infinite; on the [0, 1]
scale 0.01 is 1 % of the range), ``D`` measured with the original image's SD
and the actual (clipped) change, the direction chosen per pixel, and the
window's default place: centred in the image.

Queries go only through a :class:`refsnn.oracle.Oracle` answering probability
rows: ``output="probs"`` (softmax of a DNN's logits) or ``output="logits"``
for a model whose raw answer already is a probability row (the SDBN's rate
shares, :meth:`refsnn.models.SDBN.predict_proba`; checked: rows ≥ 0 summing to
1).  Cost: 1 query for ``X``, then ``2·N² + 1`` per iteration, plus ``2·N²`` for
the Gap± batch of an update that is then refused (``D_MAX``) or impossible ("stalled").

>>> import numpy as np
>>> from refsnn.oracle import Oracle
>>> w = np.zeros((16, 2)); w[5, 1] = w[6, 1] = 8.0; w[2, 0] = 13.0   # class 1 reads pixels (1, 1), (1, 2)
>>> oracle = Oracle(lambda x: x.reshape(len(x), -1) @ w, budget=1000)
>>> x = np.tile([0.0, 0.5, 1.0, 0.5], (4, 1))
>>> res = GreedySD(oracle, n=3, m=2, center=(1, 1))(x, target=1)
>>> res.success, res.iterations, res.queries == 1 + res.iterations * (2 * 9 + 1)
(True, 1, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from refsnn.validation import check_finite

EPS_SD = 0.01  # Eq. 1 floor (1 % of the [0, 1] range)
D_MAX = 22.0  # the paper's maximal perceptual distance


def window_sd(patch: np.ndarray, eps: float = EPS_SD) -> np.ndarray:
    """Eq. 1 for every pixel of the ``[N, N]`` window ``patch``, floored at ``eps``."""
    patch = np.asarray(patch, np.float64)
    dev2 = (patch - patch.mean()) ** 2
    return np.maximum(np.sqrt(np.maximum(dev2.sum() - dev2, 0.0) / patch.size), eps)


def sd_distance(x_adv_patch, x_patch, sd) -> float:
    """Eq. 2: ``Σ |X* − X| / SD`` over the window (``sd`` from :func:`window_sd` of ``x_patch``)."""
    return float((np.abs(np.asarray(x_adv_patch, np.float64) - x_patch) / sd).sum())


def gap(p: np.ndarray, target: int) -> np.ndarray:
    """Eq. 3 per row of probabilities ``p [B, C]``: ``P(target) − max_{c≠target} P(c)``."""
    p = np.atleast_2d(np.asarray(p, np.float64))
    others = np.delete(p, target, axis=1)
    return p[:, target] - others.max(axis=1)


@dataclass
class GreedySDResult:
    """The attack's answer: ``x_adv`` (the input's shape), ``success`` (argmax P = target),
    ``iterations`` done, final ``distance`` (Eq. 2), ``queries`` used, ``stopped`` (why:
    "success", "d_max", "stalled", "max_iter"), ``window`` ``(row0, col0, N)`` and
    ``history``: one dict per state (iteration 0 = the original) with ``p`` (the
    probability row), ``label``, ``p_source`` (of the original prediction), ``p_target``,
    ``gap``, ``distance`` and ``queries`` used so far."""

    x_adv: np.ndarray
    success: bool
    iterations: int
    distance: float
    queries: int
    stopped: str
    window: tuple
    history: list = field(default_factory=list, repr=False)


class GreedySD:
    """Algorithm 1 (module docstring) against ``oracle``; call with ``(x, target)``.

    ``n`` window side, ``m`` pixels per iteration (``1 ≤ m ≤ n²``), ``delta`` the
    unit perturbation (default 10 % of ``value_range``), ``center`` ``(row, col)``
    of the window (default: the image centre; the window is ``n`` pixels from
    ``center − n//2``), ``eps`` Eq. 1's floor, ``image_shape`` ``(H, W)`` for flat inputs.
    """

    def __init__(self, oracle, n: int = 5, m: int = 10, delta: float | None = None, d_max: float = D_MAX,
                 eps: float = EPS_SD, center=None, value_range=(0.0, 1.0), image_shape=None,
                 stop_at_success: bool = True, max_iter: int = 1000):
        where = "GreedySD"
        if not callable(oracle) or not hasattr(oracle, "queries_used") or not hasattr(oracle, "output"):
            raise TypeError(f"{where}: oracle must be a refsnn.oracle.Oracle, got {type(oracle).__name__}")
        if oracle.output not in ("probs", "logits"):
            raise ValueError(f"{where}: the oracle answers {oracle.output!r}; the gap (Eq. 3) needs "
                             "probabilities (output='probs', or 'logits' of a probability-valued model)")
        lo, hi = (float(v) for v in value_range)
        if not hi > lo:
            raise ValueError(f"{where}: value_range must be (lo, hi) with hi > lo, got {value_range}")
        self.n, self.m = int(n), int(m)
        if self.n < 1:
            raise ValueError(f"{where}: window side N must be >= 1, got {n}")
        if not 1 <= self.m <= self.n * self.n:
            raise ValueError(f"{where}: M must lie in [1, N²] = [1, {self.n * self.n}] pixels of the "
                             f"{self.n}x{self.n} window, got M = {m}")
        self.delta = 0.1 * (hi - lo) if delta is None else float(delta)
        if not (np.isfinite(self.delta) and self.delta > 0):
            raise ValueError(f"{where}: delta (the unit perturbation) must be > 0, got {delta}")
        if not (d_max > 0 and eps > 0 and int(max_iter) >= 1):
            raise ValueError(f"{where}: need d_max > 0, eps > 0, max_iter >= 1; "
                             f"got {d_max}, {eps}, {max_iter}")
        self.oracle, self.d_max, self.eps, self.range = oracle, float(d_max), float(eps), (lo, hi)
        self.center, self.image_shape = center, image_shape
        self.stop_at_success, self.max_iter = bool(stop_at_success), int(max_iter)

    # ------------------------------------------------------------------ set-up
    def _image(self, x) -> np.ndarray:
        where = "GreedySD"
        x = np.asarray(x)
        if x.dtype.kind not in "fiu":
            raise TypeError(f"{where}: image must be numeric, got dtype {x.dtype}")
        x = x.astype(np.float64)
        check_finite(where, "image", x)
        shape = self.image_shape
        if shape is None:
            if x.ndim == 1 and int(np.sqrt(x.size)) ** 2 == x.size:
                shape = (int(np.sqrt(x.size)),) * 2
            elif x.ndim >= 2 and int(np.prod(x.shape[:-2], dtype=np.int64)) == 1:
                shape = x.shape[-2:]
            else:
                raise ValueError(f"{where}: one image [H, W], [1, H, W] or a square flat image expected "
                                 f"(or pass image_shape), got shape {x.shape}")
        if int(np.prod(shape)) != x.size:
            raise ValueError(f"{where}: image of {x.size} values does not fit image_shape {tuple(shape)}")
        lo, hi = self.range
        if x.min() < lo:
            raise ValueError(f"{where}: negative (below-range) pixel values: min {x.min():.4g} < {lo}; "
                             f"inputs are intensities on [{lo}, {hi}] (rates must be >= 0)")
        if x.max() > hi:
            raise ValueError(f"{where}: pixel values above the range: max {x.max():.4g} > {hi}")
        return x.reshape(shape)

    def _window(self, shape) -> tuple:
        H, W = shape
        if self.n > min(H, W):
            raise ValueError(f"GreedySD: window {self.n}x{self.n} is larger than the {H}x{W} image")
        cr, cc = (H // 2, W // 2) if self.center is None else (int(v) for v in self.center)
        r0, c0 = cr - self.n // 2, cc - self.n // 2
        if not (0 <= r0 <= H - self.n and 0 <= c0 <= W - self.n):
            raise ValueError(f"GreedySD: a {self.n}x{self.n} window centred at ({cr}, {cc}) leaves the "
                             f"{H}x{W} image (rows {r0}..{r0 + self.n - 1}, cols {c0}..{c0 + self.n - 1})")
        return r0, c0

    def _ask(self, images: np.ndarray, sample_shape) -> np.ndarray:
        p = np.asarray(self.oracle(images.reshape(len(images), *sample_shape)), np.float64)
        if self.oracle.output == "logits" and ((p < -1e-12).any()
                                               or not np.allclose(p.sum(1), 1, atol=1e-6)):
            raise ValueError("GreedySD: the oracle's 'logits' answers are not probability rows "
                             "(>= 0, sum 1); use output='probs' for a model that answers logits")
        return p

    # ------------------------------------------------------------------ Algorithm 1
    def __call__(self, x, target: int) -> GreedySDResult:
        sample_shape = np.shape(x)
        img = self._image(x)
        r0, c0 = self._window(img.shape)
        n, lo, hi = self.n, *self.range
        win = (slice(r0, r0 + n), slice(c0, c0 + n))
        sd0 = window_sd(img[win], self.eps)
        start = self.oracle.queries_used
        p = self._ask(img[None], sample_shape)[0]
        if not 0 <= int(target) < len(p):
            raise ValueError(f"GreedySD: target {target} is not a class in [0, {len(p)})")
        target, source = int(target), int(p.argmax())
        history = []

        def record(it, probs, dist):
            history.append(dict(iteration=it, p=probs.tolist(), label=int(probs.argmax()),
                                p_source=float(probs[source]), p_target=float(probs[target]),
                                gap=float(gap(probs, target)[0]), distance=dist,
                                queries=self.oracle.queries_used - start))

        record(0, p, 0.0)
        adv, dist, stopped, it = img.copy(), 0.0, "max_iter", 0
        rows, cols = np.divmod(np.arange(n * n), n)
        rows, cols = rows + r0, cols + c0
        while True:
            if self.stop_at_success and p.argmax() == target:
                stopped = "success"
                break
            if it >= self.max_iter:
                break
            batch = np.repeat(adv[None], 2 * n * n, axis=0)
            k = np.arange(n * n)
            batch[k, rows, cols] = np.clip(adv[rows, cols] + self.delta, lo, hi)
            batch[n * n + k, rows, cols] = np.clip(adv[rows, cols] - self.delta, lo, hi)
            g = gap(self._ask(batch, sample_shape), target)
            g_plus, g_minus = g[:n * n], g[n * n:]
            g_now = gap(p, target)[0]
            sign = np.where(g_minus > g_plus, -1.0, 1.0)
            gain = np.where(sign < 0, g_minus, g_plus) - g_now
            priority = gain * window_sd(adv[win], self.eps).ravel()
            pick = np.argsort(-priority, kind="stable")[:self.m]
            new = adv.copy()
            ri, ci = rows[pick], cols[pick]
            new[ri, ci] = np.clip(adv[ri, ci] + sign[pick] * self.delta, lo, hi)
            if np.array_equal(new, adv):
                stopped = "stalled"
                break
            d_new = sd_distance(new[win], img[win], sd0)
            if d_new > self.d_max:
                stopped = "d_max"
                break
            it += 1
            adv, dist = new, d_new
            p = self._ask(adv[None], sample_shape)[0]
            record(it, p, dist)
        return GreedySDResult(adv.reshape(sample_shape), bool(p.argmax() == target), it, dist,
                              self.oracle.queries_used - start, stopped, (r0, c0, n), history)
