"""The evaluation harness: split, train, rank every user's unrated movies, measure.

Embedding models are trained by :func:`recgraph.pipeline.train` on the split's training
part, written to a temporary artifact and queried through
:meth:`ItemIndex.recommend` with the scoring recorded in the artifact (popularity prior,
fallback; likes counted from the training part): the same path users call. Baselines score the same users over the same catalogue. Every ranking is
full: every movie the user did not rate in training is a candidate.

>>> report = run_evaluation("ml-latest-small.zip", resolve_config(preset="tuned"),
...                         EvaluationSettings(protocol="leave-last-out"))
>>> print(format_table(report))
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .. import __version__
from ..errors import ParameterError
from .baselines import BaselineTooLarge, make_baseline
from .interactions import Interactions
from .metrics import summarize, top_k
from ..scoring import Popularity, ScoringOptions
from .settings import (DEFAULT_EASE_LAMBDA, DEFAULT_EASE_MAX_GB, DEFAULT_KS, DEFAULT_TEST_FRACTION,
                       DEFAULT_THRESHOLD, SCORE_BLOCK_ENTRIES, EvaluationSettings)
from .splitting import Split, make_split, validation_split

if TYPE_CHECKING:
    from ..config import RunConfig

logger = logging.getLogger(__name__)

#: Columns of the printed table: (metric key, header).
TABLE_COLUMNS = (("hr@10", "HR@10"), ("ndcg@10", "NDCG@10"), ("recall@20", "Recall@20"), ("coverage@10", "Cov@10"))


def popularity_of(data: Interactions) -> Popularity:
    """Users per movie among training ratings >= the split's threshold."""
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


