"""Numba kernel for the blend's graph score: each history's summed item-graph rows, dense.

``out[u] += g[i]`` for every item ``i`` of user ``u``'s (binary) history: the work is the
histories' neighbourhoods (history length x degree per user), accumulated straight into the
dense block the scorer ranks, where a sparse product would build a sparse matrix about as
large as that block first. Imported only when a blend is scored, so ``recgraph.index`` with
cosine scoring never loads numba.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def add_neighbourhoods(h_indptr, h_indices, g_indptr, g_indices, g_data, out):  # pragma: no cover - compiled
    """Add row ``i`` of the CSR graph (``g_*``) to ``out[u]`` for each entry ``(u, i)`` of the
    CSR histories (``h_*``, values ignored: binary); ``out`` is float64 [users, n_items]."""
    for u in range(h_indptr.shape[0] - 1):
        row = out[u]
        for p in range(h_indptr[u], h_indptr[u + 1]):
            i = h_indices[p]
            for q in range(g_indptr[i], g_indptr[i + 1]):
                row[g_indices[q]] += g_data[q]
