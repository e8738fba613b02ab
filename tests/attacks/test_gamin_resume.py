"""GAMIN resume: a run killed (SIGKILL) right after a checkpoint, resumed, ends bit-identical to an
uninterrupted run — against a stochastic SNN target, whose rate encoder state travels with the oracle —
and a checkpoint of another configuration is refused with nothing changed or overwritten.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from refsnn.attacks import Gamin, GaminConfig
from refsnn.io import checkpoint_step
from refsnn.models import GaminSNN
from refsnn.oracle import Oracle

ROOT = Path(__file__).resolve().parents[2]
N, C, B, STEPS = 16, 3, 6, 12

SETUP = f"""
import numpy as np
from refsnn.attacks import Gamin, GaminConfig
from refsnn.models import GaminSNN
from refsnn.oracle import Oracle

def build(path, **kw):
    target = GaminSNN(hidden=8, num_steps=4, rng=0, in_features={N}, num_classes={C})
    oracle = Oracle(target, budget=400, classes={C})
    cfg = dict(target_label=2, batch_size={B}, steps={STEPS}, noise_dim=4, gen_hidden=(8,), sur_hidden=(8,),
               lr_g=1e-2, lr_s=1e-2, log_every=0, checkpoint_every=4, seed=5, select_after=0.25)
    cfg.update(kw)
    return oracle, Gamin(oracle, {N}, {C}, GaminConfig(**cfg), checkpoint=path)
"""
namespace: dict = {}
exec(SETUP, namespace)
build = namespace["build"]


def same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(np.array_equal(sa[k], sb[k]) for k in sa)


def test_killed_run_resumes_to_the_bit_identical_result(tmp_path):
    ck = tmp_path / "run.h5"
    child = SETUP + f"""
import os, signal
def stop(step, path):
    if step == 8:
        os.kill(os.getpid(), signal.SIGKILL)
oracle, attack = build({str(ck)!r})
attack.on_checkpoint = stop
attack.run()
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert checkpoint_step(ck) == 8
    oracle, attack = build(ck)
    resumed = attack.run(resume=True)
    ref_oracle, ref_attack = build(tmp_path / "straight.h5")
    straight = ref_attack.run()
    assert oracle.queries_used == ref_oracle.queries_used == STEPS * 2 * B
    assert resumed.best_step == straight.best_step and resumed.m_global == straight.m_global
    for key in straight.history:
        np.testing.assert_array_equal(resumed.history[key], straight.history[key])
    for a, b in ((resumed.generator, straight.generator), (resumed.surrogate, straight.surrogate),
                 (resumed.last_generator, straight.last_generator),
                 (resumed.last_surrogate, straight.last_surrogate)):
        assert same_state(a, b)
    assert checkpoint_step(ck) == STEPS


def test_resume_from_another_configuration_is_refused_and_overwrites_nothing(tmp_path):
    ck = tmp_path / "run.h5"
    build(ck, steps=4)[1].run()
    before = ck.read_bytes()
    for change in ({"steps": 4, "lr_g": 2e-2}, {"steps": 4, "target_label": 1}, {"steps": 4, "seed": 6}):
        oracle, attack = build(ck, **change)
        with pytest.raises(ValueError, match="belongs to another configuration"):
            attack.run(resume=True)
        assert oracle.queries_used == 0 and ck.read_bytes() == before
    other = GaminSNN(hidden=8, num_steps=4, rng=1, in_features=N, num_classes=C)
    other_target = Oracle(other, 400, classes=C)
    cfg = GaminConfig(target_label=2, batch_size=B, steps=4, noise_dim=4, gen_hidden=(8,), sur_hidden=(8,),
                      lr_g=1e-2, lr_s=1e-2, log_every=0, checkpoint_every=4, seed=5, select_after=0.25)
    with pytest.raises(ValueError, match="another configuration"):
        Gamin(other_target, N, C, cfg, checkpoint=ck).run(resume=True)
    assert ck.read_bytes() == before
    with pytest.raises(ValueError, match="needs a checkpoint path"):
        build(None)[1].run(resume=True)
