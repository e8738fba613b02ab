"""One error type for every problem with a data file or its contents.

Every loader of ``data_tools`` and ``refsnn.io`` raises :class:`DataFormatError`
(or a subclass) when a file is missing a part, is truncated, corrupt, hostile
or of the wrong kind.  The message starts with the file and names the field at
fault, and the two are also kept as attributes, so a caller can report or
filter without parsing text::

    try:
        read_idx(path)
    except DataFormatError as err:
        print(err.path, err.field)

It subclasses ``ValueError`` so code written against the earlier per-format
errors (which now subclass it) keeps working.

>>> err = DataFormatError("header length", "is 9 bytes, past the end", path="w.safetensors")
>>> str(err), err.path, err.field
('w.safetensors: header length is 9 bytes, past the end', 'w.safetensors', 'header length')
"""

from __future__ import annotations

import os

__all__ = ["DataFormatError"]


class DataFormatError(ValueError):
    """A data file (or in-memory blob) is corrupt, truncated, hostile or of the wrong kind.

    ``DataFormatError(field, problem, path=None)`` reads ``"<path>: <field> <problem>"``;
    ``path`` defaults to ``"<bytes>"`` for in-memory data.  A single string
    argument is accepted as the whole message (``field`` and ``path`` then ``None``).
    """

    def __init__(self, field: str, problem: str | None = None, *, path=None):
        if problem is None:
            super().__init__(field)
            self.field, self.path = None, None if path is None else os.fspath(path)
            return
        self.path = "<bytes>" if path is None else os.fspath(path)
        self.field = field
        super().__init__(f"{self.path}: {field} {problem}")
