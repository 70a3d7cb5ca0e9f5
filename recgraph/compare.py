"""Compare trainer backends on one shared walk corpus: quality, speed, agreement.

The graph and the walks are built ONCE from the split's training part
(:func:`recgraph.pipeline.load_inputs`, with the seed :func:`recgraph.pipeline.train`
uses), every backend trains on that identical corpus (its SHA-256 is in the report)
through :func:`recgraph.pipeline.train_on_corpus`, so each result is a normal artifact
with train's manifest, measured through :meth:`ItemIndex.recommend`, the path users call. Baselines are scored
in the same harness for scale. Output directory::

    report.json   everything, machine-readable (schema: :data:`REPORT_KEYS`)
    report.md     the table
    report.png    the plot (needs matplotlib, the ``plot`` extra)

>>> report = compare_backends("ml-latest-small.zip", "runs/compare", resolve_config(preset="tuned"))
"""

from __future__ import annotations

import datetime as _dt
import io
import logging
import os
import shutil
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ._version import __version__
from .errors import MissingDependencyError, ParameterError
from .evaluation.settings import EvaluationSettings

if TYPE_CHECKING:
    from .config import RunConfig

logger = logging.getLogger(__name__)

DEFAULT_BACKENDS = ("gensim", "keras")
REPORT_FILES = ("report.json", "report.md", "report.png")
#: Top-level keys of report.json.
REPORT_KEYS = ("recgraph_version", "created_at", "data", "seed", "preset", "protocol", "split", "graph",
               "config", "settings", "walks_sha256", "walks_shape", "backends", "agreement", "baselines", "plot")
#: Keys of each available backend's entry in ``backends``.
BACKEND_KEYS = ("available", "trainer_params", "train_s", "hr@10", "ndcg@10", "recall@20", "coverage",
                "metrics", "rank_s", "similar")
#: Agreement is also reported over this many most-liked items.
POPULAR_ITEMS = 100
#: Items whose top-10 neighbours the report lists (Star Wars IV and the showcase titles' ids).
PROBE_MOVIES = (260, 1, 318, 364, 589, 858, 1721, 2571)


def neighbour_jaccard(a, b, k: int = 10, items=None) -> dict:
    """Mean and median Jaccard of the top-``k`` neighbour lists of ``items`` (default: every
    item in both indexes)."""
    common = sorted(set(a.item_ids.tolist()) & set(b.item_ids.tolist()))
    if items is not None:
        wanted = {int(m) for m in items}
        common = [m for m in common if m in wanted]
    scores = np.empty(len(common))
    for n, item in enumerate(common):
        left = {h.item_id for h in a.similar(item, k)}
        right = {h.item_id for h in b.similar(item, k)}
        union = left | right
        scores[n] = len(left & right) / len(union) if union else 1.0
    return {"k": k, "items": len(common), "mean_jaccard": round(float(scores.mean()), 4) if len(common) else None,
            "median_jaccard": round(float(np.median(scores)), 4) if len(common) else None}


