"""The main job at 1M, 5M and 25M ratings: wall time, peak memory and time per stage.

    python benchmarks/bench_scale.py [--sizes 1m,5m,25m] [--repeats 1] [--skip-tuned]
                                     [--skip-evaluate] [--json out.json]

For each synthetic log ``ROOT/ml<size>`` (made by ``benchmarks/synth_log.py``; see
``make_synth_logs.sh``; a directory counts once it has its ``DONE`` file) it runs, each in a
fresh process under ``/usr/bin/time -v``:

- ``python -m recgraph train --backend gensim --data DIR --out TMP --seed 0 --quiet``
  (the default job) and the same with ``--preset tuned`` (unless ``--skip-tuned``);
- ``python -m recgraph evaluate --data DIR --max-users 5000 --preset seed --protocol
  leave-last-out --backend gensim --quiet`` when this checkout's ``evaluate`` accepts
  ``--max-users`` (otherwise a note says it was skipped); ``--evaluate-args`` replaces the
  part after ``--max-users N``.

and prints the median wall time and peak RSS of the repeats, and the median of each stage
in the artifact's ``manifest.json`` ``timings_s`` (load, graph, walks, train, index).

Every run holds the shared heavy-job lock (``/tmp/recgraph-heavy.lock``) for its own
duration only, so other jobs can interleave; the time spent waiting for it is not counted.
Do not wrap this script in ``flock`` yourself (the runs would wait on their own parent).
A run that passes ``--timeout`` is stopped and reported as such, with its partial time.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from measure import median, run_timed

REPO = Path(__file__).resolve().parent.parent
LOCK = Path("/tmp/recgraph-heavy.lock")
STAGES = ("load", "graph", "walks", "train", "index")
# evaluate's own default preset is tuned; issue 13's goal is the seed preset, leave-last-out
EVALUATE_ARGS = "--preset seed --protocol leave-last-out --backend gensim"


@contextmanager
def heavy_lock(enabled: bool):
    """Hold the shared heavy-job lock; yields the seconds spent waiting for it."""
    if not enabled:
        yield 0.0
        return
    t = time.perf_counter()
    with open(LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield time.perf_counter() - t
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_one(cmd: list[str], timeout: float, lock: bool) -> dict:
    """Run ``cmd`` under /usr/bin/time -v (holding the heavy lock); return its figures."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with heavy_lock(lock) as waited:
        run = run_timed(cmd, timeout=timeout, env=env, cwd=REPO)
    out = {"cmd": " ".join(cmd), "ok": run.ok, "timed_out": run.timed_out,
           "wall_s": round(run.wall_s, 2),
           "peak_rss_mb": round(run.peak_mib, 1) if run.peak_mib is not None else None,
           "lock_wait_s": round(waited, 1)}
    if not run.ok:
        tail = (run.stderr + run.stdout).splitlines()[-5:]
        out["error"] = "timed out" if run.timed_out else "\n".join(tail)
    out["stdout_tail"] = run.stdout.splitlines()[-15:]
    return out


