"""Whole main job, end to end: ``scripts/train.py`` as a user runs it, per backend.

    python benchmarks/bench_train.py --backends gensim keras --runs 5
    python benchmarks/bench_train.py --scale /work/synth/ml1m --workers 1 2 3 --keras-epochs 2

Prints the median wall time of the process (imports included) and the median of each
stage the manifest records. Backends alternate run by run, so load on the machine hits
both alike. The targets: gensim <= 3 s, keras <= 10 s (the Keras example: ~47 s).

``--scale DATA``: the trainers alone on DATA's default corpus (the example's graph
rules, the default walks), each configuration in a fresh child process: gensim with each
``--workers`` count (words/s, train s, bit-identity of two runs for one worker) and keras
for ``--keras-epochs`` epochs (examples, example generation s, seconds per epoch, examples/s
after the first epoch); each with the child's peak memory (max RSS).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import peak_rss_mib

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ml-latest-small.zip"


def one_run(backend: str, data: Path, out: Path, seed: int) -> tuple[float, dict]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "train.py"), "--backend", backend, "--data", str(data),
         "--out", str(out), "--seed", str(seed), "--quiet"],
        capture_output=True, text=True,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{backend} run failed: {proc.stderr.strip()}")
    manifest = json.loads((out / "manifest.json").read_text())
    return wall, manifest["timings_s"]


def scale_child(data: Path, backend: str, params: dict) -> None:
    """One trainer on DATA's default corpus; prints a JSON line."""
    sys.path.insert(0, str(REPO))
    import hashlib

    from recgraph.corpus import GraphParams, WalkParams, build_corpus
    from recgraph.data import load_movielens
    from recgraph.trainers import get_trainer

    timings: dict = {}
    t = time.perf_counter()
    corpus = build_corpus(load_movielens(data), GraphParams(), WalkParams(), seed=0, timings=timings)
    timings["load"] = round(time.perf_counter() - t - timings["graph"] - timings["walks"], 3)
    trainer = get_trainer(backend, seed=0, show_progress=False, **params)
    t = time.perf_counter()
    embeddings = trainer.fit(corpus.walks[0], corpus.graph.num_nodes)
    fit_s = time.perf_counter() - t
    h = trainer.history_
    out = {"backend": backend, "params": params, "nodes": corpus.graph.num_nodes, "edges": corpus.graph.num_edges,
           "tokens": int((corpus.walks[0] >= 0).sum()), "fit_s": round(fit_s, 3), **timings,
           "sha256": hashlib.sha256(embeddings.tobytes()).hexdigest()[:16],
           "peak_mib": round(peak_rss_mib())}
    for key in ("workers", "words_per_s", "train_s", "n_examples", "epoch_s", "examples_per_s", "timings_s"):
        if key in h:
            out[key] = h[key]
    print(json.dumps(out))


def run_scale(args) -> None:
    configs = [("gensim", {"workers": w}) for w in args.workers]
    if 1 in args.workers:
        configs.append(("gensim", {"workers": 1}))  # twice: one thread is bit-for-bit reproducible
    if args.keras_epochs:
        configs.append(("keras", {"epochs": args.keras_epochs}))
    rows = []
    for backend, params in configs:
        proc = subprocess.run([sys.executable, __file__, "--scale-child", str(args.scale), backend, json.dumps(params)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{backend} {params} failed:\n{proc.stderr}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    first = rows[0]
    print(f"{args.scale}: graph {first['nodes']:,} nodes, {first['edges']:,} edges; walks {first['tokens']:,} tokens "
          f"(load {first['load']} s, graph {first['graph']} s, walks {first['walks']} s)\n")
    print("| trainer | fit s | words/s or examples/s | per epoch s | peak MiB | embeddings sha256 |")
    print("|---|---:|---:|---|---:|---|")
    for r in rows:
        if r["backend"] == "gensim":
            print(f"| gensim workers={r['workers']} | {r['fit_s']} | {r['words_per_s']:,} words/s | | "
                  f"{r['peak_mib']} | {r['sha256']} |")
        else:
            epochs = ", ".join(f"{x:.1f}" for x in r["epoch_s"])
            print(f"| keras, {r['n_examples']:,} examples (generated in {r['timings_s']['examples']} s) | "
                  f"{r['fit_s']} | {r['examples_per_s']:,} examples/s | {epochs} | {r['peak_mib']} | {r['sha256']} |")


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--scale-child":
        scale_child(Path(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["gensim"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--scale", type=Path, default=None, help="time the trainers alone on this log's corpus")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3], help="with --scale: gensim threads")
    parser.add_argument("--keras-epochs", type=int, default=2, help="with --scale: keras epochs (0: skip keras)")
    args = parser.parse_args()
    if args.scale:
        run_scale(args)
        return
    walls = {b: [] for b in args.backends}
    stages = {b: {} for b in args.backends}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends:  # warm-up: numba cache, JIT, file cache
            one_run(backend, args.data, Path(tmp) / f"warm-{backend}", 0)
        for run in range(args.runs):
            for backend in args.backends:
                wall, timings = one_run(backend, args.data, Path(tmp) / f"{backend}-{run}", run + 1)
                walls[backend].append(wall)
                for stage, seconds in timings.items():
                    stages[backend].setdefault(stage, []).append(seconds)
    print(f"train.py on {args.data.name}, {args.runs} runs each, medians (s)\n")
    names = sorted({s for b in args.backends for s in stages[b]}, key=lambda s: (s == "total", s))
    print("| backend | process wall | " + " | ".join(names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for backend in args.backends:
        cells = [f"{statistics.median(stages[backend][s]):.3f}" if s in stages[backend] else "" for s in names]
        print(f"| {backend} | {statistics.median(walls[backend]):.2f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
