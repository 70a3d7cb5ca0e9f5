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
    with pytest.raises(EmptyGraphError, match="No two movies share a user"):
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
    with pytest.raises(EmptyGraphError, match="No movie is liked by 4 users at min_rating 5 .*most liked has 3"):
        build_item_graph(ratings_frame(rows), min_item_users=4)
    with pytest.raises(ParameterError, match="min_item_users must be an integer >= 0"):
        build_item_graph(ratings_frame(rows), min_item_users=-1)
