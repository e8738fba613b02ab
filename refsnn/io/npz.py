"""NumPy ``.npz`` archives of state dicts, loaded without ever unpickling.

An ``.npz`` file is a zip archive with one ``<name>.npy`` member per array.
A ``.npy`` member may hold an *object* array, which NumPy stores as a pickle —
and unpickling runs whatever callable the file names.  :func:`load_npz`
therefore loads with ``allow_pickle=False`` and turns NumPy's refusal into a
ValueError naming the file and the member, so a hostile archive is rejected
before any of its code can run.

:func:`save_npz` writes the archive itself (``zipfile`` +
``numpy.lib.format.write_array``), so any parameter name is allowed —
``np.savez(file, **state)`` would choke on a key called ``file`` and silently
swallow one called ``allow_pickle`` — and writes atomically.

>>> import numpy as np, tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "w.npz")
>>> save_npz(p, {"fc1.weight": np.zeros((3, 2), np.float32)})
>>> load_npz(p)["fc1.weight"].shape
(3, 2)
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from refsnn.io.checkpoint import atomic_write, check_state


def load_npz(path) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` archive into a dict (archive order), never unpickling.

    Raises FileNotFoundError for a missing file and ValueError naming the file
    for anything that is not a pickle-free ``.npz`` archive: a plain ``.npy``
    or pickle file, a broken zip, or an object-dtype member.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"npz file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not an .npz archive (not a zip file)")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: cannot open .npz archive ({exc})") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):  # pragma: no cover - zip check above
        raise ValueError(f"{path}: not an .npz archive")
    state = {}
    with archive:
        for name in archive.files:
            try:
                arr = archive[name]
            except ValueError as exc:
                if "pickle" in str(exc).lower() or "object" in str(exc).lower():
                    raise ValueError(
                        f"{path}: member {name!r} is an object array, which would need unpickling "
                        "(arbitrary code execution); refusing to load it"
                    ) from exc
                raise ValueError(f"{path}: member {name!r} is corrupt ({exc})") from exc
            except (OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
                raise ValueError(f"{path}: member {name!r} is corrupt ({exc})") from exc
            state[name] = arr
    return state


def save_npz(path, state, *, compress: bool = False) -> None:
    """Write ``state`` (name -> numeric array) as an ``.npz`` archive, atomically.

    The path is used as given (NumPy's helpers would append ``.npz``).
    ``compress=True`` deflates each member.
    """
    state = check_state(state)
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_write(path) as tmp, zipfile.ZipFile(tmp, "w", compression=mode, allowZip64=True) as zf:
        for name, arr in state.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)
