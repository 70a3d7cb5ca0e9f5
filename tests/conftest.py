"""Shared fixtures: the real ml-latest-small archive and one small trained artifact."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ML_SMALL = REPO.parent / "shared" / "data" / "ml-latest-small.zip"


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
    from recgraph.pipeline import train

    out = tmp_path_factory.mktemp("artifact") / "ml-small"
    result = train(ml_small, out, backend="gensim", seed=7, trainer_params={"workers": 1}, show_progress=False)
    return result
