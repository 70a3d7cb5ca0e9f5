"""The fitted model: fit, batch recommend, similar_items, save and load, one scoring everywhere."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recgraph import Recommender
from recgraph.errors import NotFittedError, ParameterError, UnknownItemError
from recgraph.scoring import IdMap, Scorer, ScoringOptions, top_columns


# ---------------------------------------------------------------------- the scoring, on built data
def test_top_columns_breaks_ties_by_column_and_pads():
    scores = np.array([[0.5, 0.9, 0.5, -np.inf], [np.nan, -np.inf, 0.1, -np.inf]])
    cols, vals = top_columns(scores, 3)
    assert cols.tolist() == [[1, 0, 2], [2, -1, -1]]
    assert vals[0].tolist() == [0.9, 0.5, 0.5] and vals[1, 1] == -np.inf


def test_id_map_keeps_the_last_place_of_a_repeat_and_reports_unknown_ids():
    ids = IdMap(np.array([30, 10, 20]))
    matrix, unknown = ids.matrix([[10, 20, 99, 10], [30], []])
    assert matrix.toarray().tolist() == [[0, 3, 2], [1, 0, 0], [0, 0, 0]]
    assert [u.tolist() for u in unknown] == [[99], [], []]
    flat, _ = ids.matrix([20, 30])  # one flat sequence is one user
    assert flat.shape == (1, 3)
    with pytest.raises(ParameterError, match="integer item ids"):
        ids.matrix([[1.5]])


def _reference_matrix(item_ids, histories):
    """The history matrix built the slow, obvious way: a dict per user."""
    col = {int(i): c for c, i in reversed(list(enumerate(item_ids)))}  # a repeated id: its first column
    dense = np.zeros((len(histories), len(item_ids)))
    for row, history in enumerate(histories):
        place = 0
        for item in history:
            if int(item) in col:
                place += 1
                dense[row, col[int(item)]] = place
    return dense


@pytest.mark.parametrize("item_ids", [
    np.array([5, 3, 9, 3, 7]),  # a narrow range: the lookup table
    np.array([-2 ** 63, 2 ** 63 - 1, 0, 12, -5]),  # the whole int64 range: the binary search
    np.array([40_000_000, 1, 77]),  # sparse ids: the binary search
])
def test_id_map_lookup_and_search_agree_with_a_dict(item_ids):
    rng = np.random.default_rng(3)
    pool = np.concatenate([item_ids, [-2 ** 63, 2 ** 63 - 1, -1, 2, 8, 10 ** 12]])
    histories = [rng.choice(pool, size=rng.integers(0, 12)) for _ in range(40)]
    ids = IdMap(item_ids)
    matrix, unknown = ids.matrix(histories)
    assert matrix.has_sorted_indices or sp.csr_matrix(matrix).has_sorted_indices
    np.testing.assert_array_equal(matrix.toarray(), _reference_matrix(item_ids, histories))
    for history, missing in zip(histories, unknown):
        assert missing.tolist() == [int(i) for i in history if int(i) not in set(item_ids.tolist())]
    assert ids.matrix(histories, unknown=False)[1] is None


def test_id_map_of_no_users_and_of_sparse_ids():
    ids = IdMap(np.array([0, 4_000_000]))  # two ids far apart: no lookup table, the same answers
    assert ids._lut is None and ids.columns([4_000_000, 0, 5]).tolist() == [1, 0, -1]
    matrix, unknown = IdMap(np.arange(5)).matrix([])
    assert matrix.shape == (0, 5) and unknown == []


def test_id_map_packs_places_or_falls_back_to_a_lexsort(monkeypatch):
    from recgraph import scoring

    ids = IdMap(np.arange(1000))
    histories = [np.array([5, 7, 5, 999, 7, 5]), np.array([], dtype=np.int64), np.array([3, 3, 3])]
    packed, _ = ids.matrix(histories)
    calls = []
    real = np.lexsort
    monkeypatch.setattr(scoring.np, "lexsort", lambda keys: calls.append(1) or real(keys))
    monkeypatch.setattr(scoring, "PACK_LIMIT", 0)  # as if user x item x place overflowed int64
    sorted_, _ = ids.matrix(histories)
    assert calls and (sorted_ != packed).nnz == 0 and sorted_.has_sorted_indices
    assert packed.toarray()[0, [5, 7, 999]].tolist() == [6, 5, 4] and packed[2, 3] == 3


def test_scorer_is_cosine_to_the_mean_plus_the_prior():
    vectors = np.array([[1, 0], [0, 1], [1, 1], [-1, 0]], dtype=np.float64)
    likes = np.array([0, 10, 100, 5])
    scorer = Scorer(vectors, likes, ScoringOptions(popularity_weight=0.1))
    history, _ = IdMap(np.arange(4)).matrix([[0, 1]])
    query = np.array([1, 1]) / np.sqrt(2)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = unit @ query + 0.1 * np.log1p(likes)
    assert np.allclose(scorer.scores(history), expected[None, :])
    cols, vals = scorer.top(history, 4)
    assert cols.tolist() == [[2, 3, -1, -1]]  # the history never comes back; two items left
    assert np.allclose(vals[0, :2], np.round(expected[[2, 3]], 6))


def test_recency_weighs_the_last_items_only_for_ordered_histories():
    vectors = np.array([[1, 0], [0, 1], [0.9, 0.1], [0.1, 0.9]], dtype=np.float64)
    opts = ScoringOptions(recent_weight=2.0, recent_count=1)
    scorer = Scorer(vectors, None, opts)
    ids = IdMap(np.arange(4))
    old_first, _ = ids.matrix([[0, 1]])  # item 1 watched last
    new_first, _ = ids.matrix([[1, 0]])  # item 0 watched last
    assert scorer.top(old_first, 1)[0][0, 0] == 3
    assert scorer.top(new_first, 1)[0][0, 0] == 2
    # A sparse matrix has no order: recency changes nothing, whatever the weight.
    unordered = sp.csr_matrix(np.array([[1.0, 1.0, 0, 0]]))
    plain = Scorer(vectors, None, ScoringOptions())
    assert np.allclose(scorer.scores(ids.matrix(unordered)[0]), plain.scores(ids.matrix(unordered)[0]))


def test_fallback_popular_or_an_empty_row():
    vectors = np.eye(3)
    likes = np.array([1, 50, 7])
    history, _ = IdMap(np.arange(3)).matrix([[]])
    cols, _ = Scorer(vectors, likes, ScoringOptions(fallback="popular")).top(history, 3)
    assert cols.tolist() == [[1, 2, 0]]
    cols, _ = Scorer(vectors, likes, ScoringOptions()).top(history, 3)
    assert cols.tolist() == [[-1, -1, -1]]
    with pytest.raises(ParameterError, match="no likes"):
        Scorer(vectors, None, ScoringOptions(fallback="popular"))


def test_blocks_do_not_change_the_lists():
    rng = np.random.default_rng(0)
    scorer = Scorer(rng.normal(size=(50, 8)), rng.integers(0, 100, 50), ScoringOptions(popularity_weight=0.05))
    histories = [rng.choice(50, size=rng.integers(0, 6), replace=False).tolist() for _ in range(40)]
    matrix, _ = IdMap(np.arange(50)).matrix(histories)
    whole = scorer.top(matrix, 10)
    blocked = scorer.top(matrix, 10, block_entries=3 * 50)
    assert np.array_equal(whole[0], blocked[0]) and np.array_equal(whole[1], blocked[1])
    one_by_one = np.vstack([scorer.top(matrix[i], 10)[0] for i in range(40)])
    assert np.array_equal(whole[0], one_by_one)


# ---------------------------------------------------------------------- the model
def test_an_unfitted_model_and_unknown_parameters_are_one_sentence():
    with pytest.raises(NotFittedError, match="not fitted"):
        Recommender().recommend([[1]])
    with pytest.raises(ParameterError, match="Unknown Recommender parameter"):
        Recommender(epochs=3)
    assert Recommender(seed=3, trainer={"epochs": 2}).resolve().trainer.params["epochs"] == 2


def test_fit_recommend_save_load_on_a_tiny_log(tiny_ratings, tmp_path):
    from recgraph.index import ItemIndex

    model = Recommender(seed=1, graph={"min_weight": 0.0}, trainer={"epochs": 2})
    assert model.fit(tiny_ratings) is model
    n = len(model.item_ids_)
    assert model.embeddings_.shape[0] == n and model.likes_.shape == (n,)
    some = model.item_ids_[:3].tolist()
    ids, scores = model.recommend([some, some[:1], []], n=5, exclude=[[], [some[1]], []])
    assert ids.shape == scores.shape == (3, 5)
    assert not set(some) & set(ids[0].tolist())
    assert some[1] not in ids[1] and some[0] not in ids[1]
    assert ids[2].tolist() == [-1] * 5  # nothing known, fallback "none": an empty row
    sim_ids, sim_scores = model.similar_items(some, n=4)
    assert sim_ids.shape == (3, 4) and all(some[i] not in sim_ids[i] for i in range(3))
    with pytest.raises(UnknownItemError):
        model.similar_items([10 ** 9])
    model.save(tmp_path / "a")
    loaded = Recommender.load(tmp_path / "a")
    assert np.array_equal(loaded.recommend([some, some[:1]], n=5)[0], model.recommend([some, some[:1]], n=5)[0])
    assert loaded.config_ == model.config_
    index = ItemIndex.load(tmp_path / "a")
    hits = index.recommend(some, k=5)
    assert [h.item_id for h in hits] == ids[0][ids[0] >= 0].tolist()
    assert [h.item_id for h in index.similar(some[0], k=4)] == sim_ids[0].tolist()
    # The batch route's path: one scoring call, the same answers as one by one.
    answers, unknown = index.similar_many([*some, 10 ** 9], k=4)
    assert answers == [index.similar(m, k=4) for m in some] and unknown == [10 ** 9]


@pytest.mark.slow
def test_the_artifact_answers_as_the_model_for_every_user(ml_small, tmp_path):
    """Batch recommend for all 610 users of ml-latest-small equals ItemIndex.recommend one by one."""
    from recgraph.index import ItemIndex

    model = Recommender(preset="tuned", seed=1, backend="gensim", one_view=True).fit(ml_small)
    frame = ml_small.ratings.sort_values(["userId", "timestamp"], kind="stable")
    liked = frame[frame["rating"] >= 4.0]
    users = np.unique(liked["userId"])
    histories = [g["movieId"].tolist() for _, g in liked.groupby("userId")]
    assert len(histories) == len(users) == 609  # every user but one liked a movie
    ids, scores = model.recommend(histories, n=10)
    assert ids.shape == (len(histories), 10)
    model.save(tmp_path / "a")
    index = ItemIndex.load(tmp_path / "a")
    for row, history in enumerate(histories):
        hits = index.recommend(history, k=10)
        assert [h.item_id for h in hits] == ids[row][ids[row] >= 0].tolist(), row
        assert [h.score for h in hits] == scores[row][ids[row] >= 0].tolist(), row
    assert np.array_equal(index.recommend_many(histories, 10)[0], ids)
    # A sparse user x item matrix (no order) over the model's items is accepted as well.
    cols = IdMap(model.item_ids_).columns(liked["movieId"].to_numpy())
    keep = cols >= 0
    user_rows = np.searchsorted(users, liked["userId"].to_numpy())
    matrix = sp.csr_matrix((np.ones(keep.sum()), (user_rows[keep], cols[keep])), shape=(len(users), len(model.item_ids_)))
    sparse_ids, _ = model.recommend(matrix, n=10)
    assert sparse_ids.shape == (len(users), 10)
    for row in range(len(users)):
        assert not set(model.item_ids_[matrix[row].indices].tolist()) & set(sparse_ids[row].tolist())


def test_a_dataframe_log_fits_too():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(40), 8)
    items = (users % 4) * 10 + rng.integers(0, 10, users.size)
    frame = pd.DataFrame({"user": users, "item": items}).drop_duplicates()
    model = Recommender(seed=0, graph={"min_weight": 0.0}, trainer={"epochs": 1}).fit(frame, user_col="user",
                                                                                       item_col="item")
    ids, _ = model.recommend([[0, 1]], n=3)
    assert ids.shape == (1, 3) and not {0, 1} & set(ids[0].tolist())
