"""The Spark engine builds SPEC's graph exactly: against a small reference of the rules written
here (pandas/numpy), against the numpy engine, and on ml-latest-small end to end.

One local[2] session for the module (startup is the slow part); skipped without PySpark or Java.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recgraph.errors import ArtifactError, DataError, EmptyGraphError, MissingDependencyError, ParameterError

# A JVM and ~80 s of Spark jobs: the fast lane leaves these out (-m "not slow and not spark").
pytestmark = pytest.mark.spark

pyspark = pytest.importorskip("pyspark", reason="the Spark engine needs PySpark (pip install 'recgraph[spark]')")

from recgraph.commands.flags import parse_spark_conf  # noqa: E402
from recgraph.engines import spark as se, view_params  # noqa: E402
from recgraph.engines.spark import counting, session, source  # noqa: E402
from recgraph.engines.spark import log as spark_log  # noqa: E402

try:
    se.java_version()
except MissingDependencyError as exc:  # pragma: no cover - machines without a JDK
    pytest.skip(f"the Spark engine needs Java: {exc}", allow_module_level=True)


@pytest.fixture(scope="module")
def spark():
    # Tiny logs: few partitions, no adaptive re-planning (each query is mostly fixed cost here).
    session = se.spark_session("local[2]", shuffle_partitions=2, driver_memory="1g",
                               spark_conf={"spark.default.parallelism": "2", "spark.sql.adaptive.enabled": "false"})
    yield session
    session.stop()


# ---------------------------------------------------------------------------------------------
# A reference of SPEC.md's rules, written for reading, not speed


def reference_edges(log: pd.DataFrame, view: dict) -> pd.DataFrame:
    """(src, dst, weight) of one view from a log with userId, movieId, rating[, timestamp]."""
    v = vars(view_params(view))
    frame = log.copy()
    has_time = "timestamp" in frame.columns
    # Loader: one row per (user, item), the latest timestamp, ties the highest rating.
    keys = (["timestamp"] if has_time else []) + ["rating"]
    frame = frame.sort_values(["userId", "movieId"] + keys).drop_duplicates(["userId", "movieId"], keep="last")
    liked = frame[frame["rating"] >= v["min_rating"]]
    if v["max_user_items"] is not None:  # the N latest per user, ties by the smaller item id
        order = (["timestamp"] if has_time else []) + ["movieId"]
        asc = ([False] if has_time else []) + [True]
        liked = liked.sort_values(["userId"] + order, ascending=[True] + asc)
        liked = liked[liked.groupby("userId").cumcount() < v["max_user_items"]]
    n = liked.groupby("movieId")["userId"].nunique()
    n = n[n >= v["min_item_users"]] if v["min_item_users"] else n
    liked = liked[liked["movieId"].isin(n.index)]
    total = len(liked)
    items = np.sort(n.index.to_numpy())
    users, ucode = np.unique(liked["userId"].to_numpy(), return_inverse=True)
    icode = np.searchsorted(items, liked["movieId"].to_numpy())
    x = sp.csr_matrix((np.ones(len(liked)), (ucode, icode)), shape=(len(users), len(items)))
    co = sp.triu(x.T @ x, k=1).tocoo()
    n_ab = co.data
    n_x = n.reindex(items).to_numpy().astype(np.float64)
    weight = (np.log(n_ab) - (np.log(n_x[co.row]) + np.log(n_x[co.col])) + np.log(total)) * n_ab
    keep = (weight >= v["min_weight"]) & (weight > 0)
    src, dst, weight = items[co.row[keep]], items[co.col[keep]], weight[keep]
    if v["max_degree"] is not None:  # top K of either endpoint by (weight desc, neighbour asc)
        node = np.concatenate([src, dst])
        nbr = np.concatenate([dst, src])
        w = np.concatenate([weight, weight])
        edge = np.concatenate([np.arange(len(src))] * 2)
        order = np.lexsort((nbr, -w, node))
        node_sorted = node[order]
        first = np.searchsorted(node_sorted, node_sorted, side="left")
        rank = np.arange(len(order)) - first
        survive = np.zeros(len(src), dtype=bool)
        survive[edge[order][rank < v["max_degree"]]] = True
        src, dst, weight = src[survive], dst[survive], weight[survive]
    out = pd.DataFrame({"src": src.astype(np.int64), "dst": dst.astype(np.int64), "weight": weight})
    return out.sort_values(["src", "dst"], ignore_index=True)


def spark_edges(spark, path, view: dict, packed: bool = True, **columns) -> pd.DataFrame:
    """The Spark engine's edges of one view (read, dedupe, graph), sorted, as pandas.

    ``packed=False``: dedupe by max(struct(ts, rating)), the engine's path for logs whose ratings
    are not whole thousandths.
    """
    src = source.resolve_source(spark, str(path))
    cols = {"user_col": "userId", "item_col": "movieId", "rating_col": "rating", "time_col": "timestamp", **columns}
    raw, _implicit, has_time, _used, _label = spark_log.read_log(spark, src, **cols)
    cached = [] if packed else None
    log = spark_log.dedupe(raw, has_time, 2, cached)
    edges, counts = counting.graph_edges(spark, log, view_params(view), has_time)
    rows = edges.collect()
    counts["freq"].unpersist()
    for frame in cached or ():
        frame.unpersist()
    out = pd.DataFrame([r.asDict() for r in rows], columns=["src", "dst", "weight"])
    return out.astype({"src": "int64", "dst": "int64", "weight": "float64"}).sort_values(
        ["src", "dst"], ignore_index=True)


def assert_same_edges(got: pd.DataFrame, want: pd.DataFrame):
    assert len(got) == len(want)
    np.testing.assert_array_equal(got["src"].to_numpy(), want["src"].to_numpy())
    np.testing.assert_array_equal(got["dst"].to_numpy(), want["dst"].to_numpy())
    np.testing.assert_allclose(got["weight"].to_numpy(), want["weight"].to_numpy(), rtol=1e-9, atol=0)


def write_csv(path: Path, rows, columns) -> Path:
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return path


# ---------------------------------------------------------------------------------------------
# Exact values on hand-built logs

# Four users' 5-star movies (plus lower ratings that must be ignored):
#   u1: 10, 20, 30    u2: 10, 20    u3: 10, 20, 40    u4: 30
LIKED = [(1, 10), (1, 20), (1, 30), (2, 10), (2, 20), (3, 10), (3, 20), (3, 40), (4, 30)]
IGNORED = [(1, 40, 4.0), (2, 30, 3.0), (4, 10, 4.5)]


def test_pmi_weights_by_hand(spark, tmp_path):
    path = write_csv(tmp_path / "r.csv", [(u, m, 5.0) for u, m in LIKED] + IGNORED, ["userId", "movieId", "rating"])
    got = spark_edges(spark, path, {"min_rating": 5.0, "min_weight": -100.0})
    d = math.log(9)  # n = 9 liked rows; n_10 = n_20 = 3, n_30 = 2, n_40 = 1
    want = {(10, 20): 3 * (math.log(3) - math.log(3) - math.log(3) + d),
            (10, 30): 1 * (0 - math.log(3) - math.log(2) + d), (20, 30): 1 * (0 - math.log(3) - math.log(2) + d),
            (10, 40): 1 * (0 - math.log(3) - 0 + d), (20, 40): 1 * (0 - math.log(3) - 0 + d)}
    assert {(s, t): w for s, t, w in got.itertuples(index=False)} == pytest.approx(want, rel=1e-12)
    # weight > 0 is part of the rule even under a negative min_weight; (30, 40) never co-occur.
    assert (got["weight"] > 0).all()


def test_max_degree_union_with_weight_ties(spark, tmp_path):
    # A hub 1 co-liked with 2..6 by the same users (equal weights: ties go to the smaller id),
    # and 2..6 co-liked among themselves only by user 9.
    rows = [(u, m, 5.0) for u in range(1, 5) for m in (1, 2, 3, 4, 5, 6)] + [(9, m, 5.0) for m in (2, 3, 4, 5, 6, 7)]
    path = write_csv(tmp_path / "r.csv", rows, ["userId", "movieId", "rating"])
    log = pd.read_csv(path)
    full = reference_edges(log, {"min_rating": 5.0, "min_weight": -1e9})
    for k in (1, 2):
        view = {"min_rating": 5.0, "min_weight": -1e9, "max_degree": k}
        got = spark_edges(spark, path, view)
        assert_same_edges(got, reference_edges(log, view))
        assert len(got) < len(full)
        # Union: every node keeps at least min(k, its degree) edges, and no edge is outside both top-Ks.
        for node in set(full["src"]) | set(full["dst"]):
            deg_full = ((full["src"] == node) | (full["dst"] == node)).sum()
            assert ((got["src"] == node) | (got["dst"] == node)).sum() >= min(k, deg_full)
        if k == 1:  # the hub's star has equal weights: its one pick is the smallest neighbour id
            assert (1, 2) in set(zip(got["src"], got["dst"])) and (1, 3) not in set(zip(got["src"], got["dst"]))


def test_max_user_items_latest_first_ties_by_item_id(spark, tmp_path):
    # User 1 likes 10..50; timestamps: 40 and 50 newest (same second), then 30, 20 = 10 tie.
    rows = [(1, 10, 5.0, 100), (1, 20, 5.0, 100), (1, 30, 5.0, 200), (1, 40, 5.0, 300), (1, 50, 5.0, 300),
            (2, 10, 5.0, 1), (2, 20, 5.0, 1), (2, 30, 5.0, 1), (2, 40, 5.0, 1),
            (3, 10, 5.0, 5), (3, 50, 5.0, 5)]
    path = write_csv(tmp_path / "r.csv", rows, ["userId", "movieId", "rating", "timestamp"])
    log = pd.read_csv(path)
    view = {"min_rating": 5.0, "min_weight": -1e9, "max_user_items": 3}
    got = spark_edges(spark, path, view)
    assert_same_edges(got, reference_edges(log, view))
    # cap 3: user 1 keeps 40, 50 (ts 300) and 30 (ts 200); user 2 keeps 10, 20, 30 (all ts 1: smallest ids).
    pairs = set(zip(got["src"], got["dst"]))
    assert (10, 20) in pairs and (40, 50) in pairs and (20, 40) not in pairs and (10, 40) not in pairs
    # Without timestamps: ties everywhere, the smallest item ids win. Ids past 2**31 take the
    # engine's two-column pair key instead of the packed 64-bit one.
    path2 = write_csv(tmp_path / "r2.csv", [(u, m + 2**33, r) for u, m, r, _ in rows], ["userId", "movieId", "rating"])
    view = {"min_rating": 5.0, "min_weight": -1e9, "max_user_items": 2}
    assert_same_edges(spark_edges(spark, path2, view), reference_edges(pd.read_csv(path2), view))


def test_dedupe_keeps_latest_then_highest(spark, tmp_path):
    rows = [(1, 10, 5.0, 10), (1, 20, 5.0, 10), (2, 10, 5.0, 10), (2, 20, 5.0, 10),
            (1, 20, 2.0, 20),  # later and lower: user 1 no longer likes 20
            (3, 10, 5.0, 10), (3, 30, 5.0, 10), (3, 30, 3.0, 10),  # same second: the highest (5) wins
            (4, 10, 5.0, 10), (4, 30, 5.0, 10), (4, 10, 5.0, 10)]  # exact duplicate counts once
    path = write_csv(tmp_path / "r.csv", rows, ["userId", "movieId", "rating", "timestamp"])
    got = spark_edges(spark, path, {"min_rating": 5.0, "min_weight": -1e9})
    assert_same_edges(got, reference_edges(pd.read_csv(path), {"min_rating": 5.0, "min_weight": -1e9}))
    # The struct path (ratings that are not whole thousandths) keeps the same rows.
    assert_same_edges(spark_edges(spark, path, {"min_rating": 5.0, "min_weight": -1e9}, packed=False), got)
    # A log whose ratings are not whole thousandths takes that path by itself, same rule.
    odd = [(u, m, r - 0.0001 if r == 5.0 else r + 0.0001, t) for u, m, r, t in rows]
    path = write_csv(tmp_path / "odd.csv", odd, ["userId", "movieId", "rating", "timestamp"])
    view = {"min_rating": 4.9, "min_weight": -1e9}
    assert_same_edges(spark_edges(spark, path, view), reference_edges(pd.read_csv(path), view))
    counts = {(s, t): w for s, t, w in got.itertuples(index=False)}
    # liked: u1 {10}, u2 {10, 20}, u3 {10, 30}, u4 {10, 30}: total 7, n_10 4, n_20 1, n_30 2.
    d = math.log(7)
    assert counts == pytest.approx({(10, 20): 0 - math.log(4) - 0 + d,
                                    (10, 30): 2 * (math.log(2) - math.log(4) - math.log(2) + d)}, rel=1e-12)


def test_implicit_parquet_parts_custom_columns(spark, tmp_path):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"who": rng.integers(0, 60, 1500), "what": rng.integers(0, 40, 1500),
                          "when": rng.integers(0, 50, 1500)})
    parts = tmp_path / "log"
    parts.mkdir()
    for i in range(3):
        frame.iloc[i * 500:(i + 1) * 500].to_parquet(parts / f"part-{i}.parquet", index=False)
    cols = {"user_col": "who", "item_col": "what", "time_col": "when"}
    as_ml = frame.rename(columns={"who": "userId", "what": "movieId", "when": "timestamp"}).assign(rating=5.0)
    for view in ({"min_rating": 5.0, "min_weight": 0.0}, {"min_rating": 5.0, "min_weight": 0.0, "max_degree": 4,
                                                           "max_user_items": 15, "min_item_users": 20}):
        assert_same_edges(spark_edges(spark, parts, view, **cols), reference_edges(as_ml, view))
    src = source.resolve_source(spark, str(parts))
    assert src.ratings_format == "parquet"
    _raw, implicit, has_time, used, _ = spark_log.read_log(spark, src, "who", "what", "rating", "when")
    assert implicit and has_time and used == {"user_col": "who", "item_col": "what", "rating_col": None,
                                              "time_col": "when"}


def test_random_logs_match_reference_and_numpy_engine(spark, tmp_path):
    from recgraph.graph import build_item_graph

    rng = np.random.default_rng(11)
    n = 4000
    frame = pd.DataFrame({"userId": rng.integers(0, 150, n), "movieId": rng.zipf(1.6, n) % 120,
                          "rating": rng.integers(1, 11, n) / 2.0, "timestamp": rng.integers(0, 30, n)})
    path = write_csv(tmp_path / "r.csv", frame.itertuples(index=False), list(frame.columns))
    views = [{"min_rating": 4.0, "min_weight": 2.0}, {"min_rating": 3.5, "min_weight": 0.5, "min_item_users": 5},
             {"min_rating": 4.0, "min_weight": 1.0, "max_degree": 3, "max_user_items": 8}]
    supported = set(inspect.signature(build_item_graph).parameters)
    deduped = frame.sort_values(["userId", "movieId", "timestamp", "rating"]).drop_duplicates(
        ["userId", "movieId"], keep="last")
    for view in views:
        got = spark_edges(spark, path, view)
        assert len(got) > 0
        assert_same_edges(got, reference_edges(frame, view))
        if set(k for k, v in view.items() if v is not None) <= supported - {"ratings"}:
            graph = build_item_graph(deduped, **view)
            rows = np.repeat(np.arange(graph.num_nodes), graph.degrees())
            upper = rows < graph.indices
            numpy_edges = pd.DataFrame({"src": graph.item_ids[rows[upper]], "dst": graph.item_ids[graph.indices[upper]],
                                        "weight": graph.weights[upper]}).sort_values(["src", "dst"], ignore_index=True)
            assert_same_edges(got, numpy_edges)


def test_build_graph_dir_runs_the_engine_it_names(spark, tmp_path):
    """pipeline.build_graph_dir(engine="spark") builds on Spark (it used to run numpy and write
    "spark" into the manifest), through the same writer, to the numpy engine's graph directory."""
    from recgraph.config import RunConfig
    from recgraph.graph_store import read_graph_dir
    from recgraph.pipeline import build_graph_dir

    rng = np.random.default_rng(5)
    n = 3000
    frame = pd.DataFrame({"userId": rng.integers(0, 120, n), "movieId": rng.zipf(1.5, n) % 90,
                          "rating": rng.integers(1, 11, n) / 2.0, "timestamp": rng.integers(0, 40, n)})
    path = write_csv(tmp_path / "r.csv", frame.itertuples(index=False), list(frame.columns))
    config = RunConfig(graph=[view_params({"min_rating": 4.0, "min_weight": 1.0}),
                              view_params({"min_rating": 3.5, "min_weight": 0.5, "max_degree": 4, "max_user_items": 9})])
    jobs_before = len(spark.sparkContext.statusTracker().getJobIdsForGroup(None))
    on_spark = build_graph_dir(str(path), tmp_path / "spark", config, engine="spark", engine_options={"spark": spark})
    assert len(spark.sparkContext.statusTracker().getJobIdsForGroup(None)) > jobs_before  # Spark did the work
    on_numpy = build_graph_dir(str(path), tmp_path / "numpy", config)
    assert (on_spark["engine"], on_numpy["engine"]) == ("spark", "numpy") and "spark" in on_spark
    assert on_spark["data"] == on_numpy["data"]
    assert [v["params"] for v in on_spark["views"]] == [v["params"] for v in on_numpy["views"]]
    assert [v["stats"] for v in on_spark["views"]] == [v["stats"] for v in on_numpy["views"]]
    for entry in on_numpy["views"]:
        assert_same_edges(pd.read_parquet(tmp_path / "spark" / entry["edges"]),
                          pd.read_parquet(tmp_path / "numpy" / entry["edges"]))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "spark" / "items.parquet"),
                                  pd.read_parquet(tmp_path / "numpy" / "items.parquet"))
    for name in ("spark", "numpy"):  # both read back, checksums verified
        assert read_graph_dir(tmp_path / name).views == config.views


