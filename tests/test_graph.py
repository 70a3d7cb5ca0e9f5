import math

import numpy as np
import pandas as pd
import pytest

from recgraph.errors import EmptyGraphError, ParameterError
from recgraph.graph import ItemGraph, build_item_graph


def ratings_frame(rows):
    return pd.DataFrame(rows, columns=["userId", "movieId", "rating"]).astype(
        {"userId": "int64", "movieId": "int64", "rating": "float64"}
    )


# Four users' 5-star movies (plus lower ratings that must be ignored):
#   u1: 10, 20, 30    u2: 10, 20    u3: 10, 20, 40    u4: 30
LIKED = [(1, 10), (1, 20), (1, 30), (2, 10), (2, 20), (3, 10), (3, 20), (3, 40), (4, 30)]
IGNORED = [(1, 40, 4.0), (2, 30, 3.0), (4, 10, 4.5)]


def hand_graph(min_weight):
    rows = [(u, m, 5.0) for u, m in LIKED] + list(IGNORED)
    return build_item_graph(ratings_frame(rows), min_rating=5, min_weight=min_weight)


def test_pmi_weights_by_hand():
    # n = 9 liked ratings; n_10 = 3, n_20 = 3, n_30 = 2, n_40 = 1
    # pairs: (10,20) x3, (10,30) x1, (20,30) x1, (10,40) x1, (20,40) x1
    graph = hand_graph(min_weight=-100)
    d = math.log(9)
    expected = {
        (10, 20): 3 * (math.log(3) - math.log(3) - math.log(3) + d),
        (10, 30): 1 * (math.log(1) - math.log(3) - math.log(2) + d),
        (20, 30): 1 * (math.log(1) - math.log(3) - math.log(2) + d),
        (10, 40): 1 * (math.log(1) - math.log(3) - math.log(1) + d),
        (20, 40): 1 * (math.log(1) - math.log(3) - math.log(1) + d),
    }
    assert graph.item_ids.tolist() == [10, 20, 30, 40]
    assert graph.num_edges == len(expected)
    row = {m: i for i, m in enumerate(graph.item_ids.tolist())}
    for (a, b), weight in expected.items():
        assert graph.weight(row[a], row[b]) == pytest.approx(weight, rel=1e-12)
        assert graph.weight(row[b], row[a]) == pytest.approx(weight, rel=1e-12)
    assert graph.weight(row[30], row[40]) == 0.0


def test_min_weight_drops_edges_and_isolated_movies():
    # (10,20) weighs 3*log 3 = 3.30; (10,40), (20,40) log 3 = 1.10; (10,30), (20,30) log 1.5 = 0.41
    graph = hand_graph(min_weight=1.0)
    assert graph.item_ids.tolist() == [10, 20, 40]
    assert graph.num_edges == 3
    graph = hand_graph(min_weight=2.0)
    assert graph.item_ids.tolist() == [10, 20]
    assert graph.stats() == {"nodes": 2, "edges": 1, "avg_degree": 1.0}


def test_csr_rows_sorted_and_symmetric():
    graph = hand_graph(min_weight=-100)
    for node in range(graph.num_nodes):
        nbrs, _ = graph.neighbors(node)
        assert np.all(np.diff(nbrs) > 0)
    dense = np.zeros((graph.num_nodes,) * 2)
    rows = np.repeat(np.arange(graph.num_nodes), graph.degrees())
    dense[rows, graph.indices] = graph.weights
    np.testing.assert_array_equal(dense, dense.T)


def test_ml_latest_small_matches_the_example(ml_graph):
    assert ml_graph.stats() == {"nodes": 1405, "edges": 40043, "avg_degree": 57.0}
    assert ml_graph.weights.min() >= 10.0


def test_empty_graph_names_the_threshold():
    rows = [(u, m, 5.0) for u, m in LIKED]
    with pytest.raises(EmptyGraphError, match="min_rating 5.5"):
        build_item_graph(ratings_frame(rows), min_rating=5.5)
    with pytest.raises(EmptyGraphError, match="min_weight 1000"):
        build_item_graph(ratings_frame(rows), min_weight=1000)
    with pytest.raises(EmptyGraphError, match="No two items share a user"):
        build_item_graph(ratings_frame([(1, 1, 5.0), (2, 2, 5.0)]))


