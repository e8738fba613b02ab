"""TGO: threshold-guarding optimisation + noisy neurons, evaluated without gradient masking.

    python examples/tgo.py            # small Fashion-MNIST run (a few minutes on 2 cores)
    python examples/tgo.py --paper    # paper-scale widths and schedule (use REFSNN_BACKEND=cupy)

The same as ``refsnn reproduce tgo``; see :mod:`refsnn.studies.tgo`.
"""

from __future__ import annotations

from refsnn.backend import BackendError
from refsnn.studies.tgo import main

if __name__ == "__main__":
    try:
        main()
    except BackendError as exc:
        raise SystemExit(f"tgo: {exc}") from None
