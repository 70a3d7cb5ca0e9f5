"""The evaluation harness: how long each part takes, and two equivalence checks.

    python benchmarks/bench_evaluate.py [--data ml-latest-small.zip] [--preset tuned]
    /usr/bin/time -v python benchmarks/bench_evaluate.py --scale --data /work/synth/ml25m --max-users 5000 \
        [--preset seed] [--protocol leave-last-out]

``--scale``: where the time goes on a large log (one run of each stage, wall seconds and the
process's peak RSS so far): load, split + matrices + user sample, each baseline's fit and
ranking (EASE's skip sentence when it cannot fit), training (the pipeline, reported apart:
it is not evaluation), and the batched ranking through the artifact
(``ItemIndex.recommend_many``, the scoring every surface uses) with the median per user.

1. Ranking + metrics: argpartition top-K and array HR/NDCG/Recall against a per-user
   sort-and-count loop (same lists, same values, and the speed-up).
2. Baselines: fit and ranking time of most-popular, item-kNN, EASE, as the harness measures
   them (:func:`recgraph.evaluation.harness.evaluate_baseline`; medians of three runs).

(The batch scoring against single queries is ``benchmarks/bench_model.py``.)
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from measure import median, peak_rss_mib

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ml-latest-small.zip"


def naive_metrics(top: np.ndarray, truth_sets: list[set[int]], k: int) -> tuple[float, float, float]:
    hr = nd = rc = 0.0
    for row, truth in zip(top.tolist(), truth_sets):
        found = [i for i in row[:k] if i in truth]
        hr += 1.0 if found else 0.0
        rc += len(found) / len(truth)
        dcg = sum(1 / math.log2(r + 2) for r, i in enumerate(row[:k]) if i in truth)
        ideal = sum(1 / math.log2(r + 2) for r in range(min(k, len(truth))))
        nd += dcg / ideal
    n = len(truth_sets)
    return hr / n, nd / n, rc / n


def timed(fn, *args, repeat: int = 3, **kwargs):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t)
    return best, out


def peak_gb() -> float:
    return peak_rss_mib() * 1024 / 1e6


def scale(args) -> None:
    from recgraph.data import load as load_movielens
    from recgraph.evaluation.harness import baseline_params, evaluate_baseline, prepare, rank_with_index
    from recgraph.index import ItemIndex
    from recgraph.pipeline import train
    from recgraph.config import load_preset, resolve_config

    def stage(name, seconds, note=""):
        print(f"| {name} | {seconds:.1f} | {peak_gb():.1f} | {note} |", flush=True)

    print(f"## {args.data}, {args.protocol}, {args.max_users} users, preset {args.preset} (one run per stage)\n")
    print("| stage | wall s | peak RSS GB so far | note |\n|---|---:|---:|---|")
    t = time.perf_counter()
    ratings = load_movielens(args.data)
    stage("load (not evaluation)", time.perf_counter() - t, f"{len(ratings.ratings):,} ratings")
    t = time.perf_counter()
    split, data = prepare(ratings, args.protocol, seed=args.split_seed, max_users=args.max_users)
    stage("split + matrices + sample", time.perf_counter() - t,
          f"{data.n_users:,} users x {data.n_items:,} movies; {len(data.eval_users):,} of "
          f"{data.eval_users_total:,} eval users")
    for name in ("most-popular", "item-knn", "ease"):
        row = evaluate_baseline(data, name, **baseline_params(name, data.threshold, ease_max_gb=args.ease_max_gb))
        if row.get("skipped"):
            stage(name, 0.0, row["skipped"])
            continue
        times = row["timings_s"]
        stage(f"{name} fit", times["fit"])
        stage(f"{name} score + rank", times["rank"], f"HR@10 {row['metrics']['hr@10']:.4f}")
    if args.skip_train:
        return
    # --epochs / --num-walks: a cheaper artifact when only the ranking's cost is measured (it
    # depends on the index's size and the scoring, not on how well the vectors were trained).
    config = resolve_config(args.preset, "gensim", trainer={"epochs": args.epochs} if args.epochs else None,
                            walks={"num_walks": args.num_walks} if args.num_walks else None, seed=args.seed)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        t = time.perf_counter()
        result = train(split.train_ratings(ratings), Path(tmp) / "a", show_progress=False, config=config)
        stage("train (pipeline, not evaluation)", time.perf_counter() - t,
              ", ".join(f"{k} {v:.1f}" for k, v in result.manifest.get("timings_s", {}).items()
                        if isinstance(v, (int, float))))
        t = time.perf_counter()
        index = ItemIndex.load(result.out_dir)
        stage("index load", time.perf_counter() - t, f"{len(index):,} movies")
        users = data.eval_users
        # The artifact's own scoring, then tuned's (popularity prior, recency, fallback) on the
        # same vectors: what the query side costs with each.
        for name, scoring in ((args.preset, None), ("tuned", load_preset("tuned").scoring)):
            per_user = []
            t = time.perf_counter()
            for lo in range(0, len(users), 100):  # blocks of 100, for a per-user median
                t_block = time.perf_counter()
                rank_with_index(index, data, users[lo:lo + 100], 20, scoring)
                per_user.append((time.perf_counter() - t_block) / len(users[lo:lo + 100]))
            total = time.perf_counter() - t
            stage(f"rank through ItemIndex.recommend_many, {name} scoring", total,
                  f"median {np.median(per_user) * 1e3:.2f} ms per user (blocks of 100)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--preset", default="tuned")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", action="store_true", help="stage timings on a large log (see above)")
    parser.add_argument("--max-users", type=int, default=5000)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--protocol", default="leave-last-out")
    parser.add_argument("--ease-max-gb", type=float, default=4.0)
    parser.add_argument("--skip-train", action="store_true", help="--scale: baselines only")
    parser.add_argument("--workdir", default=None, help="--scale: where the temporary artifact goes")
    parser.add_argument("--epochs", type=int, default=None, help="--scale: override the preset's epochs")
    parser.add_argument("--num-walks", type=int, default=None, help="--scale: override the preset's walks per node")
    args = parser.parse_args()
    if args.scale:
        scale(args)
        return

    from recgraph.data import load as load_movielens
    from recgraph.evaluation.baselines import make_baseline
    from recgraph.evaluation.harness import baseline_params, evaluate_baseline, prepare
    from recgraph.evaluation.metrics import hit_rate, ndcg, recall, top_k

    ratings = load_movielens(args.data)
    for protocol in ("leave-last-out", "random"):
        t_split, (split, data) = timed(prepare, ratings, protocol, repeat=1)
        users = data.eval_users
        truth = data.test[users]
        print(f"\n## {protocol}: {len(users)} users x {data.n_items} movies (split + matrices {t_split:.2f} s)\n")

        # 1. full ranking + metrics: argpartition and array metrics vs a per-user loop
        model = make_baseline("item-knn", **baseline_params("item-knn", data.threshold)).fit_interactions(data)
        scores = model.scores(data.positives(data.threshold)[users])
        rated = data.train[users]
        truth_sets = [set(truth[i].indices.tolist()) for i in range(len(users))]

        def vectorized():
            top = top_k(scores, 10, rated)
            return top, (hit_rate(top, truth, 10).mean(), ndcg(top, truth, 10).mean(), recall(top, truth, 10).mean())

        def loop():
            rows = []
            for i in range(len(users)):
                row = scores[i].copy()
                row[rated[i].indices] = -np.inf
                rows.append(np.argsort(-row, kind="stable")[:10])
            top = np.array(rows)
            return top, naive_metrics(top, truth_sets, 10)

        t_vec, (top_fast, fast) = timed(vectorized)
        t_loop, (top_slow, slow) = timed(loop)
        assert np.array_equal(top_fast, top_slow) and np.allclose(fast, slow, atol=1e-12), (fast, slow)
        print(f"ranking + metrics@10: vectorized {t_vec * 1e3:.0f} ms, per-user loop {t_loop * 1e3:.0f} ms "
              f"(x{t_loop / t_vec:.1f}); same lists and values (HR, NDCG, Recall) "
              f"{tuple(round(float(v), 4) for v in fast)}")

        # 2. baselines
        print("\n| baseline | fit s | rank s | HR@10 |\n|---|---:|---:|---:|")
        for name in ("most-popular", "item-knn", "ease"):
            rows = [evaluate_baseline(data, name, (10, 20), **baseline_params(name, data.threshold)) for _ in range(3)]
            if rows[0].get("skipped"):
                print(f"| {name} | skipped: {rows[0]['skipped']} | | |")
                continue
            fit_s = median(r["timings_s"]["fit"] for r in rows)
            rank_s = median(r["timings_s"]["rank"] for r in rows)
            print(f"| {name} | {fit_s:.3f} | {rank_s:.3f} | {rows[0]['metrics']['hr@10']:.4f} |")


if __name__ == "__main__":
    main()