def test_from_edges_and_networkx_export():
    graph = ItemGraph.from_edges(np.array([0, 1, 2]), np.array([1, 2, 0]), np.array([1.0, 2.0, 3.0]), num_nodes=4,
                                 item_ids=np.array([100, 200, 300, 400]))
    assert graph.num_nodes == 4 and graph.num_edges == 3
    assert graph.weight(2, 1) == 2.0
    nx_graph = graph.to_networkx()
    assert nx_graph.number_of_nodes() == 4 and nx_graph.number_of_edges() == 3
    assert nx_graph[100][300]["weight"] == 3.0


@pytest.mark.parametrize(
    "src, dst, weight, match",
    [
        ([0, 1], [1], None, "equal length"),
        ([0, 1], [1, 1], None, "self-loop"),
        ([0], [1], [-1.0], "finite and > 0"),
        ([0], [-1], None, ">= 0"),
    ],
)
def test_from_edges_validation(src, dst, weight, match):
    with pytest.raises(ParameterError, match=match):
        ItemGraph.from_edges(np.array(src), np.array(dst), None if weight is None else np.array(weight))


def test_min_item_users_leaves_movies_out_before_counting():
    # n_40 = 1: with min_item_users 2 movie 40 goes, and D counts the 8 liked ratings left.
    rows = [(u, m, 5.0) for u, m in LIKED] + list(IGNORED)
    graph = build_item_graph(ratings_frame(rows), min_rating=5, min_weight=-100, min_item_users=2)
    assert graph.item_ids.tolist() == [10, 20, 30]
    row = {m: i for i, m in enumerate(graph.item_ids.tolist())}
    d = math.log(8)
    assert graph.weight(row[10], row[20]) == pytest.approx(3 * (math.log(3) - 2 * math.log(3) + d), rel=1e-12)
    assert graph.weight(row[10], row[30]) == pytest.approx(math.log(1) - math.log(3) - math.log(2) + d, rel=1e-12)
    # The same as building from ratings without movie 40 at all.
    without = build_item_graph(ratings_frame([r for r in rows if r[1] != 40]), min_rating=5, min_weight=-100)
    np.testing.assert_array_equal(without.weights, graph.weights)
    assert graph.params["min_item_users"] == 2


def test_min_item_users_errors():
    rows = [(u, m, 5.0) for u, m in LIKED]
    with pytest.raises(EmptyGraphError, match="No item is liked by 4 users at min_rating 5 .*most liked has 3"):
        build_item_graph(ratings_frame(rows), min_item_users=4)
    with pytest.raises(ParameterError, match="min_item_users must be an integer >= 0"):
        build_item_graph(ratings_frame(rows), min_item_users=-1)


# ---- max_degree, max_user_items, weight > 0, blocks (SPEC rules 2, 5, 6; the Spark engine is checked
# against these) ----

def edge_set(graph):
    """{(movie, movie): weight} with the smaller movie id first."""
    rows = np.repeat(np.arange(graph.num_nodes), graph.degrees())
    upper = rows < graph.indices
    ids = graph.item_ids
    return dict(zip(zip(ids[rows[upper]].tolist(), ids[graph.indices[upper]].tolist()), graph.weights[upper].tolist()))


