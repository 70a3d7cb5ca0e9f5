"""node2vec walks: structure, reproducibility, validation and the exact transition law."""

from __future__ import annotations

import numpy as np
import pytest

from recgraph.errors import ParameterError
from recgraph.graph import ItemGraph
from recgraph.walks import node2vec_walks

# A small weighted graph with triangles (0-1-2, 1-2-3, 2-3-4, 3-4-5) and a tail
# (5-6, 6-0), so every (prev, cur) context mixes the three node2vec cases:
# x == prev, x a neighbour of prev, x farther away.
SMALL_EDGES = [
    (0, 1, 1.0),
    (0, 2, 3.0),
    (1, 2, 0.5),
    (1, 3, 2.0),
    (2, 3, 1.5),
    (2, 4, 4.0),
    (3, 4, 0.7),
    (3, 5, 2.5),
    (4, 5, 1.2),
    (5, 6, 3.5),
    (6, 0, 0.8),
]


def small_graph(num_nodes: int | None = None) -> ItemGraph:
    src, dst, w = (np.array(col) for col in zip(*SMALL_EDGES))
    return ItemGraph.from_edges(src.astype(np.int64), dst.astype(np.int64), w.astype(np.float64), num_nodes=num_nodes)


def random_graph(n: int = 300, m: int = 2000, seed: int = 0) -> ItemGraph:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n, m)
    b = rng.integers(0, n, m)
    keep = a != b
    lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    pairs = np.unique(np.stack([lo, hi], axis=1), axis=0)
    w = rng.lognormal(0.0, 1.0, pairs.shape[0])
    return ItemGraph.from_edges(pairs[:, 0], pairs[:, 1], w, num_nodes=n)


def dense_weights(graph: ItemGraph) -> np.ndarray:
    n = graph.num_nodes
    w = np.zeros((n, n))
    rows = np.repeat(np.arange(n), graph.degrees())
    w[rows, graph.indices] = graph.weights
    return w


def exact_next(w: np.ndarray, prev: int, cur: int, p: float, q: float) -> np.ndarray:
    """node2vec transition law from ``cur`` having come from ``prev``."""
    bias = np.where(w[prev] > 0, 1.0, 1.0 / q)
    bias[prev] = 1.0 / p
    un = w[cur] * bias  # zero off cur's neighbours
    return un / un.sum()


# ---------------------------------------------------------------- structure


def test_shape_dtype_and_edges():
    g = random_graph()
    walks = node2vec_walks(g, num_walks=3, walk_length=12, p=2.0, q=0.5, seed=1)
    assert walks.dtype == np.int32
    assert walks.shape == (3 * g.num_nodes, 12)
    dense = dense_weights(g)
    valid = walks[:, 1:] >= 0
    # Every node of random_graph with an edge keeps walking; padding only after isolated starts.
    isolated = g.degrees() == 0
    assert np.all(valid[~isolated[walks[:, 0]]])
    a, b = walks[:, :-1][valid], walks[:, 1:][valid]
    assert np.all(dense[a, b] > 0), "a step is not an edge"


def test_each_round_starts_every_node_once():
    g = small_graph()
    walks = node2vec_walks(g, num_walks=4, walk_length=5, p=1.0, q=1.0, seed=3)
    n = g.num_nodes
    for r in range(4):
        assert sorted(walks[r * n : (r + 1) * n, 0].tolist()) == list(range(n))


def test_walk_length_one():
    g = small_graph()
    walks = node2vec_walks(g, num_walks=2, walk_length=1, p=2.0, q=0.5, seed=0)
    assert walks.shape == (2 * g.num_nodes, 1)
    assert sorted(walks[:, 0].tolist()) == sorted(list(range(g.num_nodes)) * 2)


def test_walk_length_two():
    g = random_graph()
    walks = node2vec_walks(g, num_walks=3, walk_length=2, p=2.0, q=0.5, seed=4)
    assert walks.shape == (3 * g.num_nodes, 2)
    dense = dense_weights(g)
    ok = walks[:, 1] >= 0
    assert np.all(dense[walks[ok, 0], walks[ok, 1]] > 0)
    assert np.all(g.degrees()[walks[~ok, 0]] == 0)


