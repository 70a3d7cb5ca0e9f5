"""User models over fixed item embeddings: exact, batched scores of every item for histories.

The skip-gram vectors of the walks carry association between items, not popularity, and a
history's mean vector is a weak user model. Four scores are combined here, each standardised
per user (zero mean, unit spread over the catalogue) and summed with weights chosen on a
validation slice (:mod:`recgraph.autotune`):

- ``embedding``: cosine of each item to the mean of the history's unit vectors (the classic
  query);
- ``subspace``: a linear autoencoder restricted to the embedding subspace. With ``E`` the unit
  item vectors [items, d] and ``A = X E`` the users' summed vectors, ``W`` [d, d] minimises
  ``||X - A W E^T||^2`` with a ridge on ``A``'s side::

      W = (A^T A + lam I)^-1 A^T X E (E^T E + eps I)^-1,   and A^T X E = A^T A,

  so everything is d x d algebra; a history ``h`` scores ``(h E) W E^T``. It learns which
  directions of the embedding space predict the rest of a user's items (a user model beyond
  the mean vector), at the cost of one d x d solve;
- ``graph``: the history's summed PMI-graph neighbourhoods, ``h D^-1/2 G D^-1/2`` with ``G``
  the item graph's adjacency, each edge's PMI weight times ``max(0, cos(e_i, e_j)) ** edge_power``
  (the walks' embeddings re-weight the graph they were walked on; ``edge_power`` 0: plain PMI),
  and ``D`` its weighted degrees;
- ``popularity``: ``log(1 + training count)`` of each item, the prior the embeddings lack.

The fitted state is a dict of numpy arrays (what a model saves); :func:`score` takes a CSR of
histories and returns dense scores, matrix products over the batch, no loop per user.

>>> state = fit(embeddings, X, adjacency, {"weights": [0.5, 1.0, 1.0, 0.2], "lam": 10.0})
>>> scores = score(state, X[users])            # [len(users), n_items]; seen items -inf
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from .errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = ["COMPONENTS", "DEFAULT_PARAMS", "RECENT_COUNT", "UNORDERED", "blended", "combine", "components", "fit", "score", "subspace_weights"]

#: The scores combined, in the order of ``params["weights"]``. The last two read order: the
#: embedding cosine and the graph neighbourhoods of a history's ``recent_count`` latest items
#: (the whole history when it carries no order).
COMPONENTS = ("embedding", "subspace", "graph", "popularity", "recent", "recent_graph")
#: The scores a log without times can use (order is then whatever the caller passed).
UNORDERED = COMPONENTS[:4]
#: Used for a parameter that is not given.
DEFAULT_PARAMS = {"weights": (0.5, 1.0, 1.0, 0.25, 0.0, 0.0), "lam": 10.0, "eps": 1e-3, "edge_power": 1.0}
#: How many of a history's latest items the recent scores read, unless told.
RECENT_COUNT = 5


def full_weights(weights) -> np.ndarray:
    """``weights`` as one float per :data:`COMPONENTS`: the four of 0.2 (no recent scores) are
    padded with zeros."""
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.shape == (len(UNORDERED),):
        w = np.concatenate([w, np.zeros(len(COMPONENTS) - len(UNORDERED))])
    return w


def recent_rows(h, count: int) -> sp.csr_matrix:
    """The entries of ``h`` (values: each item's place in its history, oldest first) that are
    among their row's ``count`` latest distinct items, as a binary CSR; a row whose places are
    all equal (no order) keeps every entry. Validation (ranks by time) and queries (places that
    count repeats) so read the same number of items."""
    h = sp.csr_matrix(h)
    rows = np.repeat(np.arange(h.shape[0]), np.diff(h.indptr))
    by = np.lexsort((-h.data, rows))  # each row latest first
    rank = np.empty(h.nnz, dtype=np.int64)
    rank[by] = np.arange(h.nnz) - h.indptr[rows[by]]
    low = np.full(h.shape[0], np.inf)
    high = np.full(h.shape[0], -np.inf)
    np.minimum.at(low, rows, h.data)
    np.maximum.at(high, rows, h.data)
    keep = (rank < int(count)) | (low[rows] == high[rows])
    out = sp.csr_matrix((np.ones(int(keep.sum()), np.float32), h.indices[keep],
                         np.concatenate([[0], np.cumsum(np.bincount(rows[keep], minlength=h.shape[0]))])),
                        shape=h.shape)
    return out


def _check_params(params: Mapping | None) -> dict:
    out = {**DEFAULT_PARAMS, **dict(params or {})}
    unknown = set(out) - set(DEFAULT_PARAMS)
    if unknown:
        raise ParameterError(f"Unknown user-model parameter(s) {', '.join(sorted(unknown))}; "
                             f"valid: {', '.join(DEFAULT_PARAMS)}.")
    weights = full_weights(out["weights"])
    if weights.shape != (len(COMPONENTS),) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ParameterError(f"weights must be {len(COMPONENTS)} finite numbers >= 0 (or the first {len(UNORDERED)}; for "
                             f"{', '.join(COMPONENTS)}); "
                             f"got {out['weights']!r}.")
    for name in ("lam", "eps"):
        if not np.isfinite(out[name]) or out[name] <= 0:
            raise ParameterError(f"{name} must be a finite number > 0; got {out[name]!r}.")
    if not np.isfinite(out["edge_power"]) or out["edge_power"] < 0:
        raise ParameterError(f"edge_power must be a finite number >= 0; got {out['edge_power']!r}.")
    out["weights"] = weights
    return out


def _checked(x, n_items: int, name: str) -> sp.csr_matrix:
    if not sp.issparse(x):
        raise ParameterError(f"{name} must be a scipy sparse matrix [users, items]; got {type(x).__name__}.")
    x = sp.csr_matrix(x)
    if x.shape[1] != n_items:
        raise ParameterError(f"{name} has {x.shape[1]} item columns; the embeddings have {n_items} rows.")
    return x


def _binary(x, n_items: int, name: str) -> sp.csr_matrix:
    x = sp.csr_matrix(_checked(x, n_items, name), dtype=np.float32, copy=True)
    x.data[:] = 1.0
    x.eliminate_zeros()
    return x


def unit_rows(embeddings: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    e = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    return np.divide(e, norms, out=np.zeros_like(e), where=norms > 0)


def subspace_weights(e: np.ndarray, x: sp.csr_matrix, lam: float, eps: float = 1e-3) -> np.ndarray:
    """``W = (A^T A + lam' I)^-1 A^T A (E^T E + eps' I)^-1`` with ``A = X E`` [d, d], float64.

    ``lam`` and ``eps`` are relative: they are multiplied by the mean diagonal of ``A^T A`` and of
    ``E^T E``, so one setting means the same shrinkage on logs of any size.
    """
    e64 = np.asarray(e, dtype=np.float64)
    a = np.asarray(x @ e64)
    gram_a = a.T @ a
    gram_e = e64.T @ e64
    d = gram_a.shape[0]
    eye = np.eye(d)
    left = np.linalg.solve(gram_a + lam * max(np.trace(gram_a) / d, 1e-12) * eye, gram_a)
    return np.linalg.solve((gram_e + eps * max(np.trace(gram_e) / d, 1e-12) * eye).T, left.T).T


#: :func:`normalized_adjacency` takes the cosines of this many edges at a time.
EDGE_CHUNK = 1 << 18


def normalized_adjacency(adjacency, e: np.ndarray | None = None, edge_power: float = 0.0) -> sp.csr_matrix:
    """``D^-1/2 G D^-1/2`` (float32) with ``G``'s weights times ``max(0, cos) ** edge_power`` of the
    unit rows ``e`` at each edge's ends (``edge_power`` 0 or ``e`` None: the weights as they are)."""
    n_items = adjacency.shape[0] if e is None else e.shape[0]
    if adjacency is None:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    if not sp.issparse(adjacency) or adjacency.shape != (n_items, n_items):
        raise ParameterError(f"adjacency must be a sparse [{n_items}, {n_items}] matrix aligned with the embeddings; "
                             f"got {getattr(adjacency, 'shape', type(adjacency).__name__)}.")
    g = sp.csr_matrix(adjacency, dtype=np.float64, copy=True)
    g.sum_duplicates()
    rows = np.repeat(np.arange(n_items), np.diff(g.indptr))
    if e is not None and edge_power > 0:
        # Each edge's cosine, a chunk of edges at a time (memory follows the chunk, not the edges x dim).
        cos = np.empty(g.nnz)
        for lo in range(0, g.nnz, EDGE_CHUNK):
            hi = min(lo + EDGE_CHUNK, g.nnz)
            cos[lo:hi] = np.einsum("ij,ij->i", e[rows[lo:hi]], e[g.indices[lo:hi]], dtype=np.float64)
        g.data *= np.maximum(cos, 0.0) ** edge_power
    deg = np.bincount(rows, weights=g.data, minlength=n_items)
    inv = np.divide(1.0, np.sqrt(deg), out=np.zeros_like(deg), where=deg > 0)
    g.data *= inv[rows] * inv[g.indices]
    g.eliminate_zeros()
    return sp.csr_matrix(g, dtype=np.float32)


def fit(embeddings: np.ndarray, x, adjacency=None, params: Mapping | None = None) -> dict:
    """Fit the user model on the training matrix.

    Parameters
    ----------
    embeddings : float [n_items, d], row ``i`` the vector of column ``i`` of ``x`` (zeros for an
        item without one).
    x : sparse [n_users, n_items], the training interactions (any stored entry counts as one).
    adjacency : sparse [n_items, n_items], the item graph's weights on the same numbering, or None.
    params : ``weights`` (one per :data:`COMPONENTS`), ``lam``, ``eps`` (see :func:`subspace_weights`),
        ``edge_power`` (see :func:`normalized_adjacency`).

    Returns
    -------
    dict of numpy arrays: ``e`` (unit vectors, float32), ``w`` (float32 [d, d]), ``popularity``
    (float32 log(1 + count)), ``weights`` (float64 [6]) and the normalised graph as
    ``graph_indptr``, ``graph_indices``, ``graph_data``.
    """
    params = _check_params(params)
    e = unit_rows(embeddings)
    if e.ndim != 2:
        raise ParameterError(f"embeddings must be a 2-D array [items, dim]; got shape {e.shape}.")
    x = _binary(x, e.shape[0], "x")
    w = subspace_weights(e, x, params["lam"], params["eps"]) if params["weights"][1] > 0 else np.zeros(
        (e.shape[1], e.shape[1]))
    if adjacency is None:
        g = sp.csr_matrix((e.shape[0], e.shape[0]), dtype=np.float32)
    else:
        g = normalized_adjacency(adjacency, e, params["edge_power"])
    counts = np.asarray(x.sum(axis=0)).ravel()
    return {"e": e, "w": w.astype(np.float32), "popularity": np.log1p(counts).astype(np.float32),
            "weights": params["weights"].copy(), "lam": np.float64(params["lam"]), "eps": np.float64(params["eps"]),
            "edge_power": np.float64(params["edge_power"]),
            "graph_indptr": g.indptr.astype(np.int64), "graph_indices": g.indices.astype(np.int32),
            "graph_data": g.data.astype(np.float32)}


def _standardized(s: np.ndarray) -> np.ndarray:
    """Each row to zero mean and unit standard deviation (a constant row becomes zeros), in place."""
    s -= s.mean(axis=1, keepdims=True)
    sd = s.std(axis=1, keepdims=True)
    np.divide(s, sd, out=s, where=sd > 0)
    s[np.broadcast_to(sd == 0, s.shape)] = 0.0
    return s


def components(state: Mapping, h, which=COMPONENTS, recent_count: int = RECENT_COUNT) -> dict[str, np.ndarray]:
    """Each named score for histories ``h`` [batch, n_items], standardised per row (in the state's
    float precision: float32 as fitted, float64 when the scorer widened it). ``h``'s values are
    the items' places (oldest first), which only the recent scores read."""
    e = state["e"]
    out: dict[str, np.ndarray] = {}
    if "recent" in which or "recent_graph" in which:
        recent = recent_rows(_checked(h, e.shape[0], "histories"), recent_count)
        inner = components(state, recent, [c[len("recent_"):] if c != "recent" else "embedding"
                                           for c in which if c.startswith("recent")])
        out.update({("recent" if c == "embedding" else f"recent_{c}"): v for c, v in inner.items()})
    h = _binary(h, e.shape[0], "histories")
    if "embedding" in which:
        m = np.asarray(h @ e)
        m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
        out["embedding"] = _standardized(m @ e.T)
    if "subspace" in which:
        out["subspace"] = _standardized((np.asarray(h @ e) @ state["w"]) @ e.T)
    if "graph" in which:
        g = sp.csr_matrix((state["graph_data"], state["graph_indices"], state["graph_indptr"]),
                          shape=(e.shape[0], e.shape[0]))
        out["graph"] = _standardized(np.asarray((h @ g).toarray(), dtype=g.dtype))
    if "popularity" in which:
        pop = state["popularity"]
        out["popularity"] = _standardized(np.broadcast_to(pop, (h.shape[0], pop.shape[0])).astype(pop.dtype))
    return out


#: A row whose spread is below this (relative to its mean) is flat: it adds nothing, as a
#: constant row standardises to zeros.
_FLAT = 1e-12


def prepared(state: Mapping) -> dict:
    """``state`` with what :func:`blended` derives from it once (under ``"derived"``): the unit
    vectors in float64, their mean and covariance, the graph's weights in float64 and the
    standardised popularity row. A scorer keeps the prepared state, so no query pays for them."""
    e64 = np.asarray(state["e"], dtype=np.float64)
    n_items = max(e64.shape[0], 1)
    mean_e = e64.mean(axis=0) if e64.shape[0] else np.zeros(e64.shape[1])
    pop = np.asarray(state["popularity"], dtype=np.float64)
    sd = pop.std() if pop.size else 0.0
    derived = {"e64": e64, "mean_e": mean_e, "cov": e64.T @ e64 / n_items - np.outer(mean_e, mean_e),
               "graph_data": np.asarray(state["graph_data"], dtype=np.float64),
               "pop_z": (pop - pop.mean()) / sd if sd > 0 else np.zeros_like(pop)}
    return {**state, "derived": derived}


def blended(state: Mapping, h, weights, recent_count: int = RECENT_COUNT) -> np.ndarray:
    """``combine(components(state, h), weights)`` computed without a dense array per component.

    Standardising a row is an affine map, so the sum is rebuilt from its pieces: the embedding
    scores (mean vector, subspace, recent mean vector) are ``q E^T`` for one query ``q`` in the
    embedding space, whose mean over the catalogue is ``q . mean(E)`` and whose variance is
    ``q C q^T`` (``C`` the covariance of ``E``'s rows), so they cost one matrix product
    [batch, d] x [d, items] together; each graph score (the history's and the recent items'
    neighbourhoods) is summed into one dense [batch, items] array by a compiled loop and
    standardised there; popularity is one row for every user. The batch is the scorer's block
    (:func:`recgraph.scoring.block_rows`), so memory follows the block. Scores are in the
    state's float precision (float64 as the scorer widens it), equal to :func:`combine` of
    :func:`components` up to rounding in the last digits.
    """
    e = state["e"]
    dtype = e.dtype
    n_items = e.shape[0]
    weights = full_weights(weights)
    if weights.shape != (len(COMPONENTS),) or not weights.any():
        raise ParameterError("Every user-model weight is zero; at least one score must count.")
    recent = recent_rows(_checked(h, n_items, "histories"), recent_count) if weights[4:].any() else None
    h = _binary(h, n_items, "histories")
    derived = state.get("derived") or prepared(state)["derived"]
    e64, mean_e, cov, graph_data, pop_z = (derived[k] for k in ("e64", "mean_e", "cov", "graph_data", "pop_z"))
    users = h.shape[0]
    query = np.zeros((users, e.shape[1]))
    shift = np.zeros(users)

    def add_linear(q: np.ndarray, weight: float) -> None:
        nonlocal query, shift
        mu = q @ mean_e
        sd = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", q, cov, q), 0.0))
        scale = np.divide(weight, sd, out=np.zeros_like(sd), where=sd > _FLAT * np.maximum(np.abs(mu), 1.0))
        query += scale[:, None] * q
        shift -= scale * mu

    def unit(summed: np.ndarray) -> np.ndarray:
        return summed / np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-12)

    summed = np.asarray(h @ e64)
    if weights[0] > 0:
        add_linear(unit(summed), weights[0])
    if weights[1] > 0:
        add_linear(summed @ np.asarray(state["w"], dtype=np.float64), weights[1])
    if weights[4] > 0:
        assert recent is not None
        add_linear(unit(np.asarray(recent @ e64)), weights[4])
    out = np.asarray(query @ e64.T, dtype=dtype)

    def add_graph(rows: sp.csr_matrix, weight: float) -> None:
        nonlocal shift
        from ._graph_kernel import add_neighbourhoods

        graph = np.zeros((users, n_items))  # rows @ g, accumulated densely (the product is about as dense)
        add_neighbourhoods(rows.indptr, rows.indices, state["graph_indptr"], state["graph_indices"], graph_data, graph)
        mu = graph.mean(axis=1)
        sd = np.sqrt(np.maximum(np.einsum("ij,ij->i", graph, graph) / max(n_items, 1) - mu ** 2, 0.0))
        scale = np.divide(weight, sd, out=np.zeros_like(sd), where=sd > _FLAT * np.maximum(np.abs(mu), 1.0))
        shift -= scale * mu
        graph *= scale[:, None]
        out[...] += graph.astype(dtype, copy=False)

    if weights[2] > 0:
        add_graph(h, weights[2])
    if weights[5] > 0:
        assert recent is not None
        add_graph(recent, weights[5])
    if weights[3] > 0:
        out += (weights[3] * pop_z).astype(dtype)[None, :]
    out += shift.astype(dtype)[:, None]
    return out


def combine(parts: Mapping[str, np.ndarray], weights) -> np.ndarray:
    """``sum_k weights[k] * parts[COMPONENTS[k]]`` over the parts present and weighted (float32)."""
    total: np.ndarray | None = None
    for name, wk in zip(COMPONENTS, full_weights(weights)):
        if wk == 0 or name not in parts:
            continue
        term = np.asarray(parts[name] * np.float32(wk), dtype=np.float32)
        total = term if total is None else total + term
    if total is None:
        raise ParameterError("Every user-model weight is zero; at least one score must count.")
    return total


def score(state: Mapping, h, exclude_seen: bool = True) -> np.ndarray:
    """Scores of every item for each history row of ``h`` (sparse [batch, n_items]), float32.

    With ``exclude_seen``, the history's own items score ``-inf`` (never recommended).
    """
    weights = full_weights(state["weights"])
    which = tuple(n for n, wk in zip(COMPONENTS, weights) if wk > 0)
    out = combine(components(state, h, which), weights)
    h = _binary(h, state["e"].shape[0], "histories")
    if exclude_seen:
        rows = np.repeat(np.arange(h.shape[0]), np.diff(h.indptr))
        out[rows, h.indices] = -np.inf
    return out
