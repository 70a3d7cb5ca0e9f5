"""Queries (recgraph.index): result types and their envelope, unknown items, names for people."""

import json
import subprocess
import sys

import numpy as np
import pytest

from recgraph.artifact import write_artifact
from recgraph.errors import ParameterError, UnknownItemError
from recgraph.index import Hit, Item, ItemIndex, Recommendations, Similar

STAR_WARS = "Star Wars: Episode IV - A New Hope (1977)"
GRAPH_PARAMS = {"graph": [{"min_rating": 5.0, "min_weight": 10.0, "min_item_users": 0}]}


def tiny_artifact(path, manifest=None, **kwargs):
    # Three clear directions: 11 and 12 point the same way, 13 orthogonal, 14 opposite to 11.
    embeddings = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [-1, 0, 0], [0, 0.2, 1]], dtype=np.float32)
    return write_artifact(path, embeddings, np.array([11, 12, 13, 14, 15]),
                          ["Alpha (2000)", "Alpha Two (2001)", "Beta (1999)", "Gamma (1990)", "beta (2005)"],
                          ["A", "A", "B", "C", "B"], {"backend": "test", **(manifest or {})}, n_trees=5, seed=1,
                          **kwargs)


@pytest.fixture
def index(tmp_path):
    catalogue = [(11, "Alpha (2000)"), (12, "Alpha Two (2001)"), (13, "Beta (1999)"), (14, "Gamma (1990)"),
                 (15, "beta (2005)"), (50, "Raise the Titanic (1980)"), (51, "Obscure, The (1961)")]
    tiny_artifact(tmp_path / "a", {"config": GRAPH_PARAMS}, catalogue=catalogue)
    return ItemIndex.load(tmp_path / "a")


def test_similar_is_one_result_type(index):
    answer = index.similar(11, k=2)
    assert isinstance(answer, Similar) and answer.item == Item(11, "Alpha (2000)")
    # 12 points the same way; 13 and 15 are both orthogonal to 11 (cosine 0, a tie).
    assert answer.hits[0] == Hit(12, "Alpha Two (2001)", pytest.approx(0.9 / np.hypot(0.9, 0.1), abs=1e-5))
    assert answer.hits[1].item_id in (13, 15) and answer.hits[1].score == pytest.approx(0.0, abs=1e-6)
    assert [h.item_id for h in answer] == [h.item_id for h in answer.hits] and len(answer) == 2
    assert answer[0].to_dict() == {"item_id": 12, "title": "Alpha Two (2001)", "score": answer[0].score}
    with pytest.raises(TypeError):  # a Hit is read by attribute, not as a mapping
        answer[0]["item_id"]
    assert all(h.item_id != 11 for h in index.similar(11, k=4))
    assert index.similar("alpha (2000)", k=1)[0].item_id == 12
    assert index.similar(11, k=4)[-1].item_id == 14  # the opposite vector ranks last


def test_envelope_is_the_same_for_similar_and_recommend(index):
    similar = index.similar(11, k=2).to_dict()
    recommend = index.recommend([11, 99, "Nope (1900)"], k=2, exclude=[98]).to_dict()
    assert list(similar) == list(recommend) == ["kind", "query", "unknown", "results"]
    assert similar["kind"] == "similar" and recommend["kind"] == "recommend"
    assert similar["query"] == recommend["query"] == [{"item_id": 11, "title": "Alpha (2000)"}]
    assert similar["unknown"] == [] and recommend["unknown"] == [99, "Nope (1900)", 98]
    assert similar["results"] == recommend["results"]  # one watched item: its neighbours
    assert json.loads(json.dumps(recommend)) == recommend


def test_recommend_excludes_watched_and_excluded(index):
    answer = index.recommend([11, 13], k=3, exclude=[12])
    assert isinstance(answer, Recommendations)
    ids = [h.item_id for h in answer]
    assert not {11, 13, 12} & set(ids)
    assert ids[0] == 15  # between Alpha and Beta's directions, 15 leans to Beta
    assert [m.item_id for m in answer.query] == [11, 13] and answer.unknown == ()
    assert len(index.recommend([11], k=10)) == 4  # everything but the query


