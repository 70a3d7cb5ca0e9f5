"""The Spark engine's tables for the graph-directory writer (:func:`recgraph.graph_store.write_graph`):
each writes itself as Parquet part files where the writer says, and nothing else.
"""

from __future__ import annotations

import os

from ...scoring import LIKE_MIN_RATING
from .hadoop import HadoopFS


def _uri(path: str) -> str:
    """A path the writer named, for Spark: a local one made explicit (``file://``), so a
    cluster whose default file system is HDFS still writes it here."""
    return path if "://" in path else "file://" + os.path.abspath(path)


def _write(frame, path: str) -> None:
    uri = _uri(path)
    frame.write.parquet(uri)
    fs = HadoopFS(frame.sparkSession, uri)
    if fs.local:
        fs.clean_parts(uri)


class SparkEdgeTable:
    """One view's edges (src, dst, weight), persisted; released once written."""

    def __init__(self, frame, stats: dict):
        self.frame = frame
        self.stats = stats

    def write_parquet(self, path: str) -> None:
        try:
            _write(self.frame.orderBy("src", "dst"), path)
        finally:
            self.frame.unpersist()


class SparkItemTable:
    """Every item of the log and of its items table (the numpy engine's
    :class:`recgraph.catalog.ItemCatalog`): id, title (``item <id>`` without one), genres,
    likes (users who rated it >= ``LIKE_MIN_RATING``, 0 when unrated), in one file sorted by id.
    """

    def __init__(self, log, titles):
        self.log = log
        self.titles = titles

    def frame(self):
        from pyspark.sql import functions as F

        liked = F.when(F.col("rating") >= F.lit(LIKE_MIN_RATING), 1).otherwise(0)
        rows = self.log.groupBy("item").agg(F.sum(liked).alias("likes"))
        default_title = F.concat(F.lit("item "), F.col("item").cast("string"))
        if self.titles is not None:
            rows = rows.join(self.titles.where(F.col("item").isNotNull()), "item", "full")
            title = F.coalesce(F.col("title"), default_title)
            genres = F.coalesce(F.col("genres"), F.lit(""))
        else:
            title, genres = default_title, F.lit("")
        return rows.select(F.col("item").alias("item_id"), title.alias("title"), genres.alias("genres"),
                           F.coalesce(F.col("likes"), F.lit(0)).cast("long").alias("likes"))

    def write_parquet(self, path: str) -> None:
        _write(self.frame().coalesce(1).sortWithinPartitions("item_id"), path)
