"""The synthetic log generator: shape against its targets, validity, determinism (200k ratings)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from benchmarks import synth_log

N = 200_000


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "log"
    summary = synth_log.generate(N, out, seed=3, chunk_ratings_target=80_000, progress=False)
    return out, summary, pd.read_csv(out / "ratings.csv"), pd.read_csv(out / "movies.csv")


def test_counts_and_columns(synth):
    out, summary, ratings, movies = synth
    shape = synth_log.Shape.scaled(N)
    assert list(ratings.columns) == ["userId", "movieId", "rating", "timestamp"]
    assert list(movies.columns) == ["movieId", "title", "genres"]
    assert len(ratings) == N == summary["ratings"]
    assert ratings.userId.nunique() == shape.users == round(162_541 * N / 25_000_095)
    assert set(ratings.movieId) <= set(movies.movieId)
    assert len(movies) == shape.catalogue and movies.movieId.is_unique
    assert sorted(p.name for p in out.iterdir()) == ["movies.csv", "ratings.csv"]


def test_no_duplicates_sorted_and_per_user_bounds(synth):
    _, summary, ratings, _ = synth
    assert not ratings.duplicated(["userId", "movieId"]).any()
    assert (ratings.sort_values(["userId", "movieId"]).index == ratings.index).all()
    per_user = ratings.groupby("userId").size()
    assert per_user.min() >= 20
    assert per_user.max() == synth_log.Shape.scaled(N).max_per_user == summary["max_per_user"]
    # right-skewed, as in the log-normal fit (at 200k the catalogue's 499 movies cap it hard)
    assert per_user.mean() > per_user.median() > 40


def test_rating_shares_and_timestamps(synth):
    _, summary, ratings, _ = synth
    shares = ratings.rating.value_counts(normalize=True)
    for level, target in zip(synth_log.RATING_LEVELS, synth_log.RATING_SHARES):
        assert abs(shares.get(level, 0.0) - target) < 0.005, level
    assert summary["shares"]["5.0"] == pytest.approx(shares[5.0], abs=1e-4)
    assert ratings.timestamp.min() >= synth_log.T_MIN and ratings.timestamp.max() <= synth_log.T_MAX
    years = pd.to_datetime(ratings.timestamp, unit="s").dt.year
    assert years.min() <= 1997 and years.max() >= 2018


def test_popularity_skewed(synth):
    _, summary, ratings, _ = synth
    per_movie = ratings.groupby("movieId").size()
    assert summary["gini"] == pytest.approx(synth_log.gini(per_movie.to_numpy()), abs=1e-3)
    assert summary["gini"] > 0.5   # ~0.7 at 1M, 0.84 at 5M: the catalogue grows with the log
    assert per_movie.max() > 0.3 * ratings.userId.nunique()


def test_taste_structure(tmp_path):
    # 1M ratings: below that the 19 clusters hold so few movies that users exhaust theirs.
    synth_log.generate(1_000_000, tmp_path / "m", seed=0, progress=False)
    ratings = pd.read_csv(tmp_path / "m" / "ratings.csv")
    movies = pd.read_csv(tmp_path / "m" / "movies.csv")
    # Co-occurrence is not uniform: each user's favourite primary genre takes a much larger
    # share of their ratings than it does once the movies are shuffled across users (which
    # keeps every movie's popularity and every user's count).
    primary = movies.set_index("movieId").genres.str.split("|").str[0]

    def favourite_share(movie_ids):
        g = pd.Series(movie_ids).map(primary).to_numpy()
        return pd.crosstab(ratings.userId.to_numpy(), g, normalize="index").max(axis=1).mean()

    shuffled = np.random.default_rng(0).permutation(ratings.movieId.to_numpy())
    assert favourite_share(ratings.movieId.to_numpy()) > 1.3 * favourite_share(shuffled)
    g = ratings.movieId.map(primary)
    share = pd.crosstab(ratings.userId, g, normalize="index")
    # and they rate it higher
    top_genre = share.idxmax(axis=1)
    fav = g.to_numpy() == ratings.userId.map(top_genre).to_numpy()
    assert ratings.rating[fav].mean() > ratings.rating[~fav].mean() + 0.1


def test_deterministic_for_a_seed(synth, tmp_path):
    out, _, _, _ = synth
    again = tmp_path / "again"
    synth_log.generate(N, again, seed=3, chunk_ratings_target=80_000, progress=False)
    for name in ("ratings.csv", "movies.csv"):
        assert hashlib.sha256((out / name).read_bytes()).digest() == \
            hashlib.sha256((again / name).read_bytes()).digest()
    other = tmp_path / "other"
    synth_log.generate(N, other, seed=4, chunk_ratings_target=80_000, progress=False)
    assert (other / "ratings.csv").read_bytes() != (out / "ratings.csv").read_bytes()


def test_refuses_existing_target_and_tiny_sizes(tmp_path):
    with pytest.raises(FileExistsError):
        synth_log.generate(N, tmp_path, progress=False)
    with pytest.raises(ValueError, match="too small"):
        synth_log.Shape.scaled(100)
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary directory left behind


def test_gini_exact():
    assert synth_log.gini(np.array([1, 1, 1, 1])) == pytest.approx(0.0)
    assert synth_log.gini(np.array([0, 0, 0, 4])) == pytest.approx(0.75)
