"""Log and items tables (CSV, Parquet, DataFrame) to typed numpy columns.

Column names are resolved once, here, for every kind of table: ``user_col`` and ``item_col``
must exist; ``rating_col`` and ``time_col`` may be absent when they are left at their default
names (``"rating"``: an implicit log; ``"timestamp"``: a log without times) or set to None, and
must exist when named otherwise (a misspelt column is an error, not a silently implicit log).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import DataError
from .columns import Where, to_float64, to_int64, to_seconds
from .csvfile import CsvFile
from .log import ITEM

DEFAULT_COLUMNS = {"user_col": "userId", "item_col": "movieId", "rating_col": "rating", "time_col": "timestamp"}
#: Id column names an items table may use when it does not use the log's item column name.
ITEM_ID_NAMES = ("movieId", "item_id", "id")

logger = logging.getLogger(__name__)


#: Column names that look like a time: a log with one but no --time-col gets a warning, since
#: recency scoring and leave-last-out then run without times.
TIME_LIKE_NAMES = frozenset({"ts", "time", "timestamp", "datetime", "date", "event_time", "created_at", "unix_time"})


@lru_cache(maxsize=64)  # once per column name, not once per part of a directory
def _warn_time_like(column: str) -> None:
    logger.warning("column %r looks like a time but is not read (the time column is %r by default); pass "
                   "--time-col %s (time_col = %r in a configuration's [data]) so recency and leave-last-out use it",
                   column, DEFAULT_COLUMNS["time_col"], column, column)


@dataclass
class LogColumns:
    """Typed columns of one log table (rating/timestamp None when the log has none)."""

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray | None
    timestamp: np.ndarray | None

    @classmethod
    def concat(cls, parts: list["LogColumns"]) -> "LogColumns":
        if len(parts) == 1:
            return parts[0]

        def join(name):
            return np.concatenate([getattr(p, name) for p in parts])

        return cls(join("user"), join("item"),
                   None if parts[0].rating is None else join("rating"),
                   None if parts[0].timestamp is None else join("timestamp"))

    def __len__(self) -> int:
        return len(self.user)


def resolve_columns(found: list[str], label: str, *, user_col: str, item_col: str,
                    rating_col: str | None, time_col: str | None, require_rating: bool = False) -> dict:
    """The file's names for user, item, rating and time (None where the log lacks one)."""
    rating_col = rating_col or None
    time_col = time_col or None
    needed = [user_col, item_col]
    if rating_col is not None and (require_rating or rating_col != DEFAULT_COLUMNS["rating_col"]):
        needed.append(rating_col)
    if time_col is not None and time_col != DEFAULT_COLUMNS["time_col"]:
        needed.append(time_col)
    missing = [c for c in needed if c not in found]
    if missing:
        raise DataError(f"{label} lacks column(s) {', '.join(missing)}; found {', '.join(map(str, found))}.")
    if time_col is not None and time_col not in found:  # None: the caller said the log has no times
        for column in found:
            if str(column).lower() in TIME_LIKE_NAMES:
                _warn_time_like(str(column))
    return {
        "user_col": user_col,
        "item_col": item_col,
        "rating_col": rating_col if rating_col in found else None,
        "time_col": time_col if time_col in found else None,
    }


def convert_log(columns: dict, names: dict, where: Where) -> LogColumns:
    """Arrow columns (by file name) to typed numpy columns; ``columns`` is emptied as it goes
    so each Arrow column is freed once converted (peak: the typed arrays plus one column)."""
    user = to_int64(columns.pop(names["user_col"]), names["user_col"], where)
    item = to_int64(columns.pop(names["item_col"]), names["item_col"], where)
    rating = timestamp = None
    if names["rating_col"] is not None:
        rating = to_float64(columns.pop(names["rating_col"]), names["rating_col"], where)
    if names["time_col"] is not None:
        timestamp = to_seconds(columns.pop(names["time_col"]), names["time_col"], where)
    return LogColumns(user, item, rating, timestamp)


def _csv_types(names: dict) -> dict[str, pa.DataType]:
    types = {names["user_col"]: pa.int64(), names["item_col"]: pa.int64()}
    if names["rating_col"] is not None:
        types[names["rating_col"]] = pa.float64()
    if names["time_col"] is not None:
        types[names["time_col"]] = pa.int64()
    return types


def read_log_csv(source: CsvFile, names_wanted: dict, require_rating: bool = False) -> tuple[LogColumns, dict]:
    """One CSV log: typed columns and the resolved column names."""
    expected = tuple(v for v in names_wanted.values() if v)
    header = source.header(expected)
    names = resolve_columns(header, source.label, require_rating=require_rating, **names_wanted)
    columns, rows = source.read(_csv_types(names), header)
    if rows == 0:
        raise DataError(f"{source.label} has a header but no rows.")
    return convert_log(columns, names, lambda row: f"{source.label} line {row + 2}"), names


