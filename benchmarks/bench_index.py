"""Benchmark the index stage: ``recgraph.artifact.write_artifact`` on a random embedding table.

Default: 50,000 items x 50 dimensions (float32, normal), 50 Annoy trees, the artifact's
other files (embeddings.npy, items.csv, checksums, manifest) included, as the pipeline runs
it. Two settings, each in its own fresh process under ``/usr/bin/time -v`` (peak memory:
"Maximum resident set size"), interleaved round by round:

- ``n_jobs=1``: one build thread (what recgraph did before; bit-identical index.ann);
- ``n_jobs=-1``: Annoy builds the trees on every core (the default now).

Each worker also reports the Annoy part alone (adding the items, building the trees).
Prints the median over rounds of each figure.

    python benchmarks/bench_index.py                  # 50k x 50, 5 rounds
    python benchmarks/bench_index.py --items 1405 --dim 100 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from measure import median, print_table, run_timed

REPO = Path(__file__).resolve().parent.parent


def worker(items: int, dim: int, n_trees: int, n_jobs: int, out: str) -> None:
    import numpy as np
    from annoy import AnnoyIndex

    sys.path.insert(0, str(REPO))
    from recgraph.artifact import write_artifact

    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(items, dim)).astype(np.float32)
    ids = np.arange(1, items + 1)
    titles = [f"Movie {i} (2000)" for i in ids.tolist()]
    t = time.perf_counter()
    annoy = AnnoyIndex(dim, "angular")
    annoy.set_seed(1)
    for i, vector in enumerate(embeddings):
        annoy.add_item(i, vector)
    add_s = time.perf_counter() - t
    t = time.perf_counter()
    annoy.build(n_trees, n_jobs=n_jobs)
    build_s = time.perf_counter() - t
    annoy.unload()
    t = time.perf_counter()
    write_artifact(Path(out) / "art", embeddings, ids, titles, [""] * items, {}, n_trees=n_trees, seed=1,
                   n_jobs=n_jobs)
    total_s = time.perf_counter() - t
    print(json.dumps({"add_s": add_s, "build_s": build_s, "write_artifact_s": total_s}))


def run_one(args, n_jobs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-index-") as out:
        cmd = [sys.executable, __file__, "--worker", "--items", str(args.items),
               "--dim", str(args.dim), "--n-trees", str(args.n_trees), "--n-jobs", str(n_jobs), "--out", out]
        run = run_timed(cmd, check=True)
    result = json.loads(run.last_json_line())
    result["peak_mb"] = run.peak_mib if run.peak_mib is not None else float("nan")
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--items", type=int, default=50_000)
    p.add_argument("--dim", type=int, default=50)
    p.add_argument("--n-trees", type=int, default=50)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--n-jobs", type=int, default=-1, help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.items, args.dim, args.n_trees, args.n_jobs, args.out)
        return 0
    settings = (1, -1)
    runs: dict[int, list[dict]] = {s: [] for s in settings}
    for r in range(args.rounds):
        for s in settings if r % 2 == 0 else settings[::-1]:
            runs[s].append(run_one(args, s))
    print(f"index stage, {args.items:,} x {args.dim} float32, {args.n_trees} trees, {os.cpu_count()} cores, "
          f"median of {args.rounds} rounds (load average {os.getloadavg()[0]:.1f})")
    rows = []
    for s in settings:
        med = {k: median(run[k] for run in runs[s]) for k in runs[s][0]}
        rows.append([s, f"{med['add_s']:.3f}", f"{med['build_s']:.3f}", f"{med['write_artifact_s']:.3f}",
                     f"{med['peak_mb']:.0f}"])
    print_table(["n_jobs", "add items s", "build trees s", "write_artifact s", "peak MB"], rows, "rrrrr")
    return 0


if __name__ == "__main__":
    sys.exit(main())
