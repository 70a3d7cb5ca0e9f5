"""Atomic writes: build beside the target, then rename, so a reader never sees half a file.

>>> write_json("runs/eval.json", {"rows": []})
>>> tmp = staging_dir(Path("runs/graph"))      # fill tmp, then:
>>> replace_dir(tmp, Path("runs/graph"))

Crash safety. Staging names carry the writing process's id (``.NAME.PID.XXXX.tmp``, and
``.NAME.old.PID`` for the copy being swapped out), so the next write to the same target
(:func:`recover`, run by :func:`staging_dir`) can tell a crashed run's leftovers from a live
one's: a staging entry whose process is gone is removed, and a swapped-out copy whose process
is gone is put back when the target is missing (a crash between the two renames) or removed
when the target is there. Each is logged. On Linux :func:`replace_dir` exchanges the two names
in one ``renameat2(RENAME_EXCHANGE)`` call, so there is no moment without the target at all.
"""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

logger = logging.getLogger(__name__)

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then rename."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; readers are other services
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`write_bytes` of ``text`` in UTF-8."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, payload) -> Path:
    """:func:`write_text` of ``payload`` as indented JSON with a final newline."""
    return write_text(path, json.dumps(payload, indent=2) + "\n")


def staging_dir(out: Path) -> Path:
    """A temporary directory beside ``out`` (same filesystem, so the final rename is atomic),
    with the permissions a plain ``mkdir`` would give (``mkdtemp`` makes it private).

    A crashed earlier write's leftovers beside ``out`` are dealt with first (:func:`recover`).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    recover(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    return tmp


def _process_gone(pid: int) -> bool:
    """True when no process ``pid`` runs on this machine (a live one of another user counts as running)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def recover(out: str | os.PathLike) -> list[str]:
    """Clean up after a write to ``out`` that a crash (``kill -9``, power loss) interrupted.

    - ``.NAME.old.PID`` of a process that is gone: renamed back to ``out`` when ``out`` is
      missing (the crash fell between the two renames of the swap), else removed (the swap
      had finished).
    - ``.NAME.PID.XXXX.tmp`` of a process that is gone: a half-built staging directory or
      file, removed.

    Entries of a process still running are left alone. Returns what was done, one sentence
    each, also logged as warnings.
    """
    out = Path(out).expanduser()
    parent = out.parent
    done: list[str] = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return done
    old = re.compile(rf"^\.{re.escape(out.name)}\.old\.(\d+)$")
    tmp = re.compile(rf"^\.{re.escape(out.name)}\.(\d+)\.[^/]+\.tmp$")
    for entry in sorted(entries):
        match = old.match(entry.name)
        if match and _process_gone(int(match.group(1))):
            if not out.exists() and not out.is_symlink():
                os.rename(entry, out)
                done.append(f"restored {out} from {entry.name}, left by an interrupted run (process "
                            f"{match.group(1)}) between the two renames of its swap")
            else:
                _remove(entry)
                done.append(f"removed {entry}, the previous copy of {out} an interrupted run "
                            f"(process {match.group(1)}) had swapped out")
    for entry in sorted(entries):
        match = tmp.match(entry.name)
        if match and _process_gone(int(match.group(1))) and (entry.exists() or entry.is_symlink()):
            _remove(entry)
            done.append(f"removed {entry}, the staging area of an interrupted run (process {match.group(1)})")
    for line in done:
        logger.warning("%s", line)
    return done


def _exchange(a: Path, b: Path) -> bool:
    """Swap the names ``a`` and ``b`` in one call (Linux ``renameat2`` with ``RENAME_EXCHANGE``);
    False where the system or the filesystem cannot, so the caller falls back to two renames."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # glibc before 2.28, musl: no wrapper
        return False
    renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), str(b))


def replace_dir(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an existing ``target`` is swapped out, then removed.

    On Linux the swap is one atomic exchange of the two names; elsewhere it is two renames,
    and a crash between them leaves the previous copy as ``.NAME.old.PID``, which the next
    write puts back (:func:`recover`).
    """
    new, target = Path(new), Path(target)
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now names the previous version
        return
    old = target.with_name(f".{target.name}.old.{os.getpid()}")
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)  # put the previous version back
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_dir(out: Path) -> Iterator[Path]:
    """Yield a staging directory for ``out``; on success it replaces ``out``, on error it is removed."""
    tmp = staging_dir(out)
    try:
        yield tmp
        replace_dir(tmp, Path(out))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