def compare_backends(data, out_dir: str | os.PathLike, config: RunConfig | None = None,
                     settings: EvaluationSettings | None = None, backends=DEFAULT_BACKENDS,
                     keep_artifacts: bool = False, show_progress: bool = False, log: dict | None = None) -> dict:
    """Train every backend on one walk corpus, measure, and write the report directory.

    Parameters
    ----------
    data : a log for :func:`recgraph.data.load` (CSV/Parquet file or parts, DataFrame,
        MovieLens directory/zip/URL), or loaded Ratings.
    out_dir : where report.json / report.md / report.png go (replaced atomically).
    config : the :class:`~recgraph.config.RunConfig` (None: ``RunConfig()``, the showcase
        preset); each backend trains with its own trainer section of it.
    settings : the :class:`~recgraph.evaluation.settings.EvaluationSettings` (split,
        baselines; None: the defaults, as ``recgraph evaluate``'s).
    backends : trainer names; one that cannot be imported is reported as unavailable.
    log : :func:`recgraph.data.load_log` options for ``data`` (column names, items table).
    keep_artifacts : also keep each backend's artifact under ``out_dir/artifacts/``.

    Returns
    -------
    The report (as written to report.json).
    """
    from .artifact import check_output_dir, manifest_config
    from .atomic import replace_dir, staging_dir, write_bytes, write_json, write_text
    from .config import RunConfig
    from .evaluation.harness import baseline_params, evaluate_baseline, evaluate_index, prepare
    from .index import ItemIndex
    from .pipeline import load_inputs, load_log_source, train_on_corpus

    out = check_output_dir(out_dir, marker="report.json", marker_keys=("recgraph_version", "backends"),
                           allowed=frozenset(REPORT_FILES) | {"artifacts"}, what="a report directory recgraph wrote")
    if not backends:
        raise ParameterError("Name at least one backend to compare.")
    config = RunConfig() if config is None else config
    settings = EvaluationSettings() if settings is None else settings
    threshold = settings.threshold
    ratings = load_log_source(data, log)
    split, matrices = prepare(ratings, settings.protocol, threshold, settings.test_fraction, settings.split_seed,
                              settings.validation, settings.max_users)
    train_ratings = split.train_ratings(ratings)
    # One corpus, walked with the run's seed as recgraph.pipeline.train walks it; every backend trains on it.
    t = time.perf_counter()
    inputs, shared = load_inputs(train_ratings, config.with_backend(backends[0]))
    corpus_s = time.perf_counter() - t
    corpus = inputs.corpus
    assert corpus is not None  # load_inputs builds it unless asked not to
    item_ids, corpus_sha = corpus.item_ids, corpus.sha256()

    tmp = staging_dir(out)
    try:
        entries, indexes = {}, {}
        for backend in backends:
            try:
                artifact_dir = tmp / "artifacts" / backend
                result = train_on_corpus(inputs, artifact_dir, shared.with_backend(backend),
                                         show_progress=show_progress)
            except MissingDependencyError as exc:
                logger.warning("%s", exc)
                entries[backend] = {"available": False, "error": str(exc)}
                continue
            manifest, history = result.manifest, result.manifest.get("training", {})
            train_s = manifest["timings_s"]["train"]
            index = ItemIndex.load(artifact_dir)
            indexes[backend] = index
            row = evaluate_index(index, matrices, None, settings.ks, name=backend)  # the artifact's own scoring
            metrics = row["metrics"]
            entries[backend] = {
                "available": True,
                "trainer_params": manifest_config(manifest)["trainer"][backend],
                "train_s": round(train_s, 3),
                "hr@10": metrics["hr@10"],
                "ndcg@10": metrics["ndcg@10"],
                "recall@20": metrics["recall@20"],
                "coverage": metrics["coverage@10"],
                "metrics": metrics,
                "rank_s": row["timings_s"]["rank"],
                "users_without_recommendations": row["users_without_recommendations"],
                "history": {**({"loss": manifest["loss"]} if "loss" in manifest else {}),
                            **{k: v for k, v in history.items() if k != "timings_s"}},
                "similar": {str(m): [h.item_id for h in index.similar(m, 10)]
                            for m in PROBE_MOVIES if m in index},
            }
        names = [b for b in backends if b in indexes]
        agreement: dict[str, Any] = {"k": 10, "pairs": []}
        # Rare items have noisy neighbours in any model; the most liked ones are what users see most.
        liked = matrices.positives(threshold).sum(axis=0).A1
        graph_rows = matrices.item_rows(item_ids)
        popular = item_ids[np.argsort(-liked[graph_rows], kind="stable")[:POPULAR_ITEMS]]
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                pair = {"a": a, "b": b, **neighbour_jaccard(indexes[a], indexes[b], 10)}
                top = neighbour_jaccard(indexes[a], indexes[b], 10, popular)
                pair[f"popular_{POPULAR_ITEMS}"] = {"mean_jaccard": top["mean_jaccard"],
                                                     "median_jaccard": top["median_jaccard"]}
                agreement["pairs"].append(pair)
        if len(names) < 2:
            agreement["note"] = "fewer than two backends trained, so there is nothing to compare"
        baseline_rows = {}
        for name in settings.baselines:
            row = evaluate_baseline(matrices, name, settings.ks,
                                    **baseline_params(name, threshold, settings.ease_lambda, settings.ease_max_gb))
            if row.get("skipped"):  # e.g. EASE past its memory limit: one sentence, no numbers
                baseline_rows[name] = {"params": row["params"], "skipped": row["skipped"]}
                continue
            m = row["metrics"]
            baseline_rows[name] = {"params": row["params"], "fit_s": row["timings_s"]["fit"], "hr@10": m["hr@10"],
                                   "ndcg@10": m["ndcg@10"], "recall@20": m["recall@20"],
                                   "coverage": m["coverage@10"], "metrics": m}
        report = {
            "recgraph_version": __version__,
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "data": {"source": ratings.source, "md5": ratings.md5, "implicit": bool(ratings.implicit)},
            "seed": shared.seed,
            "preset": shared.preset,
            "protocol": settings.protocol,
            "split": {**split.summary(), "eval_users": int(len(matrices.eval_users)), "items": matrices.n_items},
            "graph": corpus.stats(),
            "config": shared.to_dict(),
            "settings": settings.to_dict(),
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
            write_bytes(tmp / "report.png", png)
            report["plot"] = "report.png"
        else:
            report["plot_note"] = ("matplotlib is not installed (pip install 'recgraph[plot]'), "
                                   "so there is no report.png")
        write_text(tmp / "report.md", report_markdown(report))
        write_json(tmp / "report.json", report)
        if not keep_artifacts:
            shutil.rmtree(tmp / "artifacts", ignore_errors=True)
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def _rows(report: dict) -> list[tuple[str, dict]]:
    rows = [(name, e) for name, e in report["backends"].items() if e.get("available")]
    return rows + [(name, e) for name, e in report["baselines"].items() if not e.get("skipped")]


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
        f"Data: `{report['data']['source']}`; {split['eval_users']} users, {split['items']} items ranked in full "
        f"(every item the user did not rate in training). Graph from the training part: "
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
    for name, e in report["baselines"].items():
        if e.get("skipped"):
            lines += ["", f"**{name} (baseline): not run.** {e['skipped']}"]
    lines += ["", "## Agreement", ""]
    pairs = report["agreement"]["pairs"]
    if pairs:
        for p in pairs:
            top = p[f"popular_{POPULAR_ITEMS}"]
            lines.append(f"- {p['a']} vs {p['b']}: mean Jaccard of top-{report['agreement']['k']} neighbour lists "
                         f"{p['mean_jaccard']:.3f} (median {p['median_jaccard']:.3f}) over {p['items']:,} items; "
                         f"{top['mean_jaccard']:.3f} (median {top['median_jaccard']:.3f}) over the "
                         f"{POPULAR_ITEMS} most liked")
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
