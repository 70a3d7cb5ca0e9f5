"""Files through Hadoop's FileSystem API (local, ``hdfs://``, ``s3a://`` alike), and the graph
output for paths off this machine.

A graph directory on this machine goes through :class:`recgraph.graph_store.LocalOutput`
like the numpy engine's; :class:`HadoopOutput` is the same contract (checked target,
staging directory beside it, manifest last, swap) for the file systems only Spark reaches.
On object stores a directory rename is a copy, not atomic: readers check for
``manifest.json``, which is written last.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Iterator

from ...errors import ArtifactError
from ...graph_store import GRAPH_DIR_WHAT, MANIFEST_FILE, is_graph_entry, is_graph_manifest
from .failures import SparkEngineError


class HadoopFS:
    """The Hadoop FileSystem of one path, through the JVM (works for file://, hdfs://, s3a://...)."""

    def __init__(self, spark, path: str):
        jvm = spark._jvm
        self._jvm = jvm
        self._Path = jvm.org.apache.hadoop.fs.Path
        self.root = self._Path(path)
        self.fs = self.root.getFileSystem(spark._jsc.hadoopConfiguration())
        self.local = self.fs.getScheme() == "file"
        # The local file system hides its .crc side files from listings; the raw one shows them.
        self.raw = self.fs.getRawFileSystem() if self.local else self.fs

    def path(self, path: str):
        return self._Path(path)

    def qualified(self, path: str) -> str:
        return self.fs.makeQualified(self._Path(path)).toString()

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(self._Path(path)))

    def is_dir(self, path: str) -> bool:
        p = self._Path(path)
        return bool(self.fs.exists(p) and self.fs.getFileStatus(p).isDirectory())

    def list_names(self, path: str) -> list[str]:
        return [s.getPath().getName() for s in self.fs.listStatus(self._Path(path))]

    def files(self, path: str) -> list[tuple[str, int]]:
        """Every file under ``path``: (path relative to it, size)."""
        base = self.fs.makeQualified(self._Path(path)).toUri().getPath().rstrip("/")
        out = []
        it = self.raw.listFiles(self._Path(path), True)
        while it.hasNext():
            status = it.next()
            rel = status.getPath().toUri().getPath()[len(base) + 1:]
            out.append((rel, int(status.getLen())))
        return sorted(out)

    def delete(self, path: str) -> None:
        self.fs.delete(self._Path(path), True)

    def rename(self, src: str, dst: str) -> None:
        if not self.fs.rename(self._Path(src), self._Path(dst)):
            raise SparkEngineError(f"Could not rename {src} to {dst}.")

    def mkdirs(self, path: str) -> None:
        self.fs.mkdirs(self._Path(path))

    def read_text(self, path: str, limit: int = 1 << 20) -> str:
        stream = self.fs.open(self._Path(path))
        try:
            reader = self._jvm.java.io.BufferedReader(self._jvm.java.io.InputStreamReader(stream, "UTF-8"))
            lines, size = [], 0
            line = reader.readLine()
            while line is not None and size < limit:
                lines.append(line)
                size += len(line)
                line = reader.readLine()
            return "\n".join(lines)
        finally:
            stream.close()

    def clean_parts(self, directory: str) -> None:
        """Drop the checksum files and markers Hadoop writes beside part files (readers skip them)."""
        for rel, _size in self.files(directory):
            name = rel.rsplit("/", 1)[-1]
            if name.endswith(".crc") or name == "_SUCCESS":
                self.raw.delete(self.path(join(directory, rel)), False)

    def write_bytes(self, path: str, payload: bytes) -> None:
        stream = self.raw.create(self._Path(path), True)  # raw: no .crc side file on local disks
        try:
            stream.write(bytearray(payload))
        finally:
            stream.close()


def join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


class HadoopOutput:
    """A graph directory on a Hadoop file system (:class:`recgraph.graph_store.GraphOutput`).

    Refuses, in one sentence, a file, or a non-empty directory that is not a graph directory
    recgraph wrote. Files are listed with their sizes; their SHA-256 is left null (reading them
    back through the JVM would cost as much as writing them).
    """

    def __init__(self, fs: HadoopFS, location: str):
        self.fs = fs
        self._location = location.rstrip("/")
        self._check()

    @property
    def location(self) -> str:
        return self._location

    def _check(self) -> None:
        fs, out = self.fs, self.location
        if not fs.exists(out):
            return
        if not fs.is_dir(out):
            raise ArtifactError(f"Output {out} is a file, not a directory; choose another --out.")
        names = fs.list_names(out)
        if not names:
            return
        ours = MANIFEST_FILE in names and is_graph_manifest(fs.read_text(join(out, MANIFEST_FILE)))
        foreign = [n for n in sorted(names) if not is_graph_entry(n)]
        if not ours or foreign:
            also = f": it also holds {', '.join(foreign[:5])}" if ours else ""
            raise ArtifactError(f"Output directory {out} is not empty and is not {GRAPH_DIR_WHAT}; refusing to "
                                f"replace it (choose a new or empty directory){also}.")

    @contextmanager
    def staging(self) -> Iterator[str]:
        fs, out = self.fs, self.location
        parent, name = out.rsplit("/", 1) if "/" in out else (".", out)
        tag = uuid.uuid4().hex[:12]
        tmp = join(parent, f".{name}.tmp-{tag}")
        fs.mkdirs(parent)
        try:
            yield tmp
            if fs.exists(out):  # the old directory goes only after the new one is in place
                old = join(parent, f".{name}.old-{tag}")
                fs.rename(out, old)
                try:
                    fs.rename(tmp, out)
                except BaseException:
                    fs.rename(old, out)
                    raise
                fs.delete(old)
            else:
                fs.rename(tmp, out)
        except BaseException:
            if fs.exists(tmp):
                fs.delete(tmp)
            raise

    def join(self, directory: str, name: str) -> str:
        return join(directory, name)

    def write_text(self, path: str, text: str) -> None:
        self.fs.write_bytes(path, text.encode("utf-8"))

    def file_records(self, directory: str) -> dict:
        return {rel: {"size": size, "sha256": None} for rel, size in self.fs.files(directory)
                if rel != MANIFEST_FILE}
