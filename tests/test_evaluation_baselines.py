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
    model = MostPopular(min_rating=4.0).fit(data)
    assert np.array_equal(model.scores(np.arange(3)), np.tile(x.sum(axis=0), (3, 1)))


def test_item_knn_equals_explicit_cosine():
    data = random_data()
    x = (data.train.toarray() >= 4.0).astype(float)
    norms = np.sqrt(x.sum(axis=0))
    cos = (x.T @ x) / np.outer(np.where(norms > 0, norms, 1), np.where(norms > 0, norms, 1))
    expected = x @ cos
    got = ItemKNN(min_rating=4.0).fit(data).scores(np.arange(data.n_users))
    assert np.allclose(got, expected, atol=1e-10)


def test_ease_equals_the_closed_form():
    data = random_data()
    x = (data.train.toarray() >= 4.0).astype(float)
    lam = 7.0
    p = np.linalg.inv(x.T @ x + lam * np.eye(x.shape[1]))
    b = np.eye(x.shape[1]) - p / np.diag(p)[None, :]
    assert np.allclose(np.diag(b), 0.0)
    got = EASE(lam=lam, min_rating=4.0).fit(data).scores(np.arange(data.n_users))
    assert np.allclose(got, x @ b, atol=1e-8)


def test_every_rating_counts_without_min_rating():
    data = random_data()
    x = (data.train.toarray() > 0).astype(float)
    assert np.array_equal(MostPopular().fit(data).scores(np.arange(1))[0], x.sum(axis=0))


def test_unknown_baseline():
    with pytest.raises(ParameterError, match="item-knn"):
        make_baseline("svd")


def test_ease_rejects_a_bad_lambda():
    with pytest.raises(ParameterError):
        EASE(lam=0).fit(random_data())


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
