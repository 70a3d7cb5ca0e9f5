"""Graph-view variants on a learning curve: validation splits carved once and twice.

    python benchmarks/learning_curve.py [--data ml-latest-small.zip] [--variants NAME,...]
        [--protocols random,leave-last-out] [--depths 2,1] [--seeds 0,1,2] [--diagnose]

The random protocol trains on 80% of the positives at test, 64% on the validation split
(depth 1) and 51% when that is carved again (depth 2); ``docs/tuning.md`` ("A learning
curve, and a third view") judges a change by its ratio to item-kNN at both depths. Each
variant is the two-view preset (the 5-star graph and the ratings >= 4 view) with one change.

Per variant, protocol, depth and training seed: a :class:`recgraph.Recommender` with the
``tuned`` preset's walks, gensim settings and scoring (the cosine to ``unit(mean of the
history) + 0.5 unit(mean of its last 5)``, plus ``0.15 log1p(likes)``; users without a graph
movie get the most liked) and the variant's graph views is fitted on the split's training
part and measured by :func:`recgraph.evaluation.harness.evaluate_model`, item-kNN by the same
harness. The rows are means over the seeds, each with its ratio to item-kNN on the same split.

``--diagnose`` adds, for each variant (its last seed), item-kNN's share of hits outside the graphs, NDCG@10
by quartile of history length, and hits and recommendations by like-rank band.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ml-latest-small.zip"
KEYS = ("hr@10", "ndcg@10", "recall@20")
LIKED = 4.0  # item-kNN learns from ratings >= 4, as the tuned preset's history does
FIVE = {"min_rating": 5.0, "min_weight": 10.0}
FOUR = {"min_rating": 4.0, "min_weight": 30.0, "min_item_users": 10}
# name: (graph views, walk overrides, trainer overrides)
VARIANTS = {
    "two-views": ([FIVE, FOUR], {}, {}),
    "walks-80": ([FIVE, FOUR], {"num_walks": 80}, {}),
    "dim-100": ([FIVE, FOUR], {}, {"dim": 100}),
    "epochs-10": ([FIVE, FOUR], {}, {"epochs": 10}),
    "lower-thresholds": ([{**FIVE, "min_weight": 7.0}, {**FOUR, "min_weight": 20.0, "min_item_users": 7}], {}, {}),
    "higher-thresholds": ([{**FIVE, "min_weight": 14.0}, {**FOUR, "min_weight": 45.0, "min_item_users": 14}], {}, {}),
    "+4.5-w20": ([FIVE, FOUR, {"min_rating": 4.5, "min_weight": 20.0}], {}, {}),
    "+4.5-w30-u10": ([FIVE, FOUR, {"min_rating": 4.5, "min_weight": 30.0, "min_item_users": 10}], {}, {}),
    "+4-w60-u20": ([FIVE, FOUR, {"min_rating": 4.0, "min_weight": 60.0, "min_item_users": 20}], {}, {}),
    "+both": ([FIVE, FOUR, {"min_rating": 4.5, "min_weight": 20.0},
               {"min_rating": 4.0, "min_weight": 60.0, "min_item_users": 20}], {}, {}),
}


def fit(train, views, walk_overrides, trainer_overrides, seed):
    """The tuned preset with the variant's graph views, walks and trainer, fitted on ``train``."""
    from recgraph import Recommender
    from recgraph.config import GraphParams, resolve_config

    config = resolve_config("tuned", "gensim", trainer=trainer_overrides, walks=walk_overrides, seed=seed)
    config = config.replace(graph=tuple(GraphParams(**v) for v in views))
    return Recommender(config=config).fit(train)


