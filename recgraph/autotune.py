"""Settings chosen on the log at fit time: a validation slice carved from the training log.

:func:`holdout` holds out a share of each user's items (the latest, when the log has times;
else a seeded random share). :func:`select` builds the embeddings (and the item graph) on the
rest with each candidate ``build`` (graph settings, walk budget), then searches the user
model's parameters (:mod:`recgraph.user_model`): the subspace ridge ``lam`` and the graph's
embedding re-weighting ``edge_power`` over a grid, and the
weights of the four scores by coordinate ascent over a grid of values, each setting judged
by Recall@K of the held-out items under a full ranking of the catalogue. It returns the
chosen parameters and the validation figures, for the manifest. Nothing here sees a test
split.

>>> params, report = select(x, {"default": build}, order=None, seed=1)
>>> state = user_model.fit(*build(x), params=params)   # final fit on the whole training log
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

import numpy as np
import scipy.sparse as sp

from . import user_model
from .errors import ParameterError
from .evaluation.metrics import ndcg, recall, top_k

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_GRID", "holdout", "select", "validation_figures"]

#: The search: ``lam`` values tried, the values each weight may take, rounds of coordinate ascent.
DEFAULT_GRID = {"lam": (1.0, 10.0, 100.0), "edge_power": (0.0, 1.0), "weight_values": (0.0, 0.25, 0.5, 1.0, 2.0),
                "rounds": 2}
#: Validation scores held at once (users x items); more users are sampled down to fit.
DEFAULT_MAX_ENTRIES = 24_000_000

Build = Callable[[sp.csr_matrix], tuple[np.ndarray, sp.spmatrix | None]]


def holdout(x, fraction: float = 0.2, order=None, seed: int | None = 0,
            min_items: int = 3, count: int | None = None) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Split each user's items of ``x`` into (fit, validation) matrices of ``x``'s shape.

    Users with at least ``min_items`` items lose ``round(fraction * n)`` of them (at least one)
    to validation (``count`` of them when given: leave-last-out is ``count=1``): their latest by
    ``order`` (a sparse matrix of ``x``'s pattern whose values rise with time) when given, else a
    seeded random choice. Others keep everything.
    """
    if count is None and not 0 < fraction < 1:
        raise ParameterError(f"The validation fraction must be between 0 and 1; got {fraction!r}.")
    x = sp.csr_matrix(x, dtype=np.float32, copy=True)
    x.sum_duplicates()
    x.sort_indices()
    n = np.diff(x.indptr)
    rows = np.repeat(np.arange(x.shape[0]), n)
    if order is not None:
        o = sp.csr_matrix(order, copy=True)
        o.sort_indices()
        if o.shape != x.shape or o.nnz != x.nnz or not np.array_equal(o.indices, x.indices):
            raise ParameterError("order must have the training matrix's shape and pattern (one time per interaction).")
        key = np.asarray(o.data, dtype=np.float64)
    else:
        key = np.random.default_rng(seed).random(x.nnz)
    # Rank of each entry within its user, latest (or random-first) = 0.
    by = np.lexsort((-key, rows))
    rank = np.empty(x.nnz, np.int64)
    rank[by] = np.arange(x.nnz) - x.indptr[rows[by]]
    share = np.full(n.shape, float(count)) if count is not None else np.maximum(1, np.floor(fraction * n + 0.5))
    take = np.where(n >= min_items, share, 0).astype(np.int64)
    val = rank < take[rows]
    fit_m = sp.csr_matrix((x.data[~val], x.indices[~val], np.concatenate([[0], np.cumsum(n - take)])), shape=x.shape)
    val_m = sp.csr_matrix((np.ones(int(val.sum()), np.float32), x.indices[val], np.concatenate([[0], np.cumsum(take)])),
                          shape=x.shape)
    return fit_m, val_m


def validation_figures(scores: np.ndarray, seen: sp.csr_matrix, truth: sp.csr_matrix, k: int = 20) -> dict:
    """Mean Recall@k and NDCG@k of ``scores`` [users, items] against ``truth``, ``seen`` excluded."""
    top = top_k(scores, k, exclude=seen)
    return {f"recall@{k}": float(recall(top, truth, k).mean()), f"ndcg@{k}": float(ndcg(top, truth, k).mean())}


