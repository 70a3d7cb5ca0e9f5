"""Scoring on top of the index, the harness end to end, the evaluate command and the presets."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

from recgraph.errors import ParameterError, UnknownItemError
from recgraph.evaluation.scoring import IndexRecommender, Popularity, ScoringOptions


class StubIndex:
    """The part of ItemIndex that IndexRecommender uses, with fixed cosine results."""

    def __init__(self, results):
        self.results = results
        self.titles = [f"t{m}" for m in range(10)]
        self.movie_ids = np.arange(10)
        self.calls = []

    def __len__(self):
        return 10

    def __contains__(self, movie):
        return 0 <= movie < 10

    def row(self, movie):
        return movie

    def recommend(self, watched, k=10, exclude=(), on_unknown="raise"):
        self.calls.append((list(watched), k, list(exclude), on_unknown))
        if not [m for m in watched if m in self]:
            raise UnknownItemError("none known")
        skip = set(watched) | set(exclude)
        return [dict(r) for r in self.results if r["movie_id"] not in skip][:k]


RESULTS = [{"movie_id": 1, "title": "t1", "score": 0.9}, {"movie_id": 2, "title": "t2", "score": 0.8},
           {"movie_id": 3, "title": "t3", "score": 0.7}]
POP = Popularity(np.array([1, 2, 3, 4, 5, 42]), np.array([0.0, 10.0, 100.0, 5.0, 50.0, 1000.0]))


def test_plain_options_are_index_recommend():
    index = StubIndex(RESULTS)
    hits = IndexRecommender(index).recommend([7], k=2, exclude=[9])
    assert hits == RESULTS[:2]
    assert index.calls == [([7], 2, [9], "ignore")]


def test_popularity_prior_rescores_exactly():
    index = StubIndex(RESULTS)
    rec = IndexRecommender(index, ScoringOptions(popularity_weight=0.1, candidates=50), POP)
    hits = rec.recommend([7], k=3)
    expected = {1: 0.9 + 0.1 * math.log1p(0), 2: 0.8 + 0.1 * math.log1p(10), 3: 0.7 + 0.1 * math.log1p(100)}
    assert [h["movie_id"] for h in hits] == [3, 2, 1]
    assert {h["movie_id"]: h["score"] for h in hits} == pytest.approx(expected, abs=1e-6)
    assert index.calls[0][1] == 10  # the candidate pool, capped at the index size


def test_fallback_pads_with_popular_unseen_movies():
    index = StubIndex(RESULTS)
    rec = IndexRecommender(index, ScoringOptions(fallback="popular"), POP)
    # Nobody in the graph: the most popular movies not watched or excluded.
    assert [h["movie_id"] for h in rec.recommend([42], k=3, exclude=[3])] == [5, 2, 4]
    # A short list is topped up without repeating.
    padded = rec.recommend([7], k=5, exclude=[2, 3])
    assert [h["movie_id"] for h in padded] == [1, 42, 5, 4]
    assert padded[1]["title"] == "movie 42"  # not in the index, so it has no title there


def test_scoring_options_are_checked():
    with pytest.raises(ParameterError):
        ScoringOptions(fallback="random")
    with pytest.raises(ParameterError):
        ScoringOptions(popularity_weight=-1)
    with pytest.raises(ParameterError):
        IndexRecommender(StubIndex(RESULTS), ScoringOptions(popularity_weight=0.1))


def test_popularity_from_ratings_counts_users_once():
    pop = Popularity.from_ratings([1, 1, 2, 3, 3], [10, 10, 10, 20, 30], [5.0, 4.0, 4.0, 3.0, 4.5])
    assert pop.count([10, 20, 30, 99]).tolist() == [2.0, 0.0, 1.0, 0.0]
    assert pop.ranked.tolist() == [10, 30]


# ---------------------------------------------------------------------- on ml-latest-small
@pytest.mark.slow
def test_index_path_is_what_users_call(trained_artifact, ml_small):
    from recgraph.evaluation.harness import prepare, rank_with_index
    from recgraph.index import ItemIndex

    _, data = prepare(ml_small, "leave-last-out")
    index = ItemIndex.load(trained_artifact.out_dir)
    users = data.eval_users[:25]
    top, _ = rank_with_index(IndexRecommender(index), data, users, 10)
    history = data.positives(4.0)
    for n, row in enumerate(users.tolist()):
        watched = data.item_ids[history[row].indices].tolist()
        exclude = data.item_ids[data.train[row].indices].tolist()
        try:
            expected = [h["movie_id"] for h in index.recommend(watched, 10, exclude, on_unknown="ignore")]
        except UnknownItemError:
            expected = []
        got = [m for m in data.item_ids[top[n][top[n] >= 0]].tolist()]
        assert got == expected


@pytest.mark.slow
def test_run_evaluation_report(ml_small):
    from recgraph.evaluation.harness import format_table, run_evaluation

    report = run_evaluation(ml_small, "leave-last-out", preset="seed", baselines=("most-popular",),
                            trainer_overrides={"epochs": 2})
    json.dumps(report)  # JSON-ready
    assert report["split"]["eval_users"] == 609
    names = [r["name"] for r in report["rows"]]
    assert names == ["gensim/seed", "most-popular"]
    row = report["rows"][0]
    assert row["kind"] == "embedding" and row["params"]["trainer"]["epochs"] == 2
    assert row["params"]["graph"] == {"min_rating": 5.0, "min_weight": 10.0}
    for key in ("hr@10", "ndcg@10", "recall@10", "coverage@10", "hr@20", "ndcg@20", "recall@20", "coverage@20"):
        assert 0.0 <= row["metrics"][key] <= 1.0
    # One held-out item per user: HR equals recall.
    assert row["metrics"]["hr@10"] == row["metrics"]["recall@10"]
    assert "gensim/seed" in format_table(report)


@pytest.mark.slow
def test_evaluate_command_writes_json(ml_small_path, tmp_path, capsys):
    from recgraph.evaluation.command import add_parser, run

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "eval.json"
    args = parser.parse_args(["evaluate", "--data", str(ml_small_path), "--protocol", "random", "--preset", "seed",
                              "--epochs", "2", "--baselines", "most-popular", "--popularity-weight", "0.1",
                              "--fallback", "popular", "--json", str(out), "--quiet"])
    assert run(args) == 0
    payload = json.loads(out.read_text())
    (report,) = payload["evaluations"]
    assert report["protocol"] == "random"
    assert report["rows"][0]["params"]["scoring"]["popularity_weight"] == 0.1
    assert report["rows"][0]["users_without_recommendations"] == 0
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------------- presets
def test_presets_resolve_per_backend():
    from recgraph.presets import available_presets, preset_params

    assert {"seed", "tuned"} <= set(available_presets())
    gensim = preset_params("tuned", "gensim")
    keras = preset_params("tuned", "keras", {"epochs": 3})
    assert gensim.graph == keras.graph and gensim.walks == keras.walks
    assert "vectors" in gensim.trainer and "vectors" not in keras.trainer
    assert keras.trainer["epochs"] == 3
    ScoringOptions(**gensim.scoring)
    seed = preset_params("seed", "gensim")
    assert seed.walks == {"num_walks": 5, "walk_length": 10, "p": 2.0, "q": 1.5}
    with pytest.raises(ParameterError, match="tuned"):
        preset_params("best")


def test_preset_trainer_params_are_accepted_by_the_backends():
    from recgraph.presets import preset_params
    from recgraph.trainers import get_trainer

    for name in ("seed", "tuned"):
        get_trainer("gensim", **preset_params(name, "gensim").trainer)


@pytest.mark.slow
def test_seed_preset_reproduces_the_example_graph(ml_small):
    from recgraph.graph import build_item_graph
    from recgraph.presets import preset_params

    graph = build_item_graph(ml_small, **preset_params("seed").graph)
    assert graph.stats() == {"nodes": 1405, "edges": 40043, "avg_degree": 57.0}
