"""Scoring is part of the index now: this module re-exports :mod:`recgraph.scoring`.

:meth:`recgraph.index.ItemIndex.recommend` applies the popularity prior and the
most-popular fallback itself, from the likes and options recorded in the artifact, so
what the evaluation harness measures is what users of the CLI and HTTP service get.
:class:`IndexRecommender` remains as a thin adapter (the harness's "no recommendation"
convention: an empty list instead of UnknownItemError).
"""

from __future__ import annotations

from typing import Iterable

from ..errors import UnknownItemError
from ..scoring import FALLBACKS, LIKE_MIN_RATING, POPULAR_SIZE, Popularity, ScoringOptions

__all__ = ["FALLBACKS", "LIKE_MIN_RATING", "POPULAR_SIZE", "IndexRecommender", "Popularity", "ScoringOptions"]


class IndexRecommender:
    """``index.recommend(watched, k, exclude, on_unknown="ignore", scoring=options)``, [] when empty.

    ``options``: None uses the artifact's own scoring (``index.scoring``).
    """

    def __init__(self, index, options: ScoringOptions | dict | None = None):
        self.index = index
        self.options = index.scoring if options is None else ScoringOptions.from_value(options)
        index._scoring_options(self.options)  # fail now if the artifact cannot apply them

    def recommend(self, watched: Iterable, k: int = 10, exclude: Iterable = ()) -> list[dict]:
        try:
            return self.index.recommend(watched, k, exclude, on_unknown="ignore", scoring=self.options)
        except UnknownItemError:
            return []
