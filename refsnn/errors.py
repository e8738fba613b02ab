"""The error types refsnn raises on bad data and bad use, in one place.

- :class:`DataFormatError` (a ``ValueError``): a file or blob is corrupt, truncated,
  hostile or of the wrong kind; ``err.path`` and ``err.field`` say where.  Defined in
  :mod:`data_tools.errors` (the lowest layer) and raised by every loader of
  ``data_tools`` and :mod:`refsnn.io`.
- :class:`~refsnn.backend.BackendError`: an unknown or unavailable array backend, or
  arrays of two backends meeting in one operation.

>>> from refsnn.errors import DataFormatError
>>> issubclass(DataFormatError, ValueError)
True
"""

from __future__ import annotations

from data_tools.errors import DataFormatError
from refsnn.backend import BackendError

__all__ = ["DataFormatError", "BackendError"]
