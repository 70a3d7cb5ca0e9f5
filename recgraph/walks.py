"""node2vec second-order biased random walks over an :class:`~recgraph.graph.ItemGraph`.

From ``cur`` (having come from ``prev``) the next node ``x`` is drawn with probability
proportional to ``w(cur, x) / p`` if ``x == prev``, ``w(cur, x)`` if ``x`` neighbours
``prev``, and ``w(cur, x) / q`` otherwise; the first step is proportional to ``w``.
The distribution is exact (rejection sampling, no neighbour subsampling), memory is
O(edges + output), and a seed gives the same walks whatever the thread count.
"""

from __future__ import annotations

import logging

import numpy as np

from .errors import ParameterError
from .graph import ItemGraph
from .seeds import walk_streams
from .validation import check_int, check_positive

logger = logging.getLogger(__name__)

DEFAULT_P = 2.0
DEFAULT_Q = 1.5
DEFAULT_NUM_WALKS = 5
DEFAULT_WALK_LENGTH = 10


def node2vec_walks(
    graph: ItemGraph,
    num_walks: int = DEFAULT_NUM_WALKS,
    walk_length: int = DEFAULT_WALK_LENGTH,
    p: float = DEFAULT_P,
    q: float = DEFAULT_Q,
    seed: int | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Generate node2vec walks.

    Parameters
    ----------
    graph : the graph to walk.
    num_walks : walks started from every node.
    walk_length : nodes per walk, the start included.
    p : return parameter (higher: less likely to step straight back).
    q : in-out parameter (higher: stay near the previous node; lower: move outward).
    seed : same seed, same walks. None draws fresh entropy.
    threads : numba threads to use (default: all); does not change the result.

    Returns
    -------
    int32 array of shape ``(num_walks * num_nodes, walk_length)``. Rows
    ``[r * n, (r + 1) * n)`` hold round ``r``: one walk per node, in a seeded random
    order (as the example shuffles its nodes each round). Walks from a node with no
    edge are padded with -1.
    """
    num_walks = check_int("num_walks", num_walks)
    walk_length = check_int("walk_length", walk_length)
    p = check_positive("p", p)
    q = check_positive("q", q)
    if threads is not None:
        threads = check_int("threads", threads)
    if graph.num_nodes == 0:
        raise ParameterError("The graph has no node to walk from.")
    from . import _walk_kernels as kernels  # numba: imported when walks are asked for

    order_rng, kernel_seed = walk_streams(seed)
    n = graph.num_nodes
    starts = np.concatenate([order_rng.permutation(n) for _ in range(num_walks)]).astype(np.int64)
    thresh, table = kernels.alias_table(graph.indptr, graph.indices, graph.weights)
    out = np.empty((starts.shape[0], walk_length), dtype=np.int32)
    import numba

    previous_threads = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        kernels.node2vec_walk_kernel(
            graph.indptr, graph.indices, thresh, table, starts, walk_length, 1.0 / p, 1.0 / q, kernel_seed, out
        )
    finally:
        numba.set_num_threads(previous_threads)
    logger.info("walks: %d x %d", out.shape[0], out.shape[1])
    return out
