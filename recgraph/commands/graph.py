"""``recgraph graph``: build the item graph (every view of a preset) and write a graph directory."""

from __future__ import annotations

import argparse

from .flags import DATA_HELP, add_config_flag, add_graph_flags, add_log_flags, load_checked


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
    from ..spark_engine import add_spark_arguments  # light: pyspark is imported only to build

    add_spark_arguments(p)
    p.add_argument("--quiet", action="store_true", help="print only the line naming the graph directory")


def run(args: argparse.Namespace) -> int:
    """Run ``recgraph graph`` from parsed arguments."""
    from ..corpus import view_label
    from ..pipeline import build_graph_dir
    from ..graph_store import check_graph_output
    from .train import rating_thresholds, resolve

    config, source, options = resolve(args)
    if args.engine == "spark":
        manifest = _run_spark(args, config, source, options)
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


def _run_spark(args: argparse.Namespace, config, source, options: dict) -> dict:
    """Build on Spark with the same views and log options as the numpy engine would use."""
    from ..errors import ParameterError
    from ..spark_engine import build_graph_spark, parse_spark_conf
    from .train import rating_thresholds

    if source is None:
        raise ParameterError("--engine spark needs --data: a CSV or Parquet log, a directory of parts, or a "
                             "MovieLens directory, on any path Spark reads.")
    if options.get("rating_col") == "" and any(v is not None for v in rating_thresholds(args).values()):
        raise ParameterError("--rating-col '' makes the log implicit (every row a positive), so --min-rating "
                             "cannot apply; leave it out.")
    columns = {k: options[k] for k in ("user_col", "item_col", "rating_col", "time_col") if k in options}
    return build_graph_spark(str(source), args.out, [v.to_dict() for v in config.views], **columns,
                             items=options.get("items"), master=args.master,
                             spark_conf=parse_spark_conf(args.spark_conf), shuffle_partitions=args.shuffle_partitions,
                             driver_memory=args.driver_memory)
