"""Batch recommend on the fitted model against a loop of single queries, side by side.

    python benchmarks/bench_model.py [--data ../shared/data/ml-latest-small.zip] [--repeats 5] [--preset seed]

Fits :class:`recgraph.Recommender` (``--preset``, default ``seed``; seed 1) on the log, saves it, loads the
artifact as :class:`recgraph.index.ItemIndex`, and times, for every user of the log (their
rated items, oldest first, as the history; top 10):

- ``Recommender.recommend`` for all users in one call;
- ``ItemIndex.recommend_many`` for all users in one call (the HTTP batch route's path);
- a Python loop of ``ItemIndex.recommend``, one user at a time (what a caller without a
  batch API does).

Prints the median of ``--repeats`` runs of each and the ratios, and checks that all three
give the same lists.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from measure import median_seconds

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ml-latest-small.zip"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--preset", default="seed", help="the preset to fit (tuned: the blend scoring)")
    args = parser.parse_args(argv)

    from recgraph import Recommender
    from recgraph.data import load
    from recgraph.index import ItemIndex

    ratings = load(args.data)
    frame = ratings.ratings.sort_values(["userId", "timestamp"] if "timestamp" in ratings.ratings else ["userId"],
                                        kind="stable")
    histories = [g["movieId"].to_numpy() for _, g in frame.groupby("userId")]
    model = Recommender(preset=args.preset, seed=1).fit(ratings)
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp) / "artifact")
        index = ItemIndex.load(Path(tmp) / "artifact")
        t_model, (ids_model, _) = median_seconds(lambda: model.recommend(histories, n=args.n), args.repeats)
        t_many, (ids_many, _) = median_seconds(lambda: index.recommend_many(histories, args.n), args.repeats)

        def loop():
            out = np.full((len(histories), args.n), -1, dtype=np.int64)
            for row, history in enumerate(histories):
                hits = index.recommend(history.tolist(), k=args.n)
                out[row, :len(hits)] = [h.item_id for h in hits]
            return out

        t_loop, ids_loop = median_seconds(loop, max(1, args.repeats // 2))
    same = np.array_equal(ids_model, ids_many) and np.array_equal(ids_model, ids_loop)
    print(f"preset {args.preset} ({model.config_.scoring.method} scoring): "
          f"{len(histories)} users, {len(model.item_ids_)} items, top {args.n}; median of {args.repeats} "
          f"(loop: {max(1, args.repeats // 2)})")
    print(f"  Recommender.recommend, one call     {t_model * 1000:9.1f} ms")
    print(f"  ItemIndex.recommend_many, one call  {t_many * 1000:9.1f} ms")
    print(f"  loop of ItemIndex.recommend         {t_loop * 1000:9.1f} ms")
    print(f"  batch speed-up: {t_loop / t_model:.1f}x (model), {t_loop / t_many:.1f}x (index); same lists: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
