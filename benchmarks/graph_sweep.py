"""Try graph views for the ``tuned`` preset: one protocol, one candidate, item-kNN beside it.

    python benchmarks/graph_sweep.py E '[{"min_rating": 5.0, "min_weight": 10.0, "max_degree": 60}, ...]' \\
        --validation 1 --seed 0 --protocol random

Replaces the preset's views (the first is the primary graph; ``[]`` keeps the preset's),
trains gensim on the split's training part through ``recgraph.evaluation.harness`` and prints
HR@10, NDCG@10 and Recall@20 beside item-kNN's, with each view's nodes, edges and average
degree; ``--jsonl`` appends the row to a file. Used for ``docs/graph_options.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ML_SMALL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ml-latest-small.zip"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("views", help="JSON list of graph views, or [] for the preset's")
    parser.add_argument("--protocol", default="leave-last-out", choices=["leave-last-out", "random"])
    parser.add_argument("--validation", type=int, default=1, help="carvings (0: the test split)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=str(ML_SMALL))
    parser.add_argument("--jsonl", help="append the result here")
    args = parser.parse_args(argv)

    from recgraph.config import resolve_config
    from recgraph.data import load_movielens
    from recgraph.evaluation.harness import baseline_params, evaluate_baseline, prepare, train_and_evaluate

    views = json.loads(args.views)
    config = resolve_config("tuned", seed=args.seed, base={"graph": views} if views else None)
    ratings = load_movielens(args.data)
    split, data = prepare(ratings, args.protocol, 4.0, 0.2, 0, args.validation)
    knn = evaluate_baseline(data, "item-knn", (10, 20), **baseline_params("item-knn", 4.0))["metrics"]
    t = time.perf_counter()
    row = train_and_evaluate(ratings, split, data, config, ks=(10, 20))
    ours, graph = row["metrics"], row["graph"]
    shape = [(v["nodes"], v["edges"], v["avg_degree"]) for v in graph.get("views", [graph])]
    cells = " ".join(f"{m} {ours[m]:.4f}/{knn[m]:.4f}" for m in ("hr@10", "ndcg@10", "recall@20"))
    print(f"{args.name} {args.protocol} seed {args.seed}: {cells} ({time.perf_counter() - t:.0f} s) views {shape}")
    if args.jsonl:
        with open(args.jsonl, "a") as out:
            out.write(json.dumps({"name": args.name, "protocol": args.protocol, "seed": args.seed,
                                  "validation": args.validation, "metrics": ours, "knn": knn, "views": shape}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
