"""The fitted recommender: one object to fit, hold, query in batches, save and load.

In the conventions of implicit and gensim::

    >>> from recgraph import Recommender
    >>> model = Recommender(seed=1).fit("ml-latest-small.zip")       # preset "showcase"
    >>> ids, scores = model.similar_items([260], n=5)              # [1, 5] arrays
    >>> ids, scores = model.recommend([[260, 1196], [1]], n=10)     # [2, 10] arrays
    >>> model.save("artifacts/ml")
    >>> model = Recommender.load("artifacts/ml")

Every answer goes through :class:`recgraph.scoring.Scorer`, the one scoring function that
:class:`recgraph.index.ItemIndex`, the command line, the HTTP service and the evaluation use
too, so the saved artifact answers exactly as the object that wrote it.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

import numpy as np

from .errors import NotFittedError, ParameterError
from .scoring import IdMap, Scorer, ScoringOptions, recommend_ids, with_popular

logger = logging.getLogger(__name__)

#: Keyword overrides :class:`Recommender` takes besides ``preset``, ``config`` and ``seed``
#: (the same as :func:`recgraph.config.resolve_config`'s).
OVERRIDES = ("backend", "graph", "walks", "trainer", "scoring", "n_trees", "one_view")


class Recommender:
    """node2vec item embeddings over a PMI item graph, as a recommender.

    Parameters
    ----------
    preset : a named configuration (``recgraph.presets``: ``showcase``, the default, which the
        main job runs; ``seed``, the Keras example exactly; ``tuned``).
    config : a :class:`~recgraph.config.RunConfig`, a configuration file's path or its
        sections as a dict; wins over ``preset``.
    seed : the run's seed (walks, trainer, index); None: not reproducible.
    show_progress : progress bars while fitting.
    **overrides : ``backend``, ``graph``, ``walks``, ``trainer``, ``scoring`` (dicts of
        fields), ``n_trees``, ``one_view``: win over the preset and ``config``.

    Attributes (after :meth:`fit` or :meth:`load`)
    ----------------------------------------------
    item_ids_ : int64 [n_items], the items that have a vector (row i of ``embeddings_``).
    embeddings_ : float32 [n_items, dim].
    likes_ : int64 [n_items], users who liked each item in the training log.
    titles_, genres_ : one str per item.
    popular_ : ``(item_id, title, likes)`` of the most liked items of the log.
    catalogue_ : ``(item_id, title)`` of every item of the log (also those without a vector).
    config_ : the :class:`~recgraph.config.RunConfig` as run.
    history_ : what training reported (loss per epoch, counts).
    timings_ : seconds per stage.
    manifest_ : the record an artifact's manifest.json holds (after :meth:`save` or :meth:`load`:
        as written, with checksums).
    """

    def __init__(self, preset: str | None = None, config=None, seed: int | None = None,
                 show_progress: bool = False, **overrides: Any):
        unknown = sorted(set(overrides) - set(OVERRIDES))
        if unknown:
            raise ParameterError(f"Unknown Recommender parameter(s) {', '.join(unknown)}; valid: preset, config, "
                                 f"seed, show_progress, {', '.join(OVERRIDES)}.")
        self.preset = preset
        self.config = config
        self.seed = seed
        self.show_progress = show_progress
        self.overrides = dict(overrides)

    def __repr__(self) -> str:
        state = f"{len(self.item_ids_)} items" if self.is_fitted else "not fitted"
        return f"Recommender(preset={self.preset!r}, seed={self.seed!r}, {state})"

    # ------------------------------------------------------------------ fitting
    def resolve(self):
        """The :class:`~recgraph.config.RunConfig` :meth:`fit` will run (checked, nothing trained)."""
        from .config import RunConfig, load_config, resolve_config

        base = self.config
        if isinstance(base, (str, os.PathLike)):
            base = load_config(base)
        preset = self.preset
        if isinstance(base, RunConfig) or (isinstance(base, Mapping) and base.get("preset")):
            preset = None  # the configuration names its own
        return resolve_config(preset=preset, base=base, seed=self.seed, **self.overrides)

    def fit(self, log, graph: str | os.PathLike | None = None, **log_options: Any) -> "Recommender":
        """Fit on ``log`` (what ``recgraph train --data`` takes: a CSV or Parquet file, a
        directory of parts, a MovieLens zip or directory, a pandas DataFrame, or loaded
        :class:`~recgraph.data.Ratings`); ``log_options`` are :func:`recgraph.data.load_log`'s
        (``user_col``, ``item_col``, ``rating_col``, ``time_col``, ``items``). With ``graph`` (a
        graph directory written by ``recgraph graph``) the graph is read from it and ``log``
        may be None. Returns self.
        """
        from .pipeline import train

        result = train(log, None, config=self.resolve(), show_progress=self.show_progress, graph=graph,
                       log=log_options or None)
        self._set_from_result(result)
        return self

    @staticmethod
    def _state_from_result(result) -> dict:
        items = result.items
        item_ids = result.corpus.item_ids
        rows = items.rows(item_ids)
        titles, genres = items.metadata(item_ids)
        return dict(item_ids=item_ids, embeddings=result.embeddings, likes=items.likes[rows], titles=titles,
                    genres=genres, popular=items.popular_rows(),
                    catalogue=list(zip(items.item_ids.tolist(), items.titles)))

    def _set_from_result(self, result) -> None:
        self._set_state(**self._state_from_result(result), config=result.config, manifest=result.manifest,
                        timings=result.timings_s, user_model=result.user_model)

    def _set_state(self, *, item_ids, embeddings, likes, titles, genres, popular, catalogue, config, manifest,
                   timings, user_model: dict | None = None) -> None:
        self.item_ids_ = np.asarray(item_ids, dtype=np.int64)
        self.embeddings_ = np.ascontiguousarray(embeddings, dtype=np.float32)
        self.likes_ = None if likes is None else np.asarray(likes, dtype=np.int64)
        self.titles_ = list(titles)
        self.genres_ = list(genres)
        self.popular_ = None if popular is None else list(popular)
        self.catalogue_ = None if catalogue is None else list(catalogue)
        self.config_ = config
        self.manifest_ = dict(manifest)
        self.history_ = dict(self.manifest_.get("training") or {})
        if "loss" in self.manifest_:
            self.history_["loss"] = self.manifest_["loss"]
        self.timings_ = dict(timings or {})
        # Scored: the items with a vector, then the log's most liked items without one (prior only).
        ids, vectors, likes = with_popular(self.item_ids_, self.embeddings_, self.likes_, self.popular_)
        self.user_model_ = user_model
        self.scorer_ = Scorer(vectors, likes, config.scoring if config is not None else None, user_model)
        self.ids_ = IdMap(ids)

    @property
    def history_min_rating(self) -> float | None:
        """Ratings at or above it form a user's history (the evaluation's query; None: all)."""
        self._check_fitted()
        return self.scorer_.options.history_min_rating

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "scorer_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError("This Recommender is not fitted yet; call fit(log) or Recommender.load(path) first.")

    # ------------------------------------------------------------------ queries
    def recommend(self, histories, n: int = 10, exclude=None,
                  scoring: ScoringOptions | Mapping | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` items for many users at once.

        Parameters
        ----------
        histories : a sequence of item-id sequences, oldest first (one per user; a single
            flat sequence is one user), or a scipy sparse matrix [users, n_items] whose
            columns are ``item_ids_`` (no order: recency then changes nothing).
        n : how many items per user.
        exclude : more items never to return, in the same shape as ``histories`` (or None).
        scoring : :class:`~recgraph.scoring.ScoringOptions` fields to use instead of the
            model's (``config_.scoring``).

        Returns
        -------
        ids : int64 [users, n], best first; scores : float64 [users, n]. A row runs short
        (padded with id -1 and score ``-inf``) when fewer than ``n`` items are left once the
        history and ``exclude`` are removed, or when no item of the history is known and the
        fallback is ``"none"``. History and excluded items are never returned; unknown ids
        are ignored.
        """
        self._check_fitted()
        options = None if scoring is None else self._options(scoring)
        return recommend_ids(self.scorer_, self.ids_, histories, check_n(n), exclude, options)

    def similar_items(self, item_ids, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` items closest to each of ``item_ids`` by cosine, best first, never the item
        itself: ``(ids, scores)`` of shape [len(item_ids), n]. An id the model does not know
        raises :class:`~recgraph.errors.UnknownItemError`."""
        self._check_fitted()
        cols = self.columns(item_ids)
        return self._ids_scores(*self.scorer_.similar(cols, check_n(n)))

    def columns(self, item_ids) -> np.ndarray:
        """Rows of ``item_ids`` in ``embeddings_``; an unknown id raises UnknownItemError."""
        from .errors import UnknownItemError

        try:
            ids = np.asarray(item_ids, dtype=np.int64).ravel()
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(f"item_ids must be integer item ids; got {item_ids!r}.") from None
        cols = self.ids_.columns(ids)
        cols = np.where(cols < len(self.item_ids_), cols, -1)  # an item without a vector has no neighbours
        if np.any(cols < 0):
            raise UnknownItemError(f"Item id {int(ids[cols < 0][0])} is not in the model ({len(self.item_ids_):,} "
                                   "items with a vector).")
        return cols

    def _options(self, scoring) -> ScoringOptions:
        base = self.scorer_.options.to_dict()
        if isinstance(scoring, ScoringOptions):
            return self.scorer_.check_options(scoring)
        if not isinstance(scoring, Mapping):
            raise ParameterError(f"scoring must be ScoringOptions or a dict of its fields; got {scoring!r}.")
        return self.scorer_.check_options({**base, **scoring})

    def _ids(self, cols: np.ndarray) -> np.ndarray:
        return np.where(cols >= 0, self.ids_.item_ids[np.maximum(cols, 0)], -1)

    def _ids_scores(self, cols: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._ids(cols), scores

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike, final_timings=None) -> dict:
        """Write the artifact directory (``docs/artifact.md``) atomically, with checksums;
        returns its manifest. What was at ``path`` stays until the new one is complete."""
        from .pipeline import write_fitted

        self._check_fitted()
        manifest = write_fitted(path, item_ids=self.item_ids_, embeddings=self.embeddings_, likes=self.likes_,
                                titles=self.titles_, genres=self.genres_, popular=self.popular_,
                                catalogue=self.catalogue_, config=self.config_.replace(scoring=self.scorer_.options),
                                manifest=self.manifest_, final_timings=final_timings, user_model=self.user_model_)
        self.manifest_ = manifest
        self.timings_ = dict(manifest.get("timings_s") or self.timings_)
        return manifest

    @classmethod
    def load(cls, path: str | os.PathLike, verify: bool = True) -> "Recommender":
        """A fitted Recommender from an artifact directory (checked against its checksums)."""
        from .artifact import read_artifact
        from .config import RunConfig

        files = read_artifact(path, verify=verify)
        try:
            config = RunConfig.from_manifest(files.manifest)
        except ParameterError as exc:
            from .errors import ArtifactError

            raise ArtifactError(f"{files.path}: the manifest's configuration is not valid: {exc}") from None
        model = cls(preset=config.preset, config=config, seed=config.seed)
        model._set_state(item_ids=files.item_ids, embeddings=files.embeddings, likes=files.likes,
                         titles=files.titles, genres=files.genres, popular=files.popular, catalogue=files.catalogue,
                         config=config, manifest=files.manifest, timings=files.manifest.get("timings_s"),
                         user_model=files.user_model)
        return model


def check_n(n) -> int:
    """``n`` as a count of results (1 to :data:`recgraph.index.MAX_K`), or one sentence."""
    from .index import MAX_K

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_K:
        raise ParameterError(f"n must be an integer from 1 to {MAX_K}; got {n!r}.")
    return int(n)