def test_max_degree_keeps_the_union_of_each_ends_top_k():
    # Weights (test_pmi_weights_by_hand): (10,20) 3.30; (10,40) = (20,40) 1.10; (10,30) = (20,30) 0.41,
    # the equal ones equal to the bit (n_10 = n_20).
    full = edge_set(hand_graph(min_weight=-100))
    # K = 1: 10 -> 20, 20 -> 10, 30 -> 10 (tie with 20, smaller id), 40 -> 10 (tie with 20).
    one = build_item_graph(ratings_frame([(u, m, 5.0) for u, m in LIKED]), min_weight=-100, max_degree=1)
    assert edge_set(one) == {pair: full[pair] for pair in [(10, 20), (10, 30), (10, 40)]}
    assert one.params["max_degree"] == 1
    # K = 2: 10 keeps 20 and 40, 20 keeps 10 and 40; (10,30) and (20,30) are in neither's top 2
    # but both are 30's only edges, so the union keeps every edge.
    two = build_item_graph(ratings_frame([(u, m, 5.0) for u, m in LIKED]), min_weight=-100, max_degree=2)
    assert edge_set(two) == full
    # Only kept edges are ranked: with min_weight 1 movie 30 has none, and K = 1 leaves (10,20),
    # (10,40) (40's top; 10's top is 20).
    thresholded = build_item_graph(ratings_frame([(u, m, 5.0) for u, m in LIKED]), min_weight=1.0, max_degree=1)
    assert edge_set(thresholded) == {pair: full[pair] for pair in [(10, 20), (10, 40)]}
    assert thresholded.item_ids.tolist() == [10, 20, 40]


def ranked_union(full, k):
    """Reference rule 6 on an unpruned graph: each node's top k by (weight desc, neighbour id asc), the union."""
    rows = np.repeat(np.arange(full.num_nodes), full.degrees())
    order = np.lexsort((full.indices, -full.weights, rows))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - np.repeat(full.indptr[:-1], full.degrees())
    top = rank < k
    a, b = rows[top], full.indices[top].astype(np.int64)
    return set(zip(full.item_ids[np.minimum(a, b)].tolist(), full.item_ids[np.maximum(a, b)].tolist()))


def test_max_degree_on_ml_latest_small_matches_a_per_node_ranking(ml_small, ml_graph):
    pruned = build_item_graph(ml_small, max_degree=5, block_entries=20_000)
    got = edge_set(pruned)
    assert set(got) == ranked_union(ml_graph, 5)
    full = edge_set(ml_graph)
    assert all(got[pair] == full[pair] for pair in got)
    assert pruned.degrees().min() >= 1 and len(got) < 5 * ml_graph.num_nodes


