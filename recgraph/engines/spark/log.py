"""Reading the log into Spark with the loader's rules (:mod:`recgraph.data.log`): typed
columns, implicit feedback without a rating column, one row per (user, item).

Every step is a Spark SQL operator (no Python UDF). The log is repartitioned by user once,
so every later per-user step (the cap, the self-join) needs no shuffle.
"""

from __future__ import annotations

from ...errors import DataError
from .source import LogSource

RATING_SCALE = 1000  # packed dedupe key: rating as an integer number of thousandths
RATING_BITS = 21     # ... offset into [0, 2**21): ratings in (-1048.576, 1048.576)
TS_BITS = 63 - RATING_BITS


def _header(spark, path: str, fmt: str) -> list[str]:
    if fmt == "parquet":
        return list(spark.read.parquet(path).columns)
    # No inferSchema: Spark reads only the first line for the names.
    return list(spark.read.option("header", True).csv(path).columns)


def read_log(spark, src: LogSource, user_col: str, item_col: str, rating_col: str | None, time_col: str | None):
    """The log as (user long, item long, rating double[, ts long]), whether it is implicit and has
    times, the columns used (``load_log`` keywords) and how messages name it.

    A rating column absent from the file means implicit feedback (every row rated 5.0); a time
    column absent from the file means no timestamps.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

    from ...data.log import IMPLICIT_RATING

    label = src.ratings_label
    columns = _header(spark, src.ratings, src.ratings_format)
    missing = [c for c in (user_col, item_col) if c not in columns]
    if missing:
        raise DataError(f"{label} lacks column(s) {', '.join(missing)}; found {', '.join(columns)} "
                        "(name them with --user-col / --item-col).")
    rating = rating_col if rating_col in columns else None  # absent: implicit feedback
    time_name = time_col if time_col in columns else None
    implicit, has_time = rating is None, time_name is not None
    wanted: dict = {user_col: LongType(), item_col: LongType()}
    if rating is not None:
        wanted[rating] = DoubleType()
    if time_name is not None:
        wanted[time_name] = LongType()
    if src.ratings_format == "csv":
        schema = StructType([StructField(c, wanted.get(c, StringType()), True) for c in columns])
        frame = (spark.read.option("header", True).option("mode", "FAILFAST").option("enforceSchema", False)
                 .schema(schema).csv(src.ratings))
    else:
        frame = spark.read.parquet(src.ratings)
    cols = [F.col(user_col).cast("long").alias("user"), F.col(item_col).cast("long").alias("item"),
            (F.lit(IMPLICIT_RATING) if rating is None else F.col(rating).cast("double")).alias("rating")]
    if time_name is not None:
        cols.append(F.col(time_name).cast("long").alias("ts"))
    # The file's names as load_log keyword arguments (None: absent), as the numpy engine records them.
    used = {"user_col": user_col, "item_col": item_col, "rating_col": rating, "time_col": time_name}
    return frame.select(*cols), implicit, has_time, used, label


def dedupe(log, has_time: bool, partitions: int, cached: list | None = None):
    """One row per (user, item): the latest timestamp, ties (or no timestamps) the highest rating.

    Repartitioned by user first, so every later per-user step (cap, self-join) needs no shuffle.
    With timestamps, (ts, rating) is packed into one long whose max is hash-aggregated, when that
    is exact for this log (every rating a whole number of thousandths, timestamps within 2**42 of
    each other; checked on the repartitioned log, which is then cached and appended to
    ``cached`` for the caller to unpersist); otherwise ``max(struct(ts, rating))``, which Spark
    can only sort-aggregate (several times slower).
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    by_user = log.repartition(partitions, "user")
    if not has_time:
        return by_user.groupBy("user", "item").agg(F.max("rating").alias("rating"))
    in_range = F.abs(F.col("rating")) < F.lit(2 ** (RATING_BITS - 1) / RATING_SCALE)  # NaN: out of range
    code = F.when(in_range, F.round(F.col("rating") * RATING_SCALE)).cast("long")  # never overflows
    if cached is not None:
        by_user = by_user.persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(by_user)
        exact = (F.when(F.col("rating").isNull(), True)
                 .when(in_range, code.cast("double") / RATING_SCALE == F.col("rating")).otherwise(False))
        check = by_user.agg(F.min("ts").alias("lo"), F.max("ts").alias("hi"), F.min(exact).alias("exact")).first()
        if check["exact"] and check["lo"] is not None and check["hi"] - check["lo"] < 2 ** TS_BITS:
            lo = int(check["lo"])
            key = F.shiftleft(F.col("ts") - F.lit(lo), RATING_BITS).bitwiseOR(code + F.lit(2 ** (RATING_BITS - 1)))
            best = by_user.groupBy("user", "item").agg(F.max(key).alias("k"))
            rating = ((F.col("k").bitwiseAND(F.lit(2 ** RATING_BITS - 1)) - F.lit(2 ** (RATING_BITS - 1)))
                      .cast("double") / RATING_SCALE)
            return best.select("user", "item", rating.alias("rating"),
                               (F.shiftright(F.col("k"), RATING_BITS) + F.lit(lo)).alias("ts"))
    best = F.max(F.struct(F.col("ts"), F.col("rating"))).alias("best")
    return by_user.groupBy("user", "item").agg(best).select(
        "user", "item", F.col("best.rating").alias("rating"), F.col("best.ts").alias("ts"))


def read_items(spark, src: LogSource, item_col: str):
    """The items table (item long, title string, genres string), or None without one."""
    from pyspark.sql import functions as F

    if src.items is None:
        return None
    label = src.items_label
    if src.items_format == "parquet":
        frame = spark.read.parquet(src.items)
    else:
        frame = spark.read.option("header", True).option("multiLine", True).option("escape", '"').csv(src.items)
    id_col = next((c for c in (item_col, "movieId", "item_id", "itemId", "id") if c in frame.columns), None)
    if id_col is None or "title" not in frame.columns:
        raise DataError(f"Items table {label} needs an id column ({item_col}) and title; found "
                        f"{', '.join(frame.columns)}.")
    genres = F.col("genres").cast("string") if "genres" in frame.columns else F.lit("")
    return frame.select(F.col(id_col).cast("long").alias("item"), F.col("title").cast("string").alias("title"),
                        genres.alias("genres")).dropDuplicates(["item"])