def test_isolated_node_padded():
    g = small_graph(num_nodes=9)  # nodes 7 and 8 have no edge
    walks = node2vec_walks(g, num_walks=3, walk_length=6, p=0.5, q=2.0, seed=5)
    iso = np.isin(walks[:, 0], [7, 8])
    assert iso.sum() == 6
    assert np.all(walks[iso, 1:] == -1)
    assert np.all(walks[~iso] >= 0)
    assert np.all(walks[~iso] < 7)


# ---------------------------------------------------------- reproducibility


def test_same_seed_same_walks():
    g = random_graph()
    a = node2vec_walks(g, 2, 15, p=0.25, q=4.0, seed=42)
    b = node2vec_walks(g, 2, 15, p=0.25, q=4.0, seed=42)
    np.testing.assert_array_equal(a, b)


def test_thread_count_does_not_change_walks():
    g = random_graph()
    one = node2vec_walks(g, 3, 20, p=2.0, q=0.5, seed=7, threads=1)
    two = node2vec_walks(g, 3, 20, p=2.0, q=0.5, seed=7, threads=2)
    np.testing.assert_array_equal(one, two)


def test_different_seeds_differ():
    g = random_graph()
    a = node2vec_walks(g, 2, 15, p=2.0, q=0.5, seed=1)
    b = node2vec_walks(g, 2, 15, p=2.0, q=0.5, seed=2)
    assert not np.array_equal(a, b)


def test_unseeded_runs_differ():
    g = random_graph()
    assert not np.array_equal(node2vec_walks(g, 2, 15, 1.0, 1.0), node2vec_walks(g, 2, 15, 1.0, 1.0))


def _reference_walks(indptr, indices, thresh, table, starts, walk_length, inv_p, inv_q, seed):
    """Walk after walk in plain Python, drawing from each walk's splitmix64 stream as the kernel documents."""
    mask = (1 << 64) - 1
    golden, mix1, mix2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB

    def mix(z):
        z = ((z ^ (z >> 30)) * mix1) & mask
        z = ((z ^ (z >> 27)) * mix2) & mask
        return z ^ (z >> 31)

    def uniform(state):
        state = (state + golden) & mask
        return state, float(mix(state) >> 11) * (1.0 / 9007199254740992.0)

    def propose(cur, state):
        lo, deg = int(indptr[cur]), int(indptr[cur + 1] - indptr[cur])
        state, u = uniform(state)
        r = u * deg
        k = min(int(r), deg - 1)
        slot = lo + k
        pair = int(table[2 * slot + 1])
        return state, (pair >> 32) if r - k >= thresh[2 * slot] else (pair & 0xFFFFFFFF)

    max_bias = max(inv_p, 1.0, inv_q)
    sure, p_acc, n_acc, q_acc = min(1.0, inv_q) / max_bias, inv_p / max_bias, 1.0 / max_bias, inv_q / max_bias
    out = np.full((len(starts), walk_length), -1, dtype=np.int64)
    for w, start in enumerate(starts):
        state = mix(seed ^ ((w * golden + mix1) & mask))
        out[w, 0] = cur = int(start)
        if walk_length == 1 or indptr[cur + 1] == indptr[cur]:
            continue
        state, nxt = propose(cur, state)
        prev, cur = cur, nxt
        out[w, 1] = cur
        for t in range(2, walk_length):
            while True:
                state, x = propose(cur, state)
                state, u = uniform(state)
                if x == prev:
                    ok = u < p_acc
                elif u < sure:
                    ok = True
                elif x in set(indices[indptr[prev] : indptr[prev + 1]].tolist()):
                    ok = u < n_acc
                else:
                    ok = u < q_acc
                if ok:
                    break
            out[w, t] = x
            prev, cur = cur, x
    return out


