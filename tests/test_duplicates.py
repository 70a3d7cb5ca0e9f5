"""The duplicates rule: keep the latest timestamp; ties (or no timestamps): the highest rating."""

import numpy as np
import pandas as pd

from recgraph.data import duplicate_mask, load_log


def test_latest_timestamp_wins_then_highest_rating():
    frame = pd.DataFrame({
        "userId":    [1, 2, 1, 1, 2, 3, 2],
        "movieId":   [9, 9, 9, 9, 9, 1, 9],
        "rating":    [5.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0],
        "timestamp": [10, 50, 30, 30, 50, 1, 49],
    })
    data = load_log(frame)
    # (1, 9): timestamps 10, 30, 30 -> the two at 30, rating 3 beats 2.
    # (2, 9): timestamps 50, 50, 49 -> the two at 50, rating 4 beats 1. Input order is kept.
    assert data.ratings.to_dict("list") == {
        "userId": [1, 2, 3], "movieId": [9, 9, 1], "rating": [3.0, 4.0, 3.0], "timestamp": [30, 50, 1],
    }


def test_without_timestamps_highest_rating_wins():
    frame = pd.DataFrame({"userId": [4, 4, 5], "movieId": [2, 2, 2], "rating": [1.5, 4.5, 2.0]})
    data = load_log(frame)
    assert data.ratings["rating"].tolist() == [4.5, 2.0]


def test_implicit_duplicates_keep_the_latest_row(tmp_path):
    path = tmp_path / "clicks.csv"
    path.write_text("uid,sku,ts\n1,5,3\n1,5,9\n1,6,4\n")
    data = load_log(path, user_col="uid", item_col="sku", time_col="ts")
    assert data.ratings.to_dict("list") == {
        "userId": [1, 1], "movieId": [5, 6], "rating": [5.0, 5.0], "timestamp": [9, 4],
    }


def test_unique_pairs_are_left_alone():
    user = np.array([3, 1, 2, 1])
    item = np.array([1, 2, 1, 1])
    assert duplicate_mask(user, item, np.ones(4), None) is None  # unsorted, unique
    assert duplicate_mask(np.array([1, 1, 2]), np.array([1, 2, 1]), np.ones(3), None) is None  # sorted


def test_huge_ids_fall_back_to_two_column_hashing():
    big = np.iinfo(np.int64).max
    user = np.array([big, -big, big])
    item = np.array([-big, big, -big])
    keep = duplicate_mask(user, item, np.array([1.0, 2.0, 3.0]), np.array([5, 5, 5]))
    assert keep.tolist() == [False, True, True]


def test_matches_a_plain_pandas_statement_of_the_rule():
    rng = np.random.default_rng(3)
    n = 5_000
    frame = pd.DataFrame({
        "userId": rng.integers(0, 40, n), "movieId": rng.integers(0, 60, n),
        "rating": rng.integers(1, 11, n) / 2, "timestamp": rng.integers(0, 20, n),
    })
    expected = (frame.sort_values(["timestamp", "rating"], ascending=False, kind="stable")
                .drop_duplicates(["userId", "movieId"]).sort_index())
    got = load_log(frame).ratings
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))
