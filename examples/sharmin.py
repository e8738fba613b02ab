"""Sharmin et al.: FGSM/PGD on an ANN vs converted SNN vs surrogate-trained SNN (Tables 1-2, Figs 2, 4, 6).

    python examples/sharmin.py            # small CPU run on MNIST-5k (a few minutes on 2 cores)
    python examples/sharmin.py --paper    # the paper's settings (use REFSNN_BACKEND=cupy)

The same as ``refsnn reproduce sharmin``; see :mod:`refsnn.studies.sharmin`.
"""

from __future__ import annotations

from refsnn.backend import BackendError
from refsnn.studies.sharmin import main

if __name__ == "__main__":
    try:
        main()
    except BackendError as exc:
        raise SystemExit(f"sharmin: {exc}") from None
