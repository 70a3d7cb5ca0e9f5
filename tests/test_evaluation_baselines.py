"""Baselines: exact agreement with their textbook formulas, and the documented numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recgraph.errors import ParameterError
from recgraph.evaluation.baselines import EASE, ItemKNN, MostPopular, make_baseline
from recgraph.evaluation.harness import baseline_params, evaluate_baseline
from recgraph.evaluation.interactions import Interactions
from recgraph.evaluation.splitting import Split, leave_last_out, random_split


def random_data(n_users=40, n_items=25, density=0.3, seed=0) -> Interactions:
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(mask)
    ratings = rng.choice([1.0, 3.0, 4.0, 5.0], size=len(users))
    df = pd.DataFrame({"userId": users + 1, "movieId": items + 100, "rating": ratings,
                       "timestamp": rng.integers(0, 1000, len(users))})
    return Interactions.from_split(Split(train=df, test=df.iloc[:0], protocol="none", params={"threshold": 4.0}))


def test_most_popular_counts_positives():
    data = random_data()
    x = (data.train.toarray() >= 4.0).astype(float)
    model = MostPopular(min_rating=4.0).fit_interactions(data)
    assert np.array_equal(model.scores(data.positives(4.0)[:3]), np.tile(x.sum(axis=0), (3, 1)))


def test_item_knn_equals_explicit_cosine():
    data = random_data()
    x = (data.train.toarray() >= 4.0).astype(float)
    norms = np.sqrt(x.sum(axis=0))
    cos = (x.T @ x) / np.outer(np.where(norms > 0, norms, 1), np.where(norms > 0, norms, 1))
    expected = x @ cos
    got = ItemKNN(min_rating=4.0).fit_interactions(data).scores(data.positives(4.0))
    assert np.allclose(got, expected, atol=1e-10)


def test_ease_equals_the_closed_form():
    data = random_data()
    x = (data.train.toarray() >= 4.0).astype(float)
    lam = 7.0
    p = np.linalg.inv(x.T @ x + lam * np.eye(x.shape[1]))
    b = np.eye(x.shape[1]) - p / np.diag(p)[None, :]
    assert np.allclose(np.diag(b), 0.0)
    got = EASE(lam=lam, min_rating=4.0).fit_interactions(data).scores(data.positives(4.0))
    assert np.allclose(got, x @ b, atol=1e-8)


def test_every_rating_counts_without_min_rating():
    data = random_data()
    x = (data.train.toarray() > 0).astype(float)
    assert np.array_equal(MostPopular().fit_interactions(data).scores(data.positives()[:1])[0], x.sum(axis=0))


def test_unknown_baseline():
    with pytest.raises(ParameterError, match="item-knn"):
        make_baseline("svd")


def test_ease_rejects_a_bad_lambda():
    with pytest.raises(ParameterError):
        EASE(lam=0).fit_interactions(random_data())


@pytest.mark.slow
def test_baseline_numbers_on_ml_small(ml_small):
    """The protocol's fixed points: deterministic, so exact to the 4th decimal (docs/tuning.md)."""
    data = Interactions.from_split(leave_last_out(ml_small))
    hr = {name: evaluate_baseline(data, name, **baseline_params(name, 4.0))["metrics"]["hr@10"]
          for name in ("most-popular", "item-knn", "ease")}
    assert hr == pytest.approx({"most-popular": 0.0427, "item-knn": 0.0854, "ease": 0.0936}, abs=5e-5)
    random = Interactions.from_split(random_split(ml_small, seed=0))
    ndcg = {name: evaluate_baseline(random, name, **baseline_params(name, 4.0))["metrics"]["ndcg@10"]
            for name in ("most-popular", "item-knn", "ease")}
    assert ndcg["most-popular"] < ndcg["item-knn"] < ndcg["ease"]