# ---------------------------------------------------------------------------------------------
# ml-latest-small end to end: the numpy engine's graph, the graph directory


def preset_views() -> list[dict]:
    """The views of every shipped preset, each once (read at test time)."""
    from recgraph.config import resolve_config
    from recgraph.presets import available_presets

    views = []
    for name in ("seed", *[p for p in available_presets() if p != "seed"]):
        for view in (v.to_dict() for v in resolve_config(preset=name).views):
            full = vars(view_params(view))
            if full not in views:
                views.append(full)
    return views


@pytest.fixture(scope="module")
def ml_small_graph_dir(spark, ml_small_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("spark-graph") / "graph"
    views = preset_views()
    manifest = se.build_graph_spark(ml_small_path, out, views, spark=spark)
    return out, views, manifest


def test_ml_small_equals_numpy_engine_for_seed_and_tuned(ml_small, ml_small_graph_dir):
    from recgraph.graph import build_item_graph

    out, views, manifest = ml_small_graph_dir
    assert manifest["views"][0]["stats"] == {"nodes": 1405, "edges": 40043, "avg_degree": 57.0}
    supported = set(inspect.signature(build_item_graph).parameters)
    for i, view in enumerate(views):
        entry = manifest["views"][i]
        assert entry["params"] == view
        got = pd.read_parquet(out / entry["edges"])
        assert list(got.columns) == ["src", "dst", "weight"]
        assert str(got["src"].dtype) == "int64" and str(got["weight"].dtype) == "float64"
        # Sorted by (src, dst) across the part files, one row per undirected edge.
        keys = got["src"].to_numpy() * (1 << 32) + got["dst"].to_numpy()
        assert (np.diff(keys) > 0).all() and (got["src"] < got["dst"]).all()
        assert_same_edges(got, reference_edges(ml_small.ratings, view))
        nodes = np.union1d(got["src"], got["dst"])
        assert entry["stats"] == {"nodes": len(nodes), "edges": len(got), "avg_degree": round(2 * len(got) / len(nodes), 1)}
        active = {k: v for k, v in view.items() if v not in (None, 0) or k in ("min_rating", "min_weight")}
        if set(active) <= supported:
            graph = build_item_graph(ml_small, **active)
            assert graph.stats() == entry["stats"]
            np.testing.assert_array_equal(graph.item_ids, nodes)
            for u, v, w in got.sample(500, random_state=0).itertuples(index=False):
                a, b = np.searchsorted(graph.item_ids, [u, v])
                assert graph.weight(a, b) == pytest.approx(w, rel=1e-9)


def test_ml_small_graph_directory(ml_small, ml_small_graph_dir):
    out, views, manifest = ml_small_graph_dir
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["kind"] == "recgraph-graph" and manifest["format_version"] == 1 and manifest["engine"] == "spark"
    assert manifest["data"]["rows"] == 100836 and manifest["data"]["users"] == 610 and manifest["data"]["items"] == 9724
    assert manifest["data"]["implicit"] is False and manifest["data"]["has_titles"] is True
    assert [v["edges"] for v in manifest["views"]] == ["edges.parquet"] + [f"edges-{i}.parquet" for i in range(1, len(views))]
    items = pd.read_parquet(out / "items.parquet")
    assert list(items.columns) == ["item_id", "title", "genres", "likes"]
    # Every movie of the log and of movies.csv (18 are never rated), as the numpy engine lists them.
    assert items["item_id"].is_monotonic_increasing and len(items) == 9742
    ratings = ml_small.ratings
    likes = ratings[ratings["rating"] >= 4.0].groupby("movieId")["userId"].nunique()
    np.testing.assert_array_equal(items["likes"].to_numpy(), likes.reindex(items["item_id"], fill_value=0).to_numpy())
    from recgraph.catalog import ItemCatalog

    catalog = ItemCatalog.from_ratings(ml_small)
    np.testing.assert_array_equal(items["item_id"].to_numpy(), catalog.item_ids)
    assert tuple(items["title"]) == catalog.titles and tuple(items["genres"]) == catalog.genres
    np.testing.assert_array_equal(items["likes"].to_numpy(), catalog.likes)
    # Every file is listed with its size and checksum, and nothing else is in the directory.
    listed = manifest["files"]
    present = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert set(listed) == present
    for rel, entry in listed.items():
        data = (out / rel).read_bytes()
        assert entry == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary left beside it


# ---------------------------------------------------------------------------------------------
# Errors: one sentence, nothing destroyed


def test_replaces_own_directory_but_never_a_foreign_one(spark, tmp_path):
    path = write_csv(tmp_path / "r.csv", [(u, m, 5.0) for u, m in LIKED], ["userId", "movieId", "rating"])
    out = tmp_path / "g"
    first = se.build_graph_spark(path, out, [{"min_weight": -100.0}], spark=spark)
    assert first["data"]["has_titles"] is False and first["data"]["implicit"] is False
    assert pd.read_parquet(out / "items.parquet")["title"].tolist() == ["item 10", "item 20", "item 30", "item 40"]
    before = (out / "manifest.json").read_text()
    with pytest.raises(EmptyGraphError, match="min_weight"):
        se.build_graph_spark(path, out, [{"min_weight": 1e9}], spark=spark)
    assert (out / "manifest.json").read_text() == before  # the old graph survives a failed build
    se.build_graph_spark(path, out, [{"min_weight": 0.5}], spark=spark)
    assert json.loads((out / "manifest.json").read_text())["views"][0]["params"]["min_weight"] == 0.5
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ArtifactError, match="not a graph directory recgraph wrote"):
        se.build_graph_spark(path, foreign, [{}], spark=spark)
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g", "mine", "r.csv"]


