"""How recommendations are scored from an index: popularity prior and most-popular fallback.

:meth:`recgraph.index.ItemIndex.recommend` ranks by cosine to the mean of the watched
movies' unit vectors, then applies the artifact's :class:`ScoringOptions` (recorded in
``manifest.json`` under ``scoring``):

- **popularity-aware re-ranking**: the index's best ``candidates`` movies are re-scored
  ``cosine + popularity_weight * log(1 + likes)``, where ``likes`` is how many users
  rated the movie >= 4.0 in the training data. Rarely walked movies have noisy vectors and,
  with plain cosine, crowd the top of every list; the prior puts them back in place.
- **fallback**: a user none of whose movies is in the graph (or whose list runs short)
  gets the most liked movies they have not rated, instead of nothing.
- **recency**: with ``recent_weight`` > 0 the watched list is read as oldest first, and
  the query becomes ``unit(mean of all) + recent_weight * unit(mean of the last
  recent_count)``: what someone watched lately counts more.

The defaults (weight 0, fallback ``"none"``, no recency) are plain cosine. This module needs numpy
only (no pandas, gensim, keras, jax): :mod:`recgraph.index` imports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from .errors import ParameterError
from .validation import check_float, check_int

FALLBACKS = ("popular", "none")
#: A like is a training rating at or above this; ``likes`` counts distinct users.
LIKE_MIN_RATING = 4.0
#: How many of the most liked movies an artifact's ``popular.csv`` keeps.
POPULAR_SIZE = 1000


@dataclass(frozen=True)
class ScoringOptions:
    """How recommendations are scored from an index; the same for every backend.

    Attributes
    ----------
    history_min_rating : ratings at or above it form the query ("watched"); None: every
        rated movie. Every rated movie is excluded from the results either way. (Used by
        whoever builds the query, e.g. the evaluation harness; recorded for callers.)
    popularity_weight : weight of ``log(1 + likes)`` added to the cosine (0: plain cosine).
    candidates : how many of the index's results are re-ranked when the weight is > 0.
    fallback : ``"popular"`` or ``"none"`` for users with no watched movie in the index.
    recent_weight : weight of the last ``recent_count`` watched movies' direction added to
        the whole history's (0: the order of ``watched`` does not matter).
    recent_count : how many of the last watched movies form that recent direction.
    """

    history_min_rating: float | None = 4.0
    popularity_weight: float = 0.0
    candidates: int = 200
    fallback: str = "none"
    recent_weight: float = 0.0
    recent_count: int = 5

    def __post_init__(self):
        if self.history_min_rating is not None:
            check_float("history_min_rating", self.history_min_rating)
        check_float("popularity_weight", self.popularity_weight, low=0.0)
        check_int("candidates", self.candidates)
        check_float("recent_weight", self.recent_weight, low=0.0)
        check_int("recent_count", self.recent_count)
        if self.fallback not in FALLBACKS:
            raise ParameterError(f"fallback must be one of {', '.join(FALLBACKS)}; got {self.fallback!r}.")

    @classmethod
    def from_value(cls, value: "ScoringOptions | dict | None") -> "ScoringOptions":
        """Options from an instance, a dict (unknown keys are an error) or None (the defaults)."""
        if isinstance(value, cls):
            return value
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise ParameterError(f"scoring must be a dict of {', '.join(f.name for f in fields(cls))}; got {value!r}.")
        unknown = set(value) - {f.name for f in fields(cls)}
        if unknown:
            raise ParameterError(f"Unknown scoring option(s) {', '.join(sorted(unknown))}; "
                                 f"known: {', '.join(f.name for f in fields(cls))}.")
        return cls(**value)

    @property
    def needs_likes(self) -> bool:
        return self.popularity_weight > 0 or self.fallback == "popular"

    def to_dict(self) -> dict:
        return asdict(self)


class Popularity:
    """How many users liked each movie in the training data.

    Parameters
    ----------
    movie_ids : int64 [n]; counts : float [n] (>= 0), aligned with ``movie_ids``.
    """

    def __init__(self, movie_ids: np.ndarray, counts: np.ndarray):
        movie_ids = np.asarray(movie_ids, dtype=np.int64)
        counts = np.asarray(counts, dtype=np.float64)
        if movie_ids.shape != counts.shape or movie_ids.ndim != 1:
            raise ParameterError("movie_ids and counts must be 1-D arrays of the same length.")
        order = np.argsort(movie_ids, kind="stable")
        self.movie_ids = movie_ids[order]
        self.counts = counts[order]
        # Most popular first; ties by movie id, so the fallback list is deterministic.
        self.ranked = self.movie_ids[np.lexsort((self.movie_ids, -self.counts))]

    @classmethod
    def from_ratings(cls, user_ids, movie_ids, ratings, min_rating: float = LIKE_MIN_RATING) -> "Popularity":
        """Count distinct users per movie among ratings >= ``min_rating``."""
        user_ids = np.asarray(user_ids, dtype=np.int64)
        movie_ids = np.asarray(movie_ids, dtype=np.int64)
        liked = np.asarray(ratings, dtype=np.float64) >= min_rating
        pairs = np.unique(np.stack([movie_ids[liked], user_ids[liked]]), axis=1)
        ids, counts = np.unique(pairs[0], return_counts=True)
        return cls(ids, counts.astype(np.float64))

    def count(self, movie_ids) -> np.ndarray:
        """Counts of ``movie_ids`` (0 for a movie never liked)."""
        movie_ids = np.asarray(movie_ids, dtype=np.int64)
        if self.movie_ids.size == 0:
            return np.zeros(movie_ids.shape)
        pos = np.minimum(np.searchsorted(self.movie_ids, movie_ids), self.movie_ids.size - 1)
        return np.where(self.movie_ids[pos] == movie_ids, self.counts[pos], 0.0)

    def top(self, n: int = POPULAR_SIZE) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` most liked movies with at least one like (ids, counts), ties by movie id."""
        ids = self.ranked[: int(n)]
        counts = self.count(ids)
        keep = counts > 0
        return ids[keep], counts[keep]