def diagnose(data, top_model, top_knn, in_graph) -> list[str]:
    from recgraph.evaluation.metrics import ndcg

    users, truth = data.eval_users, data.test[data.eval_users].tocsr()
    hits = lambda top: [np.isin(top[n, :10], truth.indices[truth.indptr[n]:truth.indptr[n + 1]])  # noqa: E731
                        for n in range(len(users))]
    knn_hits = hits(top_knn)
    outside = sum(int((h & ~in_graph[t[:10]]).sum()) for h, t in zip(knn_hits, top_knn))
    lines = [f"  item-kNN hits outside the graphs: {outside} of {sum(int(h.sum()) for h in knn_hits)}"]
    length = np.asarray(data.positives(LIKED)[users].sum(axis=1)).ravel()
    nd_model, nd_knn = ndcg(top_model, truth, 10), ndcg(top_knn, truth, 10)
    edges = np.quantile(length, [0, 0.25, 0.5, 0.75, 1])
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (length >= lo) & (length <= hi)
        lines.append(f"  history {lo:.0f}-{hi:.0f} positives ({sel.sum()} users): NDCG@10 "
                     f"{nd_model[sel].mean():.4f} vs item-kNN {nd_knn[sel].mean():.4f} "
                     f"({nd_model[sel].mean() / nd_knn[sel].mean():.2f}x)")
    likes = np.asarray(data.positives(LIKED).sum(axis=0)).ravel()
    like_rank = np.argsort(np.argsort(-likes, kind="stable"), kind="stable")
    bands = np.array([0, 25, 100, 250, 500, 1000])
    for name, top, hit in (("model", top_model, hits(top_model)), ("item-kNN", top_knn, knn_hits)):
        band = np.searchsorted(bands, like_rank[top[:, :10]], side="right") - 1
        recs = np.bincount(band.ravel(), minlength=len(bands))
        found = np.bincount(band[np.array(hit)], minlength=len(bands))
        lines.append(f"  {name} hits / recommendations by like-rank band {bands.tolist()}+: "
                     + " ".join(f"{h}/{r}" for h, r in zip(found, recs)))
    return lines


def main(argv=None) -> int:
    from recgraph.data import load_movielens
    from recgraph.evaluation.baselines import make_baseline
    from recgraph.evaluation.harness import baseline_params, evaluate_model, prepare, rank_users

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of: {', '.join(VARIANTS)}")
    p.add_argument("--protocols", default="random")
    p.add_argument("--depths", default="2,1")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--diagnose", action="store_true")
    args = p.parse_args(argv)
    unknown = set(args.variants.split(",")) - set(VARIANTS)
    if unknown:
        p.error(f"unknown variant(s) {sorted(unknown)}; valid: {', '.join(VARIANTS)}")
    ratings = load_movielens(args.data)
    seeds = [int(s) for s in args.seeds.split(",")]
    print("| variant | protocol | depth | HR@10 | NDCG@10 | Recall@20 | x item-kNN | s |")
    print("|---|---|---:|---:|---:|---:|---|---:|")
    for protocol in args.protocols.split(","):
        for depth in [int(d) for d in args.depths.split(",")]:
            split, data = prepare(ratings, protocol, seed=0, validation=depth)
            train = split.train_ratings(ratings)
            knn = make_baseline("item-knn", **baseline_params("item-knn", LIKED)).fit_interactions(data)
            base = evaluate_model(knn, data, (10, 20), "item-knn", "baseline")["metrics"]
            for name in args.variants.split(","):
                views, walks, trainer = VARIANTS[name]
                t0, runs = time.perf_counter(), []
                for seed in seeds:
                    model = fit(train, views, walks, trainer, seed)
                    runs.append(evaluate_model(model, data, (10, 20), name)["metrics"])
                mean = [float(np.mean([r[k] for r in runs])) for k in KEYS]
                ratio = " / ".join(f"{m / base[k]:.3f}" for m, k in zip(mean, KEYS))
                print(f"| {name} | {protocol} | {depth} | " + " | ".join(f"{m:.4f}" for m in mean)
                      + f" | {ratio} | {time.perf_counter() - t0:.0f} |", flush=True)
                if args.diagnose:
                    users = data.eval_users
                    top, _ = rank_users(model.recommend, data, users, 20, model.history_min_rating)
                    top_knn, _ = rank_users(knn.recommend, data, users, 20, knn.history_min_rating)
                    in_graph = np.zeros(data.n_items, dtype=bool)
                    rows = data.item_rows(model.item_ids_)
                    in_graph[rows[rows >= 0]] = True
                    print("\n".join(diagnose(data, top, top_knn, in_graph)), flush=True)
            print(f"| item-kNN | {protocol} | {depth} | " + " | ".join(f"{base[k]:.4f}" for k in KEYS)
                  + " | 1 | |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
