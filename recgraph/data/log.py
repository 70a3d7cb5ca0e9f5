"""The in-memory interaction log every stage consumes, and the rules that make it one.

These rules are the contract every engine applies identically (the Spark engine reads a log
with the same rules):

Columns
    Whatever the file calls them, the log's columns are named ``userId`` (int64), ``movieId``
    (int64), ``rating`` (float64) and, when the log has a time column, ``timestamp`` (int64,
    Unix seconds). ``Ratings.columns`` records the file's names as the keyword arguments of
    :func:`recgraph.data.load_log` (``user_col``, ``item_col``, ``rating_col``, ``time_col``;
    ``None`` for a column the log lacks), so ``load_log(source, **ratings.columns)`` reads the
    same log again.

Implicit feedback
    A log without a rating column is implicit feedback: every row is a positive, stored with
    rating :data:`IMPLICIT_RATING` (5.0), and ``Ratings.implicit`` is True. A rating threshold
    of at most 5.0 (every preset's) therefore keeps every row; a threshold given explicitly is
    refused by :func:`recgraph.data.check_rating_options`.

Duplicates
    Several rows for one (user, item) pair collapse to one: the row with the latest
    ``timestamp``; among rows with equal timestamps (or in a log without one), the row with the
    highest rating. Rows equal in all of these are identical, so which one survives does not
    matter. The rule runs after implicit rows get their 5.0, so an implicit log keeps one row
    per pair. Kept rows stay in input order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

#: The rating every row of an implicit-feedback log (no rating column) is stored with.
IMPLICIT_RATING = 5.0
#: Internal column names, whatever the file calls them.
USER, ITEM, RATING, TIME = "userId", "movieId", "rating", "timestamp"


@dataclass(frozen=True)
class Ratings:
    """A validated interaction log and its item metadata.

    Attributes
    ----------
    ratings : DataFrame with int64 ``userId``, ``movieId``, float64 ``rating`` and, when the
        log has a time column, int64 ``timestamp``; one row per (user, item) pair.
    movies : DataFrame with int64 ``movieId``, str ``title`` and ``genres``.
    source : where the data came from (path, URL or ``"DataFrame"``).
    md5 : MD5 of the archive or file (of the parts in name order for a directory of parts;
        of the typed columns for a DataFrame).
    implicit : the log had no rating column; every row is a positive with rating 5.0.
    has_titles : False when no items table was given; titles are then ``"item <id>"``.
    columns : the file's column names, as ``load_log`` keyword arguments (None: absent).
    load_s : seconds the read took (None: not measured); a run that is handed loaded
        Ratings reports it as its ``load`` stage.
    """

    ratings: pd.DataFrame
    movies: pd.DataFrame
    source: str
    md5: str
    implicit: bool = False
    has_titles: bool = True
    columns: dict = field(default_factory=dict)
    load_s: float | None = field(default=None, compare=False)

    def titles(self) -> dict[int, str]:
        """Map movie id to title."""
        return dict(zip(self.movies["movieId"].tolist(), self.movies["title"].tolist()))


def duplicate_mask(user: np.ndarray, item: np.ndarray, rating: np.ndarray,
                   timestamp: np.ndarray | None) -> np.ndarray | None:
    """Rows to keep under the duplicates rule, or None when every (user, item) pair is unique.

    Vectorized: a log sorted by (user, item), as MovieLens files are, is checked in one pass;
    otherwise the pair keys are sorted, and only the rows of repeated pairs are ranked.
    """
    n = len(user)
    if n < 2:
        return None
    same_user = user[1:] == user[:-1]
    ordered = (user[1:] > user[:-1]) | (same_user & (item[1:] > item[:-1]))
    if ordered.all():
        return None
    del ordered, same_user
    repeated = _repeated_pairs(user, item)
    if repeated is None:
        return None
    rows = np.flatnonzero(repeated)
    key_user, key_item, key_rating = user[rows], item[rows], rating[rows]
    # np.lexsort sorts by its last key first: pair, then latest timestamp, then highest rating;
    # it is stable, so identical rows keep input order and the first one survives.
    keys = [-key_rating] + ([] if timestamp is None else [-timestamp[rows]]) + [key_item, key_user]
    order = np.lexsort(keys)
    sorted_user, sorted_item = key_user[order], key_item[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (sorted_user[1:] != sorted_user[:-1]) | (sorted_item[1:] != sorted_item[:-1])
    keep = ~repeated
    keep[rows[order[first]]] = True
    logger.info("dropped %d duplicate (user, item) rows (kept the latest, then the highest rating)",
                n - int(keep.sum()))
    return keep


def _repeated_pairs(user: np.ndarray, item: np.ndarray) -> np.ndarray | None:
    """Rows whose (user, item) pair occurs more than once, or None when none does.

    One int64 key per pair when the ids' ranges allow it: sorting a copy of the keys is about
    twice as fast as hashing them at 25M rows; otherwise pandas hashes both columns.
    """
    u0, i0 = int(user.min()), int(item.min())
    users, items = int(user.max()) - u0 + 1, int(item.max()) - i0 + 1
    if users * items >= 2**62:
        repeated = pd.DataFrame({USER: user, ITEM: item}, copy=False).duplicated(keep=False).to_numpy()
        return repeated if repeated.any() else None
    key = user - u0  # in place from here: one key array, no temporaries of the same size
    key *= items
    key += item
    key -= i0
    ordered = np.sort(key)
    same = ordered[1:] == ordered[:-1]
    if not same.any():
        return None
    return np.isin(key, np.unique(ordered[1:][same]))


def make_ratings(user: np.ndarray, item: np.ndarray, rating: np.ndarray | None,
                 timestamp: np.ndarray | None, movies: pd.DataFrame | None, *, source: str,
                 md5: str, columns: dict, has_titles: bool | None = None) -> Ratings:
    """Apply the log's rules (implicit rating, duplicates) and wrap typed columns as Ratings.

    ``movies`` None: every item of the log is named ``"item <id>"`` and ``has_titles`` is False.
    """
    implicit = rating is None
    if rating is None:
        rating = np.full(len(user), IMPLICIT_RATING, dtype=np.float64)
    keep = duplicate_mask(user, item, rating, timestamp)
    data = {USER: user, ITEM: item, RATING: rating}
    if timestamp is not None:
        data[TIME] = timestamp
    if keep is not None:
        data = {name: values[keep] for name, values in data.items()}
    # copy=False: the typed arrays become the frame's columns as they are (no second copy).
    frame = pd.DataFrame(data, copy=False)
    if movies is None:
        movies = unnamed_items(frame[ITEM].to_numpy())
        has_titles = False if has_titles is None else has_titles
    return Ratings(ratings=frame, movies=movies, source=source, md5=md5, implicit=implicit,
                   has_titles=True if has_titles is None else has_titles, columns=dict(columns))


def unnamed_items(item_ids: np.ndarray) -> pd.DataFrame:
    """An items table for ids without titles: ``"item <id>"``, no genres, ordered by id."""
    ids = np.unique(item_ids)
    return pd.DataFrame({
        ITEM: ids.astype(np.int64),
        "title": pd.Series([f"item {i}" for i in ids.tolist()], dtype=str),
        "genres": pd.Series([""] * len(ids), dtype=str),
    })
