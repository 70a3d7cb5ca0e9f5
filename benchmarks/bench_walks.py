"""Benchmark the node2vec walk stage: ours against fastnode2vec and PecanPy, side by side.

Two parts:

(a) ml-latest-small with the example's parameters (5 walks per node, length 10,
    p=2, q=1.5): median walk-stage seconds of ``recgraph.walks.node2vec_walks``
    after a warm-up run that compiles. Target: <= 0.1 s.

(b) a synthetic weighted graph (default 60,000 nodes, 5,000,000 undirected edges
    with uniform random endpoints, self-loops and duplicates dropped, log-normal
    weights), 10 walks per node of 80 nodes, p=2, q=1.5, 2 threads. Each
    implementation runs in its own fresh process (so peak memory is its own, read
    from VmHWM in /proc/self/status), the implementations interleaved round by
    round, and the table reports medians. Target: ours >= 1.5x the walks/s of the
    fastest peer, with peak memory <= 1.5 GB.

The walk stage is timed from a CSR graph in memory to a walk matrix: ours includes
its alias tables, fastnode2vec its per-row cumulative weights, PecanPy nothing
(SparseOTF computes transition probabilities on the fly).

Peers (never installed into this repository's environment)::

    python -m venv /tmp/peers-venv
    /tmp/peers-venv/bin/pip install fastnode2vec pecanpy
    python benchmarks/bench_walks.py --peers-python /tmp/peers-venv/bin/python

How each peer is driven:

- fastnode2vec: its numba kernel ``fastnode2vec.graph._random_walk_weighted``
  (rejection sampling over per-row cumulative weights), called for every start
  from a numba ``prange`` loop, so it uses the same threads as ours. (Its own API
  only makes walks one at a time from Python inside gensim's training loop, which
  is slower; this is the most generous way to run its kernel.) To keep a run
  under ~5 minutes it walks a quarter of the starts by default
  (``--fastnode2vec-fraction``; all of them with ``--quick``).
- PecanPy: ``SparseOTF`` (the mode for large sparse graphs), through its internal
  parallel ``_random_walks`` on the node-index matrix, skipping
  ``simulate_walks``' conversion of every walk into a list of strings. Its
  ``walk_length`` counts steps, so it is given walk_length - 1 to produce the same
  number of nodes. SparseOTF costs O(degree) per step, so by default it walks
  only a fraction of the starts (``--pecanpy-fraction``: 5%, 20% with
  ``--quick``). ``PreComp`` (precomputed 2nd-order alias tables: uint32 + float32 for each of the
  sum(degree^2) = 1.68e9 (edge, neighbour) pairs) would need ~13.4 GB on this
  graph and is not run.

Walks/s is a rate, so a peer timed on a share of the starts (the first walks of
the same seeded start order, spread over all nodes) compares fairly; ours always
walks all of them. Ratios are ours' walks/s over the peer's within the same
round, then the median over rounds, which cancels some of a shared machine's
drift; the order of the implementations rotates from round to round. Walks per
CPU-second (user + system time of the worker's threads over the timed region)
is printed beside walks/s: on a machine shared with other work it shows what
each implementation does with the CPU it actually got.

``--quick`` uses a 10,000-node, 300,000-edge graph and 2 rounds (a smoke test;
the targets are for the full graph).

A peer that cannot be imported by the peers interpreter is reported as
"peer not installed, skipped", and ours is measured alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ml-latest-small.zip"
PEER_MODULES = {"fastnode2vec": "fastnode2vec.graph", "pecanpy": "pecanpy.pecanpy"}


# --------------------------------------------------------------------------- helpers


def peak_rss_mb() -> float:
    """Peak resident set size of this process (VmHWM), in MB (10**6 bytes)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def current_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_graph(path: Path, num_nodes: int, num_edges: int, seed: int) -> None:
    """Write a random weighted undirected graph as CSR (both directions, rows sorted)."""
    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    n = np.int64(num_nodes)
    draw = int(num_edges * 1.02) + 1000
    keys = np.empty(0, dtype=np.int64)
    while True:
        a = rng.integers(0, n, draw, dtype=np.int64)
        b = rng.integers(0, n, draw, dtype=np.int64)
        keep = a != b
        lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
        keys = np.concatenate([keys, lo * n + hi])
        uniq, first = np.unique(keys, return_index=True)
        if uniq.shape[0] >= num_edges:
            keys = keys[np.sort(first)][:num_edges]  # first occurrences, in draw order
            break
    src, dst = keys // n, keys % n
    weight = rng.lognormal(mean=0.0, sigma=1.0, size=num_edges)
    adj = sp.csr_matrix(
        (np.concatenate([weight, weight]), (np.concatenate([src, dst]), np.concatenate([dst, src]))),
        shape=(num_nodes, num_nodes),
    )
    adj.sum_duplicates()
    assert adj.nnz == 2 * num_edges
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        indptr=adj.indptr.astype(np.int64),
        indices=adj.indices.astype(np.int32),
        weights=adj.data.astype(np.float64),
    )
    os.replace(tmp, path)


