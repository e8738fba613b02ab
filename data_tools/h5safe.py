"""Read HDF5 objects from untrusted files: only this file's bytes, only what they can back.

HDF5 can make a tiny file read other files or allocate gigabytes:

- an **external link** opens an object in another file, a **soft link** points
  anywhere in this one;
- a dataset with **external storage** reads its bytes from any file named in it
  (``/etc/passwd`` loads into a weight); a **virtual dataset** maps other files;
- a **chunked dataset never written** (or written in part) reads as its fill
  value at the declared shape: a 7 KB file can declare 3 GB.

The functions here refuse all of those before reading a byte, with a
:class:`~data_tools.errors.DataFormatError` naming the file and the object:

- :func:`child` follows only hard links;
- :func:`read_dataset` refuses virtual datasets, external storage and
  variable-length or reference dtypes, then checks the bytes the dataset
  declares (shape x item size) against the bytes stored for it: equal or less
  without filters, at most ``MAX_RATIO`` times the stored bytes with filters
  (deflate cannot expand more than about 1032:1), and never more than the file;
- :func:`read_attr` does the same for an attribute (each element needs at
  least its in-file size).

These are the rules for *data* files (dataset caches, which may be chunked and
compressed).  refsnn's own checkpoints follow a stricter policy that fits the
one layout :func:`refsnn.io.save_checkpoint` writes (contiguous, unfiltered,
no aliasing, under an address-space cap): :mod:`refsnn.io.h5safe`.  Both
refuse links out of the file, external storage and virtual datasets.

>>> import h5py, numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "x.h5")
>>> with h5py.File(path, "w") as f:
...     _ = f.create_dataset("w", data=np.arange(3))
...     _ = f.create_dataset("huge", shape=(10**6, 10**3), chunks=(100, 100), dtype="f4")
>>> with h5py.File(path, "r") as f:
...     read_dataset(child(f, "w")).tolist()
[0, 1, 2]
>>> with h5py.File(path, "r") as f:
...     read_dataset(child(f, "huge"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
data_tools.errors.DataFormatError: ...x.h5: /huge declares 4000000000 bytes (shape (1000000, 1000) x 4), ...
"""

from __future__ import annotations

import math

import numpy as np

from data_tools.errors import DataFormatError

__all__ = ["child", "read_dataset", "read_attr", "check_dataset", "MAX_RATIO"]

MAX_RATIO = 1100  # bytes out per stored byte a filter pipeline may claim (deflate's limit ~1032)
_PLAIN_KINDS = "biufcSV"


def _file_of(obj) -> str:
    return obj.file.filename


def child(group, name: str):
    """``group[name]`` if ``name`` is a hard link (an object stored in this file), else an error."""
    import h5py

    link = group.get(name, getlink=True)
    where = f"{group.name.rstrip('/')}/{name}"
    if link is None:
        raise DataFormatError(where, "is missing", path=_file_of(group))
    if not isinstance(link, h5py.HardLink):
        target = getattr(link, "filename", None)
        what = f"an external link to {target}:{link.path}" if target else f"a soft link to {link.path}"
        raise DataFormatError(where, f"is {what}; only objects stored in this file are read",
                              path=_file_of(group))
    return group[name]


def _plain(dtype: np.dtype) -> bool:
    import h5py

    if dtype.hasobject or h5py.check_dtype(vlen=dtype) is not None or h5py.check_dtype(ref=dtype):
        return False
    if dtype.fields:
        return all(_plain(f[0]) for f in dtype.fields.values())
    if dtype.subdtype is not None:
        return _plain(dtype.subdtype[0])
    return dtype.kind in _PLAIN_KINDS


def check_dataset(ds, max_bytes: int | None = None) -> int:
    """The byte count ``ds`` declares, after every check of :func:`read_dataset`; reads nothing."""
    import h5py

    where, path = ds.name, _file_of(ds)

    def bad(problem):
        raise DataFormatError(where, problem, path=path)

    if not isinstance(ds, h5py.Dataset):
        bad(f"is a {type(ds).__name__}, not a dataset")
    if ds.is_virtual:
        bad("is a virtual dataset (it maps other files); refused")
    plist = ds.id.get_create_plist()
    if plist.get_external_count() > 0:
        name = plist.get_external(0)[0].decode("utf-8", "replace")
        bad(f"keeps its data in external file {name!r}; refused")
    if ds.shape is None:
        bad("has a null dataspace (no shape)")
    if not _plain(ds.dtype):
        bad(f"has dtype {ds.dtype} (variable-length, reference or object); only plain types are read")
    declared = math.prod(ds.shape) * ds.dtype.itemsize
    stored = ds.id.get_storage_size()
    filters = plist.get_nfilters() if plist.get_layout() == h5py.h5d.CHUNKED else 0
    if stored > ds.file.id.get_filesize() or declared > stored * (MAX_RATIO if filters else 1):
        kind = f"{filters} filter(s), at most {MAX_RATIO}x" if filters else "no filter"
        bad(f"declares {declared} bytes (shape {ds.shape} x {ds.dtype.itemsize}), the file stores "
            f"{stored} for it ({kind}; never-written or missing data?)")
    if max_bytes is not None and declared > max_bytes:
        bad(f"declares {declared} bytes, more than the {max_bytes} allowed here")
    return declared


def read_dataset(ds, max_bytes: int | None = None) -> np.ndarray:
    """``ds[()]`` as an ndarray after the checks above; read errors become DataFormatError."""
    check_dataset(ds, max_bytes)
    try:
        return np.asarray(ds[()])
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise DataFormatError(ds.name, f"cannot be read ({type(exc).__name__}: {str(exc)[:200]})",
                              path=_file_of(ds)) from None


def read_attr(obj, name: str, default=None):
    """Attribute ``name`` of ``obj`` (``default`` when absent), its size checked first."""
    import h5py

    if name not in obj.attrs:
        return default
    where, path = f"{obj.name} attribute {name!r}", _file_of(obj)
    try:
        attr = h5py.h5a.open(obj.id, name.encode())
        shape, dtype, stored = attr.shape, attr.dtype, attr.get_storage_size()
        in_file = dtype.itemsize if _plain(dtype) else 16  # vlen / string descriptors: 16 bytes
        if shape is not None and math.prod(shape) * in_file > stored:
            raise DataFormatError(where, f"declares shape {shape} but stores {stored} bytes", path=path)
        return obj.attrs[name]
    except DataFormatError:
        raise
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise DataFormatError(where, f"cannot be read ({type(exc).__name__}: {str(exc)[:200]})",
                              path=path) from None
