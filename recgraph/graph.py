"""The item graph: PMI-weighted co-occurrence of items liked by the same users.

The rules (shared with the Spark engine, which must give the same edges)::

    1. liked        = rows with rating >= min_rating (one row per (user, item))
    2. max_user_items N: a user with more than N liked rows keeps the N most recent
                      (ties, and logs without timestamps, by the smaller item id)
    3. min_item_users: n_x = users who liked x; items with n_x < min_item_users go, rows too
    4. D            = log(number of liked rows left)
    5. weight(x<y)  = (log(n_xy) - (log(n_x) + log(n_y)) + D) * n_xy   (float64, this order)
                      kept when weight >= min_weight and weight > 0
    6. max_degree K: an edge survives when it is among the K strongest (weight desc, then
                      neighbour id asc) of either end
    7. nodes        = items with at least one edge, ordered by item id

With the defaults (no cap, no item left out, no degree limit, min_weight 10) this is the
Keras "node2vec on MovieLens" example's graph exactly. The counts ``n_xy`` come from sparse
products over blocks of items, each weighed, thresholded and pruned before the next, so
memory follows the kept edges plus one block, not every co-occurring pair; no Python loop
over users or pairs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from .errors import EmptyGraphError, ParameterError
from .validation import check_float, check_int

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ItemGraph:
    """An undirected weighted graph in CSR form.

    Attributes
    ----------
    indptr : int64 [num_nodes + 1]; row ``i``'s neighbours are ``indices[indptr[i]:indptr[i+1]]``.
    indices : int32 [2 * num_edges], sorted within each row.
    weights : float64 [2 * num_edges], aligned with ``indices``; all > 0.
    item_ids : int64 [num_nodes], the item id of each node (node ``i`` is ``item_ids[i]``).
    """

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    item_ids: np.ndarray
    params: dict = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return int(self.indptr.shape[0] - 1)

    @property
    def num_edges(self) -> int:
        """Number of undirected edges."""
        return int(self.indices.shape[0] // 2)

    @property
    def avg_degree(self) -> float:
        return 2.0 * self.num_edges / self.num_nodes if self.num_nodes else 0.0

    def degrees(self) -> np.ndarray:
        return np.diff(self.indptr)

    def stats(self) -> dict:
        """``{"nodes", "edges", "avg_degree"}`` (average degree rounded to 0.1)."""
        return {"nodes": self.num_nodes, "edges": self.num_edges, "avg_degree": round(self.avg_degree, 1)}

    def neighbors(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """Neighbour nodes and edge weights of ``node``."""
        lo, hi = self.indptr[node], self.indptr[node + 1]
        return self.indices[lo:hi], self.weights[lo:hi]

    def weight(self, u: int, v: int) -> float:
        """Weight of edge ``(u, v)``, 0.0 if absent."""
        nbrs, w = self.neighbors(u)
        k = np.searchsorted(nbrs, v)
        return float(w[k]) if k < nbrs.shape[0] and nbrs[k] == v else 0.0

    @classmethod
    def from_edges(
        cls,
        src: np.ndarray,
        dst: np.ndarray,
        weight: np.ndarray | None = None,
        num_nodes: int | None = None,
        item_ids: np.ndarray | None = None,
    ) -> "ItemGraph":
        """Build an undirected graph from edge arrays.

        Each undirected edge is given once (either direction); a pair given twice
        has its weights summed. Self-loops and non-positive weights are errors.
        """
        src = np.asarray(src)
        dst = np.asarray(dst)
        if src.shape != dst.shape or src.ndim != 1:
            raise ParameterError(f"src and dst must be 1-D arrays of equal length; got shapes {src.shape} and {dst.shape}.")
        if weight is None:
            weight = np.ones(src.shape[0], dtype=np.float64)
        weight = np.asarray(weight, dtype=np.float64)
        if weight.shape != src.shape:
            raise ParameterError(f"weight must have one value per edge ({src.shape[0]}); got shape {weight.shape}.")
        if src.size and (not np.issubdtype(src.dtype, np.integer) or not np.issubdtype(dst.dtype, np.integer)):
            raise ParameterError("src and dst must hold integer node numbers.")
        if src.size and min(src.min(), dst.min()) < 0:
            raise ParameterError("node numbers must be >= 0.")
        if not np.all(np.isfinite(weight)) or np.any(weight <= 0):
            raise ParameterError("edge weights must be finite and > 0.")
        if np.any(src == dst):
            raise ParameterError(f"self-loop on node {int(src[src == dst][0])}; an item graph has none.")
        highest = int(max(src.max(), dst.max())) + 1 if src.size else 0
        if num_nodes is None:
            num_nodes = highest
        elif num_nodes < highest:
            raise ParameterError(f"num_nodes {num_nodes} is smaller than the highest node number + 1 ({highest}).")
        rows = np.concatenate([src, dst]).astype(np.int64)
        cols = np.concatenate([dst, src]).astype(np.int64)
        vals = np.concatenate([weight, weight])
        adj = sp.csr_matrix((vals, (rows, cols)), shape=(num_nodes, num_nodes))
        adj.sum_duplicates()  # also sorts indices within each row
        if item_ids is None:
            item_ids = np.arange(num_nodes, dtype=np.int64)
        item_ids = np.asarray(item_ids, dtype=np.int64)
        if item_ids.shape != (num_nodes,):
            raise ParameterError(f"item_ids must have one id per node ({num_nodes}); got shape {item_ids.shape}.")
        return cls(
            indptr=adj.indptr.astype(np.int64),
            indices=adj.indices.astype(np.int32),
            weights=adj.data.astype(np.float64),
            item_ids=item_ids,
        )

    def to_networkx(self):
        """Export as a ``networkx.Graph`` whose nodes are item ids, with ``weight`` attributes."""
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(self.item_ids.tolist())
        rows = np.repeat(np.arange(self.num_nodes), self.degrees())
        upper = rows < self.indices
        graph.add_weighted_edges_from(
            zip(self.item_ids[rows[upper]].tolist(), self.item_ids[self.indices[upper]].tolist(), self.weights[upper].tolist())
        )
        return graph


#: Most intermediate entries (co-occurrence counts of one block of items) held at a time;
#: about 40 bytes each while a block is weighed and filtered, so ~100 MB. Smaller logs get
#: blocks of about as many entries as they have liked rows (at least MIN_BLOCK_ENTRIES), so
#: the build's memory stays a small multiple of its input at every size.
DEFAULT_BLOCK_ENTRIES = 2_500_000
MIN_BLOCK_ENTRIES = 100_000


def build_item_graph(ratings, min_rating: float = 5.0, min_weight: float = 10.0, min_item_users: int = 0,
                     max_degree: int | None = None, max_user_items: int | None = None,
                     show_progress: bool = False, *, block_entries: int | None = None) -> ItemGraph:
    """Build the PMI item graph from a ratings frame (the rules in the module docstring).

    Parameters
    ----------
    ratings : DataFrame (or :class:`recgraph.data.Ratings`) with ``userId``, ``movieId``, ``rating``
        and, for ``max_user_items``, ``timestamp``; one row per (user, item).
    min_rating : ratings at or above it count as "liked" (the example: 5).
    min_weight : edges with PMI x count below it are dropped (the example: 10).
    min_item_users : items liked by fewer users are left out (the example: 0, none).
    max_degree : each item's ``max_degree`` strongest edges survive, the union over both ends
        (None: no limit, the example).
    max_user_items : a user keeps only their ``max_user_items`` most recent liked items
        (None: no cap, the example).
    show_progress : a tqdm bar over the blocks of the co-occurrence product.
    block_entries : intermediate co-occurrence entries per block (default: the number of liked
        rows, within [:data:`MIN_BLOCK_ENTRIES`, :data:`DEFAULT_BLOCK_ENTRIES`]); the result
        does not depend on it.

    Returns
    -------
    ItemGraph
        Nodes are the items with at least one kept edge, ordered by item id.
    """
    frame = getattr(ratings, "ratings", ratings)
    min_rating = check_float("min_rating", min_rating)
    min_weight = check_float("min_weight", min_weight)
    min_item_users = check_int("min_item_users", min_item_users, low=0)
    max_degree = check_optional_int("max_degree", max_degree)
    max_user_items = check_optional_int("max_user_items", max_user_items)
    if block_entries is not None:
        block_entries = check_int("block_entries", block_entries)
    params = {"min_rating": min_rating, "min_weight": min_weight, "min_item_users": min_item_users,
              "max_degree": max_degree, "max_user_items": max_user_items}

    x, items = liked_matrix(frame, min_rating, min_item_users, max_user_items)
    item_users = np.diff(x.indptr)  # x: items x users, CSR
    total = int(x.nnz)
    if block_entries is None:
        block_entries = min(DEFAULT_BLOCK_ENTRIES, max(MIN_BLOCK_ENTRIES, total))
    edges = cooccurrence_edges(x, item_users, total, min_weight, max_degree, min_rating, block_entries, show_progress)
    del x
    graph = graph_from_pairs(edges, items)
    object.__setattr__(graph, "params", params)
    logger.info("graph: %d nodes, %d edges, average degree %.1f", graph.num_nodes, graph.num_edges, graph.avg_degree)
    return graph


def graph_from_pairs(edges: list, items: np.ndarray) -> ItemGraph:
    """Rule 7: the CSR graph of distinct item-row pairs ``src < dst`` over the items they touch.

    ``edges`` is ``[src, dst, weight]``; it is emptied as the arrays are used, so that no more
    than the CSR's own arrays and one copy of the edges are alive at a time.
    """
    src, dst, weight = edges
    edges.clear()
    present = np.zeros(len(items), dtype=bool)
    present[src] = True
    present[dst] = True
    nodes = np.flatnonzero(present)
    remap = (np.cumsum(present) - 1).astype(np.int32)
    src, dst = remap[src], remap[dst]
    rows = np.concatenate([src, dst])
    cols = np.concatenate([dst, src])
    del src, dst
    values = np.concatenate([weight, weight])
    del weight
    adj = sp.coo_matrix((values, (rows, cols)), shape=(len(nodes), len(nodes)))
    del rows, cols, values
    adj = adj.tocsr()
    adj.sort_indices()
    return ItemGraph(indptr=adj.indptr.astype(np.int64), indices=adj.indices.astype(np.int32, copy=False),
                     weights=adj.data.astype(np.float64, copy=False), item_ids=items[nodes])


def check_optional_int(name: str, value) -> int | None:
    """``None`` or an integer >= 1 (an off-by-default limit)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{name} must be an integer >= 1, or None for no limit; got {value!r}.")
    return int(value)


