"""The artifact's writer and reader (recgraph.artifact): files, checksums, atomic writes, output checks."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from recgraph.artifact import (
    ARTIFACT_FILES,
    CATALOGUE_FILE,
    GRAPH_KIND,
    check_output_dir,
    file_digest,
    check_output_file,
    manifest_config,
    read_artifact,
    write_artifact,
)
from recgraph.errors import ArtifactError, ParameterError

EMBEDDINGS = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [-1, 0, 0], [0, 0.2, 1]], dtype=np.float32)
IDS = np.array([11, 12, 13, 14, 15])
TITLES = ["Alpha (2000)", "Alpha Two (2001)", "Beta (1999)", "Gamma (1990)", "beta (2005)"]


def tiny_artifact(path, **kwargs):
    return write_artifact(path, EMBEDDINGS, IDS, TITLES, ["A", "A", "B", "C", "B"], {"backend": "test"},
                          n_trees=5, seed=1, **kwargs)


def test_round_trip(tmp_path):
    manifest = tiny_artifact(tmp_path / "a", catalogue=[(11, "Alpha (2000)"), (99, "Omega, The (1970)"), (11, "dup")])
    files = read_artifact(tmp_path / "a")
    assert files.manifest == manifest and manifest["n_items"] == 5 and manifest["dim"] == 3
    assert files.item_ids.tolist() == IDS.tolist() and files.titles == TITLES
    assert files.embeddings.dtype == np.float32 and np.array_equal(files.embeddings, EMBEDDINGS)
    assert files.annoy.get_n_items() == 5 and files.likes is None and files.popular is None
    # Sorted by id, one row per movie (the first title wins), quoted as CSV needs.
    assert files.catalogue == [(11, "Alpha (2000)"), (99, "Omega, The (1970)")]
    assert (tmp_path / "a" / CATALOGUE_FILE).read_text().splitlines() == [
        "item_id,title", "11,Alpha (2000)", '99,"Omega, The (1970)"']
    assert set(manifest["files"]) == {"index.ann", "embeddings.npy", "items.csv", "catalogue.csv"}
    assert manifest["artifact_id"] == manifest["files"]["index.ann"]["sha256"][:12]


def test_catalogue_from_a_table(tmp_path):
    pd = pytest.importorskip("pandas")
    movies = pd.DataFrame({"movieId": [3, 1], "title": ["Three (2003)", "One (2001)"], "genres": ["", ""]})
    tiny_artifact(tmp_path / "a", catalogue=movies)
    assert read_artifact(tmp_path / "a").catalogue == [(1, "One (2001)"), (3, "Three (2003)")]
    with pytest.raises(ParameterError, match="movieId and title"):
        tiny_artifact(tmp_path / "b", catalogue=movies[["movieId"]])


def test_one_thread_gives_the_same_file(tmp_path):
    """n_jobs=1 makes index.ann (and so artifact_id) bit-identical; more threads only the trees."""
    a = tiny_artifact(tmp_path / "a", n_jobs=1)
    b = tiny_artifact(tmp_path / "b", n_jobs=1)
    assert a["artifact_id"] == b["artifact_id"]
    with pytest.raises(ParameterError, match="n_jobs must be -1"):
        tiny_artifact(tmp_path / "c", n_jobs=0)


def test_mismatch_is_refused(tmp_path):
    tiny_artifact(tmp_path / "a", catalogue=[(11, "Alpha (2000)")])
    ann = tmp_path / "a" / "index.ann"
    data = bytearray(ann.read_bytes())
    data[100] ^= 0xFF
    ann.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="does not match the SHA-256"):
        read_artifact(tmp_path / "a")
    ann.write_bytes(bytes(data[:-8]))
    with pytest.raises(ArtifactError, match="truncated"):
        read_artifact(tmp_path / "a")
    (tmp_path / "a" / "index.ann").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        read_artifact(tmp_path / "a")
    with pytest.raises(ArtifactError, match="does not exist"):
        read_artifact(tmp_path / "nowhere")


def test_catalogue_is_verified_and_required_once_recorded(tmp_path):
    tiny_artifact(tmp_path / "a", catalogue=[(11, "Alpha (2000)")])
    with open(tmp_path / "a" / CATALOGUE_FILE, "a") as fh:
        fh.write("12,Sneaked In (2020)\n")
    with pytest.raises(ArtifactError, match="catalogue.csv"):
        read_artifact(tmp_path / "a")
    (tmp_path / "a" / CATALOGUE_FILE).unlink()
    with pytest.raises(ArtifactError, match="catalogue.csv is missing"):
        read_artifact(tmp_path / "a")


def test_other_artifacts_index_file_is_refused(tmp_path):
    tiny_artifact(tmp_path / "a")
    emb = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    write_artifact(tmp_path / "b", emb, np.arange(5), list("abcde"), [""] * 5, {}, n_trees=3, seed=2)
    (tmp_path / "a" / "index.ann").write_bytes((tmp_path / "b" / "index.ann").read_bytes())
    with pytest.raises(ArtifactError):
        read_artifact(tmp_path / "a")


def test_atomic_replace_and_refusal(tmp_path):
    tiny_artifact(tmp_path / "a")
    first = json.loads((tmp_path / "a" / "manifest.json").read_text())
    # A failing write (NaN embeddings) leaves the old artifact untouched.
    with pytest.raises(ArtifactError, match="NaN"):
        write_artifact(tmp_path / "a", np.full((2, 3), np.nan, dtype=np.float32), np.arange(2), ["x", "y"],
                       ["", ""], {})
    assert json.loads((tmp_path / "a" / "manifest.json").read_text()) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
    # A non-artifact directory is never replaced.
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"meow")
    with pytest.raises(ArtifactError, match="is not an artifact recgraph wrote"):
        tiny_artifact(other)
    assert (other / "cat.jpg").read_bytes() == b"meow"
    # Replacing an artifact works and leaves no temporary directory behind.
    tiny_artifact(tmp_path / "a", catalogue=[(11, "Alpha (2000)")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "photos"]
    assert {p.name for p in (tmp_path / "a").iterdir()} <= ARTIFACT_FILES


@pytest.mark.parametrize("payload, match", [
    ("[1]", "not a recgraph manifest"),
    ('{"format_version": 1, "files": []}', "not a recgraph manifest"),
    ('{"format_version": 3, "files": {}}', "format_version 3; this recgraph reads versions 1 and 2"),
    ('{"format_version": true, "files": {}}', "format_version True; this recgraph reads versions 1 and 2"),
    ('{"format_version": 1, "files": {}, "dim": "abc", "n_items": 5}', "dim and n_items must be positive integers"),
])
def test_malformed_manifest(tmp_path, payload, match):
    tiny_artifact(tmp_path / "a")
    (tmp_path / "a" / "manifest.json").write_text(payload)
    with pytest.raises(ArtifactError, match=match):
        read_artifact(tmp_path / "a", verify=False)


def test_items_csv_header_is_checked(tmp_path):
    tiny_artifact(tmp_path / "a")
    items = tmp_path / "a" / "items.csv"
    with open(items, newline="") as fh:
        rows = list(csv.reader(fh))
    rows[0][1] = "movie"
    with open(items, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(ArtifactError, match=r"must start with the header index,item_id,title,genres \(or "
                                            r"index,movie_id,title,genres, as recgraph 0.1 wrote it\); got 'index,movie,"):
        read_artifact(tmp_path / "a", verify=False)


def test_output_dir_guards(tmp_path):
    # A web app's manifest.json does not make a directory ours.
    web = tmp_path / "web"
    web.mkdir()
    (web / "manifest.json").write_text('{"name": "my pwa"}')
    (web / "index.html").write_text("<html>")
    with pytest.raises(ArtifactError, match="not an artifact recgraph wrote"):
        tiny_artifact(web)
    assert (web / "index.html").read_text() == "<html>"
    # A file the user put into an artifact is not deleted by a re-run.
    tiny_artifact(tmp_path / "art")
    (tmp_path / "art" / "notes.txt").write_text("mine")
    with pytest.raises(ArtifactError, match="also holds notes.txt"):
        tiny_artifact(tmp_path / "art")
    assert (tmp_path / "art" / "notes.txt").read_text() == "mine"
    # A symlinked output is refused (the roll-out recipe switches links, it never writes through them).
    (tmp_path / "current").symlink_to(tmp_path / "art")
    with pytest.raises(ArtifactError, match="symbolic link"):
        tiny_artifact(tmp_path / "current")
    assert (tmp_path / "current").is_symlink()


def test_a_file_in_the_output_path_is_named_as_a_file(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    with pytest.raises(ArtifactError, match=r"Output .*notes.txt is a file, not a directory"):
        check_output_dir(notes)
    for out in (notes / "sub", notes / "sub" / "deeper"):
        with pytest.raises(ArtifactError, match=rf"cannot be created: {notes} is a file, not a directory"):
            check_output_dir(out)
    assert notes.read_text() == "mine"
    assert check_output_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_output_file_checks(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    with pytest.raises(ArtifactError, match=rf"--json {notes / 'r.json'} cannot be created: {notes} is a file"):
        check_output_file(notes / "r.json")
    with pytest.raises(ArtifactError, match="is a directory, not a file"):
        check_output_file(tmp_path, flag="--report")
    assert check_output_file(tmp_path / "new" / "r.json") == tmp_path / "new" / "r.json"
    assert check_output_file(notes) == notes  # an existing file is replaced atomically by its writer


def test_an_index_that_is_a_file_is_named_as_a_file(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ArtifactError, match=r"notes.txt is a file, not an artifact directory"):
        read_artifact(tmp_path / "notes.txt")


def test_import_artifact_stays_light():
    code = ("import sys, recgraph.artifact; "
            "print(sorted(m for m in ('gensim','keras','jax','pandas','pyspark','numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_manifest_records_index_and_scoring_once_in_its_config(tmp_path):
    manifest = tiny_artifact(tmp_path / "a", scoring={"recent_weight": 0.5})
    assert manifest["format_version"] == 2 and manifest["config"]["index"] == {"n_trees": 5}
    assert manifest["config"]["scoring"]["recent_weight"] == 0.5
    assert not {"n_trees", "scoring"} & set(manifest)


# A manifest as recgraph 0.1 wrote it (format 1): the configuration under `config` (the trainer's
# hyperparameters in `params`), and copies of it beside (`params`, `backend`, `seed`, `preset`,
# `scoring`, `n_trees`).
FORMAT_1 = {
    "backend": "keras", "seed": 4, "preset": "tuned",
    "config": {"preset": "tuned", "seed": 4,
               "graph": [{"min_rating": 5.0, "min_weight": 10.0, "min_item_users": 0, "max_degree": 60},
                         {"min_rating": 4.0, "min_weight": 30.0, "min_item_users": 10}],
               "walks": {"num_walks": 40, "walk_length": 10, "p": 2.0, "q": 1.5},
               "trainer": {"backend": "keras", "params": {"dim": 3, "window": 10, "negative": 4, "epochs": 2,
                                                          "batch_size": 1024, "learning_rate": 0.001,
                                                          "drop_positive_negatives": False}},
               "scoring": {"history_min_rating": 4.0, "popularity_weight": 0.0, "candidates": 200,
                           "fallback": "none", "recent_weight": 0.25, "recent_count": 3},
               "index": {"n_trees": 5}},
    "params": {"graph": {"min_rating": 5.0, "min_weight": 10.0, "min_item_users": 0, "max_degree": 60},
               "trainer": {"dim": 3, "seed": 99}, "n_trees": 5},
    "graph": {"nodes": 5, "edges": 4, "avg_degree": 1.6},
    "format_version": 1, "metric": "angular", "n_trees": 5,
    "scoring": {"history_min_rating": 4.0, "popularity_weight": 0.0, "candidates": 200, "fallback": "none",
                "recent_weight": 0.25, "recent_count": 3},
}


@pytest.fixture
def format_1_artifact(tmp_path):
    """An artifact as 0.1 wrote it: manifest.json in the 0.1 layout, and the CSVs' id column
    named movie_id (checksums recorded for those files)."""
    written = tiny_artifact(tmp_path / "old", likes=np.array([5, 4, 3, 2, 1]), popular=[(99, "Omega (1970)", 9)],
                            catalogue=[(11, "Alpha (2000)"), (99, "Omega (1970)")])
    files = dict(written["files"])
    for name in ("items.csv", "popular.csv", "catalogue.csv"):
        path = tmp_path / "old" / name
        text = path.read_text(encoding="utf-8")
        assert "item_id" in text.splitlines()[0]
        path.write_text(text.replace("item_id", "movie_id", 1), encoding="utf-8")
        files[name] = {**files[name], "size": path.stat().st_size, "sha256": file_digest(path)}
    old = {**FORMAT_1, **{k: written[k] for k in ("dim", "n_items", "recgraph_version", "created_at",
                                                   "artifact_id")}, "files": files}
    (tmp_path / "old" / "manifest.json").write_text(json.dumps(old))
    return tmp_path / "old"


def test_csvs_with_the_0_1_id_column_read_as_today(format_1_artifact, tmp_path):
    """items.csv, popular.csv and catalogue.csv headed movie_id (0.1) read as those headed item_id."""
    old = read_artifact(format_1_artifact)
    assert (format_1_artifact / "items.csv").read_text().startswith("index,movie_id,title,genres,likes\n")
    tiny_artifact(tmp_path / "new", likes=np.array([5, 4, 3, 2, 1]), popular=[(99, "Omega (1970)", 9)],
                  catalogue=[(11, "Alpha (2000)"), (99, "Omega (1970)")])
    assert (tmp_path / "new" / "popular.csv").read_text().startswith("item_id,title,likes\n")
    new = read_artifact(tmp_path / "new")
    assert old.item_ids.tolist() == new.item_ids.tolist() == IDS.tolist() and old.titles == new.titles
    assert old.likes.tolist() == new.likes.tolist() == [5, 4, 3, 2, 1]
    assert old.popular == new.popular == [(99, "Omega (1970)", 9)]
    assert old.catalogue == new.catalogue == [(11, "Alpha (2000)"), (99, "Omega (1970)")]


def test_a_format_1_artifact_still_loads(format_1_artifact):
    from recgraph.config import RunConfig
    from recgraph.index import ItemIndex

    files = read_artifact(format_1_artifact)
    assert files.manifest["format_version"] == 1 and files.item_ids.tolist() == IDS.tolist()
    config = manifest_config(files.manifest)
    # 0.1's drop_positive_negatives=False is today's keep_cooccurring_negatives=True.
    legacy = {k: v for k, v in FORMAT_1["config"]["trainer"]["params"].items() if k != "drop_positive_negatives"}
    assert config["trainer"] == {"backend": "keras", "keras": {**legacy, "keep_cooccurring_negatives": True}}
    assert config["index"] == {"n_trees": 5} and config["seed"] == 4
    run = RunConfig.from_manifest(files.manifest)
    assert run.backend == "keras" and run.trainer.params["dim"] == 3 and run.preset == "tuned"
    assert run.trainer.params["keep_cooccurring_negatives"] is True
    assert [v.min_rating for v in run.views] == [5.0, 4.0] and run.walks.max_walks == 100_000  # tuned's, not recorded
    assert run.scoring.method == "cosine"  # recorded before there was another method
    index = ItemIndex.load(format_1_artifact)
    assert index.scoring.recent_weight == 0.25 and index.scoring.recent_count == 3
    assert index.similar(11, k=1).hits[0].item_id == 12


def test_a_format_1_manifest_without_config_is_rebuilt_from_its_copies():
    manifest = {k: v for k, v in FORMAT_1.items() if k != "config"}
    config = manifest_config(manifest)
    assert config["trainer"] == {"backend": "keras", "keras": {"dim": 3}}  # the trainer's derived seed left out
    # A scoring recorded before there was another method is cosine.
    assert config["graph"] == [FORMAT_1["params"]["graph"]]
    assert config["scoring"] == {**FORMAT_1["scoring"], "method": "cosine", "search": False}
    assert config["index"] == {"n_trees": 5} and config["preset"] == "tuned" and config["seed"] == 4


def test_a_graph_directory_is_named_as_such(tmp_path):
    graph_dir = tmp_path / "graphs" / "ml"
    graph_dir.mkdir(parents=True)
    (graph_dir / "manifest.json").write_text(json.dumps({"kind": GRAPH_KIND, "format_version": 1, "files": {},
                                                         "views": []}))
    (graph_dir / "edges.parquet").write_bytes(b"PAR1")
    with pytest.raises(ArtifactError) as info:
        check_output_dir(graph_dir)
    assert "is a graph directory (written by 'recgraph graph'), not an artifact" in str(info.value)
    assert f"recgraph train --graph {graph_dir} --out NEW_DIR" in str(info.value)
    with pytest.raises(ArtifactError, match="is a graph directory .* not an artifact; train from it with "
                                            "'recgraph train --graph"):
        read_artifact(graph_dir)
    assert (graph_dir / "edges.parquet").read_bytes() == b"PAR1"


def test_graph_kind_is_the_graph_stores():
    from recgraph.graph_store import GRAPH_KIND as STORE_KIND

    assert GRAPH_KIND == STORE_KIND
