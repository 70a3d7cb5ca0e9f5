import json
import subprocess
import sys

import numpy as np
import pytest

from recgraph.artifact import write_artifact
from recgraph.errors import ArtifactError, ParameterError, UnknownItemError
from recgraph.index import ItemIndex

STAR_WARS = "Star Wars: Episode IV - A New Hope (1977)"


def tiny_artifact(path, **kwargs):
    # Three clear directions: 1 and 2 point the same way, 3 orthogonal, 4 opposite to 1.
    embeddings = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [-1, 0, 0], [0, 0.2, 1]], dtype=np.float32)
    return write_artifact(path, embeddings, np.array([11, 12, 13, 14, 15]),
                          ["Alpha (2000)", "Alpha Two (2001)", "Beta (1999)", "Gamma (1990)", "beta (2005)"],
                          ["A", "A", "B", "C", "B"], {"backend": "test"}, n_trees=5, seed=1, **kwargs)


def test_round_trip_small(tmp_path):
    manifest = tiny_artifact(tmp_path / "a")
    index = ItemIndex.load(tmp_path / "a")
    assert len(index) == 5 and index.manifest["n_items"] == 5 == manifest["n_items"]
    hits = index.similar(11, k=2)
    # 12 points the same way; 13 and 15 are both orthogonal to 11 (cosine 0, a tie).
    assert hits[0]["movie_id"] == 12 and hits[1]["movie_id"] in (13, 15)
    assert hits[1]["score"] == pytest.approx(0.0, abs=1e-6)
    assert hits[0]["title"] == "Alpha Two (2001)"
    assert hits[0]["score"] == pytest.approx(0.9 / np.hypot(0.9, 0.1), abs=1e-5)
    assert all(h["movie_id"] != 11 for h in index.similar(11, k=4))
    assert index.similar("alpha (2000)", k=1)[0]["movie_id"] == 12
    # Opposite vector ranks last.
    assert index.similar(11, k=4)[-1]["movie_id"] == 14


def test_recommend_excludes_watched_and_excluded(tmp_path):
    tiny_artifact(tmp_path / "a")
    index = ItemIndex.load(tmp_path / "a")
    hits = index.recommend([11, 13], k=3, exclude=[12])
    ids = [h["movie_id"] for h in hits]
    assert not {11, 13, 12} & set(ids)
    assert ids[0] == 15  # between Alpha and Beta's directions, 15 leans to Beta
    assert len(index.recommend([11], k=10)) == 4  # everything but the query


def test_unknown_movies(tmp_path):
    tiny_artifact(tmp_path / "a")
    index = ItemIndex.load(tmp_path / "a")
    with pytest.raises(UnknownItemError, match="Movie id 99 is not in the index"):
        index.similar(99)
    with pytest.raises(UnknownItemError) as info:
        index.similar("Alpah (2000)")
    assert "Alpha (2000)" in info.value.suggestions
    with pytest.raises(UnknownItemError) as info:
        index.similar("Betta (1999)")
    assert info.value.suggestions[0] == "Beta (1999)"
    with pytest.raises(ParameterError, match="k must be an integer"):
        index.similar(11, k=0)
    with pytest.raises(UnknownItemError, match="None of the watched"):
        index.recommend([98, 99], on_unknown="ignore")
    rows, unknown = index.resolve([11, 99], on_unknown="ignore")
    assert unknown == [99] and rows == [0]
    with pytest.raises(ParameterError, match="as a list"):
        index.recommend(11)


def test_search_titles(tmp_path):
    tiny_artifact(tmp_path / "a")
    index = ItemIndex.load(tmp_path / "a")
    assert [h["movie_id"] for h in index.search("alpha")] == [11, 12]
    assert index.search("bta", k=2)[0]["title"].lower().startswith("beta")


def test_mismatch_is_refused(tmp_path):
    tiny_artifact(tmp_path / "a")
    ann = tmp_path / "a" / "index.ann"
    data = bytearray(ann.read_bytes())
    data[100] ^= 0xFF
    ann.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="does not match the SHA-256"):
        ItemIndex.load(tmp_path / "a")
    ann.write_bytes(bytes(data[:-8]))
    with pytest.raises(ArtifactError, match="truncated"):
        ItemIndex.load(tmp_path / "a")
    (tmp_path / "a" / "index.ann").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        ItemIndex.load(tmp_path / "a")
    with pytest.raises(ArtifactError, match="does not exist"):
        ItemIndex.load(tmp_path / "nowhere")


