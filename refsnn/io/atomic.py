"""Atomic, kill-safe file writes and checks of an output path before any work is done.

:func:`atomic_write` writes to a temporary file next to the target and renames
it over the target with :func:`os.replace` only after the body succeeded and
the data was fsync'ed, so a crash or a kill at any moment leaves either the
old file or the new one, never a half-written one.

Temporary files are named after their target and the writing process::

    .<target name>.refsnn-<host>-<pid>-<8 random chars>.tmp

A kill (SIGKILL, power loss) leaves such a file behind.  The next
:func:`atomic_write` of the *same* target removes the temporaries of that
target written on this host by a process that no longer runs.  A temporary
of another target never matches (the name must be exactly the pattern above,
with this target's name); one whose process is alive — another save in
progress — or that another host wrote (a shared file system) is left alone.

Every ``OSError`` names the path that was asked for, not the temporary one.

>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> with atomic_write(os.path.join(d, "out.bin")) as tmp:
...     _ = open(tmp, "wb").write(b"ok")
>>> sorted(os.listdir(d))
['out.bin']
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
from pathlib import Path

__all__ = ["atomic_write", "check_writable", "temp_name", "stale_temps"]

_TEMP_TAIL = re.compile(r"refsnn-([A-Za-z0-9_-]{1,32})-(\d{1,10})-([0-9a-z]{8})\.tmp")


def host_tag() -> str:
    """This machine's name as it appears in temporary names (``[A-Za-z0-9_-]``, at most 32 chars)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:32] or "host"


def temp_name(target: Path, pid: int | None = None) -> Path:
    """A fresh temporary path for ``target``: ``.<name>.refsnn-<host>-<pid>-<random>.tmp`` beside it."""
    target = Path(target)
    pid = os.getpid() if pid is None else pid
    token = "".join(secrets.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(8))
    return target.with_name(f".{target.name}.refsnn-{host_tag()}-{pid}-{token}.tmp")


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # never ours to judge
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists (another user's) or cannot tell: keep the file
    return True


def stale_temps(target) -> list[Path]:
    """Temporaries of ``target`` (see the module doc) written on this host by a process now gone."""
    target = Path(target)
    directory = target.parent if str(target.parent) else Path(".")
    prefix, host = f".{target.name}.", host_tag()
    found = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    for entry in entries:
        name = entry.name
        if not name.startswith(prefix):
            continue
        match = _TEMP_TAIL.fullmatch(name[len(prefix):])
        if match is None or match.group(1) != host or _pid_alive(int(match.group(2))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                found.append(directory / name)
    return found


def _remove_stale(target: Path) -> None:
    for tmp in stale_temps(target):
        with contextlib.suppress(OSError):
            tmp.unlink()


def _named(exc: OSError, path: Path, action: str) -> OSError:
    """The same kind of OSError, naming the requested path instead of the temporary one."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    new = type(exc)(exc.errno, f"cannot {action} {path}: {reason}") if exc.errno else \
        OSError(f"cannot {action} {path}: {reason}")
    new.filename = str(path)
    return new


def check_writable(path, extensions=None) -> Path:
    """Check, before any work, that ``path`` can be written; return it as a Path.

    Raises ``ValueError`` for an extension not in ``extensions`` (when given),
    ``IsADirectoryError`` for a directory, ``FileNotFoundError`` for a missing
    parent directory and ``PermissionError`` for a directory that is not
    writable — each naming ``path``.
    """
    path = Path(path)
    if extensions is not None and path.suffix.lower() not in extensions:
        raise ValueError(f"{path}: unsupported extension {path.suffix or '(none)'!r}; "
                         f"supported: {', '.join(extensions)}")
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a directory")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot write {path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: directory {directory} is not writable")
    return path


@contextlib.contextmanager
def atomic_write(path):
    """Yield a temporary path next to ``path``; on success rename it over ``path``.

    The temporary file lives in the same directory (so :func:`os.replace` is an
    atomic rename on POSIX and Windows), is fsync'ed before the rename, and is
    removed if the body raises anything, KeyboardInterrupt included.  An
    existing target keeps its permission bits; a new one gets 0o644.  Stale
    temporaries of the same target left by killed writers are removed first.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot write {path}: directory {directory} does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a directory")
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    except OSError as exc:
        raise _named(exc, path, "write") from exc
    _remove_stale(path)
    tmp = temp_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise _named(exc, path, "write") from exc
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and str(tmp) in str(exc):
            raise _named(exc, path, "write") from exc
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX only)
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
