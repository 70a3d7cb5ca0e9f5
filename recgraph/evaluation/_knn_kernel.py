"""Numba kernel for item-kNN scores in item space, a chunk of item rows at a time.

``score(u, j) = sum_{i in u} w_i * (X^T X)_{ij} * w_j`` with ``w = 1 / sqrt(item counts)``
over a binary user x item matrix ``X``. The rows ``(X^T X)_i`` of the items the scored users
liked are counted a chunk at a time by walking the users who liked ``i`` and their items
(the co-occurring pairs, nothing else), scaled, and summed into the rows of the scored users
who liked them. No item x item or user x user matrix is ever held: the working set is the
output block and one chunk of dense rows. Items come most liked first, so a user's items
gather in few chunks and each output row is streamed once per chunk it has items in.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Dense item rows counted at once (CHUNK x n_items float64).
CHUNK = 32


@njit(cache=True)
def item_knn_block(item_indptr, item_users, user_indptr, user_items, weight, order,
                   slot_indptr, slot_pos, out):
    """Add the scores of every scored user into ``out`` [n_slots, n_items] (zeros on entry).

    ``item_indptr/item_users``: X by item (CSC structure); ``user_indptr/user_items``: X by
    user (CSR structure); ``order``: the items to expand, in processing order;
    ``slot_indptr/slot_pos``: for each row of ``out``, the positions in ``order`` of the
    items its user liked, ascending.
    """
    n_items = weight.shape[0]
    n_slots = out.shape[0]
    rows = np.zeros((CHUNK, n_items))
    cursor = slot_indptr[:-1].copy()
    for start in range(0, order.shape[0], CHUNK):
        stop = min(start + CHUNK, order.shape[0])
        for c in range(stop - start):
            i = order[start + c]
            row = rows[c]
            for p in range(item_indptr[i], item_indptr[i + 1]):
                v = item_users[p]
                for q in range(user_indptr[v], user_indptr[v + 1]):
                    row[user_items[q]] += 1.0
            w = weight[i]
            for j in range(n_items):
                row[j] = w * row[j] * weight[j]
        for u in range(n_slots):
            lo = cursor[u]
            hi = lo
            end = slot_indptr[u + 1]
            while hi < end and slot_pos[hi] < stop:
                hi += 1
            if hi == lo:
                continue
            cursor[u] = hi
            dst = out[u]
            if hi - lo == 1:
                row = rows[slot_pos[lo] - start]
                for j in range(n_items):
                    dst[j] += row[j]
                continue
            # Sum the user's rows of this chunk first, so dst is read and written once.
            picked = slot_pos[lo:hi] - start
            for j in range(n_items):
                acc = 0.0
                for c in picked:
                    acc += rows[c, j]
                dst[j] += acc
        for c in range(stop - start):
            rows[c, :] = 0.0
