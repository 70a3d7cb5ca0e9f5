"""Ranking metrics and top-K selection on hand-worked cases (exact values)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recgraph.errors import ParameterError
from recgraph.evaluation.metrics import coverage, hit_rate, hits, ndcg, recall, summarize, top_k


def truth_matrix(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    r = [u for u, items in enumerate(rows) for _ in items]
    c = [i for items in rows for i in items]
    return sp.csr_matrix((np.ones(len(c), dtype=bool), (r, c)), shape=(len(rows), n_items))


# Three users over 5 items.
#   user 0: ranked [3, 1, 0], held out {1, 2}: one hit at rank 2
#   user 1: ranked [2, -, -] (one candidate only), held out {2}: hit at rank 1
#   user 2: ranked [4, 0, 1], held out nothing
TOP = np.array([[3, 1, 0], [2, -1, -1], [4, 0, 1]])
TRUTH = truth_matrix([[1, 2], [2], []], 5)


def test_hits_marks_held_out_items_and_ignores_padding():
    assert hits(TOP, TRUTH, 3).tolist() == [[False, True, False], [True, False, False], [False, False, False]]


def test_hit_rate_exact():
    assert hit_rate(TOP, TRUTH, 1).tolist() == [0.0, 1.0, 0.0]
    assert hit_rate(TOP, TRUTH, 3).tolist() == [1.0, 1.0, 0.0]


def test_recall_exact():
    assert recall(TOP, TRUTH, 1).tolist() == [0.0, 1.0, 0.0]
    assert recall(TOP, TRUTH, 3).tolist() == [0.5, 1.0, 0.0]


def test_ndcg_exact():
    # user 0: DCG = 1/log2(3); ideal (2 relevant) = 1 + 1/log2(3)
    expected0 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    values = ndcg(TOP, TRUTH, 3)
    assert values[0] == pytest.approx(expected0, abs=1e-12)
    assert values[0] == pytest.approx(0.3868528072345416, abs=1e-12)
    assert values[1] == 1.0
    assert values[2] == 0.0
    # At k=1 the ideal of user 0 is one hit at rank 1; the list has none there.
    assert ndcg(TOP, TRUTH, 1).tolist() == [0.0, 1.0, 0.0]


def test_ndcg_ideal_is_capped_at_k():
    top = np.array([[0, 1]])
    truth = truth_matrix([[0, 1, 2, 3]], 4)
    assert ndcg(top, truth, 2)[0] == pytest.approx(1.0)  # two hits in two slots is ideal at k=2
    assert recall(top, truth, 2)[0] == 0.5


def test_coverage_counts_distinct_items():
    assert coverage(TOP, 3, 10) == pytest.approx(5 / 10)  # {0, 1, 2, 3, 4}; padding is not an item
    assert coverage(TOP, 1, 10) == pytest.approx(3 / 10)  # {3, 2, 4}


def test_summarize_means_over_users():
    out = summarize(TOP, TRUTH, 5, ks=(1, 3))
    assert out["hr@3"] == pytest.approx(2 / 3)
    assert out["recall@3"] == pytest.approx(1.5 / 3)
    assert out["ndcg@1"] == pytest.approx(1 / 3)
    assert set(out) == {f"{m}@{k}" for m in ("hr", "ndcg", "recall", "coverage") for k in (1, 3)}


def test_top_k_orders_masks_and_pads():
    scores = np.array([
        [0.1, 0.9, 0.5, 0.9, 0.3],
        [1.0, -np.inf, np.nan, 0.2, -np.inf],
    ])
    exclude = sp.csr_matrix(np.array([[0, 0, 0, 0, 1], [0, 0, 0, 1, 0]]))
    top = top_k(scores, 3, exclude)
    # Tie between items 1 and 3 (0.9): the lower number first.
    assert top[0].tolist() == [1, 3, 2]
    # Row 1: only item 0 is a candidate (3 excluded, NaN and -inf never returned).
    assert top[1].tolist() == [0, -1, -1]


def test_top_k_breaks_ties_at_the_cut_deterministically():
    scores = np.zeros((2, 50))
    scores[1, 7] = 1.0
    top = top_k(scores, 4)
    assert top[0].tolist() == [0, 1, 2, 3]
    assert top[1].tolist() == [7, 0, 1, 2]


def test_top_k_with_k_above_the_catalogue():
    top = top_k(np.array([[0.2, 0.8]]), 4)
    assert top.tolist() == [[1, 0, -1, -1]]


def test_top_k_matches_a_full_sort():
    rng = np.random.default_rng(0)
    scores = rng.random((30, 200))
    exclude = sp.random(30, 200, density=0.2, random_state=1, format="csr")
    masked = scores.copy()
    masked[exclude.toarray() != 0] = -np.inf
    expected = np.argsort(-masked, axis=1, kind="stable")[:, :10]
    assert np.array_equal(top_k(scores, 10, exclude), expected)


def test_metric_arguments_are_checked():
    with pytest.raises(ParameterError):
        hit_rate(TOP, TRUTH, 4)
    with pytest.raises(ParameterError):
        hit_rate(TOP[:2], TRUTH, 1)
    with pytest.raises(ParameterError):
        top_k(np.zeros(3), 1)


def test_top_k_matches_a_full_sort_with_ties_infinities_and_unsorted_exclusions():
    rng = np.random.default_rng(3)
    scores = np.round(rng.random((40, 120)), 1)  # many ties
    scores[rng.random(scores.shape) < 0.05] = np.inf
    scores[rng.random(scores.shape) < 0.05] = np.nan
    exclude = sp.random(40, 120, density=0.3, random_state=2, format="csr")
    exclude.indices = exclude.indices.copy()
    exclude.has_sorted_indices = False
    for r in range(40):  # reverse each row's stored order: the kernel must not rely on it
        lo, hi = exclude.indptr[r], exclude.indptr[r + 1]
        exclude.indices[lo:hi] = exclude.indices[lo:hi][::-1].copy()
    cost = -np.nan_to_num(scores, nan=-np.inf, posinf=np.inf)
    cost[exclude.toarray() != 0] = np.inf
    cost[np.isnan(scores)] = np.inf
    expected = np.argsort(cost, axis=1, kind="stable")[:, :25]
    expected[np.take_along_axis(cost, expected, axis=1) == np.inf] = -1
    assert np.array_equal(top_k(scores, 25, exclude), expected)
