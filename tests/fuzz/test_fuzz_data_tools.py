"""Property-based fuzzing of the data_tools parsers, each in a memory-capped child process.

Default run: ``FAST`` examples per parser (a few seconds each). ``pytest -m slow``:
``LONG`` examples per parser. Every example is a valid file the target writes,
then mutated; it must load correctly or raise the project's DataFormatError
naming the file — never another exception, never past the memory cap.
Set ``REFSNN_FUZZ_REPORT=<file>`` to append each run's JSON report there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fuzz_util import run_fuzz

TARGETS_FILE = Path(__file__).with_name("targets_data_tools.py")
PARSERS = ["idx_raw", "idx_gzip", "cifar_binary", "cifar_pickle", "pgm_ppm", "gtsrb", "hdf5_cache"]
FAST, LONG = 300, 5000
FAST_OF = {"hdf5_cache": 200}  # each cache example writes and rewrites an HDF5 file
MEM_CAP_MB = 1024


def _check(parser: str, examples: int, seed: int) -> dict:
    report = run_fuzz(TARGETS_FILE, parser, examples, seed=seed, mem_mb=MEM_CAP_MB)
    out = os.environ.get("REFSNN_FUZZ_REPORT")
    if out:
        with open(out, "a") as handle:
            handle.write(json.dumps(report) + "\n")
    assert report["failure"] is None, report["failure"]
    assert report["returncode"] == 0
    assert report["examples"] >= examples
    # both outcomes occur: the mutations reach past the header checks and trip them too
    assert report["outcomes"].get("ok", 0) > 0 and report["outcomes"].get("refused", 0) > 0, report
    assert report["peak_rss_mb"] < MEM_CAP_MB
    return report


@pytest.mark.parametrize("parser", PARSERS)
def test_fuzz_fast(parser):
    _check(parser, FAST_OF.get(parser, FAST), seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("parser", PARSERS)
def test_fuzz_long(parser):
    _check(parser, LONG, seed=1)


def test_harness_cap_and_failures_are_reported(tmp_path):
    """The harness can fail: an allocation past the cap and a foreign exception both come back."""
    targets = tmp_path / "targets_hog.py"
    targets.write_text(
        "import numpy as np\n"
        "def hog(data, workdir):\n"
        "    return str(np.ones(3 << 30, np.uint8).sum())\n"
        "def boom(data, workdir):\n"
        "    raise KeyError('not a DataFormatError')\n"
        "TARGETS = {'hog': hog, 'boom': boom}\n")
    hog = run_fuzz(targets, "hog", 3, mem_mb=MEM_CAP_MB)
    assert hog["returncode"] == 1 and "MemoryError" in hog["failure"]
    assert hog["peak_rss_mb"] < MEM_CAP_MB
    boom = run_fuzz(targets, "boom", 3, mem_mb=MEM_CAP_MB)
    assert boom["returncode"] == 1 and "KeyError: 'not a DataFormatError'" in boom["failure"]
