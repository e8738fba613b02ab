"""Reporting for the GAMIN study: the paper's Tables I/II, mean ± std over labels, the printed
table, the honest finding sentence and the PNG grid of inverted samples (Pillow).

>>> mean_std([1.0, 3.0])
{'mean': 2.0, 'std': 1.0}
>>> ann = {"m_global": {"mean": 1.0}, "a_t": {"mean": 90.0}, "a_sog": {"mean": 90.0}}
>>> snn = {"m_global": {"mean": 1.5}, "a_t": {"mean": 60.0}, "a_sog": {"mean": 70.0}}
>>> finding({"ann": ann, "snn": snn}, "MNIST-5k").startswith("MNIST-5k: the paper's finding shows")
True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Poursiami et al., Table I (target test accuracy, %) and Table II (mean ± std over labels).
PAPER_TABLE_I = {("MNIST", "ann"): 97.71, ("MNIST", "snn"): 97.67,
                 ("AT&T", "ann"): 95.00, ("AT&T", "snn"): 91.25}
PAPER_TABLE_II = {
    ("MNIST", "ann"): {"m_global": (1.0371, 0.12), "f_s": (0.8929, None), "a_s": (68.13, 6.9),
                       "a_sog": (100.0, None), "a_t": (100.0, None)},
    ("MNIST", "snn"): {"m_global": (1.4904, 0.58), "f_s": (0.9541, None), "a_s": (19.88, 4.7),
                       "a_sog": (70.0, None), "a_t": (70.0, None)},
    ("AT&T", "ann"): {"m_global": (3.4326, 0.33), "f_s": (0.9868, None), "a_s": (29.32, 6.6),
                      "a_sog": (92.5, None), "a_t": (97.5, None)},
    ("AT&T", "snn"): {"m_global": (3.9378, 0.65), "f_s": (0.9948, None), "a_s": (6.18, 4.5),
                      "a_sog": (37.5, None), "a_t": (49.2, None)},
}
METRICS = ("m_global", "m_global_began", "f_s", "a_s", "a_sog", "a_t")


def mean_std(values) -> dict:
    """``{"mean", "std"}`` (population std, ``ddof=0``) of a list of floats."""
    a = np.asarray(values, np.float64)
    return {"mean": float(a.mean()), "std": float(a.std())}


def _fmt(mean, std, digits):
    return f"{mean:.{digits}f}" + ("" if std is None else f" ± {std:.{digits if digits < 3 else 2}f}")


def table(results: dict) -> str:
    """The comparison table: one row per (data set, target), ours then the paper's row it stands for."""
    head = (f"{'data / target':<26}{'test acc %':>11}  {'M_global':>15}  {'M (BEGAN)':>15}  {'F_S':>7}  "
            f"{'A_S %':>13}  {'A_SoG %':>13}  {'A_T %':>13}")
    lines = [head, "-" * len(head)]
    digits = {"m_global": 4, "m_global_began": 4, "f_s": 4, "a_s": 2, "a_sog": 1, "a_t": 1}
    for ds, per_target in results.items():
        for kind, r in per_target["targets"].items():
            s = r["summary"]
            cells = [_fmt(s[m]["mean"], s[m]["std"] if m != "f_s" else None, digits[m]) for m in METRICS]
            lines.append(f"{ds + ' ' + kind.upper() + ' (ours)':<26}{100 * r['test_accuracy']:>11.2f}  "
                         f"{cells[0]:>15}  {cells[1]:>15}  {cells[2]:>7}  {cells[3]:>13}  {cells[4]:>13}  "
                         f"{cells[5]:>13}")
            paper = per_target["paper_dataset"]
            p = PAPER_TABLE_II[(paper, kind)]
            pc = [_fmt(*p[m], digits[m]) if m in p else "-" for m in METRICS]
            name = "  paper " + paper + " " + kind.upper()
            lines.append(f"{name:<26}{PAPER_TABLE_I[(paper, kind)]:>11.2f}  "
                         f"{pc[0]:>15}  {pc[1]:>15}  {pc[2]:>7}  {pc[3]:>13}  {pc[4]:>13}  {pc[5]:>13}")
    return "\n".join(lines)


def finding(summaries: dict, dataset: str) -> str:
    """One honest sentence: does the SNN show lower A_T and A_SoG and higher M_global than the ANN?"""
    if not {"ann", "snn"} <= set(summaries):
        return f"{dataset}: the finding needs both an ANN and an SNN target; only {sorted(summaries)} ran."
    a, s = summaries["ann"], summaries["snn"]
    checks = {"A_T is lower": s["a_t"]["mean"] < a["a_t"]["mean"],
              "A_SoG lower": s["a_sog"]["mean"] < a["a_sog"]["mean"],
              "M_global higher": s["m_global"]["mean"] > a["m_global"]["mean"]}
    detail = (f"A_T {s['a_t']['mean']:.1f} vs {a['a_t']['mean']:.1f}, A_SoG {s['a_sog']['mean']:.1f} vs "
              f"{a['a_sog']['mean']:.1f}, M_global {s['m_global']['mean']:.3f} vs "
              f"{a['m_global']['mean']:.3f}")
    if all(checks.values()):
        return (f"{dataset}: the paper's finding shows — against the SNN, A_T is lower "
                f"({s['a_t']['mean']:.1f} vs {a['a_t']['mean']:.1f}), A_SoG lower "
                f"({s['a_sog']['mean']:.1f} vs {a['a_sog']['mean']:.1f}) and M_global higher "
                f"({s['m_global']['mean']:.3f} vs {a['m_global']['mean']:.3f}) than against the ANN.")
    held = [k for k, v in checks.items() if v]
    failed = [k for k, v in checks.items() if not v]
    return (f"{dataset}: the paper's finding does not fully show — SNN vs ANN: {detail}; holds: "
            f"{', '.join(held) or 'none'}; fails: {', '.join(failed)} (a small budget; see --paper).")


def save_grid(path: Path, rows: list[np.ndarray], shape: tuple[int, int], scale: int = 2) -> None:
    """PNG grid: one row per label, one column per sample; ``rows[i]`` is ``[n, h·w]`` in ``[0, 1]``."""
    from PIL import Image

    h, w = shape
    n = max(len(r) for r in rows)
    pad = 2
    canvas = np.full((len(rows) * (h + pad) + pad, n * (w + pad) + pad), 255, np.uint8)
    for i, r in enumerate(rows):
        for j, img in enumerate(r):
            tile = (np.clip(np.asarray(img, np.float64).reshape(h, w), 0, 1) * 255).round().astype(np.uint8)
            y0, x0 = pad + i * (h + pad), pad + j * (w + pad)
            canvas[y0:y0 + h, x0:x0 + w] = tile
    image = Image.fromarray(canvas, mode="L")
    if scale > 1:
        image = image.resize((canvas.shape[1] * scale, canvas.shape[0] * scale), Image.NEAREST)
    image.save(path)