def test_hadoop_output_replaces_refuses_and_lists_like_the_local_one(spark, tmp_path, monkeypatch):
    """The output for paths off this machine (hdfs://, s3a://), driven here through Hadoop's
    file:// file system: same refusals, staging beside the target, swap, manifest last."""
    from recgraph.engines.spark.hadoop import HadoopFS, HadoopOutput

    monkeypatch.setattr(se.SparkEngine, "output", lambda self, out: HadoopOutput(HadoopFS(self.spark, out), out))
    path = write_csv(tmp_path / "r.csv", [(u, m, 5.0) for u, m in LIKED], ["userId", "movieId", "rating"])
    out = tmp_path / "g"
    first = se.build_graph_spark(path, f"file://{out}", [{"min_weight": -100.0}], spark=spark)
    on_disk = {str(p.relative_to(out)): p.stat().st_size for p in out.rglob("*") if p.is_file()}
    assert {rel: entry["size"] for rel, entry in first["files"].items()} == {
        rel: size for rel, size in on_disk.items() if rel != "manifest.json"}
    assert all(entry["sha256"] is None for entry in first["files"].values())
    assert not [rel for rel in on_disk if rel.endswith(".crc")]
    before = (out / "manifest.json").read_text()
    with pytest.raises(EmptyGraphError, match="min_weight"):
        se.build_graph_spark(path, f"file://{out}", [{"min_weight": 1e9}], spark=spark)
    assert (out / "manifest.json").read_text() == before
    second = se.build_graph_spark(path, f"file://{out}", [{"min_weight": 0.5}], spark=spark)
    assert json.loads((out / "manifest.json").read_text()) == second
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ArtifactError, match="not a graph directory recgraph wrote"):
        se.build_graph_spark(path, f"file://{foreign}", [{}], spark=spark)
    (out / "notes.txt").write_text("mine too")
    with pytest.raises(ArtifactError, match="it also holds notes.txt"):
        se.build_graph_spark(path, f"file://{out}", [{}], spark=spark)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g", "mine", "r.csv"]  # nothing left beside them


