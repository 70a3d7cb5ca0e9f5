"""Fitting the ``blend`` scoring: the user model of :mod:`recgraph.user_model` on a fitted run.

:func:`fit_user_model` aligns a run's embeddings and primary item graph with the scored
catalogue (the items with a vector, then popular ones without) and fits the user model on the
log's interactions. :func:`search` is the fit-time selection: a validation slice carved from
the training log (some users, :func:`recgraph.autotune.validation_users`, each lose their
latest items when the log has time, else a seeded share), a graph, walks and embeddings
trained on the rest with the run's own configuration (the pipeline's build, passed in), and
the blend's weights, ridge and graph re-weighting chosen there
(:func:`recgraph.autotune.select`). When the held-out pairs are a small share of the log
(:data:`REUSE_MAX_HELD`), the pipeline keeps that slice's embeddings as the fitted ones
instead of training again. Nothing here sees a test split.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from .scoring import IdMap

if TYPE_CHECKING:
    from .config import RunConfig

logger = logging.getLogger(__name__)

#: The fit-time search (:func:`recgraph.autotune.select`): ridge and graph re-weighting over a
#: small grid, each weight over a few values by coordinate ascent; the validation users are
#: as many as :data:`SEARCH_MAX_ENTRIES` (user x item) scores allow, within
#: :func:`recgraph.autotune.validation_users`' bounds.
SEARCH_GRID = {"lam": (10.0, 100.0), "edge_power": (0.0, 1.0), "weight_values": (0.0, 0.5, 1.0, 2.0), "rounds": 2}
SEARCH_MAX_ENTRIES = 8_000_000
#: The model trained for validation is kept as the fitted one when its log missed at most this
#: share of the interactions (the held-out pairs); otherwise the whole log is trained again.
REUSE_MAX_HELD = 0.05


def interactions(ratings, ids: IdMap, min_rating: float | None) -> tuple[sp.csr_matrix, sp.csr_matrix | None]:
    """The log's users x scored items binary matrix (ratings >= ``min_rating``) and, when the log
    has time, a matrix of the same pattern whose values rise with time (each pair's latest)."""
    frame = ratings.ratings
    rating = frame["rating"].to_numpy(np.float64)
    keep = np.ones(len(frame), bool) if min_rating is None else rating >= min_rating
    cols = ids.columns(frame["movieId"].to_numpy(np.int64))
    keep &= cols >= 0
    _, users = np.unique(frame["userId"].to_numpy(np.int64), return_inverse=True)
    shape = (int(users.max()) + 1 if users.size else 0, len(ids.item_ids))
    rows, cols = users[keep], cols[keep]
    x = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, cols)), shape=shape)
    x.data[:] = 1.0
    x.sort_indices()
    if "timestamp" not in frame.columns:
        return x, None
    # Each pair's latest time, as its rank among the kept rows (ties by row order).
    when = frame["timestamp"].to_numpy(np.float64)[keep]
    rank = np.empty(when.size, np.float64)
    rank[np.argsort(when, kind="stable")] = np.arange(1, when.size + 1)
    key = rows.astype(np.int64) * shape[1] + cols
    order = np.lexsort((rank, key))
    last = np.ones(order.size, bool)
    last[:-1] = key[order][1:] != key[order][:-1]
    pick = order[last]
    latest = sp.csr_matrix((rank[pick], (rows[pick], cols[pick])), shape=shape)
    latest.sort_indices()
    return x, latest


def aligned(item_ids: np.ndarray, embeddings: np.ndarray, graph, ids: IdMap) -> tuple[np.ndarray, sp.csr_matrix]:
    """A run's embeddings and primary item graph (node ids ``graph.item_ids``) on ``ids``'
    columns: zero vectors and no edges for the scored items a run has none for."""
    n = len(ids.item_ids)
    vectors = np.zeros((n, embeddings.shape[1]), dtype=np.float32)
    cols = ids.columns(item_ids)
    vectors[cols[cols >= 0]] = embeddings[cols >= 0]
    node_cols = ids.columns(graph.item_ids)
    rows = np.repeat(node_cols, np.diff(graph.indptr))
    dest = node_cols[graph.indices]
    keep = (rows >= 0) & (dest >= 0)
    adjacency = sp.csr_matrix((graph.weights[keep], (rows[keep], dest[keep])), shape=(n, n))
    return vectors, adjacency