@pytest.mark.parametrize("p,q", [(2.0, 1.5), (0.25, 4.0)])
def test_kernel_matches_walk_after_walk_reference(p, q):
    """The interleaved kernel (lanes, chunks, refills) gives exactly the walks of a plain loop."""
    from recgraph import _walk_kernels as kernels

    base = random_graph(n=80, m=400, seed=5)
    # Three isolated nodes on top, and more walks than one chunk of the kernel.
    rows = np.repeat(np.arange(base.num_nodes), base.degrees())
    upper = rows < base.indices
    g = ItemGraph.from_edges(rows[upper], base.indices[upper], base.weights[upper], num_nodes=83)
    rng = np.random.default_rng(0)
    starts = rng.integers(0, g.num_nodes, kernels.CHUNK + 300).astype(np.int64)
    thresh, table = kernels.alias_table(g.indptr, g.indices, g.weights)
    out = np.empty((starts.shape[0], 12), dtype=np.int32)
    seed = 0xDEADBEEF12345
    kernels.node2vec_walk_kernel(g.indptr, g.indices, thresh, table, starts, 12, 1.0 / p, 1.0 / q, np.uint64(seed), out)
    expected = _reference_walks(g.indptr, g.indices, thresh, table, starts, 12, 1.0 / p, 1.0 / q, seed)
    np.testing.assert_array_equal(out, expected)
    assert np.any(out[:, 1] == -1)  # the isolated nodes were walked from


# --------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs",
    [
        {"p": 0.0},
        {"p": -1.0},
        {"p": float("nan")},
        {"p": float("inf")},
        {"p": "two"},
        {"q": 0.0},
        {"q": -0.5},
        {"walk_length": 0},
        {"walk_length": -3},
        {"walk_length": 2.5},
        {"walk_length": "10"},
        {"num_walks": 0},
        {"num_walks": 1.0},
        {"num_walks": True},
        {"threads": 0},
        {"threads": 1.5},
    ],
)
def test_parameter_validation(kwargs):
    args = {"num_walks": 1, "walk_length": 5, "p": 1.0, "q": 1.0, "seed": 0}
    args.update(kwargs)
    with pytest.raises(ParameterError):
        node2vec_walks(small_graph(), **args)


def test_empty_graph_rejected():
    g = ItemGraph.from_edges(np.array([], dtype=np.int64), np.array([], dtype=np.int64), num_nodes=0)
    with pytest.raises(ParameterError):
        node2vec_walks(g, 1, 5, 1.0, 1.0, seed=0)


# ------------------------------------------------------------- distribution


def test_first_step_proportional_to_weight():
    g = small_graph()
    w = dense_weights(g)
    walks = node2vec_walks(g, num_walks=30_000, walk_length=2, p=0.25, q=4.0, seed=11)
    n = g.num_nodes
    counts = np.zeros((n, n))
    np.add.at(counts, (walks[:, 0], walks[:, 1]), 1)
    for u in range(n):
        expected = w[u] / w[u].sum()
        observed = counts[u] / counts[u].sum()
        tvd = 0.5 * np.abs(observed - expected).sum()
        assert tvd < 0.02, (u, tvd, observed, expected)


def test_first_step_high_degree_alias():
    """A hub with 60 neighbours of very uneven weight: the alias table must still be exact."""
    rng = np.random.default_rng(3)
    leaves = np.arange(1, 61)
    w_hub = rng.lognormal(0.0, 1.5, leaves.shape[0])
    g = ItemGraph.from_edges(np.zeros(60, dtype=np.int64), leaves, w_hub)
    walks = node2vec_walks(g, num_walks=150_000, walk_length=2, p=2.0, q=0.5, seed=12)
    observed = np.bincount(walks[walks[:, 0] == 0, 1], minlength=61)[1:] / 150_000
    tvd = 0.5 * np.abs(observed - w_hub / w_hub.sum()).sum()
    assert tvd < 0.02, tvd


