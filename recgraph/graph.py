"""The movie graph: PMI-weighted co-occurrence of movies rated highly by the same users.

Edge weight, as in the Keras "node2vec on MovieLens" example::

    D      = log(number of ratings >= min_rating)
    pmi    = log(n_xy) - log(n_x) - log(n_y) + D
    weight = pmi * n_xy            (kept when weight >= min_weight)

where ``n_x`` counts users who rated movie x at least ``min_rating`` and ``n_xy``
users who rated both. With ``min_item_users`` > 0, movies fewer users liked are left out
before anything is counted (``D`` included), as if their ratings were not there.
Everything is computed with sparse matrix products: no Python loop over users or pairs,
memory bounded by the number of co-rated pairs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .errors import EmptyGraphError, ParameterError
from .validation import check_int

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ItemGraph:
    """An undirected weighted graph in CSR form.

    Attributes
    ----------
    indptr : int64 [num_nodes + 1]; row ``i``'s neighbours are ``indices[indptr[i]:indptr[i+1]]``.
    indices : int32 [2 * num_edges], sorted within each row.
    weights : float64 [2 * num_edges], aligned with ``indices``; all > 0.
    item_ids : int64 [num_nodes], the movie id of each node (node ``i`` is ``item_ids[i]``).
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
        """Export as a ``networkx.Graph`` whose nodes are movie ids, with ``weight`` attributes."""
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(self.item_ids.tolist())
        rows = np.repeat(np.arange(self.num_nodes), self.degrees())
        upper = rows < self.indices
        graph.add_weighted_edges_from(
            zip(self.item_ids[rows[upper]].tolist(), self.item_ids[self.indices[upper]].tolist(), self.weights[upper].tolist())
        )
        return graph


def build_item_graph(ratings, min_rating: float = 5.0, min_weight: float = 10.0,
                     min_item_users: int = 0) -> ItemGraph:
    """Build the PMI movie graph from a ratings frame.

    Parameters
    ----------
    ratings : DataFrame (or :class:`recgraph.data.Ratings`) with ``userId``, ``movieId``, ``rating``.
    min_rating : ratings at or above it count as "liked" (the example: 5).
    min_weight : edges with PMI x count below it are dropped (the example: 10).
    min_item_users : movies liked by fewer users are left out (the example: 0, none).

    Returns
    -------
    ItemGraph
        Nodes are the movies with at least one kept edge, ordered by movie id.
    """
    frame = getattr(ratings, "ratings", ratings)
    if not np.isfinite(min_rating):
        raise ParameterError(f"min_rating must be a finite number; got {min_rating}.")
    if not np.isfinite(min_weight):
        raise ParameterError(f"min_weight must be a finite number; got {min_weight}.")
    min_item_users = check_int("min_item_users", min_item_users, low=0)
    liked = frame.loc[frame["rating"].to_numpy() >= min_rating, ["userId", "movieId"]]
    if liked.empty:
        raise EmptyGraphError(f"No rating is >= min_rating {min_rating:g}; lower min_rating.")
    users, user_codes = np.unique(liked["userId"].to_numpy(), return_inverse=True)
    movies, movie_codes = np.unique(liked["movieId"].to_numpy(), return_inverse=True)
    # Binary user x movie matrix; a repeated (user, movie) rating counts once.
    x = sp.csr_matrix(
        (np.ones(len(liked), dtype=np.float64), (user_codes, movie_codes)), shape=(len(users), len(movies))
    )
    x.sum_duplicates()
    x.data[:] = 1.0
    item_freq = np.asarray(x.sum(axis=0)).ravel()
    if min_item_users > 0:
        kept = item_freq >= min_item_users
        if not kept.any():
            raise EmptyGraphError(f"No movie is liked by {min_item_users} users at min_rating {min_rating:g} "
                                  f"(the most liked has {int(item_freq.max())}); lower min_item_users.")
        x, movies, item_freq = x[:, kept], movies[kept], item_freq[kept]
    total = item_freq.sum()
    co = sp.triu(x.T.tocsr() @ x, k=1).tocoo()
    if co.nnz == 0:
        raise EmptyGraphError(
            f"No two movies share a user at min_rating {min_rating:g}, so the graph has no edge; lower min_rating."
        )
    count = co.data
    pmi = np.log(count) - np.log(item_freq[co.row]) - np.log(item_freq[co.col]) + np.log(total)
    weight = pmi * count
    keep = weight >= min_weight
    if not keep.any():
        raise EmptyGraphError(
            f"No movie pair reaches min_weight {min_weight:g} (the largest weight is {weight.max():.3g}); "
            "lower min_weight."
        )
    src, dst, weight = co.row[keep], co.col[keep], weight[keep]
    nodes = np.unique(np.concatenate([src, dst]))
    remap = np.full(len(movies), -1, dtype=np.int64)
    remap[nodes] = np.arange(len(nodes))
    graph = ItemGraph.from_edges(remap[src], remap[dst], weight, num_nodes=len(nodes), item_ids=movies[nodes])
    object.__setattr__(graph, "params", {"min_rating": float(min_rating), "min_weight": float(min_weight),
                                         "min_item_users": min_item_users})
    logger.info("graph: %d nodes, %d edges, average degree %.1f", graph.num_nodes, graph.num_edges, graph.avg_degree)
    return graph
