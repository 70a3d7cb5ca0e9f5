"""Loader benchmark: the pre-pyarrow loader (dtype=str pandas) against recgraph.data, side by side.

Each load runs in its own subprocess under ``/usr/bin/time -v`` (peak RSS of that process
alone); the time is the load itself, measured inside the process after its imports. Prints the
median (and range) of the runs of each loader and the speed-up.

    python benchmarks/bench_load.py --data /work/synth/ml25m            # MovieLens directory
    python benchmarks/bench_load.py --data ratings.csv --old-repeats 1  # one CSV file

A directory is loaded whole (ratings.csv + movies.csv + MD5, as ``load_movielens`` does);
a file is read as a ratings log (the old loader's ``parse_ratings``, the new ``load_log``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


# --------------------------------------------------------------------------------------------
# Reference copy of the loader as it was before pyarrow (recgraph/data.py at 8e0d9a1): the whole
# file read into memory, parsed by pandas with dtype=str, then converted column by column.

def _old_read_csv(payload: bytes, label: str, required: tuple[str, ...]):
    import io

    import pandas as pd

    if not payload.strip():
        raise ValueError(f"{label} is empty")
    frame = pd.read_csv(io.BytesIO(payload), dtype=str, keep_default_na=False)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{label} lacks column(s) {', '.join(missing)}")
    if frame.empty:
        raise ValueError(f"{label} has a header but no rows.")
    return frame


def _old_numeric(frame, column: str, label: str, integer: bool) -> np.ndarray:
    import pandas as pd

    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna().to_numpy().copy()
    if integer:
        filled = values.fillna(0).to_numpy(dtype=np.float64)
        bad |= filled != np.round(filled)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{label} line {row + 2}: {column} {raw.iloc[row]!r} is not a number")
    return values.to_numpy()


def old_parse_ratings(payload: bytes, label: str = "ratings.csv"):
    import pandas as pd

    frame = _old_read_csv(payload, label, ("userId", "movieId", "rating"))
    out = pd.DataFrame({
        "userId": _old_numeric(frame, "userId", label, True).astype(np.int64),
        "movieId": _old_numeric(frame, "movieId", label, True).astype(np.int64),
        "rating": _old_numeric(frame, "rating", label, False).astype(np.float64),
    })
    if "timestamp" in frame.columns:
        out["timestamp"] = _old_numeric(frame, "timestamp", label, True).astype(np.int64)
    rating = out["rating"].to_numpy()
    if ((rating < 0.5) | (rating > 5.0)).any():
        raise ValueError(f"{label}: rating outside 0.5 to 5")
    return out


def old_parse_movies(payload: bytes, label: str = "movies.csv"):
    import pandas as pd

    frame = _old_read_csv(payload, label, ("movieId", "title"))
    out = pd.DataFrame({
        "movieId": _old_numeric(frame, "movieId", label, True).astype(np.int64),
        "title": frame["title"].astype(str),
        "genres": frame["genres"].astype(str) if "genres" in frame.columns else "",
    })
    if out["movieId"].duplicated().any():
        raise ValueError(f"{label}: a movieId appears twice")
    return out


def old_load(path: Path) -> int:
    import hashlib

    if path.is_dir():
        ratings_bytes = (path / "ratings.csv").read_bytes()
        movies_bytes = (path / "movies.csv").read_bytes()
        hashlib.md5(ratings_bytes).hexdigest()
        ratings = old_parse_ratings(ratings_bytes, str(path / "ratings.csv"))
        old_parse_movies(movies_bytes, str(path / "movies.csv"))
    else:
        ratings = old_parse_ratings(path.read_bytes(), str(path))
    return len(ratings)


def new_load(path: Path) -> int:
    from recgraph.data import load_log, load_movielens

    data = load_movielens(path) if path.is_dir() else load_log(path)
    return len(data.ratings)


# --------------------------------------------------------------------------------------------

def worker(which: str, path: Path) -> None:
    load = {"old": old_load, "new": new_load}[which]
    import pandas  # noqa: F401  (imports outside the timed part, for both loaders)
    import pyarrow  # noqa: F401

    start = time.perf_counter()
    rows = load(path)
    print(json.dumps({"seconds": time.perf_counter() - start, "rows": rows}))


def run_once(which: str, path: Path) -> dict:
    command = ["/usr/bin/time", "-v", sys.executable, __file__, "--worker", which, "--data", str(path)]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{which} loader failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    result["peak_mb"] = int(peak.group(1)) / 1024 if peak else float("nan")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="MovieLens directory or a ratings CSV file")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the new loader (default 3)")
    parser.add_argument("--old-repeats", type=int, default=3, help="runs of the old loader (default 3; 0: skip it)")
    parser.add_argument("--worker", choices=("old", "new"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = Path(args.data)
    if args.worker:
        worker(args.worker, path)
        return
    target = path / "ratings.csv" if path.is_dir() else path
    print(f"data: {path} ({target.stat().st_size / 2**20:,.0f} MiB ratings CSV), {os.cpu_count()} CPUs, "
          f"python {sys.version.split()[0]}")
    rows = {}
    medians = {}
    print(f"{'loader':<34} {'runs':>4} {'median s':>9} {'min-max s':>13} {'peak RSS MB':>12} {'rows':>12}")
    for which, repeats, label in (("old", args.old_repeats, "before (pandas dtype=str)"),
                                  ("new", args.repeats, "recgraph.data (pyarrow)")):
        if repeats == 0:
            continue
        runs = [run_once(which, path) for _ in range(repeats)]
        seconds = [r["seconds"] for r in runs]
        peaks = [r["peak_mb"] for r in runs]
        medians[which] = statistics.median(seconds)
        rows[which] = runs[0]["rows"]
        print(f"{label:<34} {repeats:>4} {medians[which]:>9.2f} {min(seconds):>6.2f}-{max(seconds):<6.2f} "
              f"{statistics.median(peaks):>12,.0f} {rows[which]:>12,}", flush=True)
    if len(medians) == 2:
        print(f"speed-up (median old / median new): {medians['old'] / medians['new']:.1f}x")
    if len(rows) == 2 and rows["old"] != rows["new"]:
        print(f"note: row counts differ ({rows['old']} vs {rows['new']}): the new loader drops duplicate "
              "(user, item) rows")


if __name__ == "__main__":
    main()