def train_run(data: Path, tuned: bool, timeout: float, lock: bool) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench_scale-"))
    try:
        cmd = [sys.executable, "-m", "recgraph", "train", "--backend", "gensim", "--data", str(data),
               "--out", str(tmp / "art"), "--seed", "0", "--quiet"]
        if tuned:
            cmd += ["--preset", "tuned"]
        result = run_one(cmd, timeout, lock)
        manifest = tmp / "art" / "manifest.json"
        if manifest.is_file():
            m = json.loads(manifest.read_text())
            result["timings_s"] = m.get("timings_s", {})
            result["graph"] = m.get("graph")
            result["n_items"] = m.get("n_items")
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def evaluate_supports_max_users() -> bool:
    proc = subprocess.run([sys.executable, "-m", "recgraph", "evaluate", "--help"], capture_output=True,
                          text=True, cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")))
    return "--max-users" in proc.stdout


def evaluate_run(data: Path, max_users: int, extra: list[str], timeout: float, lock: bool) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench_scale-eval-"))
    try:
        cmd = [sys.executable, "-m", "recgraph", "evaluate", "--data", str(data), "--max-users",
               str(max_users), "--quiet", "--json", str(tmp / "eval.json"), *extra]
        result = run_one(cmd, timeout, lock)
        if (tmp / "eval.json").is_file():
            result["report"] = json.loads((tmp / "eval.json").read_text())
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def median_or_none(values):
    value = median(values)
    return None if value is None else round(value, 2)


def summarize(runs: list[dict]) -> dict:
    done = [r for r in runs if r["ok"]]
    use = done or runs
    row = {"repeats": len(runs), "ok": len(done),
           "wall_s": median_or_none([r["wall_s"] for r in use]),
           "peak_rss_mb": median_or_none([r["peak_rss_mb"] for r in use])}
    row["stages_s"] = {s: median_or_none([r.get("timings_s", {}).get(s) for r in done]) for s in STAGES}
    graph = next((r["graph"] for r in done if isinstance(r.get("graph"), dict)), None)
    row["nodes"], row["edges"] = (graph.get("nodes"), graph.get("edges")) if graph else (None, None)
    if any(r["timed_out"] for r in runs):
        row["note"] = "timed out"
    elif not done:
        row["note"] = "failed: " + runs[-1].get("error", "")[-300:]
    return row


def fmt(v, spec=".1f"):
    return "-" if v is None else format(v, spec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1m,5m,25m", help="comma-separated: 1m, 5m, 25m (ROOT/ml<size>)")
    ap.add_argument("--root", type=Path, default=Path("/work/synth"))
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--skip-tuned", action="store_true", help="only the default job")
    ap.add_argument("--skip-default", action="store_true", help="only the tuned job (and evaluate)")
    ap.add_argument("--skip-evaluate", action="store_true")
    ap.add_argument("--max-users", type=int, default=5000, help="evaluate --max-users (default 5000)")
    ap.add_argument("--evaluate-args", default=EVALUATE_ARGS,
                    help=f"further arguments for evaluate, one string (default {EVALUATE_ARGS!r})")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per run (default 1800)")
    ap.add_argument("--no-lock", action="store_true", help="do not take the heavy-job lock")
    ap.add_argument("--json", type=Path, help="write every run and the summary here")
    args = ap.parse_args(argv)

    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    eval_ok = not args.skip_evaluate and evaluate_supports_max_users()
    report = {"sizes": {}, "notes": []}
    if not args.skip_evaluate and not eval_ok:
        report["notes"].append("evaluate skipped: this checkout's `recgraph evaluate` has no --max-users")
    for size in sizes:
        data = args.root / f"ml{size}"
        if not (data / "DONE").is_file():
            report["notes"].append(f"{data} skipped: no DONE file (make it with benchmarks/make_synth_logs.sh)")
            continue
        jobs = ([] if args.skip_default else [("default", False)]) + ([] if args.skip_tuned else [("tuned", True)])
        entry = report["sizes"].setdefault(size, {})
        for name, tuned in jobs:
            runs = []
            for r in range(args.repeats):
                print(f"[{size} {name} {r + 1}/{args.repeats}] ...", file=sys.stderr, flush=True)
                runs.append(train_run(data, tuned, args.timeout, not args.no_lock))
                print(f"  wall {runs[-1]['wall_s']} s, peak {runs[-1]['peak_rss_mb']} MB, "
                      f"stages {runs[-1].get('timings_s')}, lock wait {runs[-1]['lock_wait_s']} s"
                      + ("" if runs[-1]["ok"] else f"  [{runs[-1].get('error', '')[-200:]}]"),
                      file=sys.stderr, flush=True)
            entry[name] = {"summary": summarize(runs), "runs": runs}
        if eval_ok:
            runs = []
            for r in range(args.repeats):
                print(f"[{size} evaluate {r + 1}/{args.repeats}] ...", file=sys.stderr, flush=True)
                runs.append(evaluate_run(data, args.max_users, args.evaluate_args.split(), args.timeout,
                                         not args.no_lock))
                print(f"  wall {runs[-1]['wall_s']} s, peak {runs[-1]['peak_rss_mb']} MB", file=sys.stderr,
                      flush=True)
            entry["evaluate"] = {"summary": summarize(runs), "runs": runs}

    print(f"\n{'size':<5} {'job':<9} {'wall s':>8} {'peak MB':>9} " + " ".join(f"{s:>7}" for s in STAGES)
          + f" {'nodes':>7} {'edges':>10}")
    for size, entry in report["sizes"].items():
        for name, block in entry.items():
            s = block["summary"]
            line = (f"{size:<5} {name:<9} {fmt(s['wall_s']):>8} {fmt(s['peak_rss_mb'], '.0f'):>9} "
                    + " ".join(f"{fmt(s['stages_s'][st]):>7}" for st in STAGES)
                    + f" {fmt(s.get('nodes'), ',d'):>7} {fmt(s.get('edges'), ',d'):>10}")
            if s.get("note"):
                line += f"   ({s['note']})"
            print(line)
    print(f"medians of {args.repeats} run(s); stages from manifest.json timings_s; peak = max RSS "
          "(/usr/bin/time -v)")
    for note in report["notes"]:
        print("note:", note)
    sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