def test_ease_item_solver_equals_the_user_solver():
    data = random_data(n_users=30, n_items=45)
    # Histories other than the training rows too: the user solver scores any history.
    histories = data.positives(4.0)[::-1].tocsr()
    by_users = EASE(lam=5.0, min_rating=4.0, solver="users").fit_interactions(data)
    by_items = EASE(lam=5.0, min_rating=4.0, solver="items").fit_interactions(data)
    assert by_users.solver_ == "users" and by_items.solver_ == "items"
    assert np.allclose(by_users.scores(histories), by_items.scores(histories), atol=1e-9)
    # auto takes the one that needs less memory: the 45 x 45 item matrix here, the 10 x 10
    # user system with fewer users.
    assert EASE(lam=5.0, min_rating=4.0).fit_interactions(data).solver_ == "items"
    assert EASE(lam=5.0, min_rating=4.0).fit_interactions(random_data(n_users=10, n_items=45)).solver_ == "users"


def test_ease_is_skipped_in_one_sentence_when_it_cannot_fit():
    from recgraph.evaluation.baselines import BaselineTooLarge

    class Shape:  # the shape of ML-25M's positives: plan() reads only the sizes
        shape = (162_541, 59_047)

    with pytest.raises(BaselineTooLarge) as info:
        EASE(max_gb=4).plan(Shape())
    assert str(info.value) == ("EASE skipped: 59,047 items need 27.9 GB for the item-item matrix; "
                               "limit 4 GB.")
    assert EASE(max_gb=30).plan(Shape()) == "items"
    data = random_data()
    row = evaluate_baseline(data, "ease", **{**baseline_params("ease", 4.0), "max_gb": 1e-6})
    assert row["skipped"] == "EASE skipped: 25 items need 0.0 GB for the item-item matrix; limit 1e-06 GB."
    assert row["metrics"] == {}
    with pytest.raises(ParameterError):
        EASE(solver="dense").plan(data.positives())


def test_baselines_ranked_in_blocks_give_the_same_lists(monkeypatch):
    from recgraph import scoring
    from recgraph.evaluation import harness

    data = random_data(n_users=60, n_items=30)
    data = Interactions(data.user_ids, data.item_ids, data.train, data.train.astype(bool), np.arange(60),
                        data.threshold, data.train_order)
    whole = {name: evaluate_baseline(data, name, **baseline_params(name, 4.0)) for name in ("most-popular", "item-knn", "ease")}
    monkeypatch.setattr(scoring, "BLOCK_ENTRIES", 7 * 30)  # 7 users a block...
    monkeypatch.setattr(scoring, "MIN_BLOCK_ROWS", 1)  # ...however few that is
    monkeypatch.setattr(ItemKNN, "block_entries", 11 * 30)  # item-kNN scores 11 at a time
    monkeypatch.setattr(harness, "USER_BLOCK", 13)  # histories built 13 users at a time
    blocked = {name: evaluate_baseline(data, name, **baseline_params(name, 4.0)) for name in whole}
    for name in whole:
        assert blocked[name]["metrics"] == whole[name]["metrics"], name


def test_baselines_answer_like_the_model(ml_small):
    """fit(log) and recommend(histories, n, exclude): ids and scores [users, n], history and
    excluded items never returned, short rows padded with -1."""
    model = ItemKNN(min_rating=4.0).fit(ml_small)
    ids, scores = model.recommend([[260, 1196], [1]], n=5, exclude=[[1210], []])
    assert ids.shape == scores.shape == (2, 5)
    assert not {260, 1196, 1210} & set(ids[0].tolist()) and 1 not in ids[1]
    assert np.all(np.diff(scores, axis=1) <= 0)
    tiny = MostPopular().fit(pd.DataFrame({"userId": [1, 1, 2], "movieId": [10, 20, 10], "rating": [5.0] * 3}))
    ids, scores = tiny.recommend([[10]], n=3)
    assert ids.tolist() == [[20, -1, -1]] and scores[0, 1] == -np.inf