@pytest.mark.parametrize("k", [1, 3, 10])
def test_max_degree_with_many_ties_matches_a_per_node_ranking(k):
    # Few users, so many pairs share a count and a weight: the tie rule decides.
    rng = np.random.default_rng(k)
    rows = {(int(u), int(m)) for u, m in zip(rng.integers(0, 40, 600), rng.integers(0, 60, 600) ** 2 // 60)}
    frame = ratings_frame([(u, m, 5.0) for u, m in sorted(rows)])
    full = build_item_graph(frame, min_weight=-100)
    for block in (50, 10**6):
        pruned = build_item_graph(frame, min_weight=-100, max_degree=k, block_entries=block)
        assert set(edge_set(pruned)) == ranked_union(full, k)


def timed_frame(rows):
    return pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"]).astype(
        {"userId": "int64", "movieId": "int64", "rating": "float64", "timestamp": "int64"})


# u1 liked 1 (t 100), 2, 3 and 4 (t 300 each) and rated 5 at 3 stars (t 400, not liked);
# u2..u5 liked two movies each: 1 and 2, 3 and 4, 1 and 3, 2 and 4.
CAPPED = [(1, 1, 5.0, 100), (1, 2, 5.0, 300), (1, 3, 5.0, 300), (1, 4, 5.0, 300), (1, 5, 3.0, 400),
          (2, 1, 5.0, 10), (2, 2, 5.0, 10), (3, 3, 5.0, 10), (3, 4, 5.0, 10), (4, 1, 5.0, 10), (4, 3, 5.0, 10),
          (5, 2, 5.0, 10), (5, 4, 5.0, 10)]


def test_max_user_items_keeps_the_most_recent_ties_by_smaller_id():
    frame = timed_frame(CAPPED)
    # N = 3: u1 keeps 2, 3, 4 (t 300); 1 (t 100) goes. The other users are under the cap.
    three = build_item_graph(frame, min_weight=-100, max_user_items=3)
    assert edge_set(three) == edge_set(build_item_graph(frame.drop(index=0), min_weight=-100))
    # By hand: 11 liked rows left; n_2 = n_4 = 3, n_24 = 2 (u1, u5).
    d = math.log(11)
    assert edge_set(three)[(2, 4)] == pytest.approx(2 * (math.log(2) - math.log(3) - math.log(3) + d), rel=1e-12)
    assert three.params["max_user_items"] == 3
    # N = 2: 2, 3 and 4 tie at t 300, the smaller ids win: u1 keeps 2 and 3.
    two = build_item_graph(frame, min_weight=-100, max_user_items=2)
    assert edge_set(two) == edge_set(build_item_graph(frame.drop(index=[0, 3]), min_weight=-100))
    # No timestamps: every row ties, so u1 keeps its smallest ids, 1, 2 and 3.
    untimed = build_item_graph(frame.drop(columns="timestamp"), min_weight=-100, max_user_items=3)
    assert edge_set(untimed) == edge_set(build_item_graph(frame.drop(index=3), min_weight=-100))
    # Low ratings never count towards the cap, and a cap no user exceeds changes nothing.
    assert edge_set(build_item_graph(frame, min_weight=-100, max_user_items=4)) == edge_set(
        build_item_graph(frame, min_weight=-100))


def test_max_user_items_applies_before_min_item_users():
    # n_1 = 3 (u1, u2, u4), every other movie 3 too. u1's cap of 3 drops movie 1 there, so n_1 = 2 and
    # min_item_users 3 then drops it everywhere: the graph of the log without movie 1 (where u1 has
    # 3 liked movies, under the cap). Counted before the cap, movie 1 would stay.
    frame = timed_frame(CAPPED)
    capped = build_item_graph(frame, min_weight=-100, max_user_items=3, min_item_users=3)
    assert capped.item_ids.tolist() == [2, 3, 4]
    assert edge_set(capped) == edge_set(build_item_graph(frame[frame.movieId != 1], min_weight=-100))
    assert 1 in build_item_graph(frame, min_weight=-100, min_item_users=3).item_ids.tolist()


def test_non_positive_weights_are_never_kept():
    # T = 8 liked rows; n_1 = n_2 = 3, n_12 = 1: weight log(8 / 9) < 0, dropped even at min_weight -100.
    # (3,4): log 1 - 0 - 0 + log 8 > 0, kept.
    liked = [(1, 1), (1, 2), (2, 1), (3, 1), (4, 2), (5, 2), (6, 3), (6, 4)]
    graph = build_item_graph(ratings_frame([(u, m, 5.0) for u, m in liked]), min_weight=-100)
    assert edge_set(graph) == {(3, 4): pytest.approx(math.log(8))}
    with pytest.raises(EmptyGraphError, match="min_weight -100 with a weight > 0"):
        build_item_graph(ratings_frame([(u, m, 5.0) for u, m in liked[:6]]), min_weight=-100)


@pytest.mark.parametrize("max_degree", [None, 2])
def test_blocks_do_not_change_the_graph(max_degree):
    frame = timed_frame(CAPPED)
    whole = build_item_graph(frame, min_weight=-100, max_degree=max_degree, block_entries=10**9)
    for block in (1, 3, 7):
        graph = build_item_graph(frame, min_weight=-100, max_degree=max_degree, block_entries=block)
        for name in ("indptr", "indices", "weights", "item_ids"):
            np.testing.assert_array_equal(getattr(graph, name), getattr(whole, name))


def test_ml_latest_small_in_small_blocks_is_the_example_to_the_bit(ml_small, ml_graph):
    graph = build_item_graph(ml_small, block_entries=50_000, max_user_items=500)
    for name in ("indptr", "indices", "weights", "item_ids"):
        np.testing.assert_array_equal(getattr(graph, name), getattr(ml_graph, name))


@pytest.mark.parametrize("name", ["max_degree", "max_user_items"])
@pytest.mark.parametrize("value", [0, -3, 2.5, True, "10"])
def test_limits_must_be_positive_integers_or_none(name, value):
    with pytest.raises(ParameterError, match=f"^{name} must be an integer >= 1, or None for no limit; got"):
        build_item_graph(ratings_frame([(u, m, 5.0) for u, m in LIKED]), **{name: value})
