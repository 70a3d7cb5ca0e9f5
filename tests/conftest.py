"""Shared fixtures: the real ml-latest-small archive, one small trained artifact, and a tiny
synthetic log (as loaded Ratings and as a MovieLens directory) for the fast lane.

Two lanes: ``pytest -m "not slow and not spark"`` for everyday work, the whole suite in CI
(the Spark engine's tests are marked ``spark`` in their module). A test that
trains on ml-latest-small is ``slow``: mark it, or use a fixture listed in
``TRAINS_ON_ML_SMALL`` (such tests are marked here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
ML_SMALL = REPO.parent / "shared" / "data" / "ml-latest-small.zip"


#: Fixtures that train on ml-latest-small: every test using one is marked slow.
TRAINS_ON_ML_SMALL = frozenset({"trained_artifact"})


def pytest_collection_modifyitems(items):
    for item in items:
        if TRAINS_ON_ML_SMALL & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def tiny_log(n_users: int = 60, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Users who love one of two 6-movie groups (5 stars, movies 1-12) and like (4 stars) some
    of a third (13-18); movie 19 is rated but never liked. Returns (ratings, movies)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        group = range(1, 7) if u % 2 == 0 else range(7, 13)
        rows += [(u + 1, m, 5.0) for m in group if rng.random() < 0.8]
        rows += [(u + 1, m, 4.0) for m in range(13, 19) if rng.random() < 0.7]
        rows.append((u + 1, 19, 2.0))
    ratings = pd.DataFrame(rows, columns=["userId", "movieId", "rating"])
    ratings["timestamp"] = np.arange(len(ratings), dtype=np.int64) + 1_000_000_000
    movies = pd.DataFrame({"movieId": np.arange(1, 20, dtype=np.int64),
                           "title": [f"Movie {m} ({1980 + m})" for m in range(1, 20)],
                           "genres": ["Drama" if m % 2 else "Comedy|Drama" for m in range(1, 20)]})
    return ratings, movies


@pytest.fixture(scope="session")
def tiny_ratings():
    """:func:`tiny_log` as loaded :class:`recgraph.data.Ratings`."""
    from recgraph.data import Ratings

    ratings, movies = tiny_log()
    return Ratings(ratings, movies, "tiny", "0" * 32)


@pytest.fixture
def tiny_movielens_dir(tmp_path) -> Path:
    """:func:`tiny_log` as a MovieLens directory (ratings.csv + movies.csv)."""
    ratings, movies = tiny_log()
    folder = tmp_path / "tiny-log"
    folder.mkdir()
    ratings.to_csv(folder / "ratings.csv", index=False)
    movies.to_csv(folder / "movies.csv", index=False)
    return folder


@pytest.fixture(scope="session")
def ml_small_path() -> Path:
    if not ML_SMALL.is_file():
        pytest.skip(f"{ML_SMALL} is not present")
    return ML_SMALL


@pytest.fixture(scope="session")
def ml_small(ml_small_path):
    from recgraph.data import load_movielens

    return load_movielens(ml_small_path)


@pytest.fixture(scope="session")
def ml_graph(ml_small):
    from recgraph.graph import build_item_graph

    return build_item_graph(ml_small)


@pytest.fixture(scope="session")
def trained_artifact(ml_small, tmp_path_factory):
    """The default gensim pipeline on ml-latest-small, written once per session.

    One worker thread makes gensim deterministic, so the assertions on this
    artifact cannot flicker; the other defaults are the shipped ones.
    """
    from recgraph.config import resolve_config
    from recgraph.pipeline import train

    out = tmp_path_factory.mktemp("artifact") / "ml-small"
    result = train(ml_small, out, resolve_config(seed=7, trainer={"workers": 1}), show_progress=False)
    return result
