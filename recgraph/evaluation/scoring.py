"""Backend-independent scoring on top of :meth:`ItemIndex.recommend`.

The index ranks by cosine to the mean of the watched movies' unit vectors. Two
options that the index does not have (yet) are layered here, without touching its
query path:

- **popularity-aware re-ranking**: the index's best ``candidates`` movies are re-scored
  ``cosine + popularity_weight * log(1 + count)``, where ``count`` is how many users
  liked the movie in the training data. Rarely walked movies have noisy vectors and,
  with plain cosine, crowd the top of every list; the prior puts them back in place.
- **fallback**: a user none of whose movies is in the graph (or whose list runs short)
  gets the most popular movies they have not rated, instead of nothing.

Like :mod:`recgraph.index`, this module needs numpy only (no pandas, gensim, keras, jax),
so it can move into the index as it is.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable

import numpy as np

from ..errors import ParameterError, UnknownItemError
from ..validation import check_float, check_int

FALLBACKS = ("popular", "none")


@dataclass(frozen=True)
class ScoringOptions:
    """How recommendations are scored from an index; the same for every backend.

    Attributes
    ----------
    history_min_rating : ratings at or above it form the query ("watched"); None: every
        rated movie. Every rated movie is excluded from the results either way.
    popularity_weight : weight of ``log(1 + count)`` added to the cosine (0: plain cosine).
    candidates : how many of the index's results are re-ranked when the weight is > 0.
    fallback : ``"popular"`` or ``"none"`` for users with no watched movie in the index.
    """

    history_min_rating: float | None = 4.0
    popularity_weight: float = 0.0
    candidates: int = 200
    fallback: str = "none"

    def __post_init__(self):
        if self.history_min_rating is not None:
            check_float("history_min_rating", self.history_min_rating)
        check_float("popularity_weight", self.popularity_weight, low=0.0)
        check_int("candidates", self.candidates)
        if self.fallback not in FALLBACKS:
            raise ParameterError(f"fallback must be one of {', '.join(FALLBACKS)}; got {self.fallback!r}.")

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
    def from_ratings(cls, user_ids, movie_ids, ratings, min_rating: float = 4.0) -> "Popularity":
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


class IndexRecommender:
    """Recommendations from an :class:`~recgraph.index.ItemIndex` with :class:`ScoringOptions`.

    With default options this is exactly ``index.recommend(watched, k, exclude,
    on_unknown="ignore")``.
    """

    def __init__(self, index, options: ScoringOptions | None = None, popularity: Popularity | None = None):
        self.index = index
        self.options = options or ScoringOptions()
        needs = self.options.popularity_weight > 0 or self.options.fallback == "popular"
        if needs and popularity is None:
            raise ParameterError("popularity_weight > 0 and fallback='popular' need item popularity counts.")
        self.popularity = popularity

    def recommend(self, watched: Iterable, k: int = 10, exclude: Iterable = ()) -> list[dict]:
        """Up to ``k`` movies, best first, as ``{"movie_id", "title", "score"}`` dicts."""
        opts = self.options
        watched, exclude = list(watched), list(exclude)
        pool = max(k, opts.candidates) if opts.popularity_weight > 0 else k
        try:
            hits = self.index.recommend(watched, k=min(pool, len(self.index)), exclude=exclude, on_unknown="ignore")
        except UnknownItemError:
            hits = []
        if opts.popularity_weight > 0 and hits:
            prior = opts.popularity_weight * np.log1p(self.popularity.count([h["movie_id"] for h in hits]))
            rescored = [dict(h, score=round(h["score"] + float(p), 6)) for h, p in zip(hits, prior)]
            # Stable: equal scores keep the index's order.
            hits = sorted(rescored, key=lambda h: -h["score"])
        hits = hits[:k]
        if len(hits) < k and opts.fallback == "popular":
            hits += self._popular(k - len(hits), {int(m) for m in watched + exclude if _is_id(m)} |
                                  {h["movie_id"] for h in hits})
        return hits

    def _popular(self, n: int, skip: set[int]) -> list[dict]:
        out = []
        for movie in self.popularity.ranked.tolist():
            if movie in skip:
                continue
            title = self.index.titles[self.index.row(movie)] if movie in self.index else f"movie {movie}"
            prior = self.options.popularity_weight * math.log1p(float(self.popularity.count([movie])[0]))
            out.append({"movie_id": movie, "title": title, "score": round(prior, 6)})
            if len(out) == n:
                break
        return out


def _is_id(movie) -> bool:
    return isinstance(movie, (int, np.integer)) and not isinstance(movie, bool)