def fit_user_model(ratings, item_ids: np.ndarray, embeddings: np.ndarray, graph, ids: IdMap, options) -> dict:
    """The user model (:func:`recgraph.user_model.fit`) of a fitted run (``embeddings`` of
    ``item_ids``, and the primary item ``graph``) on ``ids``' columns, with ``options``' ridge,
    graph re-weighting and weights."""
    from . import user_model

    x, _ = interactions(ratings, ids, options.history_min_rating)
    vectors, adjacency = aligned(item_ids, embeddings, graph, ids)
    return user_model.fit(vectors, x, adjacency, {"weights": options.blend_weights, "lam": options.blend_lam,
                                                  "edge_power": options.blend_edge_power})


@dataclass
class Search:
    """What :func:`search` found: the configuration with the chosen scoring, the validation
    report, what ``build`` returned for the log without the held-out pairs, and the share of the
    log's interactions those pairs are."""

    config: "RunConfig"
    report: dict
    built: tuple  # what ``build`` returned (the pipeline's ``SliceModel``)
    held_share: float

    @property
    def reusable(self) -> bool:
        """Whether the slice's model may stand for the whole log's: it missed at most
        :data:`REUSE_MAX_HELD` of the interactions (a large log, a few validation users)."""
        return self.held_share <= REUSE_MAX_HELD


def search(ratings, config: "RunConfig", ids: IdMap, build) -> Search:
    """Choose the blend's weights, ridge and graph re-weighting on a validation slice of
    ``ratings``: ``build(part_of_the_log)`` returns ``(item_ids, embeddings, primary graph, ...)``
    fitted on the log without the held-out pairs (the run's own graph, walks and trainer).

    The validation users (:func:`recgraph.autotune.validation_users`) each lose a share of their
    items (the latest, when the log has time); everyone else keeps everything.
    """
    from . import autotune

    t = time.perf_counter()
    options = config.scoring
    x, order = interactions(ratings, ids, options.history_min_rating)
    frame = ratings.ratings
    _, users = np.unique(frame["userId"].to_numpy(np.int64), return_inverse=True)
    cols = ids.columns(frame["movieId"].to_numpy(np.int64))
    n_cols = len(ids.item_ids)
    built: list = []

    def slice_build(x_fit: sp.csr_matrix):
        # The log without the held-out pairs (every rating of a held-out user-item pair).
        held = (x - x_fit).tocoo()
        held_keys = held.row[held.data > 0].astype(np.int64) * n_cols + held.col[held.data > 0]
        keys = users.astype(np.int64) * n_cols + np.where(cols >= 0, cols, 0)
        drop = (cols >= 0) & np.isin(keys, held_keys)
        result = build(replace(ratings, ratings=frame[~drop].reset_index(drop=True)))
        built.append((result, int(drop.sum())))
        return aligned(result[0], result[1], result[2], ids)

    validation = autotune.validation_users(x, SEARCH_MAX_ENTRIES, config.seed)
    params, report = autotune.select(x, {"run": slice_build}, order=order, seed=config.seed, grid=SEARCH_GRID,
                                     max_entries=SEARCH_MAX_ENTRIES, users=validation,
                                     recent_count=options.recent_count,
                                     latest=options.search_holdout != "random")
    chosen = replace(options, blend_weights=tuple(params["weights"]), blend_lam=float(params["lam"]),
                     blend_edge_power=float(params["edge_power"]))
    result, dropped = built[-1]
    held_share = dropped / max(len(frame), 1)
    report["held_share"] = round(held_share, 6)
    report["seconds"] = round(time.perf_counter() - t, 2)
    logger.info("blend chosen on validation: %s (recall@%d %.4f)", params, report["k"],
                report["chosen"][f"recall@{report['k']}"])
    return Search(config.replace(scoring=chosen), report, result, held_share)
