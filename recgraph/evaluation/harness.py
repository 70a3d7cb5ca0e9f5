"""The evaluation harness: split, train, rank every user's unrated items, measure.

Every method is a fitted model with one interface (:class:`recgraph.model.Recommender` for
the embeddings, the baselines of :mod:`.baselines` beside it): fitted on the split's training
part, then asked ``recommend(histories, n, exclude)`` for every evaluated user in batches,
the same call (and the same scoring, :class:`recgraph.scoring.Scorer`) users make. Each
user's history is their training ratings >= the model's ``history_min_rating``, oldest first
when the log has time; everything they rated in training is excluded. Every ranking is
full: every item the user did not rate in training is a candidate.

>>> report = run_evaluation("ml-latest-small.zip", resolve_config(preset="tuned"),
...                         EvaluationSettings(protocol="leave-last-out"))
>>> print(format_table(report))
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .._version import __version__
from ..errors import ParameterError
from .baselines import BaselineTooLarge, make_baseline
from .interactions import Interactions
from .metrics import summarize
from ..scoring import Popularity, ScoringOptions
from .settings import (DEFAULT_EASE_LAMBDA, DEFAULT_EASE_MAX_GB, DEFAULT_KS, DEFAULT_TEST_FRACTION,
                       DEFAULT_THRESHOLD, EvaluationSettings)
from .splitting import Split, make_split, validation_split

if TYPE_CHECKING:
    from ..config import RunConfig

logger = logging.getLogger(__name__)

#: Columns of the printed table: (metric key, header).
TABLE_COLUMNS = (("hr@10", "HR@10"), ("ndcg@10", "NDCG@10"), ("recall@20", "Recall@20"), ("coverage@10", "Cov@10"))


def popularity_of(data: Interactions) -> Popularity:
    """Users per item among training ratings >= the split's threshold."""
    counts = np.asarray(data.positives(data.threshold).sum(axis=0), dtype=np.float64).ravel()
    return Popularity(data.item_ids, counts)


def baseline_params(name: str, threshold: float, ease_lambda: float = DEFAULT_EASE_LAMBDA,
                    ease_max_gb: float = DEFAULT_EASE_MAX_GB) -> dict:
    """The harness's baseline settings: they learn from positives, EASE with ``lam`` and its
    memory limit ``max_gb``."""
    params = {"min_rating": threshold}
    if name == "ease":
        params["lam"] = ease_lambda
        params["max_gb"] = ease_max_gb
    return params


def user_histories(data: Interactions, users: np.ndarray, min_rating: float | None) -> tuple[list, list]:
    """Each of ``users``' training items >= ``min_rating`` (oldest first when the split has time,
    else by item id) and every item they rated in training, as lists of id arrays."""
    users = np.asarray(users, dtype=np.int64)
    rated = data.train[users]
    counts = np.diff(rated.indptr)
    user = np.repeat(np.arange(len(users)), counts)
    keep = np.ones(rated.nnz, bool) if min_rating is None else rated.data >= min_rating
    when = data.train_order[users].data if data.train_order is not None else rated.indices
    order = np.lexsort((when, user))
    order = order[keep[order]]
    bounds = np.cumsum(np.bincount(user[order], minlength=len(users)))[:-1]
    histories = np.split(data.item_ids[rated.indices[order]], bounds)
    excluded = np.split(data.item_ids[rated.indices], np.cumsum(counts)[:-1])
    return histories, excluded


#: Users whose histories are built and sent to a model at once.
USER_BLOCK = 4096


