"""The synthetic implicit shapes: sizes near their targets, distinct pairs, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.synth_implicit import SHAPES, describe, get_shape, implicit_log


@pytest.mark.parametrize("name", ["checkins", "music", "movies1m", "geo"])
def test_scaled_shape_sizes_and_distinct_pairs(name):
    shape = get_shape(name, 0.05)
    user, item = implicit_log(shape, seed=2)
    d = describe(user, item)
    assert d["users"] == shape.users
    assert 0.9 * shape.pairs <= d["pairs"] <= shape.pairs
    assert item.max() < shape.items and item.min() >= 0
    assert np.unique(user * shape.items + item).size == user.size
    assert np.all(np.diff(user) >= 0)
    assert np.bincount(user).min() >= min(shape.min_per_user, shape.items // 2)


def test_checkins_is_sparse_power_law_and_music_dense():
    c = describe(*implicit_log("checkins", seed=0, scale=0.1))
    m = describe(*implicit_log("music", seed=0, scale=0.1))
    assert c["density"] < 0.01 < m["density"]
    assert c["median_per_item"] < 20 and c["max_per_item"] > 20 * c["median_per_item"]
    assert SHAPES["music"].items == 1_000 and m["items"] <= 1_000


def test_same_seed_same_log_other_seed_other_log():
    a = implicit_log("movies1m", seed=5, scale=0.05)
    b = implicit_log("movies1m", seed=5, scale=0.05)
    c = implicit_log("movies1m", seed=6, scale=0.05)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])


def test_unknown_shape_names_the_valid_ones():
    with pytest.raises(ValueError, match="checkins, music, geo, movies1m"):
        get_shape("books")


def test_geo_users_roam_near_home():
    # On the map a user's places are neighbours, so the pairs of places that share users share
    # them again and again; the same places dealt out at random (each user's count and each
    # place's count kept) repeat their pairs far less.
    import scipy.sparse as sp

    def repeats(user, item):
        x = sp.csr_matrix((np.ones(user.size), (user, item)))
        pairs = (x.T @ x).tocoo()
        off = pairs.row != pairs.col
        return pairs.data[off].sum() / off.sum()

    user, item = implicit_log("geo", seed=3, scale=0.05)
    shuffled = np.random.default_rng(0).permutation(item)
    assert repeats(user, item) > 1.1 * repeats(user, shuffled)
