"""``recgraph graph``: build the item graph (every view of a preset) and write a graph directory."""

from __future__ import annotations

import argparse

from .flags import DATA_HELP, add_config_flag, add_graph_flags, add_log_flags, add_spark_flags, load_checked


def add_parser(sub) -> None:
    """Register ``recgraph graph`` on an argparse subparsers object."""
    p = sub.add_parser("graph", help="build the item graph and write a graph directory (Parquet edges + items)",
                       description="Build the PMI item graph (a preset's every view) from the ratings and write "
                                   "a graph directory; 'recgraph train --graph DIR' walks, trains and indexes from "
                                   "it. The format is in docs/artifact.md.")
    p.add_argument("--data", default=None, help=DATA_HELP + "; with --engine spark, any path Spark reads "
                                                      "(local, s3a://, hdfs://)")
    p.add_argument("--engine", default="numpy", choices=("numpy", "spark"),
                   help="numpy: this machine, in memory (default); spark: Apache Spark, for logs past one machine "
                        "(pip install 'recgraph[spark]'; docs/spark.md); both write the same graph")
    add_log_flags(p)
    p.add_argument("--out", required=True, metavar="GRAPH_DIR", help="graph directory to write (replaced atomically)")
    add_config_flag(p)  # --preset (default showcase: the example's one graph) and --config: their graph views
    add_graph_flags(p, "graph (with a preset's extra graph views: the primary graph)")
    add_spark_flags(p)
    p.add_argument("--quiet", action="store_true", help="print only the line naming the graph directory")


def run(args: argparse.Namespace) -> int:
    """Run ``recgraph graph`` from parsed arguments."""
    from ..corpus import view_label
    from ..errors import ParameterError
    from ..graph_store import check_graph_output
    from ..pipeline import build_graph_dir
    from .flags import spark_options
    from .train import rating_thresholds, resolve

    config, source, options = resolve(args)
    if args.engine == "spark":
        if source is None:  # before Spark starts
            raise ParameterError("--engine spark needs --data: a CSV or Parquet log, a directory of parts, or a "
                                 "MovieLens directory, on any path Spark reads.")
        if options.get("rating_col") == "" and any(v is not None for v in rating_thresholds(args).values()):
            raise ParameterError("--rating-col '' makes the log implicit (every row a positive), so --min-rating "
                                 "cannot apply; leave it out.")
        manifest = build_graph_dir(str(source), args.out, config, engine="spark", log=options,
                                   engine_options=spark_options(args))
    else:
        check_graph_output(args.out)  # a bad --out fails before the log is read
        ratings = load_checked(source, options, rating_thresholds(args))
        manifest = build_graph_dir(ratings, args.out, config, log=options)
    if args.quiet:
        print(f"wrote {args.out}")
        return 0
    for i, view in enumerate(manifest["views"]):
        stats = view["stats"]
        print(f"view {i} ({view_label(view['params'])}): {stats['nodes']:,} nodes, {stats['edges']:,} edges, "
              f"average degree {stats['avg_degree']}")
    print("timings (s): " + ", ".join(f"{k} {v:.3f}" for k, v in manifest["timings_s"].items()))
    for name in ("manifest.json", manifest["items"], *(v["edges"] for v in manifest["views"])):
        print(f"wrote {args.out.rstrip('/')}/{name}")
    return 0