def rank_users(recommend, data: Interactions, users: np.ndarray, k: int, min_rating: float | None,
               block: int | None = None) -> tuple[np.ndarray, int]:
    """Top-``k`` item rows per user (-1 where a list runs short) from ``recommend(histories, k,
    exclude) -> (ids, scores)``, a block of users at a time; returns them and the number of
    users with no recommendation at all."""
    users = np.asarray(users, dtype=np.int64)
    block = block or USER_BLOCK
    top = np.full((len(users), k), -1, dtype=np.int64)
    for lo in range(0, len(users), block):
        histories, excluded = user_histories(data, users[lo:lo + block], min_rating)
        ids, _ = recommend(histories, k, excluded)
        rows = data.item_rows(np.maximum(ids, 0).ravel()).reshape(ids.shape)
        top[lo:lo + block] = np.where(ids >= 0, rows, -1)
    return top, int(np.sum(np.all(top < 0, axis=1)))


def evaluate_model(model, data: Interactions, ks=DEFAULT_KS, name: str | None = None, kind: str = "embedding",
                   fit_s: float | None = None) -> dict:
    """Measure a fitted model (``recommend(histories, n, exclude)`` and ``history_min_rating``,
    as :class:`recgraph.model.Recommender` and the baselines have) on ``data``'s eval users."""
    users = data.eval_users
    t = time.perf_counter()
    top, empty = rank_users(model.recommend, data, users, max(ks), model.history_min_rating)
    rank_s = time.perf_counter() - t
    row = {
        "name": name or getattr(model, "name", "model"),
        "kind": kind,
        "metrics": summarize(top, data.test[users], data.n_items, ks),
        "users": int(len(users)),
        "users_without_recommendations": empty,
        "timings_s": {**({"fit": round(fit_s, 4)} if fit_s is not None else {}), "rank": round(rank_s, 4)},
    }
    return row


def evaluate_baseline(data: Interactions, name: str, ks=DEFAULT_KS, **params) -> dict:
    """Fit baseline ``name`` on the training matrix and measure it on the eval users.

    A baseline that cannot fit in its memory limit (EASE on a large catalogue) comes back
    as a row with ``skipped``: the one sentence saying why, and no metrics.
    """
    model = make_baseline(name, **params)
    t = time.perf_counter()
    try:
        model.fit_interactions(data)
    except BaselineTooLarge as exc:
        logger.info("%s", exc)
        return {"name": name, "kind": "baseline", "params": model.get_params(), "skipped": str(exc),
                "metrics": {}, "users": int(len(data.eval_users)), "timings_s": {}}
    row = evaluate_model(model, data, ks, name, "baseline", fit_s=time.perf_counter() - t)
    row["params"] = model.get_params()
    row.pop("users_without_recommendations")
    return row


def rank_with_index(index, data: Interactions, users: np.ndarray, k: int,
                    scoring: ScoringOptions | dict | None = None) -> tuple[np.ndarray, int]:
    """Top-``k`` item rows per user from an :class:`~recgraph.index.ItemIndex`'s batch
    recommendations (:meth:`~recgraph.index.ItemIndex.recommend_many`, the same scoring as the
    fitted model), with ``scoring`` instead of the artifact's when given."""
    options = index.scoring if scoring is None else index._scoring_options(scoring)
    return rank_users(lambda h, n, ex: index.recommend_many(h, n, ex, options), data, users, k,
                      options.history_min_rating)


def evaluate_index(index, data: Interactions, scoring: ScoringOptions | dict | None = None, ks=DEFAULT_KS,
                   name: str = "index") -> dict:
    """Measure an :class:`~recgraph.index.ItemIndex` (or an artifact path) on ``data``.

    ``scoring`` None: the artifact's own scoring (what its users get); otherwise an override
    (a popularity weight or the popular fallback needs an artifact with likes).
    """
    from ..index import ItemIndex

    if not isinstance(index, ItemIndex):
        index = ItemIndex.load(index)
    options: ScoringOptions = index.scoring if scoring is None else index._scoring_options(scoring)
    users = data.eval_users
    t = time.perf_counter()
    top, empty = rank_with_index(index, data, users, max(ks), options)
    rank_s = time.perf_counter() - t
    return {
        "name": name,
        "kind": "embedding",
        "params": {"scoring": options.to_dict()},
        "metrics": summarize(top, data.test[users], data.n_items, ks),
        "users": int(len(users)),
        "users_without_recommendations": int(empty),
        "index_items": int(len(index)),
        "timings_s": {"rank": round(rank_s, 4)},
    }


