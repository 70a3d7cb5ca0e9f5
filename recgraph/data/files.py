"""Files of a log: what kind a path is, and the items table (shared by the MovieLens and generic readers)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import DataError
from .csvfile import CsvFile
from .tables import read_items_csv, read_items_parquet

PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".tsv", ".tsv.gz")


def read_items(items: str | os.PathLike | pd.DataFrame, item_col: str = "movieId") -> pd.DataFrame:
    """An items table (CSV/Parquet path or DataFrame) as movieId/title/genres."""
    from .tables import items_frame, items_id_column

    if isinstance(items, pd.DataFrame):
        found = [str(c) for c in items.columns]
        id_name = items_id_column(found, "the items DataFrame", item_col)
        if "title" not in found:
            raise DataError(f"The items DataFrame lacks column(s) title; found {', '.join(found)}.")
        from .columns import to_int64
        from .tables import arrow_column

        where = lambda row: f"items DataFrame row {row} (0-based position)"  # noqa: E731
        ids = to_int64(arrow_column(items[id_name]), id_name, where)
        genres = items["genres"].fillna("") if "genres" in found else None
        return items_frame(ids, items["title"].fillna(""), genres, where, id_name)
    path = Path(os.fspath(items)).expanduser()
    if not path.exists():
        raise DataError(f"Items table {os.fspath(items)!r} does not exist; pass a CSV or Parquet file "
                        "with an id column, title and optional genres.")
    if path.is_dir() or file_kind(path) == "parquet":
        return read_items_parquet(path, item_col)
    return read_items_csv(csv_file(path, None), item_col)


def csv_file(path: Path, delimiter: str | None) -> CsvFile:
    if delimiter is None:
        delimiter = "\t" if ".tsv" in path.name.lower() else ","
    return CsvFile(label=str(path), path=str(path), delimiter=delimiter)


def file_kind(path: Path) -> str:
    """"zip", "parquet" or "csv", by suffix, else by the file's first bytes."""
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    with open(path, "rb") as fh:
        magic = fh.read(4)
    return {b"PK\x03\x04": "zip", b"PAR1": "parquet"}.get(magic, "csv")


