"""A run's log: read it once (:func:`load_log_source`) and record where it came from
(:func:`data_summary`, the ``data`` section of an artifact's or a graph directory's manifest).

Shared by the training pipeline and the numpy graph engine.

>>> ratings = load_log_source("clicks.parquet", {"user_col": "user", "item_col": "item"})
>>> data_summary(ratings)["rows"]
"""

from __future__ import annotations

import dataclasses
import time
from typing import Mapping

from .data import Ratings, load


def data_summary(ratings: Ratings, log: Mapping | None = None) -> dict:
    """The log's record in an artifact's or a graph directory's manifest.

    ``columns`` are the file's column names as :func:`recgraph.data.load_log` options and
    ``items_table`` the items table's path (when ``log`` names one), so
    :func:`recgraph.config.load_config` can read the same log again.
    """
    frame = ratings.ratings
    record = {"source": ratings.source, "md5": ratings.md5, "implicit": bool(getattr(ratings, "implicit", False)),
              "has_titles": bool(getattr(ratings, "has_titles", True)),
              "columns": dict(getattr(ratings, "columns", {}) or {}),
              "rows": int(len(frame)), "users": int(frame["userId"].nunique()), "items": int(frame["movieId"].nunique())}
    items = (log or {}).get("items")
    if items is not None:
        record["items_table"] = items if isinstance(items, str) else (
            "DataFrame" if hasattr(items, "columns") else str(items))
    return record


def load_log_source(data, log: Mapping | None = None) -> Ratings:
    """The log ``data`` names (:func:`recgraph.data.load`; loaded :class:`Ratings` pass through),
    read with ``log``'s :func:`recgraph.data.load_log` options (column names, items table)."""
    if isinstance(data, Ratings):
        return data
    t = time.perf_counter()
    ratings = load(data, **dict(log or {}))
    return dataclasses.replace(ratings, load_s=round(time.perf_counter() - t, 4))