def train_and_evaluate(ratings, split: Split, data: Interactions, config: RunConfig, ks=DEFAULT_KS,
                       show_progress: bool = False) -> dict:
    """Train ``config`` on ``split``'s training part and evaluate it.

    The model is fitted in memory and ranked with the scoring its configuration records,
    through :meth:`recgraph.model.Recommender.recommend`, as users get it.
    """
    from ..artifact import manifest_config
    from ..model import Recommender

    if split.protocol == "random" and config.scoring.search and config.scoring.search_holdout == "auto":
        # The fit-time search validates as this test is made: on randomly held-out items.
        config = config.replace(scoring=replace(config.scoring, search_holdout="random"))
    t = time.perf_counter()
    # Fitted in memory and asked as users ask it: the same scoring the saved artifact answers with.
    model = Recommender(config=config, show_progress=show_progress).fit(split.train_ratings(ratings))
    train_s = time.perf_counter() - t
    row = evaluate_model(model, data, ks, name=f"{config.backend}/{config.preset}")
    row["backend"] = config.backend
    row["preset"] = config.preset
    row["config"] = manifest_config(model.manifest_)
    row["graph"] = model.manifest_["graph"]
    row["index_items"] = int(len(model.item_ids_))
    row["timings_s"] = {"train": round(train_s, 4), "rank": row["timings_s"]["rank"],
                        "stages": model.manifest_.get("timings_s", {})}
    return row


def prepare(ratings, protocol: str, threshold: float = DEFAULT_THRESHOLD, test_fraction: float = DEFAULT_TEST_FRACTION,
            seed: int | None = 0, validation: int = 0, max_users: int | None = None) -> tuple[Split, Interactions]:
    """The split (or the validation split carved from its training part) and its matrices.

    ``max_users``: score a sample of that many eval users, drawn with ``seed`` after the
    split (:meth:`Interactions.sample_eval_users`), so every model scores the same users.

    ``validation`` counts the carvings: 0 (or False) is the split itself, 1 (or True) the
    validation split, carved with seed ``seed + 1``; n carves the previous training part
    again with seed ``seed + n``, so each level trains on less data (a learning curve).
    """
    depth = validation_depth(validation)
    split = make_split(ratings, protocol, threshold, test_fraction, seed)
    for level in range(1, depth + 1):
        split = validation_split(split, seed=None if seed is None else seed + level)
    data = Interactions.from_split(split)
    if depth and len(data.eval_users) == 0:
        raise ParameterError(f"Carving the validation split {depth} times leaves no user with a held-out item; "
                             f"use fewer carvings.")
    return split, data.sample_eval_users(max_users, seed)


def validation_depth(validation, name: str = "validation", minimum: int = 0) -> int:
    """``validation`` as a count of carvings (True = 1, None = 0), at least ``minimum``;
    ``name`` is what the error calls it."""
    if validation is None or isinstance(validation, (bool, np.bool_)):
        depth = int(bool(validation))
    elif isinstance(validation, (int, np.integer)):
        depth = int(validation)
    else:
        depth = -1
    if depth < minimum:
        valid = "True, False or a number of carvings >= 0" if minimum == 0 else f"a number of carvings >= {minimum}"
        raise ParameterError(f"{name} must be {valid}; got {validation!r}.")
    return depth


