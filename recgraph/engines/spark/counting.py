"""The item graph of one view on Spark (SPEC's definition, steps 1-6), as DataFrame operations:
liked rows and the per-user cap, item counts, pair counts by a self-join on the user, PMI
weights, thresholds and the ``max_degree`` union rule. The same rules as :mod:`recgraph.graph`,
edge for edge.
"""

from __future__ import annotations

import math

from ...config import GraphParams
from ...errors import EmptyGraphError


def liked_rows(log, view: GraphParams, has_time: bool):
    """Steps 1-2: rows rated >= min_rating, each user's cap applied (latest first, ties by item id)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    liked = log.filter(F.col("rating") >= F.lit(view.min_rating))
    if view.max_user_items is not None:
        order = ([F.col("ts").desc()] if has_time else []) + [F.col("item").asc()]
        rank = F.row_number().over(Window.partitionBy("user").orderBy(*order))
        liked = liked.withColumn("_rank", rank).filter(F.col("_rank") <= view.max_user_items)
    return liked.select("user", "item")


def graph_edges(spark, log, view: GraphParams, has_time: bool):
    """Steps 1-6 for one view: a DataFrame (src, dst, weight), src < dst, not yet sorted.

    Returns ``(edges, counts)`` where counts holds ``liked`` (rows left) and ``items`` (n_x > 0).
    Raises EmptyGraphError when nothing is liked.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    liked = liked_rows(log, view, has_time)
    freq = liked.groupBy("item").agg(F.count(F.lit(1)).alias("n"))
    if view.min_item_users > 0:
        freq = freq.filter(F.col("n") >= view.min_item_users)
        liked = liked.join(F.broadcast(freq.select("item")), "item", "left_semi")
    freq = freq.persist()
    row = freq.agg(F.sum("n").alias("total"), F.count(F.lit(1)).alias("items"), F.min("item").alias("lo"),
                   F.max("item").alias("hi")).first()
    total = int(row["total"] or 0)
    if total == 0:
        freq.unpersist()
        if view.min_item_users > 0:
            raise EmptyGraphError(f"No item is liked by {view.min_item_users} users at min_rating "
                                  f"{view.min_rating:g}; lower min_item_users.")
        raise EmptyGraphError(f"No rating is >= min_rating {view.min_rating:g}; lower min_rating.")
    log_total = math.log(total)  # D, as a literal: the same float the numpy engine computes
    left = liked.select("user", F.col("item").alias("a"))
    right = liked.select("user", F.col("item").alias("b"))
    joined = left.join(right, "user").where(F.col("a") < F.col("b"))
    if 0 <= row["lo"] and row["hi"] < 2**31:
        # One 64-bit key per pair: a cheaper hash, a smaller shuffle row than two columns.
        key = F.shiftleft(F.col("a"), 32).bitwiseOR(F.col("b"))
        pairs = (joined.select(key.alias("k")).groupBy("k").agg(F.count(F.lit(1)).alias("n_ab"))
                 .select(F.shiftright(F.col("k"), 32).alias("a"), F.col("k").bitwiseAND(F.lit(0xFFFFFFFF)).alias("b"),
                         "n_ab"))
    else:
        pairs = joined.groupBy("a", "b").agg(F.count(F.lit(1)).alias("n_ab"))
    n_a = F.broadcast(freq.select(F.col("item").alias("a"), F.col("n").alias("n_a")))
    n_b = F.broadcast(freq.select(F.col("item").alias("b"), F.col("n").alias("n_b")))
    # The order of operations of SPEC step 5: (log n_ab - log n_a - log n_b + D) * n_ab, float64.
    # log(n_a) + log(n_b) first: symmetric, so pairs tied in exact arithmetic tie exactly (as in numpy).
    weight = ((F.log(F.col("n_ab").cast("double"))
               - (F.log(F.col("n_a").cast("double")) + F.log(F.col("n_b").cast("double")))
               + F.lit(log_total)) * F.col("n_ab").cast("double"))
    edges = (pairs.join(n_a, "a").join(n_b, "b")
             .select(F.col("a").alias("src"), F.col("b").alias("dst"), weight.alias("weight"))
             .where((F.col("weight") >= F.lit(view.min_weight)) & (F.col("weight") > F.lit(0.0))))
    if view.max_degree is not None:
        both = edges.select("src", F.col("dst").alias("nbr"), "weight").unionByName(
            edges.select(F.col("dst").alias("src"), F.col("src").alias("nbr"), "weight"))
        rank = F.row_number().over(Window.partitionBy("src").orderBy(F.col("weight").desc(), F.col("nbr").asc()))
        edges = (both.withColumn("_rank", rank).where(F.col("_rank") <= view.max_degree)
                 .select(F.least("src", "nbr").alias("src"), F.greatest("src", "nbr").alias("dst"), "weight")
                 .dropDuplicates(["src", "dst"]))
    return edges, {"liked": total, "items": int(row["items"]), "freq": freq}
