"""Benchmark the graph build: the whole-matrix product (the engine before the blocked one,
kept here as the reference) against ``recgraph.graph.build_item_graph``'s blocked products.

For each log and each configuration, each engine runs ``--repeat`` times, every run in a
fresh process under ``/usr/bin/time -v`` (peak RSS is that process's ``Maximum resident set
size``). A worker loads the log's typed columns from a cache of ``.npy`` files (made once per
log by the parent, from :func:`recgraph.data.load_movielens`), so its peak is the interpreter,
the typed input and the build. The table gives per engine:

- ``build s``: median seconds of the build alone (the typed frame to an ``ItemGraph``);
- ``peak MB``: median peak RSS of the whole process, and ``over base``: the peak minus the
  process's RSS just before the build (interpreter, imports and the typed input);
- ``input MB``: the typed columns (userId, movieId int64, rating float64, timestamp int64);
  ``edges MB``: the kept edges as (src, dst int64, weight float64), 24 bytes each;
- ``ratio``: ``over base / (input MB + edges MB)``, the issue's goal being <= 2 (it counts
  the build's own memory against what it reads and what it keeps);
- ``user pairs``: sum over users of n_u (n_u - 1) / 2 for each user's liked movies after the
  per-user cap, the work a co-occurrence count cannot avoid.

Both engines must give the same edges to the bit (a SHA-256 of the CSR arrays is compared).
The reference applies ``max_user_items`` and ``max_degree`` by the same rules after its whole
product, so it can be timed on pruned configurations too, as long as the whole product fits
(``--old-max-pairs`` skips it above a number of user pairs).

Examples::

    python benchmarks/bench_graph.py --data ../shared/data/ml-latest-small.zip --repeat 5
    python benchmarks/bench_graph.py --synthetic 1000000 --repeat 3
    flock /tmp/recgraph-heavy.lock python benchmarks/bench_graph.py --data /work/synth/ml25m \\
        --repeat 3 --engines new --cache /tmp/bench-graph-cache
    python benchmarks/bench_graph.py ... --config 'big={"min_rating": 4.0, "min_weight": 0, "max_degree": 50}'

Configurations (``--config NAME`` for the built-in ones, ``NAME=JSON`` for others):
``seed`` (5 stars, min_weight 10: the example) and ``pruned`` (``tuned``'s first view).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CONFIGS = {
    "seed": {"min_rating": 5.0, "min_weight": 10.0},
    "pruned": {"min_rating": 4.0, "min_weight": 0.0, "max_degree": 50, "max_user_items": 500},
}
COLUMNS = ("userId", "movieId", "rating", "timestamp")


# ---- the reference: the whole-matrix engine the blocked one replaced ----

def old_build(frame, min_rating=5.0, min_weight=10.0, min_item_users=0, max_degree=None, max_user_items=None):
    """The previous ``build_item_graph``: one ``triu(X.T @ X)`` over every movie; the per-user cap
    and the degree limit (which it did not have) applied before and after it by the SPEC rules."""
    import scipy.sparse as sp

    from recgraph.graph import ItemGraph

    liked = frame.loc[frame["rating"].to_numpy() >= min_rating]
    if max_user_items is not None:
        liked = liked.sort_values(["userId", "timestamp", "movieId"], ascending=[True, False, True], kind="stable")
        liked = liked[liked.groupby("userId").cumcount().to_numpy() < max_user_items]
    users, user_codes = np.unique(liked["userId"].to_numpy(), return_inverse=True)
    movies, movie_codes = np.unique(liked["movieId"].to_numpy(), return_inverse=True)
    x = sp.csr_matrix((np.ones(len(liked), dtype=np.float64), (user_codes, movie_codes)),
                      shape=(len(users), len(movies)))
    x.sum_duplicates()
    x.data[:] = 1.0
    item_freq = np.asarray(x.sum(axis=0)).ravel()
    if min_item_users > 0:
        kept = item_freq >= min_item_users
        x, movies, item_freq = x[:, kept], movies[kept], item_freq[kept]
    total = item_freq.sum()
    co = sp.triu(x.T.tocsr() @ x, k=1).tocoo()
    count = co.data
    weight = (np.log(count) - np.log(item_freq[co.row]) - np.log(item_freq[co.col]) + np.log(total)) * count
    keep = (weight >= min_weight) & (weight > 0)
    src, dst, weight = co.row[keep].astype(np.int64), co.col[keep].astype(np.int64), weight[keep]
    if max_degree:
        ends = np.concatenate([src, dst])
        other = np.concatenate([dst, src])
        both = np.concatenate([weight, weight])
        order = np.lexsort((other, -both, ends))
        ends_sorted = ends[order]
        starts = np.flatnonzero(np.r_[True, ends_sorted[1:] != ends_sorted[:-1]])
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
        survives = (rank[: len(src)] < max_degree) | (rank[len(src):] < max_degree)
        src, dst, weight = src[survives], dst[survives], weight[survives]
    nodes = np.unique(np.concatenate([src, dst]))
    remap = np.full(len(movies), -1, dtype=np.int64)
    remap[nodes] = np.arange(len(nodes))
    return ItemGraph.from_edges(remap[src], remap[dst], weight, num_nodes=len(nodes), item_ids=movies[nodes])


# ---- worker: one build in this process ----

def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def user_pairs(frame, config) -> int:
    liked = frame.loc[frame["rating"].to_numpy() >= config.get("min_rating", 5.0), "userId"].to_numpy()
    n = np.unique(liked, return_counts=True)[1].astype(np.int64)
    if config.get("max_user_items"):
        n = np.minimum(n, config["max_user_items"])
    return int((n * (n - 1) // 2).sum())


def worker(cache: Path, engine: str, config: dict) -> None:
    import pandas as pd

    from recgraph.graph import build_item_graph

    frame = pd.DataFrame({name: np.load(cache / f"{name}.npy") for name in COLUMNS if (cache / f"{name}.npy").exists()})
    input_bytes = int(sum(frame[c].to_numpy().nbytes for c in frame.columns))
    base = rss_mb()
    start = time.perf_counter()
    graph = build_item_graph(frame, **config) if engine == "new" else old_build(frame, **config)
    seconds = time.perf_counter() - start
    digest = hashlib.sha256()
    for array in (graph.indptr, graph.indices, graph.weights, graph.item_ids):
        digest.update(np.ascontiguousarray(array).tobytes())
    print("RESULT " + json.dumps({"seconds": seconds, "base_mb": base, "input_mb": input_bytes / 2**20,
                                  "edges_mb": graph.num_edges * 24 / 2**20, **graph.stats(),
                                  "sha256": digest.hexdigest()[:16]}))


# ---- parent: caches, subprocesses, table ----

def make_cache(args) -> tuple[Path, str]:
    root = Path(args.cache or tempfile.mkdtemp(prefix="bench-graph-"))
    if args.synthetic:
        name = f"synthetic-{args.synthetic}"
        target = root / name
        if not (target / "DONE").exists():
            target.mkdir(parents=True, exist_ok=True)
            for column, values in synthetic_log(args.synthetic, seed=0).items():
                np.save(target / f"{column}.npy", values)
            (target / "DONE").touch()
        return target, name
    from recgraph.data import load_movielens

    name = Path(args.data).name
    target = root / name
    if not (target / "DONE").exists():
        target.mkdir(parents=True, exist_ok=True)
        ratings = load_movielens(args.data).ratings
        for column in COLUMNS:
            if column in ratings.columns:
                np.save(target / f"{column}.npy", ratings[column].to_numpy())
        (target / "DONE").touch()
    return target, name


def synthetic_log(rows: int, seed: int = 0) -> dict:
    """A quick stand-in (the synth helper's generator is the one with ML-25M's shape): log-normal
    ratings per user (min 20), Zipf-like movie popularity, MovieLens-like rating shares, one row
    per (user, movie)."""
    rng = np.random.default_rng(seed)
    per_user = np.maximum(20, rng.lognormal(np.log(40), 1.2, size=max(1, rows // 100))).astype(np.int64)
    per_user = per_user[np.cumsum(per_user) <= rows]
    items = max(1000, rows // 500)
    popularity = 1.0 / np.arange(1, items + 1) ** 0.9
    popularity /= popularity.sum()
    user = np.repeat(np.arange(len(per_user), dtype=np.int64), per_user)
    movie = rng.choice(items, size=len(user), p=popularity).astype(np.int64)
    key = np.unique(user * items + movie)
    user, movie = key // items, key % items
    stars = np.array([5.0, 4.5, 4.0, 3.5, 3.0, 2.5, 2.0, 1.0])
    rating = rng.choice(stars, size=len(user), p=[0.145, 0.085, 0.266, 0.126, 0.196, 0.06, 0.07, 0.052])
    timestamp = rng.integers(789_000_000, 1_570_000_000, size=len(user))
    return {"userId": user, "movieId": movie, "rating": rating, "timestamp": timestamp}


def run_worker(cache: Path, engine: str, config: dict, timeout: float) -> dict:
    command = ["/usr/bin/time", "-v", sys.executable, __file__, "--worker", str(cache), engine, json.dumps(config)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    found = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not found:
        tail = (done.stderr.strip().splitlines() or ["?"])[-3:]
        return {"error": f"exit {done.returncode}: {' | '.join(tail)[:300]}"}
    result = json.loads(found[-1][len("RESULT "):])
    result["peak_mb"] = int(peak.group(1)) / 1024 if peak else float("nan")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", help="a MovieLens zip or directory (the synthetic logs: /work/synth/ml1m ...)")
    source.add_argument("--synthetic", type=int, help="a quick synthetic log of about this many rows")
    parser.add_argument("--config", action="append", help="seed, pruned, or NAME=JSON (repeatable; default both)")
    parser.add_argument("--engines", default="old,new", help="old,new (default), or one of them")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", help="where the typed columns are kept between runs (default: a new temp dir)")
    parser.add_argument("--old-max-pairs", type=float, default=3e8,
                        help="skip the whole-matrix engine above this many user pairs (default 3e8)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--json", help="write every run's figures here")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(Path(args.worker[0]), args.worker[1], json.loads(args.worker[2]))
        return 0
    if not args.data and not args.synthetic:
        args.data = str(Path(__file__).resolve().parents[1] / "../shared/data/ml-latest-small.zip")
    configs = {}
    for spec in args.config or ["seed", "pruned"]:
        name, _, text = spec.partition("=")
        configs[name] = json.loads(text) if text else CONFIGS[name]
    cache, label = make_cache(args)
    import pandas as pd

    frame = pd.DataFrame({c: np.load(cache / f"{c}.npy", mmap_mode="r") for c in ("userId", "rating")})
    print(f"log {label}: {len(frame):,} rows, {frame['userId'].nunique():,} users; cache {cache}")
    records = []
    header = (f"{'config':<8} {'engine':<6} {'user pairs':>14} {'nodes':>7} {'edges':>11} {'avg deg':>8} "
              f"{'build s':>8} {'peak MB':>8} {'over base':>9} {'input MB':>8} {'edges MB':>8} {'ratio':>6}")
    print(header)
    for name, config in configs.items():
        pairs = user_pairs(frame, config)
        digests = set()
        for engine in args.engines.split(","):
            if engine == "old" and pairs > args.old_max_pairs:
                print(f"{name:<8} {engine:<6} {pairs:>14,} skipped (above --old-max-pairs {args.old_max_pairs:g})")
                continue
            runs = [run_worker(cache, engine, config, args.timeout) for _ in range(args.repeat)]
            ok = [r for r in runs if "error" not in r]
            records.append({"log": label, "config": name, "params": config, "engine": engine, "user_pairs": pairs,
                            "runs": runs})
            if not ok:
                print(f"{name:<8} {engine:<6} {pairs:>14,} failed: {runs[0]['error']}")
                continue
            digests |= {r["sha256"] for r in ok}
            seconds = statistics.median(r["seconds"] for r in ok)
            peak = statistics.median(r["peak_mb"] for r in ok)
            over = statistics.median(r["peak_mb"] - r["base_mb"] for r in ok)
            first = ok[0]
            ratio = over / (first["input_mb"] + first["edges_mb"])
            print(f"{name:<8} {engine:<6} {pairs:>14,} {first['nodes']:>7,} {first['edges']:>11,} "
                  f"{first['avg_degree']:>8.1f} {seconds:>8.2f} {peak:>8.0f} {over:>9.0f} {first['input_mb']:>8.0f} "
                  f"{first['edges_mb']:>8.1f} {ratio:>6.2f}", flush=True)
        if len(digests) > 1:
            print(f"  !! engines disagree on {name}: {sorted(digests)}")
            return 1
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