def liked_matrix(frame, min_rating: float, min_item_users: int,
                 max_user_items: int | None) -> tuple[sp.csr_matrix, np.ndarray]:
    """Rules 1-3: the binary items x users matrix of liked rows (int32 CSR) and the item id of each row."""
    rating = frame["rating"].to_numpy()
    mask = rating >= min_rating
    if not mask.any():
        raise EmptyGraphError(f"No rating is >= min_rating {min_rating:g}; lower min_rating.")
    user = frame["userId"].to_numpy()[mask]
    item = frame["movieId"].to_numpy()[mask]
    if max_user_items is not None:
        user, item = cap_user_items(frame, mask, user, item, max_user_items)
    items, item_codes = np.unique(item, return_inverse=True)
    _, user_codes = np.unique(user, return_inverse=True)
    x = sp.csr_matrix((np.ones(len(item_codes), dtype=np.int32), (item_codes.ravel(), user_codes.ravel())),
                      shape=(len(items), int(user_codes.max()) + 1))
    x.sum_duplicates()  # a repeated (user, item) row counts once
    x.data[:] = 1
    if min_item_users > 0:
        item_users = np.diff(x.indptr)
        kept = item_users >= min_item_users
        if not kept.any():
            raise EmptyGraphError(f"No item is liked by {min_item_users} users at min_rating {min_rating:g} "
                                  f"(the most liked has {int(item_users.max())}); lower min_item_users.")
        x, items = x[kept], items[kept]
    return x, items


