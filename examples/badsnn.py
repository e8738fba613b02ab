"""BadSNN: backdoor attacks through spiking-neuron hyperparameters (Tables 1-2, Fig. 3, PLIF ablation).

    python examples/badsnn.py            # small CPU run on Fashion-MNIST and DVS-emulated MNIST-5k
    python examples/badsnn.py --paper    # the paper's settings (use REFSNN_BACKEND=cupy)

The same as ``refsnn reproduce badsnn``; see :mod:`refsnn.studies.badsnn`.
"""

from __future__ import annotations

from refsnn.backend import BackendError
from refsnn.studies.badsnn import main

if __name__ == "__main__":
    try:
        main()
    except BackendError as exc:
        raise SystemExit(f"badsnn: {exc}") from None
