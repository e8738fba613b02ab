"""Benchmark: GAMIN's cost — oracle queries per second (ANN and SNN targets) and attack wall time.

For each target of the paper's shape (784-H-10; ANN ReLU, SNN LIF β = 0.7,
T = 25 rate-coded steps; H = 3000, ``--quick`` 256) this measures

* ``oracle_qps``: samples per second answered by a :class:`refsnn.oracle.Oracle`
  for batches of 64 uniform random inputs (the X_S half of a GAMIN step; the
  SNN's cost grows with input spike density, ~0.5 here, and a digit's is ~0.13);
* ``attack_s_per_10k``: wall time of the whole attack (G and S forward and
  backward, both Adam steps, both oracle calls) per 10,000 queries, from a run
  of ``--steps`` GAMIN steps at the paper's batch 64 (128 queries a step) with
  GAMIN/BEGAN's default G (256-256) and S (256);
* ``projected_h``: that rate carried to the paper's 1,280,000 queries per label.
  Goal: under one hour for the MNIST SNN target on 2 cores.

Targets are randomly initialised (the cost does not depend on training, except
through the SNN's spike density, stated above).  Writes
``benchmarks/results/gamin.json`` and prints a table.

    python benchmarks/gamin.py            # H = 3000, 40 steps per target (a few minutes)
    python benchmarks/gamin.py --quick    # H = 256, 6 steps: a smoke run
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import numpy as np
from _util import machine, table, timeit, write

from refsnn.attacks import Gamin, GaminConfig
from refsnn.models import GaminSNN, gamin_ann
from refsnn.oracle import Oracle

PAPER_QUERIES = 1_280_000
GOAL_S = 3600.0


def build(kind: str, hidden: int):
    if kind == "ann":
        return gamin_ann(rng=0, hidden=hidden)
    return GaminSNN(hidden=hidden, num_steps=25, rng=0)


def measure(kind: str, hidden: int, steps: int, repeat: int) -> dict:
    target = build(kind, hidden)
    x = np.random.default_rng(0).random((64, 784), dtype=np.float32)
    oracle = Oracle(target, budget=10**9, classes=10)
    t = timeit(lambda: oracle(x), repeat=repeat, warmup=1)
    qps = 64 / t["median_s"]
    warm = GaminConfig(target_label=0, steps=1, log_every=0)  # first calls compile kernels: not timed
    Gamin(Oracle(target, budget=128, classes=10), 784, 10, warm).run()
    budget = steps * 128
    attack = Gamin(Oracle(target, budget=budget, classes=10), 784, 10,
                   GaminConfig(target_label=0, steps=steps, log_every=0))
    start = time.perf_counter()
    attack.run()
    wall = time.perf_counter() - start
    per_10k = wall * 10_000 / budget
    projected = per_10k * PAPER_QUERIES / 10_000
    return {"target": kind, "hidden": hidden, "oracle_qps": qps, "oracle_batch64_ms": 1e3 * t["median_s"],
            "attack_steps": steps, "attack_queries": budget, "attack_wall_s": wall,
            "attack_s_per_10k": per_10k, "projected_s": projected, "projected_h": projected / 3600,
            "goal_met": bool(projected < GOAL_S) if kind == "snn" else None}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="H = 256, 6 steps, 3 repeats: a smoke run")
    p.add_argument("--hidden", type=int, help="target hidden width (default 3000; quick 256)")
    p.add_argument("--steps", type=int, help="GAMIN steps timed per target (default 40; quick 6)")
    p.add_argument("--repeat", type=int, help="oracle timing repeats (default 7; quick 3)")
    p.add_argument("--out", help="folder for gamin.json (default benchmarks/results)")
    args = p.parse_args(argv)
    hidden = args.hidden or (256 if args.quick else 3000)
    steps = args.steps or (6 if args.quick else 40)
    repeat = args.repeat or (3 if args.quick else 7)
    rows = []
    for kind in ("ann", "snn"):
        rows.append(measure(kind, hidden, steps, repeat))
        r = rows[-1]
        print(f"{kind}: {r['oracle_qps']:.0f} queries/s, attack {r['attack_s_per_10k']:.1f} s per 10k "
              "queries, "
              f"projected {r['projected_h']:.2f} h for {PAPER_QUERIES:,}", flush=True)
    print(table(rows, ["target", "hidden", "oracle_qps", "oracle_batch64_ms", "attack_s_per_10k",
                       "projected_h", "goal_met"]))
    snn = rows[-1]
    print(f"MNIST SNN (hidden {hidden}{'' if hidden == 3000 else ', not the paper 3000'}), one label at the "
          f"paper's budget: {snn['projected_h']:.2f} h projected "
          f"({'meets' if snn['goal_met'] else 'misses'} the < 1 h goal on this machine)")
    results = {"benchmark": "gamin", "quick": args.quick, "machine": machine(), "rows": rows,
               "paper_queries": PAPER_QUERIES, "goal_s": GOAL_S}
    path = write("gamin", results, args.out)
    print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
