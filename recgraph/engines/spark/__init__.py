"""The item graph on Apache Spark: the same graph as the numpy engine, for logs past one box.

Reads a ratings log (CSV or Parquet, a file or a directory of parts, on any file system
Spark reads: local, ``s3a://``, ``hdfs://``; a MovieLens directory or local zip means its
``ratings.csv`` and ``movies.csv``), applies the loader's rules and SPEC's graph definition
with DataFrame operations only, and hands the tables to the one graph-directory writer
(:func:`recgraph.graph_store.write_graph`). PySpark is imported only when a build starts.

One job per module: :mod:`.session` (PySpark, Java, the master, start and stop),
:mod:`.failures` (Spark's exceptions as one sentence), :mod:`.hadoop` (files on any Hadoop
file system, the output off this machine), :mod:`.source` (where the log is, partitions),
:mod:`.log` (reading and deduplicating it), :mod:`.counting` (the graph of one view),
:mod:`.tables` (the tables handed to the writer), :mod:`.engine` (the engine interface).

The plan, per view (every step is a Spark SQL operator, no Python UDF)::

    log  --repartition(user)--> dedupe: max(struct(ts, rating)) per (user, item)   [cached]
         --filter rating >= min_rating--> per-user cap: row_number over user (ts desc, item asc)
         --> n_x per item, min_item_users --> total
         --self-join on user, a < b (no shuffle: both sides are partitioned by user)-->
         --> count per (a, b) --> weight = (log n_ab - log n_a - log n_b + log total) * n_ab
         --> weight >= min_weight and > 0 --> max_degree: top K per endpoint (window), union
         --> sort (src, dst) --> edges-N.parquet (written by the graph store)

>>> manifest = build_graph_spark("ml-latest-small/", "graph/", [{"min_rating": 5.0, "min_weight": 10.0}],
...                              master="local[2]")
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

from ..base import run_engine
from .engine import SparkEngine
from .failures import SparkEngineError
from .session import check_master, java_version, spark_log_path, spark_session, stop_spark


def build_graph_spark(source, out_dir, views: Sequence, *, user_col: str = "userId", item_col: str = "movieId",
                      rating_col: str | None = "rating", time_col: str | None = "timestamp",
                      items: str | None = None, master: str = "local[*]", spark_conf: Mapping | None = None,
                      shuffle_partitions: int | None = None, driver_memory: str | None = None,
                      spark=None) -> dict:
    """Build every view's graph on Spark and write the graph directory ``out_dir``
    (:func:`recgraph.engines.base.run_engine` with a :class:`SparkEngine`).

    Parameters
    ----------
    source : ratings log: CSV or Parquet file or directory of parts, a MovieLens directory or local
        .zip (ratings.csv + movies.csv); any path Spark reads (local, s3a://, hdfs://).
    out_dir : graph directory to write; replaced atomically when it is recgraph's, refused otherwise.
    views : GraphParams or dicts of their fields; view 0 is ``edges.parquet``, view N ``edges-N.parquet``.
    user_col, item_col, rating_col, time_col : the log's column names; a rating column the log
        lacks means implicit feedback (every row rated 5.0), a time column it lacks, no timestamps.
    items : items table (id, title[, genres]); default: the MovieLens directory's movies.csv.
    master, spark_conf, shuffle_partitions, driver_memory, spark : :class:`SparkEngine`'s.

    Returns
    -------
    dict
        The manifest written to ``out_dir/manifest.json``.
    """
    engine = SparkEngine(master=master, spark_conf=spark_conf, shuffle_partitions=shuffle_partitions,
                         driver_memory=driver_memory, spark=spark)
    log = {"user_col": user_col, "item_col": item_col, "rating_col": rating_col, "time_col": time_col,
           "items": None if items is None else os.fspath(items)}
    return run_engine(engine, source, out_dir, views, log=log)


__all__ = ["SparkEngine", "SparkEngineError", "build_graph_spark", "check_master", "java_version",
           "spark_log_path", "spark_session", "stop_spark"]
