"""The user model over item embeddings (recgraph.user_model) and its fit-time selection (recgraph.autotune)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recgraph import autotune, user_model
from recgraph.errors import ParameterError


def clustered_log(n_users=120, n_clusters=4, per_cluster=10, per_user=6, seed=0):
    """Each user holds ``per_user`` items of one cluster (items numbered cluster by cluster)."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for u in range(n_users):
        c = u % n_clusters
        items = c * per_cluster + rng.choice(per_cluster, per_user, replace=False)
        rows += [u] * per_user
        cols += list(items)
    n_items = n_clusters * per_cluster
    x = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_users, n_items))
    cluster_vectors = np.repeat(np.eye(n_clusters, dtype=np.float32), per_cluster, axis=0)
    return x, cluster_vectors


def test_subspace_ridge_matches_the_hand_worked_solution():
    # E = I: A = X, G = X^T X = [[2, 1], [1, 2]], mean diagonal 2, so lam 0.5 -> 1;
    # (G + I)^-1 G = [[5, 1], [1, 5]] / 8; E^T E = I, eps 1e-3 -> divide by 1.001.
    x = sp.csr_matrix(np.array([[1, 0], [1, 1], [0, 1]], dtype=np.float32))
    w = user_model.subspace_weights(np.eye(2, dtype=np.float32), x, lam=0.5, eps=1e-3)
    np.testing.assert_allclose(w, np.array([[5, 1], [1, 5]]) / 8 / 1.001, rtol=1e-12)


