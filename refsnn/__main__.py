"""``python -m refsnn ...`` runs the ``refsnn`` command (see :mod:`refsnn.cli`)."""

import sys

from refsnn.cli import main

if __name__ == "__main__":
    sys.exit(main())