def check_second_order_law(
    g: ItemGraph, p: float, q: float, num_walks: int, walk_length: int, seed: int, every_context: bool = True
) -> tuple[set, int]:
    """Compare each (prev, cur) context's next-node frequencies with the exact law.

    Every step past the first of every walk is a draw from its (prev, cur) context.
    Contexts with >= 20k draws are checked (``every_context``: all must have them).
    Returns the node2vec cases ("return", "common", "out") the checked contexts
    covered, and how many contexts were checked.
    """
    w = dense_weights(g)
    n = g.num_nodes
    walks = node2vec_walks(g, num_walks=num_walks, walk_length=walk_length, p=p, q=q, seed=seed).astype(np.int64)
    prev, cur, nxt = walks[:, :-2].ravel(), walks[:, 1:-1].ravel(), walks[:, 2:].ravel()
    counts = np.bincount((prev * n + cur) * n + nxt, minlength=n**3).reshape(n, n, n)
    cases = set()
    checked = 0
    for a in range(n):
        for b in range(n):
            if w[a, b] == 0:
                assert counts[a, b].sum() == 0
                continue
            total = counts[a, b].sum()
            assert total >= 20_000 or not every_context, (a, b, total)
            if total < 20_000:
                continue
            expected = exact_next(w, a, b, p, q)
            observed = counts[a, b] / total
            assert np.all(observed[expected == 0] == 0), "stepped off the graph"
            tvd = 0.5 * np.abs(observed - expected).sum()
            assert tvd < 0.02, ((a, b), tvd, observed, expected)
            checked += 1
            for x in np.flatnonzero(w[b]):
                cases.add("return" if x == a else ("common" if w[a, x] > 0 else "out"))
    assert checked == 2 * g.num_edges or not every_context
    return cases, checked


@pytest.mark.parametrize("p,q", [(2.0, 0.5), (0.25, 4.0)])
def test_second_order_transition_law(p, q):
    # 7 nodes * 20000 walks * 29 draws ~ 4M draws over 22 contexts (>= 20k each).
    cases, _ = check_second_order_law(small_graph(), p, q, num_walks=20_000, walk_length=31, seed=2024)
    assert cases == {"return", "common", "out"}


def test_second_order_transition_law_denser_graph():
    """12 nodes, ~60% of pairs linked, log-normal weights: many common neighbours per context."""
    rng = np.random.default_rng(8)
    a, b = np.triu_indices(12, k=1)
    keep = rng.random(a.shape[0]) < 0.6
    g = ItemGraph.from_edges(a[keep], b[keep], rng.lognormal(0.0, 1.0, keep.sum()), num_nodes=12)
    assert np.all(g.degrees() > 0)
    cases, checked = check_second_order_law(
        g, p=0.5, q=2.0, num_walks=20_000, walk_length=41, seed=77, every_context=False
    )
    assert cases == {"return", "common", "out"}
    assert checked >= g.num_edges, checked  # at least half of the directed edges


def test_second_order_law_chi_square_one_context():
    """A sharper check on one context: counts fit the exact law (chi-square, fixed seed)."""
    g = small_graph()
    w = dense_weights(g)
    p, q = 2.0, 0.5
    walks = node2vec_walks(g, num_walks=6000, walk_length=21, p=p, q=q, seed=99).astype(np.int64)
    prev, cur, nxt = walks[:, :-2].ravel(), walks[:, 1:-1].ravel(), walks[:, 2:].ravel()
    a, b = 1, 2  # cur 2 has neighbours 0 (common), 1 (return), 3 (common), 4 (out)
    sel = (prev == a) & (cur == b)
    observed = np.bincount(nxt[sel], minlength=g.num_nodes)
    expected = exact_next(w, a, b, p, q) * sel.sum()
    mask = expected > 0
    chi2 = (((observed - expected) ** 2)[mask] / expected[mask]).sum()
    # 3 degrees of freedom: P(chi2 > 16.27) = 0.001.
    assert chi2 < 16.27, (chi2, observed, expected)
