"""Any interaction log: CSV, Parquet, a directory of parts, a DataFrame, or MovieLens.

:func:`load_log` looks at the source and reads it with pyarrow (typed, multi-threaded), then
applies the log's rules (:mod:`recgraph.data.log`: implicit rating, duplicates).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd

from ..errors import DataError
from .files import CSV_SUFFIXES, PARQUET_SUFFIXES, csv_file as _csv, file_kind as _file_kind, read_items
from .log import Ratings, make_ratings
from .movielens import DEFAULT_URL, download, read_movielens
from .tables import LogColumns, read_log_csv, read_log_frame, read_log_parquet

logger = logging.getLogger(__name__)

Source: TypeAlias = str | os.PathLike | pd.DataFrame | None


def load_log(source: Source = None, *, user_col: str = "userId", item_col: str = "movieId",
             rating_col: str | None = "rating", time_col: str | None = "timestamp",
             items: str | os.PathLike | pd.DataFrame | None = None, delimiter: str | None = None) -> Ratings:
    """Load an interaction log into :class:`~recgraph.data.Ratings`.

    Parameters
    ----------
    source : one of
        - a CSV file (``.csv``, ``.tsv``, ``.csv.gz``; header on line 1);
        - a Parquet file;
        - a directory of Parquet parts or of CSV parts (read in name order; files starting
          with ``_`` or ``.``, e.g. Spark's ``_SUCCESS``, are skipped);
        - a pandas DataFrame;
        - a MovieLens directory (holding ``ratings.csv``), ``.zip`` or ``http(s)://`` URL,
          read as :func:`~recgraph.data.load_movielens` reads it; None: ml-latest-small.
    user_col, item_col : the file's user and item id columns (integers).
    rating_col : the rating column (any finite number; MovieLens sources 0.5 to 5). A log
        without the default ``"rating"`` column, or ``rating_col=None``/``""``, is implicit
        feedback: every row a positive with rating 5.0. A non-default name must exist.
    time_col : Unix seconds (or Parquet timestamps, or ISO-8601 text); a log without the
        default ``"timestamp"`` column, or ``time_col=None``, has no times.
    items : an items table (CSV or Parquet path, or DataFrame) with an id column (``item_col``,
        else ``movieId``, ``item_id`` or ``id``), ``title`` and optional ``genres``. Without
        one a generic log's items are named ``"item <id>"`` and ``has_titles`` is False.
    delimiter : CSV field separator (default ``,``; tab for ``.tsv``).

    Raises
    ------
    DataError
        One sentence naming the file, line (row for Parquet) and value that is wrong.
    """
    names_wanted = {"user_col": user_col, "item_col": item_col, "rating_col": rating_col or None,
                    "time_col": time_col or None}
    if isinstance(source, pd.DataFrame):
        log, names = read_log_frame(source, names_wanted)
        return _finish(log, names, items, source="DataFrame", md5=_columns_md5(log))
    text = os.fspath(source if source is not None else DEFAULT_URL)
    if text.startswith(("http://", "https://")):
        return read_movielens(download(text), text, names_wanted, items)
    path = Path(text).expanduser()
    if not path.exists():
        raise DataError(
            f"Data source {text!r} does not exist; pass a CSV or Parquet log, a directory of "
            "parts, a MovieLens directory or .zip archive, or an http(s) URL."
        )
    if path.is_dir():
        if (path / "ratings.csv").is_file():
            return read_movielens(path, text, names_wanted, items)
        parts = _parts(path)
        if parts[0].name.endswith(PARQUET_SUFFIXES):
            read = [read_log_parquet(p, names_wanted) for p in parts]
        else:
            read = [read_log_csv(_csv(p, delimiter), names_wanted) for p in parts]
        names = read[0][1]
        for part, (_, part_names) in zip(parts[1:], read[1:]):
            if part_names != names:
                raise DataError(f"{part} has columns {_described(part_names)}, unlike {parts[0]} "
                                f"({_described(names)}); every part needs the same columns.")
        log = LogColumns.concat([r[0] for r in read])
        del read
        return _finish(log, names, items, source=text, md5=_files_md5(parts))
    kind = _file_kind(path)
    if kind == "zip":
        return read_movielens(path, text, names_wanted, items)
    if kind == "parquet":
        log, names = read_log_parquet(path, names_wanted)
    else:
        log, names = read_log_csv(_csv(path, delimiter), names_wanted)
    return _finish(log, names, items, source=text, md5=_files_md5([path]))


def load(source: Source | Ratings = None, **options) -> Ratings:
    """:func:`load_log` for any source, passing already loaded :class:`Ratings` through."""
    if isinstance(source, Ratings):
        return source
    return load_log(source, **options)


def _finish(log: LogColumns, names: dict, items, *, source: str, md5: str) -> Ratings:
    movies = None if items is None else read_items(items, names["item_col"])
    if movies is not None:
        movies = _with_unlisted_items(movies, log.item)
    ratings = make_ratings(log.user, log.item, log.rating, log.timestamp, movies,
                           source=source, md5=md5, columns=names)
    logger.info("loaded %d %s rows of %d items from %s", len(ratings.ratings),
                "implicit" if ratings.implicit else "rated", len(ratings.movies), source)
    return ratings


def _with_unlisted_items(movies: pd.DataFrame, item_ids: np.ndarray) -> pd.DataFrame:
    """Items of the log that the items table lacks get ``"item <id>"`` rows (logged)."""
    from .log import unnamed_items

    unlisted = np.setdiff1d(np.unique(item_ids), movies["movieId"].to_numpy())
    if not len(unlisted):
        return movies
    logger.warning("%d items of the log are not in the items table; they are named 'item <id>'", len(unlisted))
    return pd.concat([movies, unnamed_items(unlisted)], ignore_index=True)


def _parts(directory: Path) -> list[Path]:
    files = sorted(p for p in directory.rglob("*") if p.is_file()
                   and not any(part.startswith(("_", ".")) for part in p.relative_to(directory).parts))
    parquet = [p for p in files if p.name.lower().endswith(PARQUET_SUFFIXES)]
    csvs = [p for p in files if p.name.lower().endswith(CSV_SUFFIXES)]
    if parquet and csvs:
        raise DataError(f"Directory {directory} mixes Parquet and CSV parts ({parquet[0].name}, "
                        f"{csvs[0].name}); keep one format per log.")
    if not parquet and not csvs:
        raise DataError(f"Directory {directory} holds no ratings.csv and no Parquet or CSV parts; "
                        "pass a MovieLens directory or a directory of .parquet/.csv files.")
    return parquet or csvs


def _files_md5(paths: list[Path]) -> str:
    """MD5 of the files' bytes, one after another in the given order, read in 1 MiB blocks."""
    digest = hashlib.md5()
    for path in paths:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _columns_md5(log: LogColumns) -> str:
    """MD5 of a DataFrame log's typed columns (user, item, rating, timestamp, as stored)."""
    digest = hashlib.md5()
    for values in (log.user, log.item, log.rating, log.timestamp):
        if values is not None:
            digest.update(np.ascontiguousarray(values).view(np.uint8).data)
    return digest.hexdigest()


def _described(names: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in names.items())
