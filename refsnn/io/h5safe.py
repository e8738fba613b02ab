"""Reading an HDF5 file that may be hostile: bounded memory, nothing outside the file.

HDF5 can make a tiny file expand or reach out: a dataset whose declared shape
has no data behind it (a never-written or chunked dataset is read as its fill
value — a 7 KB file can declare gigabytes), *external storage* (a dataset
whose bytes live in another file, e.g. ``/etc/passwd``), *virtual datasets*
(mapped from other files), *external links* (an object in another file),
*soft links*, filters (which may load plugins), and hard links that make one
object appear many times (a cycle, or the same megabyte read a thousand
times).  :class:`SafeH5` walks a file written by :func:`save_checkpoint` and
refuses, before reading any data, everything it never writes:

* links: only hard links; each object may be reached once (no aliases, no cycles),
  and trees nest at most :data:`MAX_DEPTH` levels;
* datasets: layout *compact* or *contiguous*, no external storage, no filters, a
  numeric (or, in trees, a scalar string) dtype, and a stored size equal to
  ``prod(shape) · itemsize``; contiguous data lies inside the file and does not
  overlap any other dataset's data — so the arrays read never total more
  bytes than the file holds;
* attributes: read only when scalar (or one-element) and of a bounded size;
* heaps: libhdf5 allocates a global heap collection (variable-length strings) or a
  local heap (group names) at the size its header declares, before checking it;
  loads run under :func:`memory_cap`, so a lying header fails inside the library.
  (A scan of the file's bytes for heap signatures was tried and dropped: array data
  that happens to spell ``GCOL``/``HEAP`` would refuse valid large checkpoints.)

Every refusal is a :class:`~refsnn.errors.DataFormatError` naming the file and
the object.

Data files (caches that may be chunked and compressed) are read under the
looser rules of :mod:`data_tools.h5safe`, which bound a filtered dataset's
declared size by the stored bytes instead of refusing filters.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import h5py
import numpy as np
from h5py import h5d, h5l

from refsnn.errors import DataFormatError

MAX_DEPTH = 32
MAX_ATTR_BYTES = 1 << 24  # a config attribute larger than 16 MiB is refused
_LAYOUTS = {h5d.COMPACT: "compact", h5d.CONTIGUOUS: "contiguous"}
_LINK_KINDS = {h5l.TYPE_SOFT: "a soft link", h5l.TYPE_EXTERNAL: "an external link"}


@contextlib.contextmanager
def memory_cap(file_size: int):
    """Cap this process's address space at its current size + 8x ``file_size`` + 256 MiB while
    libhdf5 reads a file (Linux; a no-op elsewhere or when a lower cap is already set).

    libhdf5 allocates some buffers at sizes the file declares before checking them — the
    length of a variable-length string *attribute* is one (a flipped byte asks for 1.5 GB), and
    its bytes cannot be inspected from Python before the library reads them.  Under the cap such
    a request fails inside the library, which reports an error (a DataFormatError here) instead
    of filling gigabytes.  The cap is process-wide for the duration of the load.
    """
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/status") as fh:
            vm = next(int(ln.split()[1]) * 1024 for ln in fh if ln.startswith("VmSize:"))
    except (ImportError, OSError, StopIteration, ValueError):
        yield
        return
    cap = vm + 8 * file_size + (256 << 20)
    if (soft != resource.RLIM_INFINITY and soft <= cap) or (hard != resource.RLIM_INFINITY and hard < cap):
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class SafeH5:
    """Checked access to one open ``h5py.File`` (see the module doc)."""

    def __init__(self, f: h5py.File, path):
        self.f, self.path = f, Path(path)
        self.file_size = self.path.stat().st_size
        self._seen: set = set()
        self._regions: list[tuple[int, int, str]] = []

    def fail(self, field: str, problem: str) -> DataFormatError:
        return DataFormatError(field, problem, path=self.path)

    # ------------------------------------------------------------------ links
    def has(self, group, name: str) -> bool:
        """Whether ``group`` has a link ``name`` (without following it)."""
        return bool(group.id.links.exists(name.encode("utf-8", "surrogateescape")))

    def child(self, group, name: str, where: str):
        """``group[name]`` after checking it is a hard link to an object not seen before."""
        info = group.id.links.get_info(name.encode("utf-8", "surrogateescape"))
        if info.type != h5l.TYPE_HARD:
            kind = _LINK_KINDS.get(info.type, f"a link of type {info.type}")
            raise self.fail(where, f"is {kind}; only plain (hard-linked) objects are read")
        obj = group[name]
        if not isinstance(obj, (h5py.Group, h5py.Dataset)):
            raise self.fail(where, f"is a {type(obj).__name__}, expected a group or a dataset")
        key = hash(obj.id)
        if key in self._seen:
            raise self.fail(where, "is a second link to an object already read (aliasing or a cycle)")
        self._seen.add(key)
        return obj

    def names(self, group) -> list[str]:
        """The link names of ``group`` (listing follows no link)."""
        return list(group)

    # ------------------------------------------------------------------ attributes
    def attr(self, obj, name: str, where: str, default=None):
        """A scalar attribute of ``obj`` (bytes decoded as UTF-8), or ``default`` when absent."""
        if name not in obj.attrs:
            return default
        aid = obj.attrs.get_id(name)
        field = f"{where} attribute {name!r}"
        if math.prod(aid.shape or ()) > 1:
            raise self.fail(field, f"has shape {aid.shape}; expected a scalar")
        if aid.get_storage_size() > MAX_ATTR_BYTES:
            raise self.fail(field, f"is {aid.get_storage_size()} bytes; the limit is {MAX_ATTR_BYTES}")
        value = obj.attrs[name]
        if isinstance(value, np.ndarray):
            value = value.reshape(-1)[0] if value.size else default
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise self.fail(field, f"is not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
        if isinstance(value, str) and len(value) > MAX_ATTR_BYTES:
            raise self.fail(field, f"is {len(value)} characters; the limit is {MAX_ATTR_BYTES}")
        return value

    def int_attr(self, obj, name: str, where: str):
        value = self.attr(obj, name, where)
        if value is None:
            return None
        if not isinstance(value, (np.integer, int)) or isinstance(value, (bool, np.bool_)):
            raise self.fail(f"{where} attribute {name!r}", f"must be an integer, got {value!r}")
        return int(value)

    # ------------------------------------------------------------------ datasets
    def check_dataset(self, ds, where: str, strings: bool = False) -> None:
        """Refuse a dataset whose data is not stored plainly inside the file (see the module doc)."""
        dtype = ds.dtype
        is_str = h5py.check_string_dtype(dtype) is not None
        if is_str and not (strings and ds.shape == ()):
            raise self.fail(where, f"has a string dtype and shape {ds.shape}; expected numbers")
        if not is_str and (dtype.kind not in "biufc" or dtype.subdtype is not None or dtype.fields):
            raise self.fail(where, f"has dtype {dtype}; only bool, integer, float and complex are read")
        dcpl = ds.id.get_create_plist()
        layout = dcpl.get_layout()
        if layout not in _LAYOUTS:
            kind = {h5d.CHUNKED: "chunked", h5d.VIRTUAL: "virtual (mapped from other files)"}.get(
                layout, f"of layout {layout}")
            raise self.fail(where, f"is {kind}; only compact and contiguous datasets are read")
        if dcpl.get_external_count():
            raise self.fail(where, "keeps its data in external files; refusing to read outside the file")
        if dcpl.get_nfilters():
            raise self.fail(where, "has filters (compression); refsnn checkpoints have none")
        shape = ds.shape
        if shape is None:
            raise self.fail(where, "has a null dataspace")
        nbytes = math.prod(shape) * dtype.itemsize
        stored = ds.id.get_storage_size()
        if is_str and dtype.kind == "O":  # one variable-length string: a <= 16-byte heap reference
            nbytes = stored if stored <= 16 else nbytes
            self._check_vlen_length(ds, where)
        if nbytes and stored != nbytes:
            raise self.fail(where, f"declares shape {shape} of {dtype} ({nbytes} bytes) but stores "
                                   f"{stored} bytes (never written or truncated)")
        if layout == h5d.CONTIGUOUS and nbytes:
            offset = ds.id.get_offset()
            if offset is None or offset + nbytes > self.file_size:
                raise self.fail(where, f"data at offset {offset} of {nbytes} bytes lies outside the "
                                       f"{self.file_size}-byte file")
            for begin, end, other in self._regions:
                if offset < end and begin < offset + nbytes:
                    raise self.fail(where, f"data overlaps the data of {other}")
            self._regions.append((offset, offset + nbytes, where))

    def _check_vlen_length(self, ds, where: str) -> None:
        """A variable-length string's stored length (the first 4 bytes of its heap reference) must
        fit in the file: libhdf5 allocates that many bytes before it looks at the heap."""
        offset = ds.id.get_offset()
        if ds.id.get_create_plist().get_layout() != h5d.CONTIGUOUS or offset is None:
            raise self.fail(where, "is a variable-length string not stored contiguously")
        with open(self.path, "rb") as fh:
            fh.seek(offset)
            raw = fh.read(4)
        length = int.from_bytes(raw, "little") if len(raw) == 4 else None
        if length is None or length > self.file_size:
            raise self.fail(where, f"is a string declaring {length} bytes, more than the file holds")

    def read_dataset(self, ds, where: str, strings: bool = False):
        """The checked dataset's contents: an ndarray, or a str for a scalar string dataset."""
        self.check_dataset(ds, where, strings)
        if h5py.check_string_dtype(ds.dtype) is not None:
            value = ds[()]
            if isinstance(value, bytes):
                try:
                    value = value.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise self.fail(where, f"is not valid UTF-8 ({exc.reason})") from exc
            return value
        return np.asarray(ds[()])