def test_unknown_watched_items_are_reported_unless_strict(index):
    answer = index.recommend([11, 99, 50], k=2, exclude=["Alpah Two"])
    assert answer.unknown == (99, 50, "Alpah Two") and [m.item_id for m in answer.query] == [11]
    assert answer.hits == index.recommend([11], k=2).hits
    with pytest.raises(UnknownItemError, match="Item id 99 is not in the index"):
        index.recommend([11, 99], k=2, strict=True)
    with pytest.raises(UnknownItemError, match="No item titled 'Alpah Two'"):
        index.recommend([11], k=2, exclude=["Alpah Two"], strict=True)
    with pytest.raises(TypeError):  # the older on_unknown="raise"/"ignore" is gone: strict says it
        index.recommend([11, 99], k=2, on_unknown="raise")
    # Nothing known and no fallback: nothing to recommend from, whatever the mode.
    with pytest.raises(UnknownItemError, match="None of the 2 watched items is in the index"):
        index.recommend([98, 99])
    with pytest.raises(UnknownItemError, match="nothing to recommend from: Item id 99 is not"):
        index.recommend([99])
    rows, unknown = index.resolve([11, 99])
    assert unknown == [99] and rows == [0]
    with pytest.raises(ParameterError, match="as a list"):
        index.recommend(11)


def test_a_catalogue_item_outside_the_graph_is_told_as_such(index):
    for movie in (50, "Raise the Titanic (1980)", "raise the titanic (1980)"):
        with pytest.raises(UnknownItemError) as info:
            index.similar(movie)
        message = str(info.value)
        assert "'Raise the Titanic (1980)'" in message and "is in the item catalogue but not in the graph" in message
        assert "ratings >= 5" in message and "weight >= 10" in message and "--min-weight" in message
        assert "did you mean" not in message
    with pytest.raises(UnknownItemError, match=r"^Item id 99 is not in the index \(5 items\) nor in the item catalogue.$"):
        index.similar(99)
    with pytest.raises(UnknownItemError, match="No item titled 'Raise the Titanik'"):
        index.similar("Raise the Titanik")
    assert index.explain(11) == ""
    assert index.explain(51).startswith("Item id 51 ('Obscure, The (1961)') is in the item catalogue but not in the graph")


def test_left_out_reason_uses_the_recorded_parameters(tmp_path):
    params = {"graph": [{"min_rating": 4.5, "min_weight": 20.0, "min_item_users": 3}]}
    tiny_artifact(tmp_path / "a", {"config": params, "data": {"implicit": False}}, catalogue=[(50, "Left (1980)")])
    message = ItemIndex.load(tmp_path / "a").explain(50)
    assert "ratings >= 4.5" in message and "weight >= 20" in message and "fewer than 3 users liked it" in message
    tiny_artifact(tmp_path / "b", {"config": params, "data": {"implicit": True}}, catalogue=[(50, "Left (1980)")])
    assert "too few users in common" in ItemIndex.load(tmp_path / "b").explain(50)
    tiny_artifact(tmp_path / "c", catalogue=[(50, "Left (1980)")])  # no parameters recorded
    assert "the graph's thresholds left it out" in ItemIndex.load(tmp_path / "c").explain(50)


def test_typos_find_the_title(tmp_path):
    titles = [STAR_WARS, "Star Wars: Episode V - The Empire Strikes Back (1980)", "Star Trek: Generations (1994)",
              "Tremors (1990)", "Starship Troopers (1997)", "Matrix, The (1999)", "M (1931)", "Toy Story (1995)",
              "Toy Story 2 (1999)", "Godfather, The (1972)"]
    vectors = np.random.default_rng(0).normal(size=(len(titles), 4)).astype(np.float32)
    write_artifact(tmp_path / "t", vectors, np.arange(1, len(titles) + 1), titles, [""] * len(titles), {},
                   n_trees=3, seed=0, likes=np.arange(len(titles)) * 10)
    index = ItemIndex.load(tmp_path / "t")
    with pytest.raises(UnknownItemError) as info:
        index.similar("Star Wors")
    assert info.value.suggestions[:2] == [titles[1], STAR_WARS]  # ties: the more liked first
    assert str(info.value).startswith("No item titled 'Star Wors' is in the index; did you mean 'Star Wars:")
    assert index.suggest("the matrx", n=1) == ["Matrix, The (1999)"]
    assert index.suggest("Godfater", n=1) == ["Godfather, The (1972)"]
    assert index.suggest("Toy Stori (1995)", n=1) == ["Toy Story (1995)"]
    assert index.suggest("zzzzqqqq") == []


