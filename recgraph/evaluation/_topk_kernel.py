"""Numba kernel for :func:`recgraph.evaluation.metrics.top_k`: one pass over each row.

Each row keeps its ``k`` best (score, item) pairs sorted, best first, in a small buffer; an
item enters only when it beats the worst kept one. Ties go to the lower item number,
because items arrive in increasing order and an equal score never displaces a kept one.
No copy of the scores and no index array the size of the block are made.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def top_k_rows(scores, k, ex_indptr, ex_indices, out):
    """Fill ``out`` [n_rows, k] with each row's best items (-1 where fewer remain).

    Skipped: the row's items in ``ex_indices[ex_indptr[r]:ex_indptr[r + 1]]`` (ascending),
    NaN and ``-inf`` scores.
    """
    n_rows, n_items = scores.shape
    best = np.empty(k)
    for r in range(n_rows):
        filled = 0
        ex = ex_indptr[r]
        ex_end = ex_indptr[r + 1]
        row = scores[r]
        for j in range(n_items):
            while ex < ex_end and ex_indices[ex] < j:
                ex += 1
            if ex < ex_end and ex_indices[ex] == j:
                continue
            s = row[j]
            if s != s or s == -np.inf:
                continue
            if filled == k and not s > best[k - 1]:
                continue
            # Insert after every kept score >= s (equal scores keep their lower items first).
            pos = filled if filled < k else k - 1
            while pos > 0 and best[pos - 1] < s:
                if pos < k:
                    best[pos] = best[pos - 1]
                    out[r, pos] = out[r, pos - 1]
                pos -= 1
            best[pos] = s
            out[r, pos] = j
            if filled < k:
                filled += 1
        for p in range(filled, k):
            out[r, p] = -1