def score_blocks(n_users: int, n_items: int, entries: int | None = None):
    """Slices of ``range(n_users)`` whose score blocks hold at most ``entries`` values
    (default :data:`SCORE_BLOCK_ENTRIES`)."""
    entries = SCORE_BLOCK_ENTRIES if entries is None else entries
    step = max(1, entries // max(n_items, 1))
    return [slice(lo, min(lo + step, n_users)) for lo in range(0, n_users, step)]


def evaluate_baseline(data: Interactions, name: str, ks=DEFAULT_KS, **params) -> dict:
    """Fit baseline ``name`` on the training matrix and measure it on the eval users.

    Users are scored and ranked in blocks (:func:`score_blocks`), so memory follows a block.
    A baseline that cannot fit in its memory limit (EASE on a large catalogue) comes back
    as a row with ``skipped``: the one sentence saying why, and no metrics.
    """
    model = make_baseline(name, **params)
    users = data.eval_users
    t = time.perf_counter()
    try:
        model.fit(data)
    except BaselineTooLarge as exc:
        logger.info("%s", exc)
        return {"name": name, "kind": "baseline", "params": model.get_params(), "skipped": str(exc),
                "metrics": {}, "users": int(len(users)), "timings_s": {}}
    fit_s = time.perf_counter() - t
    top = np.full((len(users), max(ks)), -1, dtype=np.int64)
    # A model may score larger blocks (item-kNN: each block expands its items' rows once);
    # ranking still goes a SCORE_BLOCK_ENTRIES block at a time.
    for block in score_blocks(len(users), data.n_items, getattr(model, "block_entries", None)):
        rows = users[block]
        scores = model.scores(rows)
        for sub in score_blocks(len(rows), data.n_items):
            part = rows[sub]
            top[block][sub] = top_k(scores[sub], max(ks), data.train[part])
        del scores
    rank_s = time.perf_counter() - t - fit_s
    return {
        "name": name,
        "kind": "baseline",
        "params": model.get_params(),
        "metrics": summarize(top, data.test[users], data.n_items, ks),
        "users": int(len(users)),
        "timings_s": {"fit": round(fit_s, 4), "rank": round(rank_s, 4)},
    }


def rank_with_index(index, data: Interactions, users: np.ndarray, k: int,
                    scoring: ScoringOptions | dict | None = None) -> tuple[np.ndarray, int]:
    """Top-``k`` item rows per user from ``index.recommend`` (-1 where a list runs short).

    ``scoring`` overrides the artifact's (``index.scoring``). Each user's query is their
    training ratings >= ``history_min_rating``, oldest first (as a service would send a
    history); every movie they rated in training is excluded. Returns the rows and the
    number of users with no recommendation at all.
    """
    from ..errors import UnknownItemError

    options = index.scoring if scoring is None else index._scoring_options(scoring)
    rated = data.train
    top = np.full((len(users), k), -1, dtype=np.int64)
    empty = 0
    for n, row in enumerate(np.asarray(users).tolist()):
        watched = data.history(row, options.history_min_rating)
        exclude = data.item_ids[rated.indices[rated.indptr[row]:rated.indptr[row + 1]]]
        try:
            movies = hit_movie_ids(index.recommend(watched.tolist(), k, exclude.tolist(), on_unknown="ignore",
                                                   scoring=options))
        except UnknownItemError:
            movies = []
        if not movies:
            empty += 1
            continue
        top[n, :len(movies)] = data.item_rows(np.array(movies, dtype=np.int64))
    return top, empty


def hit_movie_ids(result) -> list[int]:
    """Movie ids, best first, of what ``ItemIndex.recommend`` returned: a list of hit dicts,
    or a result object whose ``hits`` are dicts or objects with ``movie_id``."""
    hits = getattr(result, "hits", result)
    return [int(h["movie_id"] if isinstance(h, dict) else h.movie_id) for h in hits]


def evaluate_index(index, data: Interactions, scoring: ScoringOptions | dict | None = None, ks=DEFAULT_KS,
                   name: str = "index") -> dict:
    """Measure an :class:`~recgraph.index.ItemIndex` (or an artifact path) on ``data``.

    ``scoring`` None: the artifact's own scoring (what its users get); otherwise an override
    (a popularity weight or the popular fallback needs an artifact with likes).
    """
    from ..index import ItemIndex

    if not isinstance(index, ItemIndex):
        index = ItemIndex.load(index)
    scoring = index.scoring if scoring is None else index._scoring_options(scoring)
    users = data.eval_users
    t = time.perf_counter()
    top, empty = rank_with_index(index, data, users, max(ks), scoring)
    rank_s = time.perf_counter() - t
    return {
        "name": name,
        "kind": "embedding",
        "params": {"scoring": scoring.to_dict()},
        "metrics": summarize(top, data.test[users], data.n_items, ks),
        "users": int(len(users)),
        "users_without_recommendations": int(empty),
        "index_items": int(len(index)),
        "timings_s": {"rank": round(rank_s, 4)},
    }


def train_and_evaluate(ratings, split: Split, data: Interactions, config: RunConfig, ks=DEFAULT_KS,
                       show_progress: bool = False, workdir: str | Path | None = None) -> dict:
    """Train ``config`` on ``split``'s training part and evaluate it.

    The artifact is written to a temporary directory (inside ``workdir`` if given) and
    removed afterwards; it is ranked with the scoring its configuration records, as users
    get it.
    """
    from ..artifact import manifest_config
    from ..pipeline import train

    with tempfile.TemporaryDirectory(prefix="recgraph-eval-", dir=workdir) as tmp:
        t = time.perf_counter()
        # The scoring goes into the artifact; the index applies it as it does for users.
        result = train(split.train_ratings(ratings), Path(tmp) / "artifact", config, show_progress=show_progress)
        train_s = time.perf_counter() - t
        row = evaluate_index(result.out_dir, data, None, ks, name=f"{config.backend}/{config.preset}")
    row["backend"] = config.backend
    row["preset"] = config.preset
    row["config"] = manifest_config(result.manifest)
    row["graph"] = result.manifest["graph"]
    row["timings_s"] = {"train": round(train_s, 4), **row["timings_s"],
                        "stages": result.manifest.get("timings_s", {})}
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
        raise ParameterError(f"Carving the validation split {depth} times leaves no user with a held-out movie; "
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
    title = f"{report['protocol']}{tag}: {who}, {split['items']} movies ranked in full"
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
