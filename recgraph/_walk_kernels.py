"""Numba kernels for node2vec walks (kept apart from the Python API, as PecanPy does).

Sampling is exact rejection sampling (KnightKing, SOSP 2019): propose a neighbour
``x`` of ``cur`` from the first-order weights with an alias table, accept it with
probability ``bias(x) / max_bias`` where ``bias`` is ``1/p`` (x is prev), ``1``
(x neighbours prev) or ``1/q`` (otherwise). Because the lowest possible bias of a
non-return candidate is ``min(1, 1/q)``, a uniform draw below that bound accepts at
once without the neighbour test (a binary search in prev's sorted row); only the
remaining draws pay for it.

Layout: the alias table holds one 16-byte record per CSR slot (directed edge),
``table[2k]`` and ``table[2k + 1]`` of an int64 array: the slot's keep-threshold
(a float64, read through a float64 view of the same memory) and, packed in one
int64, the slot's own neighbour (low 32 bits) and its alias's neighbour (high 32
bits). A proposal therefore reads one record, a single cache line, instead of a
threshold, an alias slot and then ``indices`` (three lines in three arrays). The
table costs as much as a float64 + int64 pair per slot.

Every walk owns a splitmix64 stream seeded from (seed, walk number), so the walks
are the same whatever the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53
_LOW32 = np.int64(0xFFFFFFFF)


@njit(inline="always")
def _mix(z):
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(inline="always")
def _uniform(state):
    """Advance a splitmix64 state; return ``(new_state, float in [0, 1))``."""
    state = state + _GOLDEN
    return state, np.float64(_mix(state) >> _S11) * _TO_UNIT


def alias_table(indptr, indices, weights):
    """Per-row alias tables (Vose) for every node, packed as described in the module doc.

    Returns ``(thresh, table)``: ``table`` is int64 ``[2 * slots]`` and ``thresh`` a
    float64 view of the same memory (only its even entries are meaningful).
    """
    table = np.empty(2 * weights.shape[0], dtype=np.int64)
    thresh = table.view(np.float64)
    _build_alias(indptr, indices, weights, thresh, table)
    return thresh, table


@njit(cache=True, parallel=True)
def _build_alias(indptr, indices, weights, thresh, table):
    """Fill the packed alias records.

    Drawing slot ``k`` uniformly in a row, then keeping its neighbour when a uniform
    fraction is below ``thresh[2k]`` or else taking its alias's neighbour, samples
    neighbours proportionally to weight.
    """
    n = indptr.shape[0] - 1
    for i in prange(n):
        lo = indptr[i]
        hi = indptr[i + 1]
        deg = hi - lo
        if deg == 0:
            continue
        total = 0.0
        for j in range(lo, hi):
            total += weights[j]
        small = np.empty(deg, dtype=np.int64)
        large = np.empty(deg, dtype=np.int64)
        ns = 0
        nl = 0
        for j in range(lo, hi):
            pr = weights[j] * deg / total
            thresh[2 * j] = pr
            table[2 * j + 1] = j  # alias slot, for now
            if pr < 1.0:
                small[ns] = j
                ns += 1
            else:
                large[nl] = j
                nl += 1
        while ns > 0 and nl > 0:
            ns -= 1
            s = small[ns]
            l = large[nl - 1]
            table[2 * s + 1] = l
            thresh[2 * l] = thresh[2 * l] + thresh[2 * s] - 1.0
            if thresh[2 * l] < 1.0:
                nl -= 1
                small[ns] = l
                ns += 1
        # Leftovers are 1 up to rounding.
        for k in range(nl):
            thresh[2 * large[k]] = 1.0
        for k in range(ns):
            thresh[2 * small[k]] = 1.0
        # Alias slot -> (own neighbour, alias neighbour).
        for j in range(lo, hi):
            a = table[2 * j + 1]
            table[2 * j + 1] = np.int64(indices[j]) | (np.int64(indices[a]) << 32)


@njit(inline="always")
def _is_neighbor(indptr, indices, u, v):
    lo = indptr[u]
    hi = indptr[u + 1]
    while lo < hi:
        mid = (lo + hi) >> 1
        x = indices[mid]
        if x < v:
            lo = mid + 1
        elif x > v:
            hi = mid
        else:
            return True
    return False


@njit(inline="always")
def _first_order(indptr, thresh, table, cur, state):
    """Draw a neighbour of ``cur`` proportionally to weight; return ``(state, node)``."""
    lo = indptr[cur]
    deg = indptr[cur + 1] - lo
    state, u = _uniform(state)
    r = u * deg
    k = np.int64(r)
    if k >= deg:  # guard against rounding at the top end
        k = deg - 1
    slot = lo + k
    pair = table[2 * slot + 1]
    if r - k >= thresh[2 * slot]:
        return state, pair >> 32
    return state, pair & _LOW32


@njit(cache=True, parallel=True)
def node2vec_walk_kernel(indptr, indices, thresh, table, starts, walk_length, inv_p, inv_q, seed, out):
    """Fill ``out[w, :]`` with a walk from ``starts[w]``; -1 pads walks stuck at an isolated node."""
    max_bias = max(inv_p, 1.0, inv_q)
    # Any non-return candidate has bias >= this bound: accept below it without the neighbour test.
    sure = min(1.0, inv_q) / max_bias
    p_accept = inv_p / max_bias
    n_accept = 1.0 / max_bias
    q_accept = inv_q / max_bias
    n_walks = starts.shape[0]
    for w in prange(n_walks):
        state = _mix(np.uint64(seed) ^ (np.uint64(w) * _GOLDEN + _MIX1))
        cur = np.int64(starts[w])
        out[w, 0] = cur
        if walk_length == 1:
            continue
        if indptr[cur + 1] == indptr[cur]:
            for t in range(1, walk_length):
                out[w, t] = -1
            continue
        prev = cur
        state, cur = _first_order(indptr, thresh, table, cur, state)
        out[w, 1] = cur
        for t in range(2, walk_length):
            while True:
                state, x = _first_order(indptr, thresh, table, cur, state)
                state, u = _uniform(state)
                if x == prev:
                    if u < p_accept:
                        break
                elif u < sure:
                    break
                elif _is_neighbor(indptr, indices, prev, x):
                    if u < n_accept:
                        break
                elif u < q_accept:
                    break
            out[w, t] = x
            prev = cur
            cur = x