def query_vector(unit_rows: np.ndarray, options: ScoringOptions) -> np.ndarray:
    """The query direction from the watched movies' unit vectors, oldest first.

    The mean of them all; with ``recent_weight`` > 0, plus ``recent_weight`` times the unit
    mean of the last ``recent_count`` (only the direction matters to the cosine).
    """
    query = unit_rows.mean(axis=0)
    if options.recent_weight > 0 and len(unit_rows) > 0:
        recent = unit_rows[-options.recent_count:].mean(axis=0)
        query = _unit(query) + options.recent_weight * _unit(recent)
    return query


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def candidate_pool(options: ScoringOptions, k: int) -> int:
    """How many nearest neighbours to fetch before re-ranking."""
    return max(k, options.candidates) if options.popularity_weight > 0 else k


def rerank(movie_ids: np.ndarray, scores: np.ndarray, options: ScoringOptions,
           popularity: Popularity | None) -> tuple[np.ndarray, np.ndarray]:
    """Add ``popularity_weight * log1p(likes)`` to each score and sort, best first.

    Returns the order (indices into ``movie_ids``) and the new scores in that order, rounded
    to 6 decimals; the sort is stable, so equal scores keep the index's order. With weight 0
    the order is unchanged.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if options.popularity_weight <= 0 or len(scores) == 0:
        return np.arange(len(scores)), scores
    rescored = np.round(scores + options.popularity_weight * np.log1p(popularity.count(movie_ids)), 6)
    order = np.argsort(-rescored, kind="stable")
    return order, rescored[order]


def popular_fill(n: int, skip: set[int], options: ScoringOptions,
                 popularity: Popularity) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``n`` of the most liked movies not in ``skip`` (ids, scores ``weight * log1p(likes)``)."""
    if n <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    ranked = popularity.ranked
    ids = ranked[~np.isin(ranked, np.fromiter(skip, dtype=np.int64, count=len(skip)))][:n]
    return ids, np.round(options.popularity_weight * np.log1p(popularity.count(ids)), 6)
