"""Top-K ranking metrics over full rankings, vectorized over users.

Every function takes ``top``, an int array [n_users, >= k] of item numbers, best first
(-1 marks an empty slot), and ``truth``, a CSR matrix [n_users, n_items] whose stored
entries are the held-out items of each user (row i of ``top`` is row i of ``truth``).
Per-user values come back as float64 arrays; :func:`summarize` averages them.

Definitions (binary relevance, ``T_u`` the held-out items of user u, ``r`` 1-based ranks):

- HR@K       = 1 if any of T_u is in the top K, else 0
- Recall@K   = |top K ∩ T_u| / |T_u|
- NDCG@K     = sum over hits of 1/log2(r + 1), divided by the same sum over ranks
  1..min(K, |T_u|) (the ideal ranking)
- coverage@K = distinct items in all top-K lists / n_items (catalogue coverage)

With one held-out item per user (leave-last-out), HR@K equals Recall@K.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import ParameterError


def top_k(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """The ``k`` best items of each row of ``scores`` (higher is better), best first.

    Items stored in ``exclude`` (same shape) and items scoring ``-inf`` or NaN are never
    returned (``+inf`` is a valid best score); a row with fewer than ``k`` candidates is padded with -1. Ties go to the
    lower item number, so the result is deterministic.
    """
    from ._topk_kernel import top_k_rows

    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ParameterError(f"scores must be a 2-D array [users, items]; got shape {scores.shape}.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"k must be a positive integer; got {k!r}.")
    scores = np.ascontiguousarray(scores, dtype=np.float64)
    n_users, n_items = scores.shape
    if exclude is None:
        indptr, indices = np.zeros(n_users + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    else:
        exclude = sp.csr_matrix(exclude)
        if exclude.shape != scores.shape:
            raise ParameterError(f"exclude has shape {exclude.shape}; scores have {scores.shape}.")
        if not exclude.has_sorted_indices:
            exclude = exclude.sorted_indices()
        indptr, indices = exclude.indptr.astype(np.int64), exclude.indices.astype(np.int64)
    top = np.empty((n_users, int(k)), dtype=np.int64)
    # Every stored entry is excluded, whatever its value (an explicit zero too).
    top_k_rows(scores, int(k), indptr, indices, top)
    return top


def _check(top: np.ndarray, truth: sp.csr_matrix, k: int) -> tuple[np.ndarray, sp.csr_matrix]:
    top = np.asarray(top)
    truth = sp.csr_matrix(truth)
    if top.ndim != 2 or top.shape[0] != truth.shape[0]:
        raise ParameterError(f"top must be [n_users, k] with one row per truth row; got {top.shape} and {truth.shape}.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= top.shape[1]:
        raise ParameterError(f"k must be an integer from 1 to {top.shape[1]} (the list length); got {k!r}.")
    return top[:, :k], truth


def hits(top: np.ndarray, truth: sp.csr_matrix, k: int) -> np.ndarray:
    """Bool [n_users, k]: is the item at each rank a held-out item of that user?"""
    top, truth = _check(top, truth, k)
    n_items = truth.shape[1]
    truth = truth.tocoo()
    keep = truth.data != 0
    truth_keys = np.sort(truth.row[keep].astype(np.int64) * n_items + truth.col[keep])
    keys = np.arange(top.shape[0], dtype=np.int64)[:, None] * n_items + top
    if truth_keys.size == 0:
        return np.zeros(top.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(truth_keys, keys), truth_keys.size - 1)
    return (truth_keys[pos] == keys) & (top >= 0)


def _n_relevant(truth: sp.csr_matrix) -> np.ndarray:
    truth = sp.csr_matrix(truth)
    nonzero = truth.copy()
    nonzero.eliminate_zeros()
    return np.diff(nonzero.indptr).astype(np.float64)


def hit_rate(top: np.ndarray, truth: sp.csr_matrix, k: int) -> np.ndarray:
    """HR@k per user: 1.0 if any held-out item is in the top k."""
    return np.asarray(hits(top, truth, k).any(axis=1), dtype=np.float64)


def recall(top: np.ndarray, truth: sp.csr_matrix, k: int) -> np.ndarray:
    """Recall@k per user: share of the held-out items in the top k (0 for a user with none)."""
    n_rel = _n_relevant(truth)
    found = hits(top, truth, k).sum(axis=1)
    return np.divide(found, n_rel, out=np.zeros_like(n_rel), where=n_rel > 0)


def ndcg(top: np.ndarray, truth: sp.csr_matrix, k: int) -> np.ndarray:
    """NDCG@k per user with binary relevance (0 for a user with no held-out item)."""
    h = hits(top, truth, k)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = h @ discount
    n_rel = np.minimum(_n_relevant(truth), k).astype(np.int64)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])[n_rel]
    return np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)


def coverage(top: np.ndarray, k: int, n_items: int) -> float:
    """Catalogue coverage@k: distinct items recommended to anyone / ``n_items``."""
    top = np.asarray(top)[:, :k]
    shown = np.unique(top[top >= 0])
    return float(shown.shape[0]) / float(n_items) if n_items else 0.0


def summarize(top: np.ndarray, truth: sp.csr_matrix, n_items: int, ks=(10, 20)) -> dict:
    """Mean HR/NDCG/Recall@k and coverage@k for each k in ``ks`` (keys like ``"hr@10"``)."""
    out = {}
    for k in ks:
        out[f"hr@{k}"] = float(hit_rate(top, truth, k).mean())
        out[f"ndcg@{k}"] = float(ndcg(top, truth, k).mean())
        out[f"recall@{k}"] = float(recall(top, truth, k).mean())
        out[f"coverage@{k}"] = coverage(top, k, n_items)
    return out
