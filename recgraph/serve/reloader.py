"""Hold the served ItemIndex and swap in a new artifact version when the pointer moves.

The served path may be

* an artifact directory,
* a symlink to one (roll out with ``ln -sfn v2 current.tmp && mv -T current.tmp current``), or
* a small text file whose first line names one (relative to the file's folder; replace the
  file atomically, e.g. write ``current.tmp`` and ``mv`` it over ``current``).

A background thread looks at the pointer every ``interval`` seconds (a readlink and a stat
of ``manifest.json``). When it changed, the new version is loaded *completely* (checksums
verified) before one reference assignment makes it current; requests already running keep
the :class:`Snapshot` they started with, so nothing in flight fails. A version that fails
to load is logged and skipped, and the old one stays in service; :attr:`IndexHolder.refused`
says which version was refused and why (``/healthz`` reports it) until a version loads or
the pointer goes back to the one being served.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from ..artifact import MANIFEST_FILE
from ..errors import ArtifactError
from ..index import ItemIndex
from .cache import DEFAULT_MAX_BYTES, ResponseCache

logger = logging.getLogger(__name__)

ARTIFACT_HEADER = "x-recgraph-artifact"
#: A refusal's reason is cut to this many characters (an exception text can be long).
MAX_REASON_CHARS = 500


class Signature(NamedTuple):
    """What identifies the version behind the pointer: the real directory and its manifest's stat."""

    directory: str
    inode: int
    mtime_ns: int
    size: int


class Snapshot:
    """One loaded artifact version with everything derived from it (id, header, response cache)."""

    def __init__(self, index: ItemIndex, signature: Signature, cache_size: int,
                 cache_bytes: int = DEFAULT_MAX_BYTES):
        self.index = index
        self.signature = signature
        self.artifact_id = index.artifact_id
        self.header = (ARTIFACT_HEADER.encode("latin-1"), self.artifact_id.encode("latin-1", "replace"))
        self.cache = ResponseCache(cache_size, cache_bytes)


def resolve_artifact_dir(path: str | os.PathLike) -> Path:
    """The real artifact directory behind ``path`` (a directory, a symlink or a pointer file)."""
    given = Path(path).expanduser()
    if given.is_file():
        try:
            first = given.read_text(encoding="utf-8").strip().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ArtifactError(f"Cannot read the pointer file {given} ({exc}).") from None
        if not first or not first[0].strip():
            raise ArtifactError(f"The pointer file {given} is empty; it should name an artifact directory.")
        target = Path(first[0].strip()).expanduser()
        if not target.is_absolute():
            target = given.parent / target
        if not target.is_dir():
            raise ArtifactError(f"{given} is a file, so it is read as a pointer file, but its first line names "
                                f"{target}, which is not a directory; pass an artifact directory or a pointer file "
                                "naming one.")
        return Path(os.path.realpath(target))
    return Path(os.path.realpath(given))


def read_signature(path: str | os.PathLike) -> Signature:
    """Resolve ``path`` and stat its manifest; raises ArtifactError or OSError when it cannot."""
    directory = resolve_artifact_dir(path)
    try:
        st = os.stat(directory / MANIFEST_FILE)
    except FileNotFoundError:
        raise ArtifactError(f"{path} (-> {directory}) holds no {MANIFEST_FILE}; it is not a recgraph artifact "
                            "or does not exist.") from None
    return Signature(str(directory), st.st_ino, st.st_mtime_ns, st.st_size)


class IndexHolder:
    """The current :class:`Snapshot` of the artifact at ``path``, reloaded when ``path`` moves.

    Parameters
    ----------
    path : artifact directory, symlink to one, or pointer file.
    interval : seconds between checks of the pointer by the background thread.
    cache_size : responses kept per version (0 = no response cache).
    cache_bytes : bytes the response cache of one version may hold.

    Attributes
    ----------
    refused : None, or the last version refused while an older one stays in service:
        ``{"path", "artifact_id", "reason", "at"}`` (``artifact_id`` None when its manifest
        cannot be read; ``at`` an ISO 8601 UTC time).
    """

    def __init__(self, path: str | os.PathLike, interval: float = 1.0, cache_size: int = 4096,
                 cache_bytes: int = DEFAULT_MAX_BYTES):
        self.path = Path(path).expanduser()
        self.interval = float(interval)
        self.cache_size = int(cache_size)
        self.cache_bytes = int(cache_bytes)
        self.refused: dict | None = None
        self._failed: Signature | None = None
        self._problem: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._check_lock = threading.Lock()
        self.current: Snapshot = self._load(read_signature(self.path))  # errors here are fatal on purpose

    def _load(self, signature: Signature) -> Snapshot:
        index = ItemIndex.load(signature.directory)
        snapshot = Snapshot(index, signature, self.cache_size, self.cache_bytes)
        # The files were verified above; make sure the manifest did not change while we read them.
        if read_signature(signature.directory) != signature:
            raise ArtifactError(f"{signature.directory} changed while it was being loaded; will try again.")
        return snapshot

    def check(self) -> bool:
        """Reload if the pointer names a new version; True when a new version went into service."""
        with self._check_lock:
            try:
                signature = read_signature(self.path)
            except (OSError, ArtifactError) as exc:
                # A pointer mid-switch (non-atomic ln -sf) or a removed directory: keep serving,
                # and say so once per distinct problem rather than every interval.
                if str(exc) != self._problem:
                    self._problem = str(exc)
                    logger.warning("cannot read %s (%s); still serving artifact %s",
                                   self.path, exc, self.current.artifact_id)
                return False
            self._problem = None
            if signature == self.current.signature:  # also after a roll-back from a refused version
                self._failed = self.refused = None
                return False
            if signature == self._failed:
                return False
            try:
                snapshot = self._load(signature)
            except Exception as exc:  # a broken version must never take the service down
                if self._unchanged(signature):  # else it moved under us: try the newer one next time
                    self._failed = signature
                    self.refused = _refusal(signature.directory, exc)
                logger.error("not switching to %s: %s; still serving artifact %s",
                             signature.directory, exc, self.current.artifact_id)
                return False
            old, self.current = self.current, snapshot  # one reference swap; in-flight requests keep `old`
            self._failed = self.refused = None
            logger.info("now serving artifact %s from %s (was %s)",
                        snapshot.artifact_id, signature.directory, old.artifact_id)
            return True

    def _unchanged(self, signature: Signature) -> bool:
        try:
            return read_signature(self.path) == signature
        except (OSError, ArtifactError):
            return False

    # ------------------------------------------------------------------ background thread
    def start(self) -> None:
        """Start the background thread that calls :meth:`check` every ``interval`` seconds."""
        if self._thread is not None or self.interval <= 0:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="recgraph-reloader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # keep watching whatever happens
                logger.exception("reload check failed")


def _refusal(directory: str, exc: BaseException) -> dict:
    """What ``/healthz`` reports about a refused version: where, which id (if readable) and why."""
    try:
        with open(Path(directory) / MANIFEST_FILE, encoding="utf-8") as fh:
            manifest = json.load(fh)
    except (OSError, ValueError, RecursionError):  # too broken to name its id: the path still says which
        manifest = None
    value = manifest.get("artifact_id") if isinstance(manifest, dict) else None
    artifact_id = value if isinstance(value, str) else None
    reason = str(exc) or type(exc).__name__
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[:MAX_REASON_CHARS - 3] + "..."
    return {"path": directory, "artifact_id": artifact_id, "reason": reason,
            "at": datetime.now(UTC).isoformat(timespec="seconds")}
