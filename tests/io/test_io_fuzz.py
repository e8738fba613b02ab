"""Property-based fuzzing of the refsnn.io parsers, each in one memory-capped subprocess.

``tests/io/fuzz_harness.py`` mutates valid files (byte flips, truncations, insertions,
deletions, edge-value integer overwrites, format-aware header edits) with hypothesis and
requires, for every mutant, either a load whose arrays the file's bytes can back (peak
allocation by tracemalloc included) and that an independent reader reproduces, or a
``DataFormatError`` naming the file — under ``RLIMIT_AS`` = 1 GiB, so a multi-GB allocation
fails the run.  Default run: 300 examples per parser (a few seconds each); ``-m slow``: 20,000.
"""

from __future__ import annotations

import pytest

from tests.io.fuzz_harness import run_fuzz

PARSERS = ["safetensors", "npz", "h5"]
MEM_MB = 1024


def _check(report: dict, examples: int) -> None:
    print(report)  # the counts and peak memory, visible with pytest -s
    assert report["ok"], report["failure"]
    assert report["examples"] == examples
    assert report["refusals"] > 0 and report["loads"] > 0  # the mutations reach both outcomes
    assert report["peak_rss_mb"] < 256  # far below the cap (hypothesis itself grows ~5 MB per 1000 examples)
    assert 0 < report["max_load_alloc_kb"] < 16 * 1024  # also checked per example in the harness


@pytest.mark.parametrize("parser", PARSERS)
def test_fuzz_parser(parser):
    _check(run_fuzz(parser, 300, seed=0, mem_mb=MEM_MB), 300)


@pytest.mark.slow
@pytest.mark.parametrize("parser", PARSERS)
def test_fuzz_parser_long(parser):
    _check(run_fuzz(parser, 20_000, seed=1, mem_mb=MEM_MB, timeout=3600), 20_000)


def test_harness_catches_a_loader_without_the_checks():
    """NumPy's own npz reader raises its own exception types on mutants: the harness must fail it."""
    report = run_fuzz("npz-numpy", 100, seed=0, mem_mb=MEM_MB)
    assert not report["ok"]
    assert "DataFormatError" not in report["failure"].splitlines()[-1]