def test_bad_inputs_get_one_sentence(spark, tmp_path):
    path = write_csv(tmp_path / "r.csv", [(1, 10, 5.0)], ["user", "movieId", "rating"])
    with pytest.raises(DataError, match=r"lacks column\(s\) userId; found user, movieId, rating"):
        se.build_graph_spark(path, tmp_path / "g", [{}], spark=spark)
    with pytest.raises(DataError, match="does not exist"):
        se.build_graph_spark(tmp_path / "nope.csv", tmp_path / "g", [{}], spark=spark)
    bad = write_csv(tmp_path / "bad.csv", [(1, 10, 5.0), (2, "ten", 5.0)], ["userId", "movieId", "rating"])
    with pytest.raises(DataError) as info:
        se.build_graph_spark(bad, tmp_path / "g", [{}], spark=spark)
    assert "\n" not in str(info.value) and "at org.apache" not in str(info.value)
    with pytest.raises(ParameterError, match="max_degree must be an integer >= 1"):
        se.build_graph_spark(path, tmp_path / "g", [{"max_degree": 0}], spark=spark)
    with pytest.raises(ParameterError, match="Unknown graph field"):
        view_params({"min_ratng": 4})
    assert not (tmp_path / "g").exists()


def test_bad_master_missing_java_and_pyspark(monkeypatch, tmp_path):
    for master in ("local[x]", "spark:/host", "lcal", ""):
        with pytest.raises(ParameterError, match="is not a master URL"):
            se.check_master(master)
    for master in ("local", "local[*]", "local[2]", "local[4,2]", "spark://a:7077,b:7077", "yarn", "k8s://https://h:6443"):
        assert se.check_master(master) == master
    with pytest.raises(ParameterError, match="KEY=VALUE"):
        parse_spark_conf(["spark.driver.memory"])
    assert parse_spark_conf(["a=b=c", " k = v"]) == {"a": "b=c", "k": "v"}
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(MissingDependencyError, match="needs Java 17 or newer .*install a JDK"):
        se.java_version()
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingDependencyError, match="no java on PATH"):
        se.java_version()
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'recgraph\[spark\]'"):
        session.import_pyspark()


