"""The Spark engine: the graph engine interface (:mod:`recgraph.engines`) over a Spark session.

It reads the log (:mod:`.source`, :mod:`.log`), counts each view's pairs (:mod:`.counting`) and
hands the writer one persisted edge table per view, built when the writer reaches it, and the
items table (:mod:`.tables`). The writer (:func:`recgraph.graph_store.write_graph`) names,
lists and swaps the files, as for the numpy engine.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from typing import Iterator, Mapping, Sequence

from ...config import GraphParams
from ...errors import DataError, EmptyGraphError, ParameterError
from ...graph_store import GraphOutput, GraphTables, local_output
from .failures import spark_errors, spark_failure
from .session import check_master, open_session

logger = logging.getLogger(__name__)

#: The log options the engine reads (:func:`recgraph.data.load_log`'s), with their defaults.
LOG_DEFAULTS = {"user_col": "userId", "item_col": "movieId", "rating_col": "rating", "time_col": "timestamp",
                "items": None}


class SparkEngine:
    """Build the graph on Spark.

    Parameters
    ----------
    master, spark_conf, shuffle_partitions, driver_memory : how Spark runs (docs/spark.md);
        ``shuffle_partitions`` also sets the number of user partitions of the log (default:
        from the input size, :func:`.source.auto_partitions`).
    spark : a running SparkSession to use (left running); default: start one on entering,
        stop it on leaving.
    """

    name = "spark"

    def __init__(self, master: str = "local[*]", spark_conf: Mapping[str, str] | None = None,
                 shuffle_partitions: int | None = None, driver_memory: str | None = None, spark=None):
        if shuffle_partitions is not None and (isinstance(shuffle_partitions, bool)
                                               or not isinstance(shuffle_partitions, int) or shuffle_partitions < 1):
            raise ParameterError(f"shuffle_partitions must be an integer >= 1; got {shuffle_partitions!r}.")
        self.master = master if spark is not None else check_master(master)
        self.spark_conf = dict(spark_conf or {})
        self.shuffle_partitions = shuffle_partitions
        self.driver_memory = driver_memory
        self.spark = spark
        self._own = False

    def __enter__(self) -> "SparkEngine":
        if self.spark is None:
            self.spark, self._own = open_session(self.master, self.spark_conf, self.shuffle_partitions,
                                                 self.driver_memory)
        return self

    def __exit__(self, *exc) -> None:
        if self._own:
            try:
                self.spark.stop()
            except Exception:  # a JVM already gone: nothing left to stop
                pass
            self.spark, self._own = None, False

    def output(self, out_dir) -> GraphOutput:
        """This machine's paths go through :func:`recgraph.graph_store.local_output`; others
        (``hdfs://``, ``s3a://``, or a cluster's default file system) through Hadoop."""
        from .hadoop import HadoopFS, HadoopOutput

        out = os.fspath(out_dir)
        try:
            fs = HadoopFS(self.spark, out)
            if fs.local:
                return local_output(out[len("file://"):] if out.startswith("file://") else out)
            return HadoopOutput(fs, fs.qualified(out))
        except spark_errors() as exc:
            raise spark_failure(exc, f"opening the output {out}") from None

    @contextmanager
    def build(self, source, views: Sequence[GraphParams], log: Mapping | None = None) -> Iterator[GraphTables]:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        from .log import dedupe, read_items, read_log
        from .source import auto_partitions, resolve_source
        from .tables import SparkItemTable

        if source is None:
            raise ParameterError("The Spark engine needs a log to read (--data): a CSV or Parquet log, a directory "
                                 "of parts, or a MovieLens directory or .zip, on any path Spark reads.")
        options = _log_options(log)
        spark = self.spark
        started = time.perf_counter()
        src = frame = None
        try:
            try:
                src = resolve_source(spark, os.fspath(source), options["items"])
                partitions = self.shuffle_partitions or auto_partitions(spark, src)
                spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
                raw, implicit, has_time, used, label = read_log(spark, src, options["user_col"], options["item_col"],
                                                                options["rating_col"], options["time_col"])
                titles = read_items(spark, src, options["item_col"])
                raw_cached: list = []
                frame = dedupe(raw, has_time, partitions, raw_cached).persist(StorageLevel.MEMORY_AND_DISK)
                # Per user first: the log is partitioned by user, so this needs no shuffle of the log.
                empty = F.col("item").isNull() | F.col("rating").isNull() | F.col("user").isNull()
                stats = (frame.groupBy("user").agg(F.count(F.lit(1)).alias("c"),
                                                   F.sum(F.when(empty, 1).otherwise(0)).alias("e"))
                         .agg(F.sum("c").alias("rows"), F.count(F.lit(1)).alias("users"), F.sum("e").alias("empty"))
                         .first())
                for cached in raw_cached:
                    cached.unpersist()
                if not stats["rows"]:
                    raise DataError(f"{label} has a header but no rows.")
                if stats["empty"]:
                    raise DataError(f"{label} has {stats['empty']:,} row(s) with an empty user, item or rating; "
                                    "fill or drop them.")
                rated = frame.select("item").distinct().count()
                timings = {"load": round(time.perf_counter() - started, 3)}
                data = {"source": src.source, "md5": src.md5, "implicit": implicit, "has_titles": titles is not None,
                        "columns": used, "rows": int(stats["rows"]), "users": int(stats["users"]), "items": rated}
                if options["items"] is not None:
                    data["items_table"] = options["items"]
                items = SparkItemTable(frame, titles)
                extra = {"spark": {"master": spark.sparkContext.master, "version": spark.version,
                                   "shuffle_partitions": int(spark.conf.get("spark.sql.shuffle.partitions")),
                                   "log_partitions": partitions}}
                yield GraphTables(_edge_tables(spark, frame, views, has_time, timings), items, data, timings, extra,
                                  started=started)
            except spark_errors() as exc:
                raise spark_failure(exc, "building the graph", os.fspath(source)) from None
        finally:
            if frame is not None:
                frame.unpersist()
            if src is not None:
                src.close()


def _edge_tables(spark, log, views: Sequence[GraphParams], has_time: bool, timings: dict):
    """One persisted :class:`.tables.SparkEdgeTable` per view, each built when asked for (so
    only one view's edges are held at a time); an empty view is one sentence."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from .counting import graph_edges
    from .tables import SparkEdgeTable

    for i, view in enumerate(views):
        t0 = time.perf_counter()
        edges, counts = graph_edges(spark, log, view, has_time)
        edges = edges.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            n_edges = int(edges.agg(F.count(F.lit(1)).alias("edges")).first()["edges"])
            if n_edges == 0:
                raise EmptyGraphError(f"View {i} (min_rating {view.min_rating:g}, min_weight {view.min_weight:g}) has "
                                      "no edge: no item pair reaches min_weight; lower min_weight or min_rating.")
            nodes = int(edges.select(F.col("src").alias("x")).union(edges.select(F.col("dst").alias("x")))
                        .distinct().count())
        except BaseException:
            edges.unpersist()
            raise
        finally:
            counts["freq"].unpersist()
        stats = {"nodes": nodes, "edges": n_edges, "avg_degree": round(2.0 * n_edges / nodes, 1)}
        timings[f"view_{i}"] = round(time.perf_counter() - t0, 3)
        logger.info("view %d: %d nodes, %d edges, average degree %.1f (%.1f s)", i, nodes, n_edges,
                    stats["avg_degree"], timings[f"view_{i}"])
        yield SparkEdgeTable(edges, stats)


def _log_options(log: Mapping | None) -> dict:
    """``log`` (:func:`recgraph.data.load_log`'s options) with the defaults; one sentence for an
    option the engine does not read or a column name that is not one."""
    given = dict(log or {})
    unknown = sorted(set(given) - set(LOG_DEFAULTS))
    if unknown:
        raise ParameterError(f"The Spark engine reads the log options {', '.join(LOG_DEFAULTS)}; got "
                             f"{', '.join(unknown)}.")
    options = {**LOG_DEFAULTS, **given}
    for name in ("user_col", "item_col"):
        if not isinstance(options[name], str) or not options[name]:
            raise ParameterError(f"{name} must be a column name; got {options[name]!r}.")
    if options["items"] is not None:
        options["items"] = os.fspath(options["items"])
    return options