def read_log_parquet(path: Path, names_wanted: dict) -> tuple[LogColumns, dict]:
    """One Parquet file: typed columns and the resolved column names."""
    import pyarrow.parquet as pq

    label = str(path)
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"Cannot read {label} as a Parquet file ({_first_line(exc)}).") from None
    names = resolve_columns(schema.names, label, **names_wanted)
    try:
        table = pq.read_table(path, columns=[n for n in names.values() if n])
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"Cannot read {label} as a Parquet file ({_first_line(exc)}).") from None
    if table.num_rows == 0:
        raise DataError(f"{label} has no rows.")
    columns = {name: table.column(name) for name in table.column_names}
    del table
    return convert_log(columns, names, lambda row: f"{label} row {row + 1}"), names


def read_log_frame(frame: pd.DataFrame, names_wanted: dict) -> tuple[LogColumns, dict]:
    """A pandas DataFrame log: typed columns and the resolved column names."""
    label = "the DataFrame"
    names = resolve_columns([str(c) for c in frame.columns], label, **names_wanted)
    if frame.empty:
        raise DataError(f"{label} has no rows.")
    columns = {name: arrow_column(frame[name]) for name in names.values() if name}
    return convert_log(columns, names, lambda row: f"DataFrame row {row} (0-based position)"), names


def arrow_column(series: pd.Series) -> pa.Array:
    """A DataFrame column as Arrow data (mixed Python objects as text, judged by the converters)."""
    try:
        return pa.array(series, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):  # mixed objects: judge them as text
        return pa.array(series.astype(str))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ----------------------------------------------------------------------------- items tables

def items_frame(ids: np.ndarray, titles: pd.Series, genres: pd.Series | None, where: Where,
                id_name: str) -> pd.DataFrame:
    """movieId/title/genres with the types every stage expects; a repeated id is an error."""
    if genres is None:
        genres = pd.Series([""] * len(ids))
    out = pd.DataFrame({
        ITEM: ids,
        "title": titles.astype(str).reset_index(drop=True),
        "genres": genres.astype(str).reset_index(drop=True),
    })
    dup = out[ITEM].duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise DataError(f"{where(row)}: {id_name} {out[ITEM].iloc[row]} appears twice.")
    return out


def items_id_column(found: list[str], label: str, item_col: str) -> str:
    for name in (item_col, *ITEM_ID_NAMES):
        if name in found:
            return name
    raise DataError(f"{label} lacks an id column ({', '.join(dict.fromkeys((item_col, *ITEM_ID_NAMES)))}); "
                    f"found {', '.join(map(str, found))}.")


def read_items_csv(source: CsvFile, item_col: str = "movieId", id_name: str | None = None) -> pd.DataFrame:
    """An items CSV: an id column, ``title`` and optional ``genres``."""
    header = source.header((id_name or item_col, "title"))
    id_name = id_name or items_id_column(header, source.label, item_col)
    missing = [c for c in (id_name, "title") if c not in header]
    if missing:
        raise DataError(f"{source.label} lacks column(s) {', '.join(missing)}; found {', '.join(header)}.")
    types = {id_name: pa.int64(), "title": pa.string()}
    if "genres" in header:
        types["genres"] = pa.string()
    columns, rows = source.read(types, header)
    if rows == 0:
        raise DataError(f"{source.label} has a header but no rows.")
    where = lambda row: f"{source.label} line {row + 2}"  # noqa: E731
    ids = to_int64(columns[id_name], id_name, where)
    genres = columns["genres"].to_pandas() if "genres" in columns else None
    return items_frame(ids, columns["title"].to_pandas(), genres, where, id_name)


def read_items_parquet(path: Path, item_col: str = "movieId") -> pd.DataFrame:
    """An items Parquet file or directory: an id column, ``title`` and optional ``genres``."""
    import pyarrow.parquet as pq

    label = str(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"Cannot read {label} as a Parquet file ({_first_line(exc)}).") from None
    id_name = items_id_column(table.column_names, label, item_col)
    if "title" not in table.column_names:
        raise DataError(f"{label} lacks column(s) title; found {', '.join(table.column_names)}.")
    where = lambda row: f"{label} row {row + 1}"  # noqa: E731
    ids = to_int64(table.column(id_name), id_name, where)
    genres = table.column("genres").to_pandas().fillna("") if "genres" in table.column_names else None
    return items_frame(ids, table.column("title").to_pandas().fillna(""), genres, where, id_name)
