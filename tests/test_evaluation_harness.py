"""Scoring on top of the index, the harness end to end and the evaluate command."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from recgraph.errors import ParameterError, UnknownItemError
from recgraph.scoring import Popularity, ScoringOptions


def test_recommend_scoring_override_and_fallback(tmp_path):
    from recgraph.artifact import write_artifact
    from recgraph.index import ItemIndex

    ids = np.arange(1, 9, dtype=np.int64)
    vectors = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    write_artifact(tmp_path / "a", vectors, ids, [f"t{m}" for m in ids], [""] * 8, {}, n_trees=5, seed=0,
                   likes=np.arange(8), popular=[(42, "t42", 100)], scoring={"popularity_weight": 0.1})
    index = ItemIndex.load(tmp_path / "a")
    assert index.scoring == ScoringOptions(popularity_weight=0.1)
    popular = {"popularity_weight": 0.1, "fallback": "popular"}
    # Only unknown movies watched: the most liked movies, popular.csv's 42 (no vector) first.
    assert [h.item_id for h in index.recommend([99], 2, scoring=popular)] == [42, 8]
    with pytest.raises(UnknownItemError):
        index.recommend([99], 2, scoring=ScoringOptions())
    hits = index.recommend([1, 99], 3, [2], scoring=popular)
    assert len(hits) == 3 and not {1, 2, 99} & {h.item_id for h in hits}


def test_scoring_options_are_checked():
    with pytest.raises(ParameterError):
        ScoringOptions(fallback="random")
    with pytest.raises(ParameterError):
        ScoringOptions(popularity_weight=-1)
    with pytest.raises(ParameterError, match="search_holdout must be one of auto, latest, random"):
        ScoringOptions(search_holdout="first")


@pytest.mark.parametrize("protocol, holdout", [("random", "random"), ("leave-last-out", "auto")])
def test_the_search_validates_as_the_protocol_tests(protocol, holdout, monkeypatch):
    # A random split's test items are a random share, so the fit-time search of a blend holds
    # out a random share too; leave-last-out keeps the preset's (the latest items by time).
    from recgraph import model as model_module
    from recgraph.config import resolve_config
    from recgraph.evaluation import harness
    from recgraph.evaluation.splitting import Split

    seen = []

    class Stop(Exception):
        pass

    class Capture:
        def __init__(self, config=None, show_progress=False):
            seen.append(config)

        def fit(self, log):
            raise Stop

    monkeypatch.setattr(model_module, "Recommender", Capture)
    split = Split(train=None, test=None, protocol=protocol)
    monkeypatch.setattr(Split, "train_ratings", lambda self, ratings: ratings)
    with pytest.raises(Stop):
        harness.train_and_evaluate(None, split, None, resolve_config("tuned", "gensim"))
    assert seen[0].scoring.search_holdout == holdout


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
    top, _ = rank_with_index(index, data, users, 10)
    history = data.positives(4.0)
    for n, row in enumerate(users.tolist()):
        watched = data.item_ids[history[row].indices].tolist()
        exclude = data.item_ids[data.train[row].indices].tolist()
        try:
            expected = [h.item_id for h in index.recommend(watched, 10, exclude)]
        except UnknownItemError:
            expected = []
        got = [m for m in data.item_ids[top[n][top[n] >= 0]].tolist()]
        assert got == expected


@pytest.mark.slow
def test_run_evaluation_report(ml_small):
    from recgraph.evaluation.harness import format_table, run_evaluation

    from recgraph.config import resolve_config
    from recgraph.evaluation.settings import EvaluationSettings

    report = run_evaluation(ml_small, resolve_config("seed", trainer={"epochs": 2}),
                            EvaluationSettings(baselines=("most-popular",)))
    json.dumps(report)  # JSON-ready
    assert report["split"]["eval_users"] == 609
    names = [r["name"] for r in report["rows"]]
    assert names == ["gensim/seed", "most-popular"]
    row = report["rows"][0]
    assert row["kind"] == "embedding" and row["config"]["trainer"]["gensim"]["epochs"] == 2
    assert row["config"]["graph"] == [{"min_rating": 5.0, "min_weight": 10.0, "min_item_users": 0}]  # limits off
    assert report["config"]["preset"] == "seed" and report["settings"]["protocol"] == "leave-last-out"
    for key in ("hr@10", "ndcg@10", "recall@10", "coverage@10", "hr@20", "ndcg@20", "recall@20", "coverage@20"):
        assert 0.0 <= row["metrics"][key] <= 1.0
    # One held-out item per user: HR equals recall.
    assert row["metrics"]["hr@10"] == row["metrics"]["recall@10"]
    assert "gensim/seed" in format_table(report)


def test_validation_depth_reaches_the_report_and_the_command(ml_small, ml_small_path, tmp_path, capsys):
    from recgraph.cli import main
    from recgraph.evaluation.harness import format_table, prepare, run_evaluation

    twice, _ = prepare(ml_small, "random", validation=2)
    from recgraph.evaluation.settings import EvaluationSettings

    settings = EvaluationSettings(protocol="random", baselines=("most-popular",), validation=2)
    report = run_evaluation(ml_small, None, settings, backends=())
    assert report["validation"] is True and report["validation_depth"] == 2
    assert report["split"]["test_ratings"] == len(twice.test)
    assert "random (validation, carved 2 times)" in format_table(report)
    once = run_evaluation(ml_small, None, settings.replace(validation=1), backends=())
    assert "validation_depth" not in once and once["split"]["test_ratings"] != len(twice.test)
    # The command passes the depth through.
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--data", str(ml_small_path), "--protocol", "random", "--backend", "",
                 "--baselines", "most-popular", "--validation-depth", "2", "--json", str(out), "--quiet"]) == 0
    (written,) = json.loads(out.read_text())["evaluations"]
    assert written["validation_depth"] == 2 and written["split"] == report["split"]
    # Below one carving is refused in one sentence, nothing written.
    bad = tmp_path / "bad.json"
    assert main(["evaluate", "--data", str(ml_small_path), "--validation-depth", "0", "--json", str(bad),
                 "--quiet"]) == 1
    assert capsys.readouterr().err.strip() == ("recgraph: error: --validation-depth must be a number of "
                                               "carvings >= 1; got 0.")
    assert not bad.exists()


@pytest.mark.slow
def test_evaluate_command_writes_json(ml_small_path, tmp_path, capsys):
    from recgraph.commands.evaluate import add_parser, run

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
    assert report["rows"][0]["config"]["scoring"]["popularity_weight"] == 0.1
    assert report["rows"][0]["users_without_recommendations"] == 0
    assert capsys.readouterr().out == f"wrote {out}\n"  # --quiet: only where the results went


# ---------------------------------------------------------------------- at scale
def test_max_users_sample_reaches_every_row_and_the_report(ml_small, ml_small_path, tmp_path, capsys):
    from recgraph.cli import main
    from recgraph.evaluation.harness import format_table, run_evaluation

    from recgraph.evaluation.settings import EvaluationSettings

    report = run_evaluation(ml_small, None, EvaluationSettings(baselines=("most-popular", "ease"), max_users=50,
                                                               split_seed=3, ease_max_gb=1e-3), backends=())
    assert report["max_users"] == 50
    assert report["split"]["eval_users"] == 50 and report["split"]["eval_users_total"] == 609
    popular, ease = report["rows"]
    assert popular["users"] == ease["users"] == 50
    assert ease["skipped"] == ("EASE skipped: 610 users need 0.1 GB for the user-user system; "
                               "limit 0.001 GB.")
    table = format_table(report)
    assert "leave-last-out: 50 of 609 users (sample, split seed 3)" in table
    assert table.endswith(ease["skipped"]) and "\nease " not in table
    # The command passes --max-users and --ease-max-gb through; a bad size is one sentence.
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--data", str(ml_small_path), "--backend", "", "--baselines", "most-popular",
                 "--max-users", "50", "--split-seed", "3", "--json", str(out), "--quiet"]) == 0
    (written,) = json.loads(out.read_text())["evaluations"]
    assert written["split"] == report["split"] and written["rows"][0]["metrics"] == popular["metrics"]
    assert main(["evaluate", "--data", str(ml_small_path), "--backend", "", "--max-users", "0", "--quiet"]) == 1
    assert capsys.readouterr().err.strip() == "recgraph: error: max_users must be an integer >= 1; got 0."