def test_cli_prints_counts_or_one_error_line(spark, tmp_path, capsys):
    from recgraph.cli import main

    path = write_csv(tmp_path / "r.csv", [(u, m, 5.0, 1) for u, m in LIKED], ["userId", "movieId", "rating", "timestamp"])
    out = tmp_path / "g"
    spark_flags = ["graph", "--engine", "spark", "--master", "local[2]"]
    assert main([*spark_flags, "--data", str(path), "--out", str(out), "--min-weight", "0.5", "--max-degree", "2"]) == 0
    printed = capsys.readouterr()
    assert "view 0 (ratings >= 5, weight >= 0.5, top 2 edges per item):" in printed.out and printed.err == ""
    assert json.loads((out / "manifest.json").read_text())["views"][0]["params"]["max_degree"] == 2
    assert main([*spark_flags, "--data", str(tmp_path / "missing"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("recgraph: error: Data source") and err.count("\n") == 1
    assert main(["graph", "--engine", "spark", "--master", "nowhere", "--data", str(path), "--out", str(out)]) == 1
    assert "is not a master URL" in capsys.readouterr().err
    assert (out / "manifest.json").is_file()  # the failed runs left the graph built first in place


def test_partitions_follow_the_log_size_unless_set(spark, tmp_path):
    path = write_csv(tmp_path / "r.csv", [(u, m, 5.0) for u, m in LIKED], ["userId", "movieId", "rating"])
    src = source.resolve_source(spark, str(path))
    assert source.auto_partitions(spark, src) == 2  # the module's session chose 2
    spark.conf.set("spark.sql.shuffle.partitions", "200")  # Spark's default: nobody chose
    try:
        assert source.auto_partitions(spark, src) == 2 * spark.sparkContext.defaultParallelism  # tiny: 2 per core
        big = source.LogSource(str(path), "csv", None, None, str(path), None)
        size = path.stat().st_size
        source.AUTO_BYTES_PER_PARTITION["csv"], saved = max(1, size // 10), source.AUTO_BYTES_PER_PARTITION["csv"]
        try:
            assert source.auto_partitions(spark, big) == -(-size // max(1, size // 10))
        finally:
            source.AUTO_BYTES_PER_PARTITION["csv"] = saved
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "2")