def test_other_artifacts_index_file_is_refused(tmp_path):
    tiny_artifact(tmp_path / "a")
    emb = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    write_artifact(tmp_path / "b", emb, np.arange(5), list("abcde"), [""] * 5, {}, n_trees=3, seed=2)
    (tmp_path / "a" / "index.ann").write_bytes((tmp_path / "b" / "index.ann").read_bytes())
    with pytest.raises(ArtifactError):
        ItemIndex.load(tmp_path / "a")


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
    with pytest.raises(ArtifactError, match="is not something recgraph wrote"):
        tiny_artifact(other)
    assert (other / "cat.jpg").read_bytes() == b"meow"
    # Replacing an artifact works and leaves no temporary directory behind.
    tiny_artifact(tmp_path / "a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "photos"]


def test_manifest_contents(trained_artifact):
    manifest = json.loads((trained_artifact.out_dir / "manifest.json").read_text())
    for key in ("format_version", "backend", "dim", "metric", "n_trees", "n_items", "graph", "params", "seed",
                "timings_s", "data", "recgraph_version", "created_at", "files"):
        assert key in manifest, key
    assert manifest["graph"] == {"nodes": 1405, "edges": 40043, "avg_degree": 57.0}
    assert manifest["metric"] == "angular" and manifest["backend"] == "gensim"
    assert set(manifest["timings_s"]) >= {"load", "graph", "walks", "train", "index", "total"}
    assert manifest["data"]["md5"] == "31a303aabbc519bd33d025e44d6c2570"
    assert manifest["files"]["index.ann"]["size"] == (trained_artifact.out_dir / "index.ann").stat().st_size
    assert manifest["params"]["walks"] == {"num_walks": 5, "walk_length": 10, "p": 2.0, "q": 1.5}


def test_star_wars_neighbours_with_default_gensim(trained_artifact):
    index = ItemIndex.load(trained_artifact.out_dir)
    top10 = [h["movie_id"] for h in index.similar(STAR_WARS, k=10)]
    assert 1196 in top10 and 1210 in top10  # Empire Strikes Back, Return of the Jedi
    hits = index.recommend([260, 1196], k=10)
    assert 260 not in [h["movie_id"] for h in hits] and len(hits) == 10
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_import_index_stays_light():
    code = ("import sys, recgraph.index; "
            "print(sorted(m for m in ('gensim','keras','jax','tensorflow','pandas','torch','numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ambiguous_titles(tmp_path):
    emb = np.eye(4, dtype=np.float32)
    write_artifact(tmp_path / "a", emb, np.array([1, 2, 3, 4]), ["Emma (1996)", "Emma (1996)", "Heat (1995)", "HEAT (1995)"],
                   [""] * 4, {}, n_trees=2, seed=0)
    index = ItemIndex.load(tmp_path / "a")
    with pytest.raises(UnknownItemError, match=r"2 movies are titled 'Emma \(1996\)' \(ids 1, 2\)"):
        index.similar("Emma (1996)")
    # An exact title wins over a case-insensitive twin; the lower-case form is ambiguous.
    assert index.row("Heat (1995)") == 2 and index.row("HEAT (1995)") == 3
    with pytest.raises(UnknownItemError) as info:
        index.row("heat (1995)")
    assert sorted(info.value.suggestions) == ["HEAT (1995)", "Heat (1995)"]


@pytest.mark.parametrize("payload, match", [
    ("[1]", "not a recgraph manifest"),
    ('{"format_version": 1, "files": []}', "not a recgraph manifest"),
    ('{"format_version": 1, "files": {}, "dim": "abc", "n_items": 5}', "dim and n_items must be positive integers"),
])
def test_malformed_manifest(tmp_path, payload, match):
    tiny_artifact(tmp_path / "a")
    (tmp_path / "a" / "manifest.json").write_text(payload)
    with pytest.raises(ArtifactError, match=match):
        ItemIndex.load(tmp_path / "a", verify=False)


def test_output_dir_guards(tmp_path):
    # A web app's manifest.json does not make a directory ours.
    web = tmp_path / "web"
    web.mkdir()
    (web / "manifest.json").write_text('{"name": "my pwa"}')
    (web / "index.html").write_text("<html>")
    with pytest.raises(ArtifactError, match="not something recgraph wrote"):
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
