"""The graph as a stage: ``recgraph graph`` writes a graph directory, ``train --graph`` starts from it."""

from __future__ import annotations

import json

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from recgraph.config import GraphParams, RunConfig, WalkParams, resolve_config  # noqa: E402
from recgraph.corpus import build_graphs  # noqa: E402
from recgraph.errors import ArtifactError  # noqa: E402
from recgraph.graph_store import (GRAPH_KIND, edge_arrays, file_records, graph_from_edges,  # noqa: E402
                                  read_graph_dir)
from recgraph.pipeline import build_graph_dir, train  # noqa: E402

VIEWS = (GraphParams(5.0, 10.0), GraphParams(4.0, 5.0, 20))


def same_graph(a, b) -> None:
    for name in ("indptr", "indices", "weights", "item_ids"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert getattr(a, name).dtype == getattr(b, name).dtype, name


@pytest.fixture
def graph_dir(tiny_ratings, tmp_path):
    out = tmp_path / "graph"
    build_graph_dir(tiny_ratings, out, RunConfig(graph=VIEWS))
    return out


def test_layout_and_manifest(graph_dir, tiny_ratings):
    assert sorted(p.name for p in graph_dir.iterdir()) == ["edges-1.parquet", "edges.parquet", "items.parquet",
                                                            "manifest.json"]
    manifest = json.loads((graph_dir / "manifest.json").read_text())
    assert manifest["kind"] == GRAPH_KIND and manifest["format_version"] == 1 and manifest["engine"] == "numpy"
    assert {"recgraph_version", "created_at", "timings_s", "items"} <= set(manifest)
    data = manifest["data"]
    assert (data["source"], data["rows"], data["users"], data["items"]) == ("tiny", len(tiny_ratings.ratings), 60, 19)
    assert {"md5", "implicit", "has_titles", "columns"} <= set(data)
    assert [v["edges"] for v in manifest["views"]] == ["edges.parquet", "edges-1.parquet"]
    # Every GraphParams field, the caps that are off included.
    assert manifest["views"][0]["params"] == {"min_rating": 5.0, "min_weight": 10.0, "min_item_users": 0,
                                              "max_degree": None, "max_user_items": None}
    graphs = build_graphs(tiny_ratings, VIEWS)
    assert [v["stats"] for v in manifest["views"]] == [g.stats() for g in graphs]
    assert manifest["files"] == file_records(graph_dir)
    edges = pq.read_table(graph_dir / "edges.parquet")
    assert edges.schema.names == ["src", "dst", "weight"]
    assert [str(t) for t in edges.schema.types] == ["int64", "int64", "double"]
    src, dst = edges["src"].to_numpy(), edges["dst"].to_numpy()
    assert np.all(src < dst) and len(src) == graphs[0].num_edges
    assert np.all(np.diff(src * 1000 + dst) > 0)  # sorted by (src, dst)
    items = pq.read_table(graph_dir / "items.parquet").to_pydict()
    assert list(items) == ["item_id", "title", "genres", "likes"]
    assert items["item_id"] == list(range(1, 20)) and items["title"][0] == "Movie 1 (1981)"
    assert items["likes"][18] == 0 and items["likes"][12] > 0  # movie 19 is never rated >= 4


def test_read_back_is_the_built_graph(graph_dir, tiny_ratings):
    stored = read_graph_dir(graph_dir)
    assert stored.views == VIEWS
    for built, read in zip(build_graphs(tiny_ratings, VIEWS), stored.graphs):
        same_graph(built, read)
    assert stored.items.metadata([3, 19]) == (["Movie 3 (1983)", "Movie 19 (1999)"], ["Drama", "Drama"])
    assert stored.data["source"] == "tiny"


def test_edges_round_trip_exactly(tiny_ratings):
    graph = build_graphs(tiny_ratings, [GraphParams(4.0, -50.0)])[0]
    same_graph(graph, graph_from_edges(*edge_arrays(graph)))


def test_a_directory_of_parquet_parts_is_read(graph_dir, tiny_ratings):
    """Spark writes each table as a directory of part files (and a _SUCCESS marker)."""
    table = pq.read_table(graph_dir / "edges.parquet")
    (graph_dir / "edges.parquet").unlink()
    parts = graph_dir / "edges.parquet"
    parts.mkdir()
    half = table.num_rows // 2
    pq.write_table(table.slice(half), parts / "part-00000.parquet")  # out of order on purpose
    pq.write_table(table.slice(0, half), parts / "part-00001.parquet")
    (parts / "_SUCCESS").write_bytes(b"")
    manifest = json.loads((graph_dir / "manifest.json").read_text())
    manifest["files"] = file_records(graph_dir)
    assert "edges.parquet/part-00001.parquet" in manifest["files"]
    (graph_dir / "manifest.json").write_text(json.dumps(manifest))
    same_graph(read_graph_dir(graph_dir).graphs[0], build_graphs(tiny_ratings, VIEWS[:1])[0])


def test_damage_and_foreign_directories_are_refused(graph_dir, tiny_ratings, tmp_path):
    with open(graph_dir / "edges-1.parquet", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ArtifactError, match="edges-1.parquet does not match the manifest's checksum"):
        read_graph_dir(graph_dir)
    build_graph_dir(tiny_ratings, graph_dir, RunConfig(graph=VIEWS))
    (graph_dir / "items.parquet").unlink()
    with pytest.raises(ArtifactError, match="items.parquet is missing"):
        read_graph_dir(graph_dir)
    with pytest.raises(ArtifactError, match="has no manifest.json"):
        read_graph_dir(tmp_path)
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ArtifactError, match="not a graph directory recgraph wrote"):
        build_graph_dir(tiny_ratings, foreign)
    assert (foreign / "notes.txt").read_text() == "mine"
    (foreign / "manifest.json").write_text('{"format_version": 1, "files": {}}')  # an artifact's, say
    with pytest.raises(ArtifactError, match="is not of kind 'recgraph-graph'"):
        read_graph_dir(foreign)


