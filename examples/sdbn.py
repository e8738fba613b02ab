"""SDBN security study ("Is Spiking Secure?"): noise robustness and the greedy black-box attack.

A thin wrapper: the study lives in :mod:`refsnn.studies.sdbn` (also ``refsnn reproduce sdbn``).

    python examples/sdbn.py                  # small defaults (MNIST-5k); timing in the README
    python examples/sdbn.py --paper          # the paper's settings
    python examples/sdbn.py --dataset fashion --n-train 4000
"""

from __future__ import annotations

from refsnn.studies.sdbn import main

if __name__ == "__main__":
    main()
