"""Benchmark the graph build: ``recgraph.graph.build_item_graph``'s blocked products, each run
in a fresh process, its time and memory against what it reads and what it keeps.

For each configuration the build runs ``--repeat`` times, every run in a fresh process under
``/usr/bin/time -v`` (``measure.run_timed``; peak RSS is that process's ``Maximum resident set
size``). A worker loads the log's typed columns from a cache of ``.npy`` files (made once per
log by the parent, from :func:`recgraph.data.load_movielens`), so its peak is the interpreter,
the typed input and the build. The table gives per configuration:

- ``build s``: median seconds of the build alone (the typed frame to an ``ItemGraph``);
- ``peak MB``: median peak RSS of the whole process, and ``over base MB``: the peak minus the
  process's RSS just before the build (interpreter, imports and the typed input);
- ``input MB``: the typed columns (userId, movieId int64, rating float64, timestamp int64);
  ``edges MB``: the kept edges as (src, dst int64, weight float64), 24 bytes each;
- ``ratio``: ``over base / (input MB + edges MB)``, the goal being <= 2 (it counts the build's
  own memory against what it reads and what it keeps);
- ``user pairs``: sum over users of n_u (n_u - 1) / 2 for each user's liked movies after the
  per-user cap, the work a co-occurrence count cannot avoid;
- ``sha256``: the first hex digits of a SHA-256 of the CSR arrays; every run of one
  configuration must give the same (the script exits 1 otherwise).

The whole-matrix engine the blocked build replaced (one ``triu(X.T @ X)``) was timed here beside
it until issue 17; its figures, and the commit whose code produced them, are in
``docs/graph_options.md`` ("The build: blocked products").

Examples::

    python benchmarks/bench_graph.py --data ../shared/data/ml-latest-small.zip --repeat 5
    python benchmarks/bench_graph.py --synthetic 1000000 --repeat 3
    flock /tmp/recgraph-heavy.lock python benchmarks/bench_graph.py --data /work/synth/ml25m \\
        --repeat 3 --cache /tmp/bench-graph-cache
    python benchmarks/bench_graph.py ... --config 'big={"min_rating": 4.0, "min_weight": 0, "max_degree": 50}'

Configurations (``--config NAME`` for the built-in ones, ``NAME=JSON`` for others):
``seed`` (5 stars, min_weight 10: the example) and ``pruned`` (``tuned``'s first view).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from measure import median, print_table, run_timed

CONFIGS = {
    "seed": {"min_rating": 5.0, "min_weight": 10.0},
    "pruned": {"min_rating": 4.0, "min_weight": 0.0, "max_degree": 50, "max_user_items": 500},
}
COLUMNS = ("userId", "movieId", "rating", "timestamp")


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


def worker(cache: Path, config: dict) -> None:
    import pandas as pd

    from recgraph.graph import build_item_graph

    frame = pd.DataFrame({name: np.load(cache / f"{name}.npy") for name in COLUMNS if (cache / f"{name}.npy").exists()})
    input_bytes = int(sum(frame[c].to_numpy().nbytes for c in frame.columns))
    base = rss_mb()
    start = time.perf_counter()
    graph = build_item_graph(frame, **config)
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


def run_worker(cache: Path, config: dict, timeout: float) -> dict:
    run = run_timed([sys.executable, __file__, "--worker", str(cache), json.dumps(config)], timeout=timeout)
    if run.timed_out:
        return {"error": f"timed out after {timeout:g} s"}
    found = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    if not run.ok or not found:
        tail = (run.stderr.strip().splitlines() or ["?"])[-3:]
        return {"error": f"exit {run.returncode}: {' | '.join(tail)[:300]}"}
    result = json.loads(found[-1][len("RESULT "):])
    result["peak_mb"] = run.peak_mib if run.peak_mib is not None else float("nan")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", help="a MovieLens zip or directory (the synthetic logs: /work/synth/ml1m ...)")
    source.add_argument("--synthetic", type=int, help="a quick synthetic log of about this many rows")
    parser.add_argument("--config", action="append", help="seed, pruned, or NAME=JSON (repeatable; default both)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", help="where the typed columns are kept between runs (default: a new temp dir)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--json", help="write every run's figures here")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(Path(args.worker[0]), json.loads(args.worker[1]))
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
    print(f"log {label}: {len(frame):,} rows, {frame['userId'].nunique():,} users; cache {cache}; "
          f"medians of {args.repeat} runs, each a fresh process", flush=True)
    records, rows, disagree = [], [], []
    for name, config in configs.items():
        pairs = user_pairs(frame, config)
        runs = [run_worker(cache, config, args.timeout) for _ in range(args.repeat)]
        records.append({"log": label, "config": name, "params": config, "user_pairs": pairs, "runs": runs})
        ok = [r for r in runs if "error" not in r]
        if not ok:
            rows.append([name, f"{pairs:,}", f"failed: {runs[0]['error']}"] + [""] * 9)
            continue
        digests = sorted({r["sha256"] for r in ok})
        if len(digests) > 1:
            disagree.append(f"{name}: {digests}")
        seconds = median(r["seconds"] for r in ok)
        peak = median(r["peak_mb"] for r in ok)
        over = median(r["peak_mb"] - r["base_mb"] for r in ok)
        first = ok[0]
        ratio = over / (first["input_mb"] + first["edges_mb"])
        rows.append([name, f"{pairs:,}", f"{first['nodes']:,}", f"{first['edges']:,}", f"{first['avg_degree']:.1f}",
                     f"{seconds:.2f}", f"{peak:,.0f}", f"{over:,.0f}", f"{first['input_mb']:,.0f}",
                     f"{first['edges_mb']:,.1f}", f"{ratio:.2f}", ",".join(digests)])
    print_table(["config", "user pairs", "nodes", "edges", "avg degree", "build s", "peak MB", "over base MB",
                 "input MB", "edges MB", "ratio", "sha256"], rows, align="lrrrrrrrrrrl")
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    if disagree:
        print(f"!! runs of one configuration gave different graphs: {'; '.join(disagree)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