# --------------------------------------------------------------------------- workers
# Each runs in a fresh interpreter, prints one JSON line.


def _starts(num_nodes: int, num_walks: int, fraction: float, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    starts = np.concatenate([rng.permutation(num_nodes) for _ in range(num_walks)]).astype(np.int64)
    return starts[: max(1, int(round(starts.shape[0] * fraction)))]


def worker_ours(args) -> dict:
    import numpy as np

    sys.path.insert(0, str(REPO))
    from recgraph.graph import ItemGraph
    from recgraph.walks import node2vec_walks

    raw = np.load(args.graph)
    g = ItemGraph(raw["indptr"], raw["indices"], raw["weights"], item_ids=np.arange(raw["indptr"].shape[0] - 1))
    tiny = ItemGraph.from_edges(np.array([0, 1, 2]), np.array([1, 2, 0]), np.array([1.0, 2.0, 3.0]))
    node2vec_walks(tiny, 2, 5, args.p, args.q, seed=0, threads=args.threads)  # compile / load cache
    rss_before = current_rss_mb()
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    walks = node2vec_walks(g, args.num_walks, args.walk_length, args.p, args.q, seed=args.seed, threads=args.threads)
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds() - c0
    assert walks.shape == (args.num_walks * g.num_nodes, args.walk_length)
    return {"walks": int(walks.shape[0]), "seconds": seconds, "cpu_seconds": cpu, "rss_before_mb": rss_before}


def worker_fastnode2vec(args) -> dict:
    import numpy as np
    from numba import njit, prange, set_num_threads
    from fastnode2vec.graph import _csr_row_cumsum, _random_walk_weighted

    set_num_threads(args.threads)

    @njit(parallel=True)
    def drive(indptr, indices, data, starts, walk_length, p, q, out):
        for i in prange(starts.shape[0]):
            walk = _random_walk_weighted(indptr, indices, data, walk_length, p, q, starts[i])
            out[i, : walk.shape[0]] = walk

    def walk_stage(indptr, indices, weights, starts):
        # fastnode2vec.Graph's preprocessing for a weighted graph: rows normalised, cumulated.
        deg = np.diff(indptr)
        sums = np.bincount(np.repeat(np.arange(deg.shape[0]), deg), weights=weights, minlength=deg.shape[0])
        data = _csr_row_cumsum(indptr, weights / np.repeat(sums, deg))
        out = np.full((starts.shape[0], args.walk_length), -1, dtype=indices.dtype)
        drive(indptr, indices, data, starts, args.walk_length, args.p, args.q, out)
        return out

    tiny_ptr = np.array([0, 2, 4, 6], dtype=np.int32)
    tiny_idx = np.array([1, 2, 0, 2, 0, 1], dtype=np.int32)
    walk_stage(tiny_ptr, tiny_idx, np.ones(6), np.arange(3, dtype=np.int64))  # compile

    raw = np.load(args.graph)
    # fastnode2vec's Graph holds scipy's int32 CSR arrays.
    indptr = raw["indptr"].astype(np.int32)
    indices = raw["indices"].astype(np.int32)
    weights = raw["weights"]
    starts = _starts(indptr.shape[0] - 1, args.num_walks, args.fraction, args.seed)
    rss_before = current_rss_mb()
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    walks = walk_stage(indptr, indices, weights, starts)
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds() - c0
    assert walks.shape == (starts.shape[0], args.walk_length)
    return {"walks": int(walks.shape[0]), "seconds": seconds, "cpu_seconds": cpu, "rss_before_mb": rss_before}


def worker_pecanpy(args) -> dict:
    import numpy as np
    from numba import set_num_threads
    from numba_progress import ProgressBar
    from pecanpy.pecanpy import SparseOTF

    set_num_threads(args.threads)
    raw = np.load(args.graph)
    g = SparseOTF(p=args.p, q=args.q, workers=args.threads, verbose=False, random_state=args.seed)
    # What SparseGraph.read_npz does.
    g.indptr = raw["indptr"].astype(np.uint32)
    g.indices = raw["indices"].astype(np.uint32)
    g.data = raw["weights"].astype(np.float32)
    del raw
    n = g.indptr.shape[0] - 1
    g.set_node_ids(None, implicit_ids=True, num_nodes=n)
    starts = _starts(n, args.num_walks, args.fraction, args.seed).astype(np.uint32)
    steps = args.walk_length - 1  # PecanPy's walk_length counts steps

    g._preprocess_transition_probs()  # nothing to do for SparseOTF
    # Built once: each new closure would make numba compile _random_walks again.
    move_forward = g.get_move_forward()
    has_nbrs = g.get_has_nbrs()

    def walk_stage(start_ary):
        with ProgressBar(total=start_ary.shape[0], disable=True) as progress:
            return g._random_walks(start_ary.shape[0], steps, args.seed, start_ary, has_nbrs, move_forward, progress)

    walk_stage(starts[:64].copy())  # compile move_forward and _random_walks for it
    rss_before = current_rss_mb()
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    mat = walk_stage(starts)
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds() - c0
    assert mat.shape == (starts.shape[0], args.walk_length + 1)
    return {"walks": int(mat.shape[0]), "seconds": seconds, "cpu_seconds": cpu, "rss_before_mb": rss_before}


WORKERS = {"ours": worker_ours, "fastnode2vec": worker_fastnode2vec, "pecanpy": worker_pecanpy}


def run_worker(args) -> None:
    result = WORKERS[args.worker](args)
    result["impl"] = args.worker
    result["peak_rss_mb"] = peak_rss_mb()
    print("RESULT " + json.dumps(result), flush=True)


# --------------------------------------------------------------------------- driver


def peer_available(python: str, impl: str) -> bool:
    code = f"import {PEER_MODULES[impl]}"
    if impl == "pecanpy":
        code += "; import numba_progress"
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return proc.returncode == 0


def spawn(python: str, impl: str, graph: Path, args, fraction: float, timeout: float) -> dict | None:
    cmd = [
        python,
        str(Path(__file__).resolve()),
        "--worker", impl,
        "--graph", str(graph),
        "--num-walks", str(args.num_walks),
        "--walk-length", str(args.walk_length),
        "--p", str(args.p),
        "--q", str(args.q),
        "--threads", str(args.threads),
        "--seed", str(args.seed),
        "--fraction", str(fraction),
    ]  # fmt: skip
    env = dict(os.environ, NUMBA_NUM_THREADS=str(args.threads))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  {impl}: timed out after {timeout:.0f} s", flush=True)
        return None
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    print(f"  {impl}: failed (exit {proc.returncode})\n{proc.stderr[-2000:]}", flush=True)
    return None


def bench_movielens(args) -> dict:
    import numpy as np

    sys.path.insert(0, str(REPO))
    from recgraph.data import load_movielens
    from recgraph.graph import build_item_graph
    from recgraph.walks import node2vec_walks

    graph = build_item_graph(load_movielens(args.data))
    kwargs = dict(num_walks=5, walk_length=10, p=2.0, q=1.5, seed=0)
    node2vec_walks(graph, **kwargs)  # warm-up: compiles or loads numba's cache
    times = []
    for r in range(args.ml_runs):
        t0 = time.perf_counter()
        walks = node2vec_walks(graph, **{**kwargs, "seed": r})
        times.append(time.perf_counter() - t0)
    assert walks.shape == (5 * graph.num_nodes, 10) and np.all(walks >= 0)
    return {"stats": graph.stats(), "times": times, "median": statistics.median(times)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small synthetic graph (10k nodes, 300k edges), 2 rounds")
    ap.add_argument("--peers-python", default=sys.executable, help="interpreter that has fastnode2vec / pecanpy")
    ap.add_argument("--peers", default="fastnode2vec,pecanpy", help="comma-separated peers to run ('' for none)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3, --quick 2)")
    ap.add_argument("--nodes", type=int, default=None)
    ap.add_argument("--edges", type=int, default=None)
    ap.add_argument("--num-walks", type=int, default=10)
    ap.add_argument("--walk-length", type=int, default=80)
    ap.add_argument("--p", type=float, default=2.0)
    ap.add_argument("--q", type=float, default=1.5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--pecanpy-fraction", type=float, default=None, help="share of the starts PecanPy walks (0.05; --quick 0.2)"
    )
    ap.add_argument(
        "--fastnode2vec-fraction",
        type=float,
        default=None,
        help="share of the starts fastnode2vec walks (0.25; --quick 1)",
    )
    ap.add_argument("--cache", default=os.environ.get("RECGRAPH_BENCH_DIR", "/tmp/recgraph-bench"))
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="ml-latest-small zip for part (a)")
    ap.add_argument("--ml-runs", type=int, default=9)
    ap.add_argument("--skip-movielens", action="store_true")
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--worker-timeout", type=float, default=240.0)
    # internal: worker mode
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--graph", help=argparse.SUPPRESS)
    ap.add_argument("--fraction", type=float, default=1.0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        run_worker(args)
        return 0

    nodes = args.nodes or (10_000 if args.quick else 60_000)
    edges = args.edges or (300_000 if args.quick else 5_000_000)
    rounds = args.rounds or (2 if args.quick else 3)
    if args.pecanpy_fraction is None:
        args.pecanpy_fraction = 0.2 if args.quick else 0.05
    if args.fastnode2vec_fraction is None:
        args.fastnode2vec_fraction = 1.0 if args.quick else 0.25
    print(f"machine: {os.cpu_count()} CPUs; python {sys.version.split()[0]}; peers python {args.peers_python}")

    if not args.skip_movielens:
        if Path(args.data).exists():
            ml = bench_movielens(args)
            verdict = "meets" if ml["median"] <= 0.1 else "MISSES"
            print(
                f"\n## (a) ml-latest-small: {ml['stats']}, 5 walks x 10, p=2, q=1.5, default threads\n"
                f"walk stage median {ml['median']:.4f} s over {len(ml['times'])} runs "
                f"(min {min(ml['times']):.4f}, max {max(ml['times']):.4f}); {verdict} the 0.1 s target",
                flush=True,
            )
        else:
            print(f"\n## (a) skipped: {args.data} not found")

    if args.skip_synthetic:
        return 0

    graph = Path(args.cache) / f"synthetic_n{nodes}_m{edges}_s{args.seed}.npz"
    if not graph.exists():
        t0 = time.perf_counter()
        make_graph(graph, nodes, edges, args.seed)
        print(f"\nbuilt {graph} in {time.perf_counter() - t0:.1f} s")

    impls = [("ours", sys.executable, 1.0)]
    for peer in [p for p in args.peers.split(",") if p]:
        if peer not in PEER_MODULES:
            ap.error(f"unknown peer {peer!r}; choose from {sorted(PEER_MODULES)}")
        if peer_available(args.peers_python, peer):
            fraction = args.pecanpy_fraction if peer == "pecanpy" else args.fastnode2vec_fraction
            impls.append((peer, args.peers_python, fraction))
        else:
            print(f"{peer}: peer not installed, skipped")

    print(
        f"\n## (b) synthetic: {nodes:,} nodes, {edges:,} undirected edges, {args.num_walks} walks/node x "
        f"{args.walk_length} nodes, p={args.p:g}, q={args.q:g}, {args.threads} threads, {rounds} interleaved rounds",
        flush=True,
    )
    results: dict[str, list[dict]] = {name: [] for name, _, _ in impls}
    for r in range(rounds):
        # Rotate the order each round so no implementation always runs first or last.
        for name, python, fraction in impls[r % len(impls) :] + impls[: r % len(impls)]:
            res = spawn(python, name, graph, args, fraction, args.worker_timeout)
            if res is None:
                continue
            res["round"] = r
            res["wps"] = res["walks"] / res["seconds"]
            results[name].append(res)
            print(
                f"  round {r + 1}: {name:<13} {res['walks']:>8,} walks in {res['seconds']:7.2f} s = "
                f"{res['wps']:>10,.0f} walks/s ({res['walks'] / res['cpu_seconds']:>8,.0f} per CPU-s), "
                f"peak RSS {res['peak_rss_mb']:6.0f} MB",
                flush=True,
            )

    ours = {res["round"]: res for res in results.get("ours", [])}
    print(
        "\n| implementation | walks timed per run | walks/s (median) | walks/s (best) | ours ÷ impl, walks/s | "
        "walks per CPU-s (median) | ours ÷ impl, per CPU-s | peak RSS (max) | RSS before walks |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    summary = {}
    for name, runs in results.items():
        if not runs:
            print(f"| {name} | – | failed | – | – | – | – | – | – |")
            continue
        wps = statistics.median(res["wps"] for res in runs)
        best = max(res["wps"] for res in runs)
        wpc = statistics.median(res["walks"] / res["cpu_seconds"] for res in runs)
        paired = [(ours[res["round"]], res) for res in runs if res["round"] in ours]
        ratio = statistics.median(o["wps"] / res["wps"] for o, res in paired) if paired else float("nan")
        ratio_cpu = (
            statistics.median((o["walks"] / o["cpu_seconds"]) / (res["walks"] / res["cpu_seconds"]) for o, res in paired)
            if paired
            else float("nan")
        )
        peak = max(res["peak_rss_mb"] for res in runs)
        before = max(res["rss_before_mb"] for res in runs)
        summary[name] = (wps, ratio, peak)
        print(
            f"| {name} | {runs[0]['walks']:,} | {wps:,.0f} | {best:,.0f} | {ratio:.2f}× | {wpc:,.0f} | {ratio_cpu:.2f}× "
            f"| {peak:,.0f} MB | {before:,.0f} MB |"
        )
    print(f"({len(next(iter(results.values())))} runs each; ratios are medians of per-round ratios)")
    if "ours" in summary:
        peers = {k: v for k, v in summary.items() if k != "ours"}
        peak = summary["ours"][2]
        print(f"\nours: peak RSS {peak:,.0f} MB ({'meets' if peak <= 1500 else 'MISSES'} the 1.5 GB target)")
        if peers:
            fastest = max(peers, key=lambda k: peers[k][0])
            ratio = peers[fastest][1]
            print(
                f"fastest peer: {fastest}; ours is {ratio:.2f}× its walks/s "
                f"({'meets' if ratio >= 1.5 else 'MISSES'} the 1.5× target)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
