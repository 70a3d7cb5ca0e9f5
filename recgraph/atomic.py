"""Atomic writes: build beside the target, then rename, so a reader never sees half a file.

>>> write_json("runs/eval.json", {"rows": []})
>>> tmp = staging_dir(Path("runs/graph"))      # fill tmp, then:
>>> replace_dir(tmp, Path("runs/graph"))
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then rename."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
    with the permissions a plain ``mkdir`` would give (``mkdtemp`` makes it private)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    return tmp


def replace_dir(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an existing ``target`` is swapped out, then removed."""
    new, target = Path(new), Path(target)
    if not target.exists():
        os.rename(new, target)
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
