"""Scoring in the artifact and in ItemIndex.recommend: likes, popular.csv, manifest scoring."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from recgraph.artifact import write_artifact
from recgraph.errors import ArtifactError, ParameterError, UnknownItemError
from recgraph.index import ItemIndex
from recgraph.scoring import Popularity, ScoringOptions

# Movie 1 is the query; the others lie at known angles from it.
IDS = np.array([1, 2, 3, 4, 5], dtype=np.int64)
VECTORS = np.array([[1, 0], [1, 0.1], [1, 0.5], [1, 1], [0, 1]], dtype=np.float32)
TITLES = ["One (1990)", "Two (1991)", "Three (1992)", "Four (1993)", "Five (1994)"]
LIKES = np.array([50, 0, 10, 100, 1000])
# item_id, title, likes; 42 and 7 are not in the graph. Unsorted on purpose.
POPULAR = [(7, "Seven (2000)", 10), (1, "One (1990)", 50), (42, "Forty-Two (1999)", 2000), (5, "Five (1994)", 1000),
           (4, "Four (1993)", 100), (3, "Three (1992)", 10), (2, "Two (1991)", 0)]
COS = {2: 1 / math.sqrt(1.01), 3: 1 / math.sqrt(1.25), 4: 1 / math.sqrt(2), 5: 0.0}


def make(path, likes=LIKES, popular=POPULAR, scoring=None):
    write_artifact(path, VECTORS, IDS, TITLES, ["Drama"] * 5, {"backend": "test"}, n_trees=10, seed=1,
                   likes=likes, popular=popular, scoring=scoring)
    return ItemIndex.load(path)


def ids(hits):
    return [h.item_id for h in hits]


def test_artifact_records_likes_popular_and_scoring(tmp_path):
    index = make(tmp_path / "a", scoring={"popularity_weight": 0.1, "fallback": "popular"})
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["config"]["scoring"] == {"history_min_rating": 4.0, "popularity_weight": 0.1, "candidates": 200,
                                             "fallback": "popular", "recent_weight": 0.0, "recent_count": 5,
                                             "method": "cosine", "blend_weights": [2.0, 0.0, 0.5, 1.0, 0.0, 0.0],
                                             "blend_lam": 10.0, "blend_edge_power": 1.0, "search": False,
                                             "search_holdout": "auto"}
    assert set(manifest["files"]) == {"index.ann", "embeddings.npy", "items.csv", "popular.csv"}
    with open(tmp_path / "a" / "items.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["index", "item_id", "title", "genres", "likes"]
    assert [int(r[4]) for r in rows[1:]] == LIKES.tolist()
    # Most liked first, ties by movie id, movies without likes left out.
    assert index.popular == [(42, "Forty-Two (1999)", 2000), (5, "Five (1994)", 1000), (4, "Four (1993)", 100),
                             (1, "One (1990)", 50), (3, "Three (1992)", 10), (7, "Seven (2000)", 10)]
    assert index.likes.tolist() == LIKES.tolist()
    assert index.scoring == ScoringOptions(popularity_weight=0.1, fallback="popular")


def test_default_scoring_is_plain_cosine(tmp_path):
    index = make(tmp_path / "a")
    assert json.loads((tmp_path / "a" / "manifest.json").read_text())["config"]["scoring"] == ScoringOptions().to_dict()
    hits = index.recommend([1], k=4)
    assert ids(hits) == [2, 3, 4, 5]
    assert {h.item_id: h.score for h in hits} == pytest.approx(COS, abs=1e-6)
    assert hits == index.recommend([1], k=4, scoring={"popularity_weight": 0.0})
    assert hits == make(tmp_path / "b", likes=None, popular=None).recommend([1], k=4)
    with pytest.raises(UnknownItemError):
        index.recommend([99], k=3)


def test_popularity_prior_reorders_as_computed_by_hand(tmp_path):
    index = make(tmp_path / "a", scoring={"popularity_weight": 0.1})
    expected = {m: COS[m] + 0.1 * math.log1p(LIKES[m - 1]) for m in (2, 3, 4)}
    expected[42] = 0.1 * math.log1p(2000)  # popular.csv's 42 has no vector: the prior alone
    # 2: 0.995037, 3: 0.894427 + 0.239790, 4: 0.707107 + 0.461512, 42: 0.760140 (5: 0 + 0.690875)
    hits = index.recommend([1], k=4)
    assert ids(hits) == [4, 3, 2, 42]
    assert {h.item_id: h.score for h in hits} == pytest.approx(expected, abs=1e-6)
    assert hits[0].title == "Four (1993)"
    # k=2 re-ranks the whole candidate pool, not the two nearest only.
    assert ids(index.recommend([1], k=2)) == [4, 3]
    # An override per call; similar() stays plain cosine.
    assert ids(index.recommend([1], k=4, scoring={})) == [2, 3, 4, 5]
    assert ids(index.similar(1, k=4)) == [2, 3, 4, 5]


def test_fallback_returns_most_liked_unwatched_movies(tmp_path):
    index = make(tmp_path / "a", scoring={"popularity_weight": 0.1, "fallback": "popular"})
    hits = index.recommend([99], k=3, exclude=[5])
    assert ids(hits) == [42, 4, 1]
    assert hits[0].to_dict() == {"item_id": 42, "title": "Forty-Two (1999)", "score": round(0.1 * math.log1p(2000), 6)}
    assert hits.unknown == (99,) and hits.query == ()
    assert ids(index.recommend([], k=2)) == [42, 5]
    # An unknown id is reported by default; strict makes it an error, fallback or not.
    assert index.recommend([99], k=3) == hits_without_exclude(index)
    with pytest.raises(UnknownItemError, match="Item id 99 is not in the index"):
        index.recommend([99], k=3, strict=True)
    # Every movie is scored, popular.csv's without a vector by the prior alone: 4 (1.168619),
    # 42 (0.760140), 5 (0.690875), 7 (0.239790); never one watched or excluded.
    assert ids(index.recommend([1], k=5, exclude=[2, 3])) == [4, 42, 5, 7]


def hits_without_exclude(index):
    return index.recommend([99], k=3)


def test_fallback_without_popular_csv_uses_the_items_likes(tmp_path):
    index = make(tmp_path / "a", popular=None, scoring={"fallback": "popular"})
    assert not (tmp_path / "a" / "popular.csv").exists()
    assert ids(index.recommend([99], k=3)) == [5, 4, 1]


def test_old_artifacts_still_load(tmp_path):
    make(tmp_path / "a", likes=None, popular=None)
    manifest_path = tmp_path / "a" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 1
    del manifest["config"]  # as written before scoring was recorded
    manifest_path.write_text(json.dumps(manifest))
    index = ItemIndex.load(tmp_path / "a")
    assert index.likes is None and index.popular == [] and index.scoring == ScoringOptions()
    assert ids(index.recommend([1], k=4)) == [2, 3, 4, 5]
    with pytest.raises(ParameterError, match="no likes"):
        index.recommend([1], k=4, scoring={"popularity_weight": 0.1})
    with pytest.raises(ParameterError, match="likes"):
        make(tmp_path / "b", likes=None, scoring={"fallback": "popular"})


def test_popular_csv_is_verified_and_scoring_checked(tmp_path):
    make(tmp_path / "a")
    with open(tmp_path / "a" / "popular.csv", "a") as fh:
        fh.write("8,Eight,1\n")
    with pytest.raises(ArtifactError, match="popular.csv"):
        ItemIndex.load(tmp_path / "a")
    index = ItemIndex.load(tmp_path / "a", verify=False)
    with pytest.raises(ParameterError):
        index.recommend([1], scoring={"fallback": "random"})
    with pytest.raises(ParameterError, match="Unknown scoring"):
        index.recommend([1], scoring={"weight": 1})


def test_popularity_top_keeps_liked_movies():
    pop = Popularity(np.array([3, 1, 2, 9]), np.array([5.0, 5.0, 0.0, 7.0]))
    movies, counts = pop.top(3)
    assert movies.tolist() == [9, 1, 3] and counts.tolist() == [7.0, 5.0, 5.0]


@pytest.mark.slow
def test_trained_artifact_has_likes_from_its_ratings(trained_artifact, ml_small):
    index = ItemIndex.load(trained_artifact.out_dir)
    frame = ml_small.ratings
    liked = frame[frame["rating"] >= 4.0].groupby("movieId")["userId"].nunique()
    assert index.likes.tolist() == liked.reindex(index.item_ids).fillna(0).astype(int).tolist()
    top = liked.reset_index().sort_values(["userId", "movieId"], ascending=[False, True]).head(1000)
    assert [p[0] for p in index.popular] == top["movieId"].tolist()
    assert index.scoring == ScoringOptions()


def angle(deg):
    return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]


def test_recent_movies_pull_the_query(tmp_path):
    """History at 0 and 90 degrees, candidates at 30 and 55: the mean (45) prefers 55; with
    recent_weight the last watched movie tilts the query toward itself, so order matters."""
    vectors = np.array([angle(0), angle(90), angle(30), angle(55)], dtype=np.float32)
    write_artifact(tmp_path / "r", vectors, np.array([1, 2, 3, 4]), ["A (1)", "B (2)", "C (3)", "D (4)"], [""] * 4,
                   {"backend": "test"}, n_trees=10, seed=1)
    index = ItemIndex.load(tmp_path / "r")
    assert ids(index.recommend([1, 2], k=2)) == ids(index.recommend([2, 1], k=2)) == [4, 3]
    recency = {"recent_weight": 0.5, "recent_count": 1}
    latest_first = index.recommend([2, 1], k=2, scoring=recency)  # 1 (0 degrees) is the latest
    assert ids(latest_first) == [3, 4]
    query = np.array(angle(45)) + 0.5 * np.array(angle(0))
    expected = np.array([angle(30), angle(55)]) @ (query / np.linalg.norm(query))
    assert [h.score for h in latest_first] == pytest.approx(expected.tolist(), abs=1e-6)
    assert ids(index.recommend([1, 2], k=2, scoring=recency)) == [4, 3]
    # recent_count >= the history: the recent direction is the mean itself, the order is moot.
    wide = {"recent_weight": 0.5, "recent_count": 5}
    assert ids(index.recommend([2, 1], k=2, scoring=wide)) == ids(index.recommend([1, 2], k=2, scoring=wide)) == [4, 3]


@pytest.mark.parametrize("bad, message", [
    ({"recent_weight": -0.1}, "recent_weight must be"),
    ({"recent_count": 0}, "recent_count must be an integer >= 1; got 0."),
])
def test_recency_options_are_checked(bad, message):
    with pytest.raises(ParameterError, match=message):
        ScoringOptions(**bad)
