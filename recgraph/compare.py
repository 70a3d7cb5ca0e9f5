"""Compare trainer backends on one shared walk corpus: quality, speed, agreement.

The graph and the walks are built ONCE from the split's training part (with the seeds
:func:`recgraph.pipeline.train` would use), every backend trains on that identical
corpus (its SHA-256 is in the report), each result is written as a normal artifact and
measured through :meth:`ItemIndex.recommend`, the path users call. Baselines are scored
in the same harness for scale. Output directory::

    report.json   everything, machine-readable (schema: :data:`REPORT_KEYS`)
    report.md     the table
    report.png    the plot (needs matplotlib, the ``plot`` extra)

>>> report = compare_backends("ml-latest-small.zip", "runs/compare", seed=0)
"""

from __future__ import annotations

import argparse
import datetime as _dt
import io
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from . import __version__
from .errors import MissingDependencyError, ParameterError
from .evaluation.settings import DEFAULT_BASELINES, DEFAULT_EASE_LAMBDA, DEFAULT_TEST_FRACTION, DEFAULT_THRESHOLD

logger = logging.getLogger(__name__)

DEFAULT_BACKENDS = ("gensim", "keras")
REPORT_FILES = ("report.json", "report.md", "report.png")
#: Top-level keys of report.json.
REPORT_KEYS = ("recgraph_version", "created_at", "data", "seed", "preset", "protocol", "split", "graph",
               "params", "walks_sha256", "walks_shape", "backends", "agreement", "baselines", "plot")
#: Keys of each available backend's entry in ``backends``.
BACKEND_KEYS = ("available", "trainer_params", "train_s", "hr@10", "ndcg@10", "recall@20", "coverage",
                "metrics", "rank_s", "similar")
#: Agreement is also reported over this many most-liked movies.
POPULAR_MOVIES = 100
#: Movies whose top-10 neighbours the report lists (Star Wars IV and the showcase titles' ids).
PROBE_MOVIES = (260, 1, 318, 364, 589, 858, 1721, 2571)


def neighbour_jaccard(a, b, k: int = 10, movies=None) -> dict:
    """Mean and median Jaccard of the top-``k`` neighbour lists of ``movies`` (default: every
    movie in both indexes)."""
    common = sorted(set(a.movie_ids.tolist()) & set(b.movie_ids.tolist()))
    if movies is not None:
        wanted = {int(m) for m in movies}
        common = [m for m in common if m in wanted]
    scores = np.empty(len(common))
    for n, movie in enumerate(common):
        left = {h["movie_id"] for h in a.similar(movie, k)}
        right = {h["movie_id"] for h in b.similar(movie, k)}
        union = left | right
        scores[n] = len(left & right) / len(union) if union else 1.0
    return {"k": k, "items": len(common), "mean_jaccard": round(float(scores.mean()), 4) if len(common) else None,
            "median_jaccard": round(float(np.median(scores)), 4) if len(common) else None}


