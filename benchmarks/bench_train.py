"""Whole main job, end to end: ``scripts/train.py`` as a user runs it, per backend.

    python benchmarks/bench_train.py --backends gensim keras --runs 5

Prints the median wall time of the process (imports included) and the median of each
stage the manifest records. Backends alternate run by run, so load on the machine hits
both alike. The targets: gensim <= 3 s, keras <= 10 s (the Keras example: ~47 s).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["gensim"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
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