def cap_user_items(frame, mask: np.ndarray, user: np.ndarray, item: np.ndarray,
                   cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Rule 2: each user's ``cap`` most recent liked rows; ties (or no timestamps) by the smaller item id."""
    counts = np.unique(user, return_counts=True)[1]
    if counts.max() <= cap:
        return user, item
    if "timestamp" in frame.columns:
        newest_first = -frame["timestamp"].to_numpy()[mask].astype(np.int64)
    else:
        newest_first = np.zeros(len(user), dtype=np.int64)
    order = np.lexsort((item, newest_first, user))
    user, item = user[order], item[order]
    starts = np.flatnonzero(np.r_[True, user[1:] != user[:-1]])
    rank = np.arange(len(user)) - np.repeat(starts, np.diff(np.r_[starts, len(user)]))
    keep = rank < cap
    logger.debug("max_user_items %d: %d of %d users capped, %d liked rows dropped",
                 cap, int((counts > cap).sum()), len(counts), int((~keep).sum()))
    return user[keep], item[keep]


def cooccurrence_edges(x: sp.csr_matrix, item_users: np.ndarray, total: int, min_weight: float,
                       max_degree: int | None, min_rating: float, block_entries: int,
                       show_progress: bool) -> list[np.ndarray]:
    """Rules 4-6 over blocks of items: ``[src, dst, weight]`` with item rows ``src < dst``.

    Each block multiplies its rows of ``x`` by ``x.T`` (only the columns after the block's
    first item when no ``max_degree`` needs whole neighbourhoods), weighs the pairs, and keeps
    the kept edges (with ``max_degree``: each row's top ``max_degree``), so memory holds the
    edges kept so far plus one block.
    """
    num_items = x.shape[0]
    log_users = np.log(item_users)
    log_total = np.log(total)
    xt = x.T.tocsr()  # users x items
    # Upper bound of each row's entries in the product: its pair work, at most every item.
    user_items = np.diff(xt.indptr)
    bound = np.minimum(x @ user_items.astype(np.int64), num_items)
    blocks = block_bounds(bound, block_entries)
    parts_src, parts_dst, parts_weight = [], [], []
    shared_pairs = 0
    largest = -np.inf
    progress = tqdm(total=num_items, desc="graph", unit="item", disable=not show_progress)
    for lo, hi in blocks:
        first = 0 if max_degree else lo
        counts = x[lo:hi] @ (xt[:, first:] if first else xt)
        n_xy = counts.data
        row = np.repeat(np.arange(lo, hi, dtype=np.int32), np.diff(counts.indptr))
        col = counts.indices + np.int32(first) if first else counts.indices
        off = col != row if max_degree else col > row
        shared_pairs += int(np.count_nonzero(col > row))
        # Rule 5, in this order of operations, in place to hold one float64 temporary per pair. The
        # sum log(n_x) + log(n_y) is symmetric, so both ends of an edge agree bit for bit, and so do
        # pairs whose counts are the same up to order: edges tied in exact arithmetic tie exactly,
        # and max_degree's tie-break (the smaller id) decides them in both engines.
        weight = log_users[row] + log_users[col]
        np.subtract(np.log(n_xy), weight, out=weight)
        weight += log_total
        weight *= n_xy
        largest = max(largest, float(np.max(weight, where=off, initial=-np.inf)))
        keep = off & (weight >= min_weight) & (weight > 0)
        del off, counts
        row, col, weight = row[keep], col[keep], weight[keep]
        if max_degree:
            row, col, weight = top_per_row(row - np.int32(lo), col, weight, max_degree, hi - lo)
            row += np.int32(lo)
        parts_src.append(np.minimum(row, col))
        parts_dst.append(np.maximum(row, col))
        parts_weight.append(weight)
        logger.debug("graph block items %d-%d: %d pairs, %d edges kept", lo, hi, len(n_xy), len(weight))
        progress.update(hi - lo)
    progress.close()
    if shared_pairs == 0:
        raise EmptyGraphError(
            f"No two items share a user at min_rating {min_rating:g}, so the graph has no edge; lower min_rating.")
    src = np.concatenate(parts_src)
    parts_src.clear()
    dst = np.concatenate(parts_dst)
    parts_dst.clear()
    weight = np.concatenate(parts_weight)
    parts_weight.clear()
    if not len(weight):
        raise EmptyGraphError(f"No item pair reaches min_weight {min_weight:g} with a weight > 0 (the largest "
                              f"weight is {largest:.3g}); lower min_weight.")
    if max_degree:
        # An edge in both ends' top K was found twice, with the same weight: keep it once.
        _, first_seen = np.unique(src.astype(np.int64) * num_items + dst, return_index=True)
        src, dst, weight = src[first_seen], dst[first_seen], weight[first_seen]
    return [src, dst, weight]


def block_bounds(bound: np.ndarray, block_entries: int) -> list[tuple[int, int]]:
    """Consecutive row ranges whose summed ``bound`` stays within ``block_entries`` (one row at least)."""
    cumulative = np.cumsum(bound, dtype=np.int64)
    blocks, lo = [], 0
    while lo < len(bound):
        base = cumulative[lo - 1] if lo else 0
        hi = int(np.searchsorted(cumulative, base + block_entries, side="right"))
        hi = max(hi, lo + 1)
        blocks.append((lo, hi))
        lo = hi
    return blocks


def top_per_row(row: np.ndarray, col: np.ndarray, weight: np.ndarray, k: int,
                num_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's ``k`` edges by (weight desc, neighbour asc); ``row`` in ``[0, num_rows)``, weights > 0.

    A full sort of every pair is the slow part, so rows are first cut to candidates with a
    histogram of each row's weights (buckets of the float64 bit patterns, which order positive
    floats exactly): a row keeps the buckets from its top down to the one that reaches ``k``
    entries, which holds every entry of its top ``k``; only those are sorted.
    """
    per_row = np.bincount(row, minlength=num_rows)
    heavy = per_row > k
    if heavy.any():
        bits = weight.view(np.int64)
        low = int(bits.min())
        span = int(bits.max()) - low
        # About one histogram cell per pair of the heavy rows, so the histogram is no bigger than the block.
        heavy_rows = int(heavy.sum())
        buckets = int(min(4096, max(2, int(per_row[heavy].sum()) // heavy_rows)))
        shift = max(0, (span // buckets).bit_length())
        bucket = (bits - low) >> shift  # in [0, buckets)
        nb = int(span >> shift) + 1
        slot = np.cumsum(heavy) - 1  # heavy row -> histogram row
        in_heavy = heavy[row]
        hist = np.bincount(slot[row[in_heavy]] * nb + bucket[in_heavy], minlength=heavy_rows * nb)
        from_top = np.cumsum(hist.reshape(heavy_rows, nb)[:, ::-1], axis=1)
        cut = np.zeros(num_rows, dtype=np.int64)  # the lowest bucket each row keeps
        cut[heavy] = nb - 1 - np.argmax(from_top >= k, axis=1)
        candidate = bucket >= cut[row]
        row, col, weight = row[candidate], col[candidate], weight[candidate]
    order = np.lexsort((col, -weight, row))
    row, col, weight = row[order], col[order], weight[order]
    starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]]) if len(row) else np.zeros(0, dtype=np.int64)
    rank = np.arange(len(row)) - np.repeat(starts, np.diff(np.r_[starts, len(row)]))
    keep = rank < k
    return row[keep], col[keep], weight[keep]
