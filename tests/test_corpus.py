"""Graph views: one corpus per view, embedded separately, combined side by side."""

import numpy as np
import pandas as pd
import pytest

from recgraph.corpus import GraphParams, WalkParams, build_corpus, fit_embeddings, view_seed, walks_sha256
from recgraph.errors import EmptyGraphError, ParameterError
from recgraph.walks import node2vec_walks


def two_tastes(n_users=60, seed=0):
    """Users who love one of two 6-movie groups (5 stars) and like (4 stars) some of a third group.

    The 5-star view holds movies 1-12; the >= 4 view also 13-18 (liked by every user)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        group = range(1, 7) if u % 2 == 0 else range(7, 13)
        rows += [(u, m, 5.0) for m in group if rng.random() < 0.8]
        rows += [(u, m, 4.0) for m in range(13, 19) if rng.random() < 0.7]
    return pd.DataFrame(rows, columns=["userId", "movieId", "rating"])


class FakeTrainer:
    """Deterministic stand-in: node i of call c gets the direction (cos i, sin i) at length c * (i + 1),
    so every row of a view has its own direction and a misplaced row shows."""

    def __init__(self):
        self.calls = []

    def fit(self, walks, num_nodes):
        self.calls.append((walks.shape, num_nodes))
        self.history_ = {"loss": [float(len(self.calls))], "timings_s": {"fit": 1.5}}
        return self.vectors(num_nodes) * len(self.calls) * np.arange(1, num_nodes + 1, dtype=np.float32)[:, None]

    @staticmethod
    def vectors(num_nodes):
        i = np.arange(num_nodes, dtype=np.float32)
        return np.stack([np.cos(i), np.sin(i)], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def corpus():
    views = [GraphParams(5.0, -100.0), GraphParams(4.0, -100.0, 30)]
    return build_corpus(two_tastes(), views, WalkParams(num_walks=3, walk_length=6), seed=7)


def test_views_have_their_own_graphs(corpus):
    assert corpus.graphs[0].item_ids.tolist() == list(range(1, 13))
    # Only the movies liked (>= 4) by at least 30 of 60 users: each taste group (~24) is out.
    assert corpus.graphs[1].item_ids.tolist() == list(range(13, 19))
    assert corpus.item_ids.tolist() == list(range(1, 19))
    assert corpus.shape == [3 * 12 + 3 * 6, 6]
    stats = corpus.stats()
    assert stats["nodes"] == 12 and stats["items"] == 18
    assert [v["min_item_users"] for v in stats["views"]] == [0, 30]


def test_first_view_walks_are_the_single_graph_walks(corpus):
    expected = node2vec_walks(corpus.graphs[0], 3, 6, seed=7)
    np.testing.assert_array_equal(corpus.walks[0], expected)
    assert view_seed(7, 0) == 7 and view_seed(7, 1) != 7 and view_seed(None, 1) is None
    assert corpus.sha256() == walks_sha256(*corpus.walks) != walks_sha256(corpus.walks[0])


def test_combined_embeddings_are_unit_blocks_with_zeros(corpus):
    trainer = FakeTrainer()
    vectors, history = fit_embeddings(trainer, corpus)
    assert [n for _, n in trainer.calls] == [12, 6]
    assert vectors.shape == (18, 4)
    first, second = vectors[:, :2], vectors[:, 2:]
    # Row of movie m holds each view's unit vector of m's node in that view (movies 1-12 are
    # nodes 0-11 of the 5-star view, movies 13-18 nodes 0-5 of the >= 4 view), zeros elsewhere.
    np.testing.assert_allclose(first[:12], FakeTrainer.vectors(12), atol=1e-6)
    np.testing.assert_array_equal(first[12:], 0.0)
    np.testing.assert_array_equal(second[:12], 0.0)
    np.testing.assert_allclose(second[12:], FakeTrainer.vectors(6), atol=1e-6)
    assert history["loss"] == [[1.0], [2.0]]
    assert history["timings_s"] == {"fit": 3.0}
    assert len(history["views"]) == 2


def test_one_view_is_the_trainers_output_unchanged():
    one = build_corpus(two_tastes(), GraphParams(5.0, -100.0), WalkParams(num_walks=2, walk_length=5), seed=1)
    vectors, history = fit_embeddings(FakeTrainer(), one)
    np.testing.assert_allclose(vectors, FakeTrainer.vectors(12) * np.arange(1, 13)[:, None], rtol=1e-6)
    assert history["loss"] == [1.0] and "views" not in history
    assert one.item_ids is one.graph.item_ids


def test_graph_params_validate():
    with pytest.raises(ParameterError, match="min_item_users must be an integer >= 0"):
        GraphParams(min_item_users=-3)
    with pytest.raises(ParameterError, match="min_rating must be a number"):
        GraphParams(min_rating="high")


def test_an_empty_extra_view_names_itself_and_the_way_out():
    views = [GraphParams(5.0, -100.0), GraphParams(4.0, -100.0, 1000)]
    with pytest.raises(EmptyGraphError, match=r"Extra graph view 1 \(ratings >= 4, weight >= -100, items liked "
                                              r"by >= 1000 users\) is empty: No item is liked by 1000 users.*--one-view"):
        build_corpus(two_tastes(), views, WalkParams(num_walks=1, walk_length=3), seed=0)