def run_evaluation(data, config: RunConfig | None = None, settings: EvaluationSettings | None = None,
                   backends: Sequence[str] | None = None, log: dict | None = None,
                   show_progress: bool = False) -> dict:
    """Evaluate a run configuration (for one or more backends) and the baselines on one split.

    Parameters
    ----------
    data : a log for :func:`recgraph.data.load` (CSV/Parquet file or parts, DataFrame,
        MovieLens directory/zip/URL) or loaded Ratings.
    config : the :class:`~recgraph.config.RunConfig` to train (None: ``RunConfig()``, the
        showcase preset with seed 0); its seed seeds the walks, training and index.
    settings : the :class:`~recgraph.evaluation.settings.EvaluationSettings` (protocol,
        threshold, split seed, validation carvings, ``max_users``, ks, baselines; None: the
        defaults).
    backends : train each of these backends with ``config`` (each with its own trainer
        section; None: ``config``'s backend; ``()``: baselines only).
    log : :func:`recgraph.data.load_log` options for ``data`` (column names, items table).

    Returns
    -------
    A JSON-ready dict: ``split``, ``rows`` (one per backend and baseline, each with
    ``metrics``), ``data``, ``config`` and ``settings``.
    """
    from ..config import RunConfig
    from ..pipeline import load_log_source

    config = RunConfig() if config is None else config
    settings = EvaluationSettings() if settings is None else settings
    backends = (config.backend,) if backends is None else tuple(backends)
    depth = validation_depth(settings.validation)
    ratings = load_log_source(data, log)
    split, matrices = prepare(ratings, settings.protocol, settings.threshold, settings.test_fraction,
                              settings.split_seed, depth, settings.max_users)
    rows = []
    for backend in backends:
        run = config.with_backend(backend)
        logger.info("evaluating %s/%s on %s", backend, run.preset, settings.protocol)
        rows.append(train_and_evaluate(ratings, split, matrices, run, settings.ks, show_progress))
    for name in settings.baselines:
        rows.append(evaluate_baseline(matrices, name, settings.ks,
                                      **baseline_params(name, settings.threshold, settings.ease_lambda,
                                                        settings.ease_max_gb)))
    return {
        "recgraph_version": __version__,
        "data": {"source": ratings.source, "md5": ratings.md5, "implicit": bool(ratings.implicit)},
        "protocol": settings.protocol,
        "validation": depth > 0,
        **({"validation_depth": depth} if depth > 1 else {}),
        "seed": config.seed,
        "split_seed": settings.split_seed,
        "ks": list(settings.ks),
        "max_users": settings.max_users,
        "config": config.to_dict(),
        "settings": settings.to_dict(),
        "split": {**split.summary(), "users": matrices.n_users, "items": matrices.n_items,
                  "eval_users": int(len(matrices.eval_users)),
                  "eval_users_total": int(matrices.eval_users_total or len(matrices.eval_users))},
        "rows": rows,
    }


def format_table(report: dict, columns=TABLE_COLUMNS) -> str:
    """A plain-text table of one report's rows."""
    split = report["split"]
    depth = report.get("validation_depth", 1)
    tag = (f" (validation, carved {depth} times)" if depth > 1 else " (validation)") if report.get("validation") else ""
    total = split.get("eval_users_total", split["eval_users"])
    who = (f"{split['eval_users']} users" if total == split["eval_users"] else
           f"{split['eval_users']} of {total} users (sample, split seed {report.get('split_seed')})")
    title = f"{report['protocol']}{tag}: {who}, {split['items']} items ranked in full"
    header = ["model"] + [h for _, h in columns] + ["train s"]
    lines = [header]
    notes = [row["skipped"] for row in report["rows"] if row.get("skipped")]
    for row in report["rows"]:
        if row.get("skipped"):
            continue
        cells = [row["name"]] + [f"{row['metrics'].get(key, float('nan')):.4f}" for key, _ in columns]
        train_s = row.get("timings_s", {}).get("train", row.get("timings_s", {}).get("fit"))
        cells.append(f"{train_s:.1f}" if train_s is not None else "")
        lines.append(cells)
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    out = [title]
    for n, cells in enumerate(lines):
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out + notes)