def test_rewriting_a_graph_dir_replaces_it(graph_dir, tiny_ratings):
    build_graph_dir(tiny_ratings, graph_dir, RunConfig(graph=VIEWS[:1]))
    assert sorted(p.name for p in graph_dir.iterdir()) == ["edges.parquet", "items.parquet", "manifest.json"]
    assert [p.name for p in graph_dir.parent.iterdir()] == ["graph"]  # no temporary directory left


def test_train_from_the_graph_dir_is_train_from_the_log(graph_dir, tiny_ratings, tmp_path):
    config = resolve_config(base={"graph": [v.to_dict() for v in VIEWS]}, walks={"num_walks": 3, "walk_length": 6},
                            trainer={"dim": 8, "epochs": 1, "workers": 1}, seed=5)
    direct = train(tiny_ratings, tmp_path / "direct", config=config, show_progress=False)
    staged = train(None, tmp_path / "staged", config=config, graph=graph_dir, show_progress=False)
    for a, b in zip(direct.corpus.graphs, staged.corpus.graphs):
        same_graph(a, b)
    for a, b in zip(direct.corpus.walks, staged.corpus.walks):
        np.testing.assert_array_equal(a, b)
    assert (tmp_path / "direct" / "embeddings.npy").read_bytes() == (tmp_path / "staged" / "embeddings.npy").read_bytes()
    assert (tmp_path / "direct" / "items.csv").read_bytes() == (tmp_path / "staged" / "items.csv").read_bytes()
    assert (tmp_path / "direct" / "popular.csv").read_bytes() == (tmp_path / "staged" / "popular.csv").read_bytes()
    assert sorted(direct.manifest) == sorted(staged.manifest)
    assert direct.manifest["config"] == staged.manifest["config"]
    # The graph directory's record of the log (implicit, has_titles, columns...) and where it is.
    assert staged.manifest["data"] == {**direct.manifest["data"], "graph_dir": str(graph_dir)}
    assert staged.manifest["data"]["source"] == "tiny" and staged.manifest["data"]["md5"] == "0" * 32


def test_the_graph_dirs_views_are_the_ones_trained(graph_dir, tmp_path):
    one_view = RunConfig(walks=WalkParams(2, 4), seed=1)
    result = train(None, None, config=one_view, graph=graph_dir, show_progress=False)
    assert result.config.views == VIEWS and len(result.corpus.walks) == 2


@pytest.mark.slow
def test_graph_then_train_graph_is_train_data_on_ml_small(ml_small_path, tmp_path, capsys):
    """The done-when of the graph stage: same edges, walks and (one worker) embeddings, through the CLI."""
    from recgraph.cli import main

    flags = ["--seed", "11", "--workers", "1", "--epochs", "2", "--quiet"]
    assert main(["graph", "--data", str(ml_small_path), "--out", str(tmp_path / "g")]) == 0
    out = capsys.readouterr().out
    assert "view 0 (ratings >= 5, weight >= 10): 1,405 nodes, 40,043 edges, average degree 57.0" in out
    assert f"wrote {tmp_path / 'g'}/edges.parquet" in out
    assert main(["train", "--graph", str(tmp_path / "g"), "--out", str(tmp_path / "staged"), *flags]) == 0
    assert main(["train", "--data", str(ml_small_path), "--out", str(tmp_path / "direct"), *flags]) == 0
    staged = json.loads((tmp_path / "staged" / "manifest.json").read_text())
    direct = json.loads((tmp_path / "direct" / "manifest.json").read_text())
    assert staged["graph"] == direct["graph"] == {"nodes": 1405, "edges": 40043, "avg_degree": 57.0}
    assert staged["walks_sha256"] == direct["walks_sha256"]
    assert staged["config"] == direct["config"] and staged["data"]["md5"] == direct["data"]["md5"]
    for name in ("embeddings.npy", "items.csv", "popular.csv"):
        assert (tmp_path / "staged" / name).read_bytes() == (tmp_path / "direct" / name).read_bytes(), name
    from recgraph.data import load_movielens
    from recgraph.graph import build_item_graph

    same_graph(read_graph_dir(tmp_path / "g").graphs[0], build_item_graph(load_movielens(ml_small_path)))


def test_graph_output_under_a_file_is_named_before_any_work(tmp_path):
    from recgraph.errors import ArtifactError
    from recgraph.graph_store import check_graph_output

    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    with pytest.raises(ArtifactError, match=rf"cannot be created: {notes} is a file, not a directory"):
        check_graph_output(notes / "graph")
    assert notes.read_text() == "mine\n"