def _sample_users(val: sp.csr_matrix, max_entries: int, seed: int | None) -> np.ndarray:
    users = np.flatnonzero(np.diff(val.indptr) > 0)
    cap = max(1, max_entries // max(val.shape[1], 1))
    if users.size > cap:
        users = np.sort(np.random.default_rng(seed).choice(users, size=cap, replace=False))
    return users


def _search_weights(parts: dict, seen, truth, grid: Mapping, k: int, start) -> tuple[np.ndarray, float, int]:
    """Coordinate ascent over the weights (each over ``grid["weight_values"]``); ties keep the earlier."""
    best = np.asarray(start, dtype=np.float64)
    best_val = validation_figures(user_model.combine(parts, best), seen, truth, k)[f"recall@{k}"]
    tried = 1
    for _ in range(int(grid["rounds"])):
        moved = False
        for c in range(len(user_model.COMPONENTS)):
            for value in grid["weight_values"]:
                if value == best[c]:
                    continue
                trial = best.copy()
                trial[c] = value
                if not trial.any():
                    continue
                got = validation_figures(user_model.combine(parts, trial), seen, truth, k)[f"recall@{k}"]
                tried += 1
                if got > best_val + 1e-9:
                    best, best_val, moved = trial, got, True
        if not moved:
            break
    return best, best_val, tried


def select(x, builds: Mapping[str, Build], order=None, seed: int | None = 0, grid: Mapping | None = None,
           fraction: float = 0.2, k: int = 20, max_entries: int = DEFAULT_MAX_ENTRIES) -> tuple[dict, dict]:
    """Choose the build and the user model's parameters on a validation slice of ``x``.

    Parameters
    ----------
    x : sparse [users, items], the training log.
    builds : name -> callable taking a training matrix and returning ``(embeddings [items, d],
        item-graph adjacency [items, items] or None)`` on its columns: the candidate graph and
        walk settings (each one is trained once, on the fit part of the slice).
    order : sparse, ``x``'s pattern, values rising with time (the holdout takes the latest), or None.
    grid : overrides of :data:`DEFAULT_GRID`.
    fraction, k, max_entries : the validation share of each user's items, the cutoff, and the
        most (users x items) validation scores held at once (users are sampled down to fit).

    Returns
    -------
    (params, report): ``params`` has ``build`` (the chosen name) and the user model's ``weights``,
    ``lam`` and ``edge_power``; ``report`` the validation figures of the chosen setting, of each component
    alone and of each build, with sizes and seconds.
    """
    if not builds:
        raise ParameterError("select needs at least one build (graph and walk settings) to try.")
    grid = {**DEFAULT_GRID, **dict(grid or {})}
    t0 = time.perf_counter()
    x_fit, x_val = holdout(x, fraction, order, seed)
    users = _sample_users(x_val, max_entries, seed)
    seen, truth = x_fit[users], x_val[users]
    report: dict = {"fraction": fraction, "k": k, "validation_users": int(users.size),
                    "validation_items": int(truth.nnz), "builds": {}}
    best: tuple | None = None
    for name, build in builds.items():
        t = time.perf_counter()
        emb, adjacency = build(x_fit)
        build_s = time.perf_counter() - t
        for lam, power in [(lam, power) for lam in grid["lam"] for power in grid["edge_power"]]:
            state = user_model.fit(emb, x_fit, adjacency, {"lam": lam, "edge_power": power})
            parts = user_model.components(state, seen)
            alone = {c: validation_figures(parts[c], seen, truth, k)[f"recall@{k}"] for c in user_model.COMPONENTS}
            weights, value, tried = _search_weights(parts, seen, truth, grid, k, user_model.DEFAULT_PARAMS["weights"])
            figures = validation_figures(user_model.combine(parts, weights), seen, truth, k)
            entry = {"build": name, "lam": float(lam), "edge_power": float(power), "weights": [float(w) for w in weights], **figures,
                     "alone": alone, "tried": tried, "build_s": round(build_s, 2)}
            report["builds"].setdefault(name, []).append(entry)
            logger.info("validation %s lam %g edge_power %g: recall@%d %.4f with weights %s", name, lam, power, k,
                        value, weights)
            if best is None or value > best[0] + 1e-9:
                best = (value, entry)
            del parts
    assert best is not None  # builds is not empty
    chosen = best[1]
    report["chosen"] = chosen
    report["seconds"] = round(time.perf_counter() - t0, 2)
    params = {"build": chosen["build"], "weights": chosen["weights"], "lam": chosen["lam"],
              "edge_power": chosen["edge_power"]}
    return params, report