def test_subspace_ridge_reconstructs_x_when_the_subspace_is_everything_and_lam_vanishes():
    rng = np.random.default_rng(3)
    x = sp.csr_matrix((rng.random((30, 6)) < 0.4).astype(np.float32))
    e = rng.normal(size=(6, 6)).astype(np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    w = user_model.subspace_weights(e, x, lam=1e-9, eps=1e-9)
    np.testing.assert_allclose((x @ e) @ w @ e.T, x.toarray(), atol=1e-4)


def test_score_shape_excludes_history_and_rows_are_independent():
    x, vectors = clustered_log()
    state = user_model.fit(vectors, x, None, {"weights": [1.0, 1.0, 0.0, 0.1]})
    s = user_model.score(state, x[:7])
    assert s.shape == (7, x.shape[1]) and s.dtype == np.float32
    seen = x[:7].toarray() > 0
    assert np.all(np.isneginf(s[seen])) and np.all(np.isfinite(s[~seen]))
    one = user_model.score(state, x[3:4])
    np.testing.assert_allclose(one[0], s[3], rtol=1e-5)
    # the unseen items of the user's own cluster rank above every other cluster's
    own = np.zeros(x.shape[1], bool)
    own[(3 % 4) * 10:(3 % 4) * 10 + 10] = True
    free = ~seen[3]
    assert s[3][own & free].min() > s[3][~own].max()


def test_graph_component_follows_the_adjacency():
    n = 5
    adjacency = sp.csr_matrix(([3.0, 3.0, 1.0, 1.0], ([0, 1, 0, 2], [1, 0, 2, 0])), shape=(n, n))
    x = sp.csr_matrix(np.eye(n, dtype=np.float32))
    state = user_model.fit(np.ones((n, 2), np.float32), x, adjacency, {"weights": [0, 0, 1.0, 0]})
    s = user_model.score(state, sp.csr_matrix(([1.0], ([0], [0])), shape=(1, n)))
    assert np.isneginf(s[0, 0])
    assert s[0, 1] > s[0, 2] > s[0, 3] == s[0, 4]


def test_embeddings_reweight_the_graph_edges_by_their_cosine():
    # edges 0-1 (PMI 2) and 0-2 (PMI 2): equal weights, but 0 and 2 point the same way, 0 and 1 apart
    adjacency = sp.csr_matrix(([2.0, 2.0, 2.0, 2.0], ([0, 1, 0, 2], [1, 0, 2, 0])), shape=(3, 3))
    e = user_model.unit_rows(np.array([[1.0, 0.0], [0.6, 0.8], [1.0, 0.0]], np.float32))
    plain = user_model.normalized_adjacency(adjacency, e, 0.0).toarray()
    assert plain[0, 1] == pytest.approx(plain[0, 2]) == pytest.approx(2 / np.sqrt(4 * 2))
    g = sp.csr_matrix(([2.0 * 0.6, 2.0 * 0.6, 2.0, 2.0], ([0, 1, 0, 2], [1, 0, 2, 0])), shape=(3, 3)).toarray()
    d = g.sum(axis=1)
    np.testing.assert_allclose(user_model.normalized_adjacency(adjacency, e, 1.0).toarray(),
                               g / np.sqrt(np.outer(d, d)), rtol=1e-6)


@pytest.mark.parametrize("params, match", [
    ({"weights": [1, 1]}, "6 finite numbers"),
    ({"weights": [1, -1, 0, 0]}, ">= 0"),
    ({"lam": 0}, "lam must be"),
    ({"alpha": 1}, "Unknown user-model parameter"),
    ({"edge_power": -1}, "edge_power must be"),
])
def test_bad_params_say_what_is_valid(params, match):
    x, vectors = clustered_log()
    with pytest.raises(ParameterError, match=match):
        user_model.fit(vectors, x, None, params)


def test_all_zero_weights_and_misaligned_inputs_are_refused():
    x, vectors = clustered_log()
    state = user_model.fit(vectors, x, None, {"weights": [0, 0, 0, 0]})
    with pytest.raises(ParameterError, match="at least one score"):
        user_model.score(state, x[:2])
    with pytest.raises(ParameterError, match="item columns"):
        user_model.fit(vectors[:-1], x)


def test_holdout_random_share_and_latest_by_time():
    x, _ = clustered_log()
    fit_m, val = autotune.holdout(x, 0.34, seed=1)
    assert fit_m.multiply(val).nnz == 0
    np.testing.assert_array_equal((fit_m + val).toarray(), x.toarray())
    np.testing.assert_array_equal(np.diff(val.indptr), np.full(x.shape[0], 2))  # round(0.34 * 6) = 2
    again, _ = autotune.holdout(x, 0.34, seed=1)
    assert (again != fit_m).nnz == 0
    order = x.copy()
    order.data = np.tile(np.arange(1, 7, dtype=np.float32), x.shape[0])  # each row's last stored entry is latest
    _, last = autotune.holdout(x, order=order, count=1)
    np.testing.assert_array_equal(last.indices, x.indices[x.indptr[1:] - 1])
    with pytest.raises(ParameterError, match="between 0 and 1"):
        autotune.holdout(x, 1.5)


def test_select_picks_the_build_that_knows_the_clusters():
    x, vectors = clustered_log(n_users=200)
    noise = np.random.default_rng(0).normal(size=vectors.shape).astype(np.float32)
    builds = {"noise": lambda m: (noise, None), "clusters": lambda m: (vectors, None)}
    params, report = autotune.select(x, builds, seed=2, grid={"lam": (1.0,), "rounds": 1})
    assert params["build"] == "clusters"
    best = {name: max(e["recall@20"] for e in entries) for name, entries in report["builds"].items()}
    assert report["chosen"]["candidate_recall"] == best["clusters"] > best["noise"]
    assert set(params) == {"build", "weights", "lam", "edge_power"} and len(params["weights"]) == 6
    assert params["weights"][4:] == [0.0, 0.0] and report["ordered"] is False  # no times: no recent scores
    # 40 items: every item is a candidate, so the search's figure is the catalogue-wide one.
    assert report["chosen"]["recall@20"] == pytest.approx(report["chosen"]["candidate_recall"], abs=1e-9)


def test_holdout_takes_items_of_the_validation_users_only():
    x, _ = clustered_log(n_users=50)
    users = autotune.validation_users(x, max_entries=10 * x.shape[1], seed=0, min_users=10, max_users=10)
    assert users.size == 10 and np.all(np.diff(users) > 0)
    fit_m, val = autotune.holdout(x, 0.5, seed=1, users=users)
    held = np.flatnonzero(np.diff(val.indptr))
    assert set(held) == set(users.tolist())
    assert (fit_m + val != x).nnz == 0  # nothing lost, nothing added
    others = np.setdiff1d(np.arange(50), users)
    assert (fit_m[others] != x[others]).nnz == 0


def test_candidate_recall_is_the_full_ranking_when_the_candidates_cover_the_catalogue():
    rng = np.random.default_rng(5)
    n_items = 60
    x = sp.csr_matrix((rng.random((150, n_items)) < 0.15).astype(np.float32))
    e = rng.normal(size=(n_items, 6))
    adjacency = sp.random(n_items, n_items, density=0.1, random_state=6, format="csr")
    fit_m, val = autotune.holdout(x, 0.3, seed=2)
    users = np.flatnonzero(np.diff(val.indptr))
    seen, truth = fit_m[users], val[users]
    state = user_model.fit(e, fit_m, adjacency + adjacency.T, {"lam": 10.0})
    variants = {(c,): (state, c) for c in user_model.COMPONENTS}
    parts = {c: (c,) for c in user_model.COMPONENTS}
    for weights in ([1, 0, 0, 0], [0.5, 1, 2, 0.25], [0, 0, 1, 1]):
        exact = autotune.exact_figures({**state, "weights": np.asarray(weights, float)}, seen, truth, 10)
        whole = autotune._Candidates(variants, seen, truth, width=n_items)
        assert whole.recall(parts, weights, 10) == pytest.approx(exact["recall@10"], abs=1e-6)
    narrow = autotune._Candidates(variants, seen, truth, width=3)  # 3 per score: at most 12 distinct columns
    assert narrow.valid.sum(axis=1).max() <= 12 and not narrow.hits[~narrow.valid].any()


@pytest.mark.parametrize("weights", [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [2.0, 0.5, 1.0, 0.25],
                                     [0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1], [1, 0.5, 1, 0.25, 2, 0.5]])
def test_blended_equals_the_weighted_sum_of_standardised_components(weights):
    # The scorer's one-product form (means and spreads from the embedding covariance, the graph
    # summed densely) against the four dense standardised scores it replaces.
    rng = np.random.default_rng(7)
    n, d = 120, 8
    e = rng.normal(size=(n, d))
    e[5] = 0.0  # an item without a vector
    x = sp.random(80, n, density=0.06, random_state=1, format="csr")
    adjacency = sp.random(n, n, density=0.05, random_state=2, format="csr")
    state = user_model.fit(e, x, adjacency + adjacency.T, {"lam": 10.0, "edge_power": 1.0})
    state = {k: (np.asarray(v, np.float64) if np.asarray(v).dtype.kind == "f" else v) for k, v in state.items()}
    h = sp.vstack([sp.random(30, n, density=0.05, random_state=3, format="csr"), sp.csr_matrix((1, n))]).tocsr()
    h.data = np.random.default_rng(8).permutation(h.nnz).astype(np.float64) + 1  # places: an order to read
    parts = user_model.components(state, h, recent_count=3)
    expected = sum(w * parts[c] for c, w in zip(user_model.COMPONENTS, user_model.full_weights(weights)))
    got = user_model.blended(user_model.prepared(state), h, weights, recent_count=3)
    np.testing.assert_allclose(got, expected, atol=1e-10)
    assert np.array_equal(got, user_model.blended(state, h, weights, recent_count=3))  # prepared or not: the same
    np.testing.assert_allclose(got[-1], weights[3] * parts["popularity"][-1], atol=1e-12)  # empty history


def test_recent_rows_keep_each_histories_latest_items_or_all_without_order():
    h = sp.csr_matrix(np.array([[1, 5, 2, 4, 3, 0], [1, 1, 1, 0, 0, 1], [0, 0, 0, 0, 0, 0]], dtype=np.float64))
    recent = user_model.recent_rows(h, 2).toarray()
    assert recent[0].tolist() == [0, 1, 0, 1, 0, 0]  # places 5 and 4 are the two latest
    assert recent[1].tolist() == [1, 1, 1, 0, 0, 1]  # equal places: no order, the whole history
    assert not recent[2].any()
    # Places with gaps (a query whose repeats were folded: [x, y, a, a, a] has places 1, 2, 5):
    # the two latest distinct items, whatever the gaps.
    gaps = user_model.recent_rows(sp.csr_matrix(np.array([[1.0, 0, 5, 0, 2]])), 2).toarray()
    assert gaps[0].tolist() == [0, 0, 1, 0, 1]
    # The recent scores of a history with no order are the whole history's.
    x, vectors = clustered_log()
    state = user_model.fit(vectors, x, None)
    whole = user_model.components(state, x[:5], ("embedding", "recent"), recent_count=2)
    np.testing.assert_allclose(whole["recent"], whole["embedding"])


def test_graph_kernel_sums_the_histories_neighbourhoods():
    from recgraph._graph_kernel import add_neighbourhoods

    g = sp.random(50, 50, density=0.1, random_state=4, format="csr")
    h = sp.random(9, 50, density=0.2, random_state=5, format="csr")
    out = np.zeros((9, 50))
    add_neighbourhoods(h.indptr, h.indices, g.indptr, g.indices, g.data.astype(np.float64), out)
    binary = h.copy()
    binary.data[:] = 1.0
    np.testing.assert_allclose(out, (binary @ g).toarray(), rtol=1e-12)


def test_select_holds_out_the_latest_or_a_random_share_and_weighs_recency_only_with_order():
    x, vectors = clustered_log(n_users=200)
    order = x.copy()
    order.data = np.random.default_rng(4).permutation(x.nnz).astype(np.float64) + 1.0  # times
    build = {"run": lambda m: (vectors, None)}
    grid = {"lam": (1.0,), "edge_power": (0.0,), "rounds": 1}
    _, latest = autotune.select(x, build, order=order, seed=2, grid=grid)
    _, random = autotune.select(x, build, order=order, seed=2, grid=grid, latest=False)
    _, plain = autotune.select(x, build, seed=2, grid=grid)
    assert (latest["ordered"], latest["holdout"]) == (True, "latest")
    assert (random["ordered"], random["holdout"]) == (True, "random")
    assert (plain["ordered"], plain["holdout"]) == (False, "random")
    assert set(latest["chosen"]["alone"]) == set(user_model.COMPONENTS)
    assert set(plain["chosen"]["alone"]) == set(user_model.UNORDERED)
    assert plain["chosen"]["weights"][4:] == [0.0, 0.0]
