"""Settings chosen on the log at fit time: a validation slice carved from the training log.

:func:`validation_users` picks the users whose items are held out (every user of a small log;
on a large one a seeded sample, as many as :data:`DEFAULT_MAX_ENTRIES` scores allow, within
[:data:`MIN_VALIDATION_USERS`, :data:`MAX_VALIDATION_USERS`]); :func:`holdout` holds out a
share of their items (the latest, when the log has times; else a seeded random share).
:func:`select` builds the embeddings (and the item graph) on the rest with each candidate
``build`` (graph settings, walk budget), then searches the user model's parameters
(:mod:`recgraph.user_model`): the subspace ridge ``lam`` and the graph's embedding
re-weighting ``edge_power`` over a grid, and the weights of the scores by coordinate
ascent over a grid of values. Each component variant is scored once; a setting is judged by
Recall@K of the held-out items ranked among the union of every variant's top
:data:`CANDIDATES` items, and the chosen one is measured again on the whole catalogue
(:func:`exact_figures`). It returns the chosen parameters and the validation figures, for the
manifest. Nothing here sees a test split.

>>> params, report = select(x, {"default": build}, order=None, seed=1)
>>> state = user_model.fit(*build(x), params=params)   # final fit on the whole training log
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping

import numpy as np
import scipy.sparse as sp

from . import user_model
from .errors import ParameterError
from .evaluation.metrics import ndcg, recall, top_k

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_GRID", "exact_figures", "holdout", "select", "validation_users"]

#: The search: ``lam`` values tried, the values each weight may take, rounds of coordinate ascent.
DEFAULT_GRID = {"lam": (1.0, 10.0, 100.0), "edge_power": (0.0, 1.0), "weight_values": (0.0, 0.25, 0.5, 1.0, 2.0),
                "rounds": 2}
#: Validation scores (users x items) the validation users may take; more users are sampled down to fit...
DEFAULT_MAX_ENTRIES = 24_000_000
#: ...but at least this many users (all of them on a smaller log) and at most this many.
MIN_VALIDATION_USERS = 500
MAX_VALIDATION_USERS = 5000
#: The user model's arrays that hold the (re-weighted) item graph.
GRAPH_KEYS = ("graph_indptr", "graph_indices", "graph_data")
#: The weight search ranks the union of each score's top this many unseen items per user.
CANDIDATES = 100

Build = Callable[[sp.csr_matrix], tuple[np.ndarray, sp.spmatrix | None]]


def holdout(x, fraction: float = 0.2, order=None, seed: int | None = 0,
            min_items: int = 3, count: int | None = None, users=None) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Split each user's items of ``x`` into (fit, validation) matrices of ``x``'s shape.

    Users with at least ``min_items`` items lose ``round(fraction * n)`` of them (at least one)
    to validation (``count`` of them when given: leave-last-out is ``count=1``): their latest by
    ``order`` (a sparse matrix of ``x``'s pattern whose values rise with time) when given, else a
    seeded random choice. Others keep everything; with ``users`` (row numbers), only those
    users lose items.
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
    eligible = n >= min_items
    if users is not None:
        chosen = np.zeros(n.shape, dtype=bool)
        chosen[np.asarray(users, dtype=np.int64)] = True
        eligible &= chosen
    take = np.where(eligible, share, 0).astype(np.int64)
    val = rank < take[rows]
    fit_m = sp.csr_matrix((x.data[~val], x.indices[~val], np.concatenate([[0], np.cumsum(n - take)])), shape=x.shape)
    val_m = sp.csr_matrix((np.ones(int(val.sum()), np.float32), x.indices[val], np.concatenate([[0], np.cumsum(take)])),
                          shape=x.shape)
    return fit_m, val_m


def validation_users(x, max_entries: int, seed: int | None, min_items: int = 3,
                     min_users: int = MIN_VALIDATION_USERS, max_users: int = MAX_VALIDATION_USERS) -> np.ndarray:
    """The users (rows of ``x``, ascending) whose items are held out for validation: every user
    with at least ``min_items`` items, sampled (seeded) down to ``max_entries`` scores
    (users x items), but never below ``min_users`` nor above ``max_users``."""
    x = sp.csr_matrix(x)
    users = np.flatnonzero(np.diff(x.indptr) >= min_items)
    cap = int(np.clip(max_entries // max(x.shape[1], 1), min_users, max_users))
    if users.size > cap:
        users = np.sort(np.random.default_rng(seed).choice(users, size=cap, replace=False))
    return users


class _Candidates:
    """Validation on each score's best items: the union of every component variant's top
    ``width`` unseen items per user, with each variant's standardised score there and whether
    the item is held out. The weight search ranks these few columns instead of the catalogue
    (the chosen setting is then measured on the whole catalogue)."""

    def __init__(self, variants: Mapping[tuple, tuple[Mapping, str]], seen: sp.csr_matrix, truth: sp.csr_matrix,
                 width: int, recent_count: int = user_model.RECENT_COUNT):
        from .scoring import block_rows

        n_users, n_items = seen.shape
        names = list(variants)
        width = min(int(width), n_items)
        cols = np.zeros((n_users, width * (len(names) if width < n_items else 1)), dtype=np.int64)
        values = {name: np.zeros(cols.shape, dtype=np.float32) for name in names}
        step = block_rows(n_items * len(names), None)
        for lo in range(0, n_users, step):
            hi = min(lo + step, n_users)
            h = seen[lo:hi]
            rows = np.repeat(np.arange(hi - lo), np.diff(h.indptr))
            dense, picks = {}, []
            for name, (state, component) in variants.items():
                block = user_model.components(state, h, (component,), recent_count)[component]
                if width < n_items:  # the variant's best unseen items (one compiled pass per row)
                    picks.append(top_k(block, width, exclude=h))
                block[rows, h.indices] = -np.inf
                dense[name] = block
            if width >= n_items:
                picks = [np.broadcast_to(np.arange(n_items), (hi - lo, n_items))]
            # A short row's -1 pads point at column 0 here; the column's values decide below.
            block_cols = np.sort(np.maximum(np.concatenate(picks, axis=1), 0), axis=1)
            cols[lo:hi] = block_cols
            for name in names:
                values[name][lo:hi] = np.take_along_axis(dense[name], block_cols, axis=1)
        # A column picked by several variants counts once; seen items never count.
        self.valid = np.ones(cols.shape, dtype=bool)
        self.valid[:, 1:] = cols[:, 1:] != cols[:, :-1]
        for name in names:
            self.valid &= np.isfinite(values[name])
        self.values = values
        truth = sp.csr_matrix(truth)
        truth.sort_indices()
        keys = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(truth.indptr)) * n_items + truth.indices
        wanted = np.arange(n_users, dtype=np.int64)[:, None] * n_items + cols
        pos = np.minimum(np.searchsorted(keys, wanted), max(keys.size - 1, 0))
        self.hits = (keys[pos] == wanted) & self.valid if keys.size else np.zeros(cols.shape, dtype=bool)
        self.n_relevant = np.diff(truth.indptr).astype(np.float64)

    def recall(self, parts: Mapping[str, tuple], weights, k: int) -> float:
        """Mean Recall@k of ``sum_c weights[c] * variant`` over the candidates (``parts`` maps
        each component to its variant's name)."""
        total = np.zeros(self.hits.shape, dtype=np.float32)
        for component, weight in zip(user_model.COMPONENTS, weights):
            if weight > 0:
                total += np.float32(weight) * self.values[parts[component]]
        total[~self.valid] = -np.inf
        width = total.shape[1]
        if k < width:
            # The k best per row, ties to the lower column (the columns are ascending), as the
            # exact ranking breaks them: everything above the k-th value, then the first ties.
            kth = -np.partition(-total, k - 1, axis=1)[:, k - 1:k]
            above = total > kth
            ties = (total == kth) & np.isfinite(total)
            room = k - above.sum(axis=1, keepdims=True)
            picked = above | (ties & (np.cumsum(ties, axis=1) <= room))
            found = (picked & self.hits).sum(axis=1)
        else:
            found = self.hits.sum(axis=1)
        per_user = np.divide(found, self.n_relevant, out=np.zeros_like(self.n_relevant), where=self.n_relevant > 0)
        return float(per_user.mean()) if per_user.size else 0.0


def _places(times: sp.csr_matrix) -> sp.csr_matrix:
    """``times``' pattern with each entry's place in its row by time (1 = oldest; ties by column)."""
    times = sp.csr_matrix(times, dtype=np.float64)
    times.sort_indices()
    rows = np.repeat(np.arange(times.shape[0]), np.diff(times.indptr))
    by = np.lexsort((times.indices, times.data, rows))
    place = np.empty(times.nnz)
    place[by] = np.arange(times.nnz) - times.indptr[rows[by]] + 1
    return sp.csr_matrix((place, times.indices.copy(), times.indptr.copy()), shape=times.shape)


def _search_weights(evaluate: Callable[[np.ndarray], float], grid: Mapping, start,
                    active: int = len(user_model.COMPONENTS)) -> tuple[np.ndarray, float, int]:
    """Coordinate ascent over the first ``active`` weights (each over ``grid["weight_values"]``);
    ties keep the earlier."""
    best = user_model.full_weights(start)
    best_val = evaluate(best)
    tried = 1
    for _ in range(int(grid["rounds"])):
        moved = False
        for c in range(active):
            for value in grid["weight_values"]:
                if value == best[c]:
                    continue
                trial = best.copy()
                trial[c] = value
                if not trial.any():
                    continue
                got = evaluate(trial)
                tried += 1
                if got > best_val + 1e-9:
                    best, best_val, moved = trial, got, True
        if not moved:
            break
    return best, best_val, tried


def exact_figures(state: Mapping, seen: sp.csr_matrix, truth: sp.csr_matrix, k: int,
                  recent_count: int = user_model.RECENT_COUNT) -> dict:
    """Recall@k and NDCG@k of the fitted user model ``state`` ranking the whole catalogue for the
    validation users (a block of users at a time)."""
    from .scoring import block_rows

    prepared = user_model.prepared(state)
    step = block_rows(seen.shape[1], None)
    recalls, ndcgs = [], []
    for lo in range(0, seen.shape[0], step):
        h, t = seen[lo:lo + step], truth[lo:lo + step]
        top = top_k(user_model.blended(prepared, h, state["weights"], recent_count), k, exclude=h)
        recalls.append(recall(top, t, k))
        ndcgs.append(ndcg(top, t, k))
    return {f"recall@{k}": float(np.concatenate(recalls).mean()) if recalls else 0.0,
            f"ndcg@{k}": float(np.concatenate(ndcgs).mean()) if ndcgs else 0.0}


def select(x, builds: Mapping[str, Build], order=None, seed: int | None = 0, grid: Mapping | None = None,
           fraction: float = 0.2, k: int = 20, max_entries: int = DEFAULT_MAX_ENTRIES,
           users=None, recent_count: int = user_model.RECENT_COUNT, latest: bool = True) -> tuple[dict, dict]:
    """Choose the build and the user model's parameters on a validation slice of ``x``.

    Parameters
    ----------
    x : sparse [users, items], the training log.
    builds : name -> callable taking a training matrix and returning ``(embeddings [items, d],
        item-graph adjacency [items, items] or None)`` on its columns: the candidate graph and
        walk settings (each one is trained once, on the fit part of the slice).
    order : sparse, ``x``'s pattern, values rising with time (the holdout takes the latest), or None.
    grid : overrides of :data:`DEFAULT_GRID`.
    fraction, k, max_entries : the validation share of each validation user's items, the
        cutoff, and the (users x items) scores the validation users may take
        (:func:`validation_users`).
    users : the validation users (rows), instead of :func:`validation_users`' choice.
    recent_count : how many of a history's latest items the recent scores read; they are
        searched only when ``order`` is given (a log with times), else they keep weight 0.
    latest : with ``order``, hold out each validation user's latest items (else a seeded
        random share; the histories keep their order either way).

    Each component variant (the embedding score, the subspace score for each ``lam``, the
    graph score for each ``edge_power``, popularity) is scored once for the validation users;
    the weights are searched on the union of every variant's top :data:`CANDIDATES` items per
    user, and the chosen setting is measured again on the whole catalogue.

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
    if users is None:
        users = validation_users(x, max_entries, seed)
    x_fit, x_val = holdout(x, fraction, order if latest else None, seed, users=users)
    users = np.flatnonzero(np.diff(x_val.indptr) > 0)
    seen, truth = x_fit[users], x_val[users]
    ordered = order is not None
    if ordered:
        seen = _places(sp.csr_matrix(order)[users].multiply(seen > 0).tocsr())
    report: dict = {"ordered": ordered, "holdout": "latest" if ordered and latest else "random",
                    "recent_count": int(recent_count), "fraction": fraction, "k": k, "validation_users": int(users.size),
                    "validation_items": int(truth.nnz), "candidates": CANDIDATES, "builds": {}}
    best: tuple | None = None
    lams, powers = [float(v) for v in grid["lam"]], [float(v) for v in grid["edge_power"]]
    for name, build in builds.items():
        t = time.perf_counter()
        emb, adjacency = build(x_fit)
        build_s = time.perf_counter() - t
        # The ridge changes only the subspace map and the re-weighting only the graph: one fit per
        # value of each, combined for every pair.
        by_lam = {lam: user_model.fit(emb, x_fit, None, {"lam": lam}) for lam in lams}
        by_power = {power: user_model.fit(emb, x_fit, adjacency, {"lam": lams[0], "edge_power": power,
                                                                  "weights": (1.0, 0.0, 1.0, 1.0)})
                    for power in powers}
        states = {(lam, power): {**by_lam[lam], "edge_power": np.float64(power),
                                 **{key: by_power[power][key] for key in GRAPH_KEYS}}
                  for lam in lams for power in powers}
        logger.debug("validation user models: %.2f s", time.perf_counter() - t - build_s)
        first = states[(lams[0], powers[0])]
        variants: dict[tuple, tuple[Mapping, str]] = {("embedding",): (first, "embedding"),
                                                       ("popularity",): (first, "popularity"),
                    **{("subspace", lam): (states[(lam, powers[0])], "subspace") for lam in lams},
                    **{("graph", power): (states[(lams[0], power)], "graph") for power in powers}}
        if ordered:
            variants[("recent",)] = (first, "recent")
            variants.update({("recent_graph", power): (states[(lams[0], power)], "recent_graph") for power in powers})
        t = time.perf_counter()
        candidates = _Candidates(variants, seen, truth, CANDIDATES, recent_count)
        logger.debug("validation candidates of %d variants: %.2f s", len(variants), time.perf_counter() - t)
        for lam, power in states:
            parts = {"embedding": ("embedding",), "subspace": ("subspace", lam), "graph": ("graph", power),
                     "popularity": ("popularity",), "recent": ("recent",), "recent_graph": ("recent_graph", power)}
            active = len(user_model.COMPONENTS) if ordered else len(user_model.UNORDERED)
            alone = {c: candidates.recall(parts, np.eye(len(user_model.COMPONENTS))[i], k)
                     for i, c in enumerate(user_model.COMPONENTS[:active])}
            evaluate = functools.partial(candidates.recall, parts, k=k)
            weights, value, tried = _search_weights(evaluate, grid, user_model.DEFAULT_PARAMS["weights"], active)
            entry = {"build": name, "lam": lam, "edge_power": power, "weights": [float(w) for w in weights],
                     f"recall@{k}": value, "alone": alone, "tried": tried, "build_s": round(build_s, 2)}
            report["builds"].setdefault(name, []).append(entry)
            logger.info("validation %s lam %g edge_power %g: recall@%d %.4f with weights %s", name, lam, power, k,
                        value, weights)
            if best is None or value > best[0] + 1e-9:
                best = (value, entry, states[(lam, power)])
    assert best is not None  # builds is not empty
    chosen = dict(best[1])
    chosen["candidate_recall"] = chosen.pop(f"recall@{k}")
    chosen_state = {**best[2], "weights": np.asarray(chosen["weights"], dtype=np.float64)}
    chosen.update(exact_figures(chosen_state, seen, truth, k, recent_count))
    report["chosen"] = chosen
    report["seconds"] = round(time.perf_counter() - t0, 2)
    params = {"build": chosen["build"], "weights": chosen["weights"], "lam": chosen["lam"],
              "edge_power": chosen["edge_power"]}
    return params, report
