"""The Spark engine (local[2]) beside the numpy engine on synthetic MovieLens-format logs.

    flock /tmp/recgraph-heavy.lock python benchmarks/bench_spark.py \\
        [--data /work/synth/ml1m /work/synth/ml5m /work/synth/ml25m] [--repeat 1] \\
        [--driver-memory 8g] [--shuffle-partitions 64] [--min-rating 5] [--min-weight 10]

Each run is its own process under ``/usr/bin/time -v`` (``measure.run_timed``: wall time, peak
RSS), so nothing is cached between runs and the JVM's start is counted, as a user would see it:

- numpy: ``recgraph.data.load_movielens`` + ``recgraph.graph.build_item_graph`` (one process).
- spark: ``recgraph.engines.spark.build_graph_spark`` with ``local[2]`` into a temporary graph
  directory. The driver JVM is a child of the Python process; the worker stops it and waits
  for it, so ``time -v``'s "maximum resident set size" (the largest single process among the
  process and its waited-for children, not their sum) is the JVM's peak: the whole Spark job
  runs inside it in local mode. The Python side stays ~100 MB.

Printed per log and engine, as a Markdown table: median wall seconds, largest peak RSS, nodes
and edges (which must be equal between engines), and for Spark the failed-task count from
Spark's status tracker. ``--data`` also takes a MovieLens zip (ml-latest-small for a quick
check); a synthetic log's directory must hold its ``DONE`` marker.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from measure import median, print_table, run_timed

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
    cmd = [sys.executable, __file__, "--worker", engine, "--data", data,
           "--min-rating", str(args.min_rating), "--min-weight", str(args.min_weight),
           "--driver-memory", args.driver_memory, "--shuffle-partitions", str(args.shuffle_partitions)]
    run = run_timed(cmd)
    result_line = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    if not run.ok or not result_line or run.peak_mib is None:
        tail = "\n".join(run.stderr.strip().splitlines()[-8:])
        raise SystemExit(f"{engine} on {data} failed (exit {run.returncode}):\n{tail}")
    out = json.loads(result_line[-1][len("RESULT "):])
    out.update(engine=engine, data=data, wall_s=round(run.wall_s, 2), peak_rss_gb=round(run.peak_mib / 1024, 2),
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
        if Path(data).is_dir() and not (Path(data) / "DONE").exists():
            raise SystemExit(f"{data}/DONE is missing: wait for the synthetic log (benchmarks/synth_log.py).")
    runs = []
    print(f"graph: ratings >= {args.min_rating:g}, weight >= {args.min_weight:g}; spark local[2], "
          f"driver {args.driver_memory}, shuffle partitions {args.shuffle_partitions}; "
          f"median of {args.repeat}; peak RSS = largest process (time -v)", flush=True)
    rows, notes_after = [], []
    for data in args.data:
        per_engine = {}
        for engine in args.engines:
            reps = [run_one(engine, data, args) for _ in range(args.repeat)]
            runs.extend(reps)
            best = reps[0]
            per_engine[engine] = (best, median(r["wall_s"] for r in reps))
            rss = max(r["peak_rss_gb"] for r in reps)
            if engine == "spark":
                notes = (f"build {median(r['build_s'] for r in reps):.1f} s, JVM start "
                         f"{best['start_s']:.1f} s, failed tasks {sum(r['failed_tasks'] for r in reps)}, "
                         f"stage retries {max(r['stage_retries'] for r in reps)}")
            else:
                notes = f"load {best['load_s']:.1f} s, graph {best['graph_s']:.1f} s"
            rows.append([Path(data).name, f"{best['rows']:,}", engine, f"{per_engine[engine][1]:.1f}", f"{rss:.2f}",
                         f"{best['nodes']:,}", f"{best['edges']:,}", notes])
            print(f"  {rows[-1][0]} {engine}: {rows[-1][3]} s", file=sys.stderr, flush=True)
        if len(per_engine) == 2:
            (a, a_wall), (b, b_wall) = per_engine["numpy"], per_engine["spark"]
            same = (a["nodes"], a["edges"]) == (b["nodes"], b["edges"])
            notes_after.append(f"{Path(data).name}: nodes/edges equal: {same}; "
                               f"spark/numpy wall {b_wall / max(a_wall, 1e-9):.1f}x")
    print_table(["log", "rows", "engine", "wall s", "peak GB", "nodes", "edges", "notes"], rows,
                align="lrlrrrrl")
    for line in notes_after:
        print(line)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