def test_an_artifact_without_titles_says_so(tmp_path):
    write_artifact(tmp_path / "a", np.eye(3, dtype=np.float32), np.array([7, 8, 9]), ["item 7", "item 8", "item 9"],
                   [""] * 3, {"data": {"has_titles": False}}, n_trees=2, seed=0)
    index = ItemIndex.load(tmp_path / "a")
    assert not index.has_titles and index.similar(7, k=1)[0].item_id in (8, 9)
    with pytest.raises(UnknownItemError, match="trained on a log without titles.*pass an item id"):
        index.similar("Toy Story (1995)")
    assert index.search("toy") == []


def test_search_titles(index):
    assert [h.item_id for h in index.search("alpha")] == [11, 12]
    assert index.search("bta", k=2)[0].title.lower().startswith("beta")
    assert all(h.score == 1.0 for h in index.search("alpha")) and index.search("bta")[0].score < 1.0


def test_k_is_checked(index):
    for k in (0, -1, 1.5, True, 100_001):
        with pytest.raises(ParameterError, match="k must be an integer"):
            index.similar(11, k=k)


def test_ambiguous_titles(tmp_path):
    emb = np.eye(4, dtype=np.float32)
    write_artifact(tmp_path / "a", emb, np.array([1, 2, 3, 4]), ["Emma (1996)", "Emma (1996)", "Heat (1995)", "HEAT (1995)"],
                   [""] * 4, {}, n_trees=2, seed=0)
    index = ItemIndex.load(tmp_path / "a")
    with pytest.raises(UnknownItemError, match=r"2 items are titled 'Emma \(1996\)' \(ids 1, 2\)"):
        index.similar("Emma (1996)")
    # An exact title wins over a case-insensitive twin; the lower-case form is ambiguous.
    assert index.row("Heat (1995)") == 2 and index.row("HEAT (1995)") == 3
    with pytest.raises(UnknownItemError) as info:
        index.row("heat (1995)")
    assert sorted(info.value.suggestions) == ["HEAT (1995)", "Heat (1995)"]


def test_import_index_stays_light():
    code = ("import sys, recgraph.index; "
            "print(sorted(m for m in ('gensim','keras','jax','tensorflow','pandas','pyspark','torch','numba') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_manifest_contents(trained_artifact):
    manifest = json.loads((trained_artifact.out_dir / "manifest.json").read_text())
    for key in ("format_version", "config", "dim", "metric", "n_items", "graph", "timings_s", "data",
                "recgraph_version", "created_at", "files"):
        assert key in manifest, key
    assert manifest["graph"] == {"nodes": 1405, "edges": 40043, "avg_degree": 57.0}
    assert manifest["metric"] == "angular" and manifest["config"]["trainer"]["backend"] == "gensim"
    assert set(manifest["timings_s"]) >= {"load", "graph", "walks", "train", "index", "total"}
    assert manifest["data"]["md5"] == "31a303aabbc519bd33d025e44d6c2570"
    assert manifest["files"]["index.ann"]["size"] == (trained_artifact.out_dir / "index.ann").stat().st_size
    assert manifest["config"]["walks"] == {"num_walks": 5, "walk_length": 10, "p": 2.0, "q": 1.5}
    assert manifest["config"]["seed"] == 7 and manifest["config"]["index"] == {"n_trees": 50}


@pytest.mark.slow
def test_star_wars_neighbours_with_default_gensim(trained_artifact):
    index = ItemIndex.load(trained_artifact.out_dir)
    top10 = [h.item_id for h in index.similar(STAR_WARS, k=10)]
    assert 1196 in top10 and 1210 in top10  # Empire Strikes Back, Return of the Jedi
    hits = index.recommend([260, 1196], k=10)
    assert 260 not in [h.item_id for h in hits] and len(hits) == 10
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.slow
def test_trained_artifact_names_movies_for_people(trained_artifact, ml_small):
    index = ItemIndex.load(trained_artifact.out_dir)
    assert len(index.catalogue) == len(ml_small.movies) == 9742
    message = index.explain("Raise the Titanic (1980)")
    assert "is in the item catalogue but not in the graph: too few ratings >= 5" in message and "--min-weight" in message
    assert "Star Wars" in index.suggest("Star Wors", n=1)[0]
    answer = index.recommend([260, "Raise the Titanic (1980)", 999_999_999], k=5)
    assert len(answer) == 5 and answer.unknown == ("Raise the Titanic (1980)", 999_999_999)
