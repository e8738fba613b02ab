"""GAMIN: black-box model inversion of an ANN and an SNN target (Poursiami et al., "Do Spikes Protect
Privacy?").

A thin wrapper around ``refsnn.studies.gamin.main`` (also ``refsnn reproduce gamin``); see that
module for what runs, the options and the files written under ``results/gamin/``.

    python examples/gamin.py                    # small settings, a few minutes on 2 cores
    python examples/gamin.py --paper            # hidden 3000, 1,280,000 queries per label
"""

from __future__ import annotations

from refsnn.backend import BackendError
from refsnn.studies.gamin import main

if __name__ == "__main__":
    try:
        main()
    except BackendError as exc:  # REFSNN_BACKEND unknown or not installed: the message says what to do
        raise SystemExit(f"gamin: {exc}") from None