def compare_backends(data, out_dir: str | os.PathLike, seed: int | None = 0, backends=DEFAULT_BACKENDS,
                     preset: str = "tuned", protocol: str = "random", threshold: float = DEFAULT_THRESHOLD,
                     test_fraction: float = DEFAULT_TEST_FRACTION, baselines=DEFAULT_BASELINES,
                     ease_lambda: float = DEFAULT_EASE_LAMBDA, trainer_overrides: dict | None = None,
                     keep_artifacts: bool = False, show_progress: bool = False) -> dict:
    """Train every backend on one walk corpus, measure, and write the report directory.

    Parameters
    ----------
    data : a source for :func:`recgraph.data.load_movielens`, or loaded Ratings.
    out_dir : where report.json / report.md / report.png go (replaced atomically).
    backends : trainer names; one that cannot be imported is reported as unavailable.
    trainer_overrides : ``{backend: {param: value}}`` on top of the preset.
    keep_artifacts : also keep each backend's artifact under ``out_dir/artifacts/``.

    Returns
    -------
    The report (as written to report.json).
    """
    from .artifact import check_output_dir, replace_dir, staging_dir, write_artifact
    from .data import Ratings, load_movielens
    from .evaluation.harness import baseline_params, evaluate_baseline, evaluate_index, prepare
    from .corpus import GraphParams, WalkParams, build_corpus, fit_embeddings
    from .index import ItemIndex
    from .pipeline import item_likes, item_metadata, popular_rows, stage_seeds
    from .presets import preset_params
    from .trainers import get_trainer

    out = check_output_dir(out_dir, marker="report.json", marker_keys=("recgraph_version", "backends"),
                           allowed=frozenset(REPORT_FILES) | {"artifacts"})
    if not backends:
        raise ParameterError("Name at least one backend to compare.")
    overrides = dict(trainer_overrides or {})
    ratings = data if isinstance(data, Ratings) else load_movielens(data)
    split, matrices = prepare(ratings, protocol, threshold, test_fraction, seed)
    train_ratings = split.train_ratings(ratings)
    shared = preset_params(preset, backends[0])
    # The seeds recgraph.pipeline.train derives from `seed`, so the corpus is the one it would build.
    walk_seed, train_seed, index_seed = stage_seeds(seed)
    t = time.perf_counter()
    corpus = build_corpus(train_ratings, [GraphParams(**v) for v in shared.views], WalkParams(**shared.walks),
                          seed=walk_seed)
    corpus_s = time.perf_counter() - t
    item_ids, corpus_sha = corpus.item_ids, corpus.sha256()
    titles, genres = item_metadata(train_ratings, item_ids)
    likes = item_likes(train_ratings)
    popular = popular_rows(train_ratings, likes)

    tmp = staging_dir(out)
    try:
        entries, indexes = {}, {}
        for backend in backends:
            params = preset_params(preset, backend, overrides.get(backend))
            trainer_params = {**params.trainer, "seed": train_seed, "show_progress": show_progress}
            try:
                trainer = get_trainer(backend, **trainer_params)
            except MissingDependencyError as exc:
                logger.warning("%s", exc)
                entries[backend] = {"available": False, "error": str(exc)}
                continue
            t = time.perf_counter()
            embeddings, history = fit_embeddings(trainer, corpus)
            train_s = time.perf_counter() - t
            manifest = {
                "backend": backend,
                "seed": seed,
                "params": {**corpus.params_record(), "walks": shared.walks,
                           "trainer": {k: v for k, v in trainer.get_params().items() if k != "show_progress"}},
                "graph": corpus.stats(),
                "data": {"source": train_ratings.source, "md5": ratings.md5},
                "walks_sha256": corpus_sha,
            }
            artifact_dir = tmp / "artifacts" / backend
            write_artifact(artifact_dir, embeddings, item_ids, titles, genres, manifest, seed=index_seed,
                           likes=likes.count(item_ids).astype(np.int64), popular=popular,
                           scoring=params.scoring)
            index = ItemIndex.load(artifact_dir)
            indexes[backend] = index
            row = evaluate_index(index, matrices, None, name=backend)  # the artifact's own scoring
            metrics = row["metrics"]
            entries[backend] = {
                "available": True,
                "trainer_params": manifest["params"]["trainer"],
                "train_s": round(train_s, 3),
                "hr@10": metrics["hr@10"],
                "ndcg@10": metrics["ndcg@10"],
                "recall@20": metrics["recall@20"],
                "coverage": metrics["coverage@10"],
                "metrics": metrics,
                "rank_s": row["timings_s"]["rank"],
                "users_without_recommendations": row["users_without_recommendations"],
                "history": {k: v for k, v in history.items() if k != "timings_s"},
                "similar": {str(m): [h["movie_id"] for h in index.similar(m, 10)]
                            for m in PROBE_MOVIES if m in index},
            }
        names = [b for b in backends if b in indexes]
        agreement = {"k": 10, "pairs": []}
        # Rare movies have noisy neighbours in any model; the most liked ones are what users see most.
        liked = matrices.positives(threshold).sum(axis=0).A1
        graph_rows = matrices.item_rows(item_ids)
        popular = item_ids[np.argsort(-liked[graph_rows], kind="stable")[:POPULAR_MOVIES]]
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                pair = {"a": a, "b": b, **neighbour_jaccard(indexes[a], indexes[b], 10)}
                top = neighbour_jaccard(indexes[a], indexes[b], 10, popular)
                pair[f"popular_{POPULAR_MOVIES}"] = {"mean_jaccard": top["mean_jaccard"],
                                                     "median_jaccard": top["median_jaccard"]}
                agreement["pairs"].append(pair)
        if len(names) < 2:
            agreement["note"] = "fewer than two backends trained, so there is nothing to compare"
        baseline_rows = {}
        for name in baselines:
            row = evaluate_baseline(matrices, name, **baseline_params(name, threshold, ease_lambda))
            m = row["metrics"]
            baseline_rows[name] = {"params": row["params"], "fit_s": row["timings_s"]["fit"], "hr@10": m["hr@10"],
                                   "ndcg@10": m["ndcg@10"], "recall@20": m["recall@20"],
                                   "coverage": m["coverage@10"], "metrics": m}
        report = {
            "recgraph_version": __version__,
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "data": {"source": ratings.source, "md5": ratings.md5},
            "seed": seed,
            "preset": preset,
            "protocol": protocol,
            "split": {**split.summary(), "eval_users": int(len(matrices.eval_users)), "items": matrices.n_items},
            "graph": corpus.stats(),
            "params": {**corpus.params_record(), "walks": shared.walks, "scoring": shared.scoring},
            "walks_sha256": corpus_sha,
            "walks_shape": corpus.shape,
            "corpus_s": round(corpus_s, 3),
            "backends": entries,
            "agreement": agreement,
            "baselines": baseline_rows,
            "plot": None,
        }
        png = report_png(report)
        if png is not None:
            (tmp / "report.png").write_bytes(png)
            report["plot"] = "report.png"
        else:
            report["plot_note"] = ("matplotlib is not installed (pip install 'recgraph[plot]'), "
                                   "so there is no report.png")
        (tmp / "report.md").write_text(report_markdown(report), encoding="utf-8")
        (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        if not keep_artifacts:
            shutil.rmtree(tmp / "artifacts", ignore_errors=True)
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def _rows(report: dict) -> list[tuple[str, dict]]:
    rows = [(name, e) for name, e in report["backends"].items() if e.get("available")]
    return rows + [(name, e) for name, e in report["baselines"].items()]


def report_markdown(report: dict) -> str:
    """The report as a Markdown page: one table plus agreement and notes."""
    from .corpus import view_label

    split = report["split"]
    views = report["graph"].get("views", [])
    extra = "".join(f"; view {i} ({view_label(v)}): {v['nodes']:,} nodes, {v['edges']:,} edges"
                    for i, v in enumerate(views[1:], start=1))
    lines = [
        f"# Backend comparison ({report['preset']} preset, {report['protocol']} split, seed {report['seed']})",
        "",
        f"Data: `{report['data']['source']}`; {split['eval_users']} users, {split['items']} movies ranked in full "
        f"(every movie the user did not rate in training). Graph from the training part: "
        f"{report['graph']['nodes']:,} nodes, {report['graph']['edges']:,} edges{extra}; one walk corpus of "
        f"{report['walks_shape'][0]:,} x {report['walks_shape'][1]} (SHA-256 `{report['walks_sha256'][:16]}…`) "
        "shared by every backend.",
        "",
        "| model | HR@10 | NDCG@10 | Recall@20 | Coverage@10 | train s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, e in _rows(report):
        seconds = e.get("train_s", e.get("fit_s"))
        label = name if name in report["backends"] else f"{name} (baseline)"
        lines.append(f"| {label} | {e['hr@10']:.4f} | {e['ndcg@10']:.4f} | {e['recall@20']:.4f} | "
                     f"{e['coverage']:.4f} | {seconds:.2f} |")
    for name, e in report["backends"].items():
        if not e.get("available"):
            lines += ["", f"**{name}: not run.** {e['error']}"]
    lines += ["", "## Agreement", ""]
    pairs = report["agreement"]["pairs"]
    if pairs:
        for p in pairs:
            top = p[f"popular_{POPULAR_MOVIES}"]
            lines.append(f"- {p['a']} vs {p['b']}: mean Jaccard of top-{report['agreement']['k']} neighbour lists "
                         f"{p['mean_jaccard']:.3f} (median {p['median_jaccard']:.3f}) over {p['items']:,} movies; "
                         f"{top['mean_jaccard']:.3f} (median {top['median_jaccard']:.3f}) over the "
                         f"{POPULAR_MOVIES} most liked")
    else:
        lines.append(f"- {report['agreement'].get('note', 'none')}")
    lines += ["", "Baselines (most-popular, item-kNN cosine, EASE) are scored by the same harness, for scale.",
              "Training time is the trainer's fit on the shared walks (2-core machine; indicative only)."]
    if report.get("plot"):
        lines += ["", f"![comparison]({report['plot']})"]
    return "\n".join(lines) + "\n"


def report_png(report: dict) -> bytes | None:
    """Bars of HR@10, NDCG@10 and Recall@20 per model, and training time per backend."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.info("matplotlib not installed (pip install 'recgraph[plot]'): no report.png")
        return None
    rows = _rows(report)
    names = [n for n, _ in rows]
    metrics = (("hr@10", "HR@10"), ("ndcg@10", "NDCG@10"), ("recall@20", "Recall@20"))
    fig, (ax, ax_time) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 1]})
    x = np.arange(len(names))
    width = 0.8 / len(metrics)
    for i, (key, label) in enumerate(metrics):
        ax.bar(x + (i - 1) * width, [e[key] for _, e in rows], width, label=label)
    ax.set_xticks(x, names, rotation=20, ha="right")
    ax.set_ylabel("metric")
    ax.set_title(f"{report['protocol']} split, {report['split']['eval_users']} users")
    ax.legend()
    ax.grid(True, axis="y", alpha=0.3)
    trained = [(n, e["train_s"]) for n, e in report["backends"].items() if e.get("available")]
    ax_time.bar([n for n, _ in trained], [s for _, s in trained], color="gray")
    ax_time.set_ylabel("train s (shared walks)")
    ax_time.set_title("training time")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


# ---------------------------------------------------------------------- command line
def add_arguments(p: argparse.ArgumentParser) -> None:
    from .presets import available_presets

    p.add_argument("--data", default=None,
                   help="directory with ratings.csv + movies.csv, a MovieLens .zip, or a URL "
                        "(default: download ml-latest-small; offline, pass a local copy)")
    p.add_argument("--out", required=True, help="report directory (replaced atomically)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, walks, training and index (default 0)")
    p.add_argument("--backends", default=",".join(DEFAULT_BACKENDS),
                   help=f"comma-separated trainer backends (default {','.join(DEFAULT_BACKENDS)})")
    p.add_argument("--preset", default="tuned", choices=available_presets(), help="parameter preset (default tuned)")
    p.add_argument("--protocol", default="random", choices=("random", "leave-last-out"),
                   help="split: random 80/20 of positives (default) or temporal leave-last-out")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help="ratings >= this are positives (default 4)")
    p.add_argument("--test-fraction", type=float, default=DEFAULT_TEST_FRACTION,
                   help="random split: share held out (default 0.2)")
    p.add_argument("--baselines", default=",".join(DEFAULT_BASELINES),
                   help="comma-separated baselines to add for scale ('' for none)")
    p.add_argument("--ease-lambda", type=float, default=DEFAULT_EASE_LAMBDA, help="EASE L2 weight (default 100)")
    p.add_argument("--epochs", type=int, default=None, help="override the preset's epochs for every backend")
    p.add_argument("--keep-artifacts", action="store_true", help="keep each backend's artifact under OUT/artifacts/")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")


def add_parser(sub) -> None:
    """Register ``recgraph compare`` on an argparse subparsers object."""
    p = sub.add_parser("compare", help="train every backend on one walk corpus and compare them",
                       description="Build the graph and walks once, train each backend on them, evaluate, "
                                   "and write report.json, report.md and report.png.")
    add_arguments(p)


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def run(args) -> int:
    """Run ``recgraph compare`` from parsed arguments."""
    backends = _names(args.backends)
    overrides = {b: {"epochs": args.epochs} for b in backends} if args.epochs is not None else None
    report = compare_backends(args.data, args.out, seed=args.seed, backends=backends, preset=args.preset,
                              protocol=args.protocol, threshold=args.threshold, test_fraction=args.test_fraction,
                              baselines=_names(args.baselines), ease_lambda=args.ease_lambda,
                              trainer_overrides=overrides, keep_artifacts=args.keep_artifacts,
                              show_progress=not args.quiet)
    if not args.quiet:
        print(report_markdown(report), end="")
        print(f"\nwrote {Path(args.out) / 'report.json'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point (``scripts/compare_backends.py``): ``recgraph compare``."""
    from .cli import main as cli_main

    return cli_main(["compare", *(sys.argv[1:] if argv is None else argv)])
