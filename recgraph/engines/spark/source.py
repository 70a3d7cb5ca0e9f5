"""Where the log is: the ratings file(s) and items table of a source, their format, and how
many partitions its size calls for.

A source is a CSV or Parquet file or a directory of parts, a MovieLens directory
(``ratings.csv`` + ``movies.csv``) or a local MovieLens zip (its members extracted to a
temporary directory, since Spark reads paths), on any file system Spark reads.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass

from ...errors import DataError
from .hadoop import HadoopFS, join

#: Input bytes per user partition when --shuffle-partitions is not given (docs/spark.md).
AUTO_BYTES_PER_PARTITION = {"csv": 64 << 20, "parquet": 16 << 20}


@dataclass
class LogSource:
    """Where the ratings and (optionally) the items table are, and in which format."""

    ratings: str
    ratings_format: str
    items: str | None
    items_format: str | None
    source: str
    md5: str | None
    cleanup: str | None = None  # a local temporary directory (an extracted zip)

    @property
    def ratings_label(self) -> str:
        """How messages name the ratings (an extracted zip member by the archive's name)."""
        return self.ratings if self.cleanup is None else f"{self.source}:ratings.csv"

    @property
    def items_label(self) -> str | None:
        extracted = self.cleanup is not None and self.items == os.path.join(self.cleanup, "movies.csv")
        return f"{self.source}:movies.csv" if extracted else self.items

    def close(self) -> None:
        """Remove the extracted zip members, if any."""
        if self.cleanup is not None:
            shutil.rmtree(self.cleanup, ignore_errors=True)
            self.cleanup = None


def _format_of(fs: HadoopFS, path: str, what: str) -> str:
    lower = path.lower().rstrip("/")
    if lower.endswith(".parquet") or lower.endswith(".pq"):
        return "parquet"
    if lower.endswith((".csv", ".csv.gz", ".tsv")):
        return "csv"
    if fs.is_dir(path):
        names = [n for n in fs.list_names(path) if not n.startswith((".", "_"))]
        if any(n.endswith(".parquet") for n in names):
            return "parquet"
        if any(n.endswith((".csv", ".csv.gz")) for n in names):
            return "csv"
        raise DataError(f"{what} {path} is a directory with neither .parquet nor .csv files; pass a CSV or "
                        "Parquet file, a directory of parts, or a MovieLens directory (ratings.csv, movies.csv).")
    raise DataError(f"{what} {path} is neither .csv nor .parquet; name the file by its format.")


def _local_md5(path: str) -> str | None:
    from ...data import file_md5

    return file_md5(path) if os.path.isfile(path) else None


def resolve_source(spark, source: str, items: str | None = None) -> LogSource:
    """Find the ratings file(s) and items table of ``source``; one sentence when there are none."""
    text = os.fspath(source)
    local = "://" not in text or text.startswith("file://")
    local_path = text[len("file://"):] if text.startswith("file://") else text
    if local and local_path.lower().endswith(".zip"):
        return _extract_zip(local_path, items)
    fs = HadoopFS(spark, text)
    if not fs.exists(text):
        raise DataError(f"Data source {text!r} does not exist; pass a CSV or Parquet log (a file or a directory "
                        "of parts) or a MovieLens directory, on any path Spark reads (local, s3a://, hdfs://).")
    items_path = items
    if fs.is_dir(text) and fs.exists(join(text, "ratings.csv")):
        ratings = join(text, "ratings.csv")
        if items_path is None and fs.exists(join(text, "movies.csv")):
            items_path = join(text, "movies.csv")
        md5 = _local_md5(ratings) if local else None
        fmt = "csv"
    else:
        ratings = text
        fmt = _format_of(fs, text, "Data source")
        md5 = _local_md5(local_path) if local else None
    items_fmt = None
    if items_path is not None:
        if not HadoopFS(spark, items_path).exists(items_path):
            raise DataError(f"Items table {items_path!r} does not exist; pass a CSV or Parquet file with an id "
                            "column and title (genres optional).")
        items_fmt = _format_of(HadoopFS(spark, items_path), items_path, "Items table")
    return LogSource(ratings, fmt, items_path, items_fmt, text, md5)


def _extract_zip(path: str, items: str | None) -> LogSource:
    """A MovieLens zip's ratings.csv (and movies.csv, unless ``items`` replaces it), found by the
    loader's rules (:mod:`recgraph.data.movielens`) and copied out for Spark to read."""
    from pathlib import Path

    from ...data.movielens import _archive_members

    if not os.path.isfile(path):
        raise DataError(f"Data source {path!r} does not exist; pass a MovieLens .zip, a directory, or a CSV or "
                        "Parquet log.")
    ratings_csv, movies_csv = _archive_members(Path(path), need_movies=items is None)
    tmp = tempfile.mkdtemp(prefix="recgraph-spark-zip-")
    try:
        for name, member in (("ratings.csv", ratings_csv), ("movies.csv", movies_csv)):
            if member is not None and member.opener is not None:
                with member.opener() as stream, open(os.path.join(tmp, name), "wb") as out:
                    shutil.copyfileobj(stream, out, 1 << 20)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    items_path = items if items is not None else os.path.join(tmp, "movies.csv")
    items_fmt = None
    if items is not None:
        if not os.path.exists(items):
            shutil.rmtree(tmp, ignore_errors=True)
            raise DataError(f"Items table {items!r} does not exist; pass a CSV or Parquet file with an id column "
                            "and title (genres optional).")
        items_fmt = "parquet" if items.lower().rstrip("/").endswith((".parquet", ".pq")) else "csv"
    else:
        items_fmt = "csv"
    return LogSource(os.path.join(tmp, "ratings.csv"), "csv", items_path, items_fmt, path, _local_md5(path),
                     cleanup=tmp)


def auto_partitions(spark, src: LogSource) -> int:
    """Partitions for the log and every shuffle: the session's setting when someone set it,
    else one per 64 MiB of CSV (16 MiB of Parquet), at least 2 per core, at most 4,000."""
    configured = spark.conf.get("spark.sql.shuffle.partitions")
    if configured != "200":  # Spark's default: nobody chose it
        return int(configured)
    try:
        fs = HadoopFS(spark, src.ratings)
        size = int(fs.fs.getContentSummary(fs.path(src.ratings)).getLength())
    except Exception:  # a file system that cannot sum sizes: fall back to the cores
        size = 0
    cores = int(spark.sparkContext.defaultParallelism)
    return max(2 * cores, min(4000, -(-size // AUTO_BYTES_PER_PARTITION[src.ratings_format])))
