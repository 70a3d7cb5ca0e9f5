"""Does a preset's graph mean the same at every size? Degrees of every view, and quality against item-kNN.

For each log (user subsamples of ml-latest-small, and any MovieLens-format log given with
``--data``, e.g. the synthetic ones in /work/synth), builds every graph view of ``--preset``
and prints nodes, edges, average / median / 90th-percentile degree and the build seconds.
The subsamples keep a seeded share of the users with all their rows (``--fractions``).

``--evaluate`` also runs ``recgraph evaluate``'s harness (gensim, both protocols, item-kNN
beside it) on each subsample and prints the ratio of the preset's HR@10, NDCG@10 and
Recall@20 to item-kNN's (``--validation`` measures on the validation split instead).

Examples::

    python benchmarks/graph_carry.py --preset tuned
    flock /tmp/recgraph-heavy.lock python benchmarks/graph_carry.py --preset tuned \\
        --data /work/synth/ml1m --data /work/synth/ml25m
    flock /tmp/recgraph-heavy.lock python benchmarks/graph_carry.py --preset tuned --evaluate --fractions 0.25,0.5
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ML_SMALL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ml-latest-small.zip"


def subsample(ratings, fraction: float, seed: int = 0):
    """``ratings`` with a seeded ``fraction`` of its users (all their rows)."""
    if fraction >= 1.0:
        return ratings
    frame = ratings.ratings
    users = np.unique(frame["userId"].to_numpy())
    keep = np.random.default_rng(seed).choice(users, size=max(1, round(fraction * len(users))), replace=False)
    return dataclasses.replace(ratings, ratings=frame[frame["userId"].isin(keep)].reset_index(drop=True))


def load_log(path: str):
    """A MovieLens-format log, or a typed-column cache of ``benchmarks/bench_graph.py`` (``userId.npy`` ...)."""
    import pandas as pd

    from recgraph.data import load_movielens

    cache = Path(path)
    if (cache / "userId.npy").exists():
        columns = {c: np.load(cache / f"{c}.npy") for c in ("userId", "movieId", "rating", "timestamp")
                   if (cache / f"{c}.npy").exists()}
        return dataclasses.make_dataclass("Log", ["ratings"])(pd.DataFrame(columns))
    return load_movielens(path)


def view_rows(label: str, ratings, views: list[dict]) -> None:
    from recgraph.graph import build_item_graph

    frame = ratings.ratings
    for i, view in enumerate(views):
        t = time.perf_counter()
        graph = build_item_graph(frame, **view)
        seconds = time.perf_counter() - t
        degrees = graph.degrees()
        print(f"{label:<22} {len(frame):>11,} {frame['userId'].nunique():>8,} view {i}  {graph.num_nodes:>7,} "
              f"{graph.num_edges:>11,} {graph.avg_degree:>7.1f} {np.median(degrees):>6.0f} "
              f"{np.percentile(degrees, 90):>6.0f} {seconds:>7.2f}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="tuned")
    parser.add_argument("--views", help="JSON list of graph views instead of the preset's (degrees only)")
    parser.add_argument("--fractions", default="0.25,0.5,1.0", help="user shares of ml-latest-small")
    parser.add_argument("--data", action="append", default=[], help="further MovieLens-format logs (repeatable)")
    parser.add_argument("--evaluate", action="store_true", help="also the ratio to item-kNN on each subsample")
    parser.add_argument("--validation", action="store_true", help="with --evaluate: on the validation split")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from recgraph.data import load_movielens
    from recgraph.config import load_preset

    views = json.loads(args.views) if args.views else [v.to_dict() for v in load_preset(args.preset).views]
    small = load_movielens(str(ML_SMALL))
    fractions = [float(f) for f in args.fractions.split(",") if f]
    print(f"preset {args.preset}: views {views}")
    print(f"{'log':<22} {'rows':>11} {'users':>8} {'view':<6} {'nodes':>7} {'edges':>11} {'avg deg':>7} "
          f"{'median':>6} {'p90':>6} {'build s':>7}")
    for fraction in fractions:
        view_rows(f"ml-latest-small {fraction:.0%}", subsample(small, fraction, args.seed), views)
    for path in args.data:
        view_rows(Path(path).name, load_log(path), views)
    if args.evaluate:
        from recgraph.config import resolve_config
        from recgraph.evaluation.harness import run_evaluation
        from recgraph.evaluation.settings import EvaluationSettings

        metrics = ("hr@10", "ndcg@10", "recall@20")
        print(f"\n{'log':<22} {'protocol':<15} " + " ".join(f"{m + ' (x kNN)':>22}" for m in metrics))
        for fraction in fractions:
            data = subsample(small, fraction, args.seed)
            for protocol in ("leave-last-out", "random"):
                result = run_evaluation(data, resolve_config(args.preset, seed=args.seed),
                                        EvaluationSettings(protocol=protocol, baselines=("item-knn",),
                                                           validation=int(args.validation)))
                rows = {row.get("name"): row["metrics"] for row in result["rows"]}
                ours = next(m for name, m in rows.items() if name != "item-knn")
                knn = rows["item-knn"]
                cells = " ".join(f"{ours[m]:.4f}/{knn[m]:.4f} {ours[m] / knn[m]:.2f}x".rjust(22) for m in metrics)
                print(f"{'ml-latest-small ' + format(fraction, '.0%'):<22} {protocol:<15} {cells}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
