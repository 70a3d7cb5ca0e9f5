"""Every item of a log: ids, titles, genres and likes, as the artifact and the graph dir need them.

The graph stage writes it (``items.parquet``), training reads it back, so an artifact
trained from a graph directory has the same titles, genres and likes as one trained
from the log in one go.

>>> items = ItemCatalog.from_ratings(ratings)
>>> titles, genres = items.metadata(graph.item_ids)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ParameterError
from .scoring import LIKE_MIN_RATING, POPULAR_SIZE, Popularity


@dataclass(frozen=True, eq=False)
class ItemCatalog:
    """Items sorted by id; ``likes`` counts distinct users with a rating >= 4.0 (``LIKE_MIN_RATING``)."""

    item_ids: np.ndarray
    titles: tuple[str, ...]
    genres: tuple[str, ...]
    likes: np.ndarray

    def __post_init__(self):
        ids = np.asarray(self.item_ids, dtype=np.int64)
        likes = np.asarray(self.likes, dtype=np.int64)
        if not (ids.ndim == 1 and len(self.titles) == len(self.genres) == ids.shape[0] == likes.shape[0]):
            raise ParameterError("An item catalog needs one title, genres and likes value per item id.")
        if ids.size > 1 and np.any(np.diff(ids) <= 0):
            raise ParameterError("An item catalog's item ids must be unique and sorted.")
        object.__setattr__(self, "item_ids", ids)
        object.__setattr__(self, "likes", likes)
        object.__setattr__(self, "titles", tuple(self.titles))
        object.__setattr__(self, "genres", tuple(self.genres))

    def __len__(self) -> int:
        return int(self.item_ids.shape[0])

    @classmethod
    def from_ratings(cls, ratings) -> "ItemCatalog":
        """Every item of ``ratings`` (:class:`recgraph.data.Ratings`): those rated and those in its
        items table (likes 0 when unrated); a rated item missing from the table is titled
        ``item <id>``, as :mod:`recgraph.data` names the items of a log without titles."""
        frame = ratings.ratings
        ids = np.union1d(frame["movieId"].to_numpy(dtype=np.int64), ratings.movies["movieId"].to_numpy(dtype=np.int64))
        items = ratings.movies.drop_duplicates("movieId").set_index("movieId")
        titles = items["title"].reindex(ids).tolist()
        genres = items["genres"].reindex(ids).tolist()
        likes = Popularity.from_ratings(frame["userId"].to_numpy(), frame["movieId"].to_numpy(),
                                        frame["rating"].to_numpy(), LIKE_MIN_RATING).count(ids)
        return cls(ids,
                   tuple(t if isinstance(t, str) else f"item {m}" for t, m in zip(titles, ids.tolist())),
                   tuple(g if isinstance(g, str) else "" for g in genres),
                   likes.astype(np.int64))

    def rows(self, item_ids) -> np.ndarray:
        """Positions of ``item_ids`` in the catalog (every one must be in it)."""
        item_ids = np.asarray(item_ids, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.item_ids, item_ids), max(len(self) - 1, 0))
        if len(self) == 0 or np.any(self.item_ids[pos] != item_ids):
            missing = item_ids[self.item_ids[pos] != item_ids] if len(self) else item_ids
            raise ParameterError(f"Item id {int(missing[0])} is not in the item catalog.")
        return pos

    def metadata(self, item_ids) -> tuple[list[str], list[str]]:
        """Titles and genres of ``item_ids``."""
        pos = self.rows(item_ids).tolist()
        return [self.titles[i] for i in pos], [self.genres[i] for i in pos]

    def popularity(self) -> Popularity:
        return Popularity(self.item_ids, self.likes.astype(np.float64))

    def popular_rows(self, n: int = POPULAR_SIZE) -> list[tuple[int, str, int]]:
        """The ``n`` most liked items as ``(item_id, title, likes)``, ties by item id."""
        ids, counts = self.popularity().top(n)
        titles, _ = self.metadata(ids)
        return [(int(m), t, int(c)) for m, t, c in zip(ids.tolist(), titles, counts.tolist())]
