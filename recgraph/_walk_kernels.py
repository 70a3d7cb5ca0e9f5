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
bits). A proposal therefore reads one 16-byte-aligned record, a single cache line,
instead of a threshold, an alias slot and then ``indices`` (three lines in three
arrays). The table costs as much as a float64 + int64 pair per slot.

Interleaving: a thread walks 16 walks at once ("lanes", refilled from its chunk
of walks as they finish) in two phases: first every lane draws its proposal and
prefetches that record (and, when the acceptance draw may need the neighbour
test, the probe points of prev's row); then every lane reads its record and
decides. The cache misses of 16 independent walks overlap instead of queueing one
after the other, which is where a walk over a graph larger than the caches spends
its time (about 2.5x faster than one walk at a time on a 5M-edge graph).

Every walk owns a splitmix64 stream seeded from (seed, walk number) and draws from
it in the same order whatever the interleaving, so the walks are the same whatever
the thread count (and the same as a plain walk-after-walk loop would give).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53
_LOW32 = np.int64(0xFFFFFFFF)
LANES = 16  # walks in flight per thread
CHUNK = 512  # walks per parallel task (its lanes refill from it)


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


@intrinsic
def _prefetch_intrinsic(typingctx, arr, idx):
    """``llvm.prefetch`` (read, high locality) of ``arr[idx]``; no bounds check, no fault."""
    if not isinstance(arr, types.Array) or not isinstance(idx, types.Integer):
        return None
    sig = types.void(arr, types.intp)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch." + i8p.intrinsic_name)
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(inline="always")
def _no_prefetch(arr, idx):
    pass


@njit(cache=True)
def _prefetch_probe(arr):
    _prefetch_intrinsic(arr, 1)
    return arr[0]


def _pick_prefetch():
    """The prefetch intrinsic where this numba/LLVM compiles it, else a no-op (same walks, slower)."""
    try:
        _prefetch_probe(np.zeros(2))
    except Exception:  # pragma: no cover - depends on the llvmlite build
        return _no_prefetch
    return _prefetch_intrinsic


_prefetch = _pick_prefetch()


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
            big = large[nl - 1]
            table[2 * s + 1] = big
            thresh[2 * big] = thresh[2 * big] + thresh[2 * s] - 1.0
            if thresh[2 * big] < 1.0:
                nl -= 1
                small[ns] = big
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
def _start_walk(indptr, starts, walk_length, w, out):
    """Write ``starts[w]``; pad and return False when the walk has no step to take."""
    cur = starts[w]
    out[w, 0] = cur
    if walk_length == 1:
        return False
    if indptr[cur + 1] == indptr[cur]:
        for t in range(1, walk_length):
            out[w, t] = -1
        return False
    return True


@njit(inline="always")
def _assign_lane(i, w, starts, seed, lane_w, lane_cur, lane_prev, lane_t, lane_state):
    """Lane ``i`` takes walk ``w``: its start node, no previous node, and walk w's own stream."""
    lane_w[i] = w
    lane_cur[i] = starts[w]
    lane_prev[i] = -1
    lane_t[i] = 1
    lane_state[i] = _mix(np.uint64(seed) ^ (np.uint64(w) * _GOLDEN + _MIX1))


@njit(cache=True, parallel=True)
def node2vec_walk_kernel(indptr, indices, thresh, table, starts, walk_length, inv_p, inv_q, seed, out):
    """Fill ``out[w, :]`` with a walk from ``starts[w]``; -1 pads walks stuck at an isolated node.

    Walk ``w`` uses only its own splitmix64 stream: one draw for the first step, then
    for every proposal one draw to pick it and one to accept it.
    """
    max_bias = max(inv_p, 1.0, inv_q)
    # Any non-return candidate has bias >= this bound: accept below it without the neighbour test.
    sure = min(1.0, inv_q) / max_bias
    p_accept = inv_p / max_bias
    n_accept = 1.0 / max_bias
    q_accept = inv_q / max_bias
    n_walks = starts.shape[0]
    n_chunks = (n_walks + CHUNK - 1) // CHUNK
    for c in prange(n_chunks):
        w_end = min(n_walks, (c + 1) * CHUNK)
        w_next = c * CHUNK
        # Lane arrays: walk number, current and previous node (-1 before the first step),
        # next column, RNG state, and the pending proposal (slot, alias fraction, acceptance draw).
        lane_w = np.empty(LANES, dtype=np.int64)
        lane_cur = np.empty(LANES, dtype=np.int64)
        lane_prev = np.empty(LANES, dtype=np.int64)
        lane_t = np.empty(LANES, dtype=np.int64)
        lane_state = np.empty(LANES, dtype=np.uint64)
        lane_slot = np.empty(LANES, dtype=np.int64)
        lane_frac = np.empty(LANES, dtype=np.float64)
        lane_u = np.empty(LANES, dtype=np.float64)
        active = 0
        while active < LANES and w_next < w_end:
            w = w_next
            w_next += 1
            if _start_walk(indptr, starts, walk_length, w, out):
                _assign_lane(active, w, starts, seed, lane_w, lane_cur, lane_prev, lane_t, lane_state)
                active += 1
        while active > 0:
            # Phase 1: every lane draws a proposal and prefetches what phase 2 will read.
            for i in range(active):
                cur = lane_cur[i]
                lo = indptr[cur]
                deg = indptr[cur + 1] - lo
                state, u = _uniform(lane_state[i])
                r = u * deg
                k = np.int64(r)
                if k >= deg:  # guard against rounding at the top end
                    k = deg - 1
                slot = lo + k
                lane_slot[i] = slot
                lane_frac[i] = r - k
                _prefetch(table, 2 * slot)
                prev = lane_prev[i]
                if prev >= 0:
                    state, u = _uniform(state)
                    lane_u[i] = u
                    if u >= sure:  # may need the neighbour test: its first probes in prev's row
                        plo = indptr[prev]
                        phi = indptr[prev + 1]
                        mid = (plo + phi) >> 1
                        _prefetch(indices, mid)
                        _prefetch(indices, (plo + mid) >> 1)
                        _prefetch(indices, (mid + 1 + phi) >> 1)
                lane_state[i] = state
            # Phase 2: every lane reads its proposal and accepts or rejects it.
            i = 0
            while i < active:
                slot = lane_slot[i]
                pair = table[2 * slot + 1]
                if lane_frac[i] >= thresh[2 * slot]:
                    x = pair >> 32
                else:
                    x = pair & _LOW32
                prev = lane_prev[i]
                if prev >= 0:  # the first step is first order: always accepted
                    u = lane_u[i]
                    if x == prev:
                        accept = u < p_accept
                    elif u < sure:
                        accept = True
                    elif _is_neighbor(indptr, indices, prev, x):
                        accept = u < n_accept
                    else:
                        accept = u < q_accept
                    if not accept:
                        i += 1
                        continue
                w = lane_w[i]
                t = lane_t[i]
                out[w, t] = x
                lane_prev[i] = lane_cur[i]
                lane_cur[i] = x
                _prefetch(indptr, x)
                t += 1
                lane_t[i] = t
                if t < walk_length:
                    i += 1
                    continue
                # Walk done: give the lane the chunk's next walk, or drop the lane.
                refilled = False
                while w_next < w_end:
                    w = w_next
                    w_next += 1
                    if _start_walk(indptr, starts, walk_length, w, out):
                        _assign_lane(i, w, starts, seed, lane_w, lane_cur, lane_prev, lane_t, lane_state)
                        _prefetch(indptr, starts[w])
                        refilled = True
                        break
                if refilled:
                    i += 1  # its first proposal is drawn in the next phase 1
                    continue
                last = active - 1
                if i != last:  # move the last lane here; its pending proposal is handled next
                    lane_w[i] = lane_w[last]
                    lane_cur[i] = lane_cur[last]
                    lane_prev[i] = lane_prev[last]
                    lane_t[i] = lane_t[last]
                    lane_state[i] = lane_state[last]
                    lane_slot[i] = lane_slot[last]
                    lane_frac[i] = lane_frac[last]
                    lane_u[i] = lane_u[last]
                active -= 1
