"""The Spark engine (local[2]) beside the numpy engine on synthetic MovieLens-format logs.

    flock /tmp/recgraph-heavy.lock python benchmarks/bench_spark.py \\
        [--data /work/synth/ml1m /work/synth/ml5m /work/synth/ml25m] [--repeat 1] \\
        [--driver-memory 8g] [--shuffle-partitions 64] [--min-rating 5] [--min-weight 10]

Each run is its own process under ``/usr/bin/time -v`` (wall time, peak RSS), so nothing is
cached between runs and the JVM's start is counted, as a user would see it:

- numpy: ``recgraph.data.load_movielens`` + ``recgraph.graph.build_item_graph`` (one process).
- spark: ``recgraph.engines.spark.build_graph_spark`` with ``local[2]`` into a temporary graph
  directory. The driver JVM is a child of the Python process; the worker stops it and waits
  for it, so ``time -v``'s "maximum resident set size" (the largest single process among the
  process and its waited-for children, not their sum) is the JVM's peak: the whole Spark job
  runs inside it in local mode. The Python side stays ~100 MB.

Printed per log and engine: median wall seconds, peak RSS, nodes and edges (which must be
equal between engines), and for Spark the failed-task count from Spark's status tracker.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = ["/work/synth/ml1m", "/work/synth/ml5m", "/work/synth/ml25m"]


def worker_numpy(data: str, view: dict) -> dict:
    from recgraph.data import load_movielens
    from recgraph.graph import build_item_graph

    t0 = time.perf_counter()
    ratings = load_movielens(data)
    t1 = time.perf_counter()
    graph = build_item_graph(ratings, **view)
    t2 = time.perf_counter()
    return {"nodes": graph.num_nodes, "edges": graph.num_edges, "rows": len(ratings.ratings),
            "load_s": round(t1 - t0, 2), "graph_s": round(t2 - t1, 2)}


def worker_spark(data: str, view: dict, driver_memory: str, partitions: int) -> dict:
    import shutil

    from recgraph.engines import spark as se

    t0 = time.perf_counter()
    spark = se.spark_session("local[2]", shuffle_partitions=partitions, driver_memory=driver_memory)
    t1 = time.perf_counter()
    out = Path(tempfile.mkdtemp(prefix="bench-spark-")) / "graph"
    try:
        manifest = se.build_graph_spark(data, out, [view], spark=spark)
        tracker = spark.sparkContext.statusTracker()
        failed = attempts = tasks = 0
        for job in tracker.getJobIdsForGroup(None):
            info = tracker.getJobInfo(job)
            for stage in (info.stageIds if info else []):
                s = tracker.getStageInfo(stage)
                if s is not None:
                    failed += s.numFailedTasks
                    tasks += s.numTasks
                    attempts = max(attempts, s.currentAttemptId)
        size = sum(f["size"] for f in manifest["files"].values())
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    se.stop_spark(spark)
    stats = manifest["views"][0]["stats"]
    return {"nodes": stats["nodes"], "edges": stats["edges"], "rows": manifest["data"]["rows"],
            "start_s": round(t1 - t0, 2), "build_s": manifest["timings_s"]["total"], "failed_tasks": failed,
            "stage_retries": attempts, "tasks": tasks, "graph_bytes": size, "timings_s": manifest["timings_s"]}


def run_one(engine: str, data: str, args) -> dict:
    view = {"min_rating": args.min_rating, "min_weight": args.min_weight}
    cmd = ["/usr/bin/time", "-v", sys.executable, __file__, "--worker", engine, "--data", data,
           "--min-rating", str(args.min_rating), "--min-weight", str(args.min_weight),
           "--driver-memory", args.driver_memory, "--shuffle-partitions", str(args.shuffle_partitions)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    result_line = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not result_line:
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        raise SystemExit(f"{engine} on {data} failed (exit {proc.returncode}):\n{tail}")
    out = json.loads(result_line[-1][len("RESULT "):])
    out.update(engine=engine, data=data, wall_s=round(wall, 2), peak_rss_gb=round(int(rss.group(1)) / 2**20, 2),
               view=view)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", nargs="+", default=DEFAULT_DATA)
    ap.add_argument("--engines", nargs="+", default=["numpy", "spark"], choices=["numpy", "spark"])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--min-rating", type=float, default=5.0)
    ap.add_argument("--min-weight", type=float, default=10.0)
    ap.add_argument("--driver-memory", default="8g")
    ap.add_argument("--shuffle-partitions", type=int, default=64)
    ap.add_argument("--json", type=Path, default=None, help="also write every run here")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        view = {"min_rating": args.min_rating, "min_weight": args.min_weight}
        if args.worker == "numpy":
            result = worker_numpy(args.data[0], view)
        else:
            result = worker_spark(args.data[0], view, args.driver_memory, args.shuffle_partitions)
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    for data in args.data:
        if not (Path(data) / "DONE").exists():
            raise SystemExit(f"{data}/DONE is missing: wait for the synthetic log (benchmarks/synth_log.py).")
    runs = []
    print(f"graph: ratings >= {args.min_rating:g}, weight >= {args.min_weight:g}; spark local[2], "
          f"driver {args.driver_memory}, shuffle partitions {args.shuffle_partitions}; "
          f"median of {args.repeat}; peak RSS = largest process (time -v)", flush=True)
    print(f"{'log':<22} {'rows':>11} {'engine':<6} {'wall s':>8} {'peak GB':>8} {'nodes':>8} {'edges':>11}  notes")
    for data in args.data:
        per_engine = {}
        for engine in args.engines:
            reps = [run_one(engine, data, args) for _ in range(args.repeat)]
            runs.extend(reps)
            best = reps[0]
            wall = statistics.median(r["wall_s"] for r in reps)
            rss = max(r["peak_rss_gb"] for r in reps)
            per_engine[engine] = best
            if engine == "spark":
                notes = (f"build {statistics.median(r['build_s'] for r in reps):.1f} s, JVM start "
                         f"{best['start_s']:.1f} s, failed tasks {sum(r['failed_tasks'] for r in reps)}, "
                         f"stage retries {max(r['stage_retries'] for r in reps)}")
            else:
                notes = f"load {best['load_s']:.1f} s, graph {best['graph_s']:.1f} s"
            print(f"{Path(data).name:<22} {best['rows']:>11,} {engine:<6} {wall:>8.1f} {rss:>8.2f} "
                  f"{best['nodes']:>8,} {best['edges']:>11,}  {notes}", flush=True)
        if len(per_engine) == 2:
            a, b = per_engine["numpy"], per_engine["spark"]
            same = (a["nodes"], a["edges"]) == (b["nodes"], b["edges"])
            print(f"{'':<22} {'':>11} {'':<6} nodes/edges equal: {same}; spark/numpy wall "
                  f"{statistics.median(r['wall_s'] for r in runs if r['data'] == data and r['engine'] == 'spark') / max(statistics.median(r['wall_s'] for r in runs if r['data'] == data and r['engine'] == 'numpy'), 1e-9):.1f}x",
                  flush=True)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
