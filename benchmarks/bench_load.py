"""Loader benchmark: recgraph.data's load of a MovieLens directory or a ratings file.

Each load runs in its own subprocess under ``/usr/bin/time -v`` (peak RSS of that process
alone); the time is the load itself, measured inside the process after its imports. Prints the
median (and range) of the runs.

    python benchmarks/bench_load.py --data /work/synth/ml25m            # MovieLens directory
    python benchmarks/bench_load.py --data ratings.csv --repeats 1      # one CSV file

A directory is loaded whole (ratings.csv + movies.csv + MD5, as ``load_movielens`` does);
a file is read as a ratings log (``load_log``). The loader from before pyarrow (pandas with
``dtype=str``), which this script used to run beside it, is gone; the figures it produced are in
docs/data.md ("before" rows).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from measure import run_timed


def new_load(path: Path) -> int:
    from recgraph.data import load_log, load_movielens

    data = load_movielens(path) if path.is_dir() else load_log(path)
    return len(data.ratings)


def worker(path: Path) -> None:
    import pandas  # noqa: F401  (imports outside the timed part)
    import pyarrow  # noqa: F401

    start = time.perf_counter()
    rows = new_load(path)
    print(json.dumps({"seconds": time.perf_counter() - start, "rows": rows}))


def run_once(path: Path) -> dict:
    run = run_timed([sys.executable, __file__, "--worker", "--data", str(path)], check=True)
    result = json.loads(run.last_json_line())
    result["peak_mb"] = run.peak_mib if run.peak_mib is not None else float("nan")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="MovieLens directory or a ratings CSV file")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the loader (default 3)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = Path(args.data)
    if args.worker:
        worker(path)
        return
    target = path / "ratings.csv" if path.is_dir() else path
    print(f"data: {path} ({target.stat().st_size / 2**20:,.0f} MiB ratings CSV), {os.cpu_count()} CPUs, "
          f"python {sys.version.split()[0]}")
    print(f"{'loader':<34} {'runs':>4} {'median s':>9} {'min-max s':>13} {'peak RSS MB':>12} {'rows':>12}")
    runs = [run_once(path) for _ in range(max(1, args.repeats))]
    seconds = [r["seconds"] for r in runs]
    peaks = [r["peak_mb"] for r in runs]
    print(f"{'recgraph.data (pyarrow)':<34} {len(runs):>4} {statistics.median(seconds):>9.2f} "
          f"{min(seconds):>6.2f}-{max(seconds):<6.2f} {statistics.median(peaks):>12,.0f} {runs[0]['rows']:>12,}")

if __name__ == "__main__":
    main()
