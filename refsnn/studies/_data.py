"""The studies' data: a seeded subset of an IDX directory, or the shipped sample when it is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from refsnn.datasets import load_idx_dataset, load_sample


def load_subsets(directory, n_train, n_test, seed, say):
    """``(x, y, x_test, y_test, source)``: ``n_train`` / ``n_test`` images drawn without replacement
    by ``default_rng(seed)`` (``None`` keeps all) from ``directory``'s IDX files; when the directory
    is absent, from the MNIST sample shipped with refsnn, and ``say`` tells the user so."""
    directory = Path(directory)
    if directory.is_dir():
        (x, y), (xt, yt) = load_idx_dataset(directory, "train"), load_idx_dataset(directory, "test")
        source = str(directory)
    else:
        (x, y), (xt, yt) = load_sample("train"), load_sample("test")
        source = f"shipped MNIST sample ({directory} not found)"
        say(f"note: {directory} is absent; using the MNIST sample shipped with refsnn instead")
    g = np.random.default_rng(seed)
    tr, te = g.permutation(len(x))[:n_train], g.permutation(len(xt))[:n_test]
    return x[tr], y[tr], xt[te], yt[te], source
