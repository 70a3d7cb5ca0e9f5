"""Splits: the right items are held out, nothing leaks, seeds behave; the matrices built from them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recgraph.errors import DataError, ParameterError
from recgraph.evaluation.interactions import Interactions
from recgraph.evaluation.splitting import leave_last_out, make_split, random_split, validation_split


def frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])


TINY = frame([
    # user 1: latest positive is movie 30 (t=5); movie 40 is later but rated 2
    (1, 10, 5.0, 1), (1, 20, 4.0, 2), (1, 30, 4.5, 5), (1, 40, 2.0, 9),
    # user 2: two positives tied at t=7 -> the larger movie id (60) is held out; 50 is rated twice
    (2, 50, 4.0, 7), (2, 60, 5.0, 7), (2, 70, 3.0, 3), (2, 50, 4.0, 1),
    # user 3: no positive -> not evaluated
    (3, 10, 3.5, 1), (3, 20, 1.0, 2),
    # user 4: the held-out movie is rated twice; both rows must leave training
    (4, 80, 4.0, 1), (4, 90, 4.0, 2), (4, 90, 5.0, 3),
])


def pairs(df: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(df["userId"].tolist(), df["movieId"].tolist()))


def test_leave_last_out_holds_out_the_latest_positive():
    split = leave_last_out(TINY, threshold=4.0)
    assert pairs(split.test) == {(1, 30), (2, 60), (4, 90)}
    assert not pairs(split.train) & pairs(split.test)
    # Everything else stays in training, low ratings and later ratings included.
    assert (1, 40) in pairs(split.train) and (2, 50) in pairs(split.train)
    assert len(split.train) == len(TINY) - 4  # (1,30), (2,60) and both rows of (4,90)
    assert split.summary()["test_users"] == 3


def test_leave_last_out_threshold_is_configurable():
    split = leave_last_out(TINY, threshold=5.0)
    assert pairs(split.test) == {(1, 10), (2, 60), (4, 90)}


def test_leave_last_out_needs_timestamps():
    with pytest.raises(DataError, match="timestamp"):
        leave_last_out(TINY.drop(columns="timestamp"))


def test_random_split_is_seeded_and_holds_out_a_share_of_positives():
    rng = np.random.default_rng(3)
    n = 400
    df = frame([(u, m, float(rng.choice([2.0, 4.0, 5.0])), int(rng.integers(1000)))
                for u in range(1, 21) for m in rng.choice(1000, n // 20, replace=False).tolist()])
    a = random_split(df, 0.2, 4.0, seed=1)
    b = random_split(df, 0.2, 4.0, seed=1)
    c = random_split(df, 0.2, 4.0, seed=2)
    assert pairs(a.test) == pairs(b.test)
    assert pairs(a.test) != pairs(c.test)
    assert (a.test["rating"] >= 4.0).all()
    assert not pairs(a.train) & pairs(a.test)
    positives = df[df["rating"] >= 4.0].groupby("userId").size()
    held = a.test.groupby("userId").size().reindex(positives.index, fill_value=0)
    assert (held == np.floor(0.2 * positives + 0.5).astype(int)).all()
    assert len(a.train) + len(a.test) == len(df)


def test_random_split_keeps_a_single_positive_in_training():
    df = frame([(1, 1, 5.0, 1), (1, 2, 2.0, 2), (2, 1, 4.0, 1), (2, 2, 4.0, 2), (2, 3, 4.0, 3)])
    split = random_split(df, 0.2, 4.0, seed=0)
    assert set(split.test["userId"]) == {2}  # 0.2 * 1 rounds to 0; 0.2 * 3 rounds to 1
    assert len(split.test) == 1


def test_bad_split_parameters():
    with pytest.raises(ParameterError):
        random_split(TINY, test_fraction=0.0)
    with pytest.raises(ParameterError):
        make_split(TINY, "kfold")
    with pytest.raises(DataError):
        leave_last_out(TINY, threshold=5.5)


def test_validation_split_is_carved_from_training_only():
    split = leave_last_out(TINY)
    val = validation_split(split)
    assert pairs(val.train) | pairs(val.test) <= pairs(split.train)
    assert not pairs(val.test) & pairs(split.test)
    assert pairs(val.test) == {(1, 20), (2, 50), (4, 80)}


def test_validation_depth_carves_the_training_part_again(ml_small):
    from recgraph.evaluation.harness import prepare

    test, _ = prepare(ml_small, "random", seed=3)
    once, _ = prepare(ml_small, "random", seed=3, validation=True)
    twice, data = prepare(ml_small, "random", seed=3, validation=2)
    # True is one carving, with seed + 1; the second carves its training part with seed + 2.
    assert pairs(prepare(ml_small, "random", seed=3, validation=1)[0].test) == pairs(once.test)
    assert pairs(twice.test) == pairs(validation_split(once, seed=5).test)
    assert pairs(twice.train) | pairs(twice.test) == pairs(once.train)
    assert len(twice.train) < len(once.train) < len(test.train)
    assert data.test.nnz == len(pairs(twice.test))
    with pytest.raises(ParameterError, match=r"validation must be True, False or a number of carvings >= 0; got -1\."):
        prepare(ml_small, "random", validation=-1)
    # So many carvings that no user keeps a held-out movie: refused, not NaN metrics.
    with pytest.raises(ParameterError, match=r"Carving the validation split 40 times leaves no user with a held-out"):
        prepare(ml_small, "random", validation=40)


def test_interactions_from_split():
    split = leave_last_out(TINY)
    data = Interactions.from_split(split)
    assert data.user_ids.tolist() == [1, 2, 3, 4]
    assert data.item_ids.tolist() == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert data.eval_users.tolist() == [0, 1, 3]
    assert data.test.nnz == 3
    assert data.train.multiply(data.test).nnz == 0
    # A pair rated twice keeps its latest rating.
    assert data.train[1, 4] == 4.0
    assert data.positives(4.0)[0].indices.tolist() == [0, 1]
    assert data.item_rows(np.array([30, 31])).tolist() == [2, -1]


def test_interactions_history_is_oldest_first():
    rows = frame([(1, 30, 5.0, 1), (1, 10, 4.0, 9), (1, 20, 5.0, 4), (1, 40, 2.0, 6), (1, 50, 4.0, 12),
                  (2, 10, 5.0, 3), (2, 60, 4.0, 2)])
    data = Interactions.from_split(leave_last_out(rows))  # holds out (1, 50) and (2, 10)
    assert data.history(0, 4.0).tolist() == [30, 20, 10]
    assert data.history(0).tolist() == [30, 20, 40, 10]
    assert data.history(1, 4.0).tolist() == [60]
    # Without timestamps (e.g. a split built elsewhere): by movie id.
    plain = Interactions(data.user_ids, data.item_ids, data.train, data.test, data.eval_users, 4.0)
    assert plain.history(0, 4.0).tolist() == [10, 20, 30]


@pytest.mark.slow
def test_leave_last_out_on_ml_small(ml_small):
    split = leave_last_out(ml_small)
    ratings = ml_small.ratings
    positives = ratings[ratings["rating"] >= 4.0]
    latest = positives.sort_values(["userId", "timestamp", "movieId"]).groupby("userId").tail(1)
    assert pairs(split.test) == pairs(latest)
    assert len(split.test) == positives["userId"].nunique() == 609
    assert not pairs(split.train) & pairs(split.test)
    assert len(split.train) + len(split.test) == len(ratings)
    # Each held-out rating is at least as recent as every other positive of that user.
    last_train = split.train[split.train["rating"] >= 4.0].groupby("userId")["timestamp"].max()
    test_time = split.test.set_index("userId")["timestamp"]
    common = last_train.index.intersection(test_time.index)
    assert (test_time[common] >= last_train[common]).all()


@pytest.mark.slow
def test_random_split_on_ml_small(ml_small):
    split = random_split(ml_small, seed=0)
    positives = ml_small.ratings[ml_small.ratings["rating"] >= 4.0]
    assert 0.19 < len(split.test) / len(positives) < 0.21
    assert not pairs(split.train) & pairs(split.test)
    assert len(split.train) + len(split.test) == len(ml_small.ratings)


def test_sample_eval_users_is_seeded_and_leaves_training_alone(ml_small):
    from recgraph.evaluation.harness import prepare

    _, full = prepare(ml_small, "random", seed=0)
    _, a = prepare(ml_small, "random", seed=0, max_users=100)
    _, b = prepare(ml_small, "random", seed=0, max_users=100)
    _, other = prepare(ml_small, "random", seed=1, max_users=100)
    assert len(a.eval_users) == 100 and a.eval_users_total == len(full.eval_users) == 608
    assert np.array_equal(a.eval_users, b.eval_users)  # same split seed, same users
    assert np.all(np.diff(a.eval_users) > 0) and set(a.eval_users) <= set(full.eval_users)
    assert not np.array_equal(a.eval_users, other.eval_users)
    # Only who is scored changes: the matrices are the split's own.
    again = full.sample_eval_users(100, 0)
    assert again.train is full.train and again.test is full.test
    assert np.array_equal(again.eval_users, a.eval_users)
    # As many as there are, or None: everyone.
    _, everyone = prepare(ml_small, "random", seed=0, max_users=10_000)
    assert np.array_equal(everyone.eval_users, full.eval_users) and everyone.eval_users_total == 608
    assert full.sample_eval_users(None) is full
    with pytest.raises(ParameterError, match="max_users"):
        full.sample_eval_users(0)
