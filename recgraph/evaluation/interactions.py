"""A split as sparse user x item matrices: what every recommender and metric here reads."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import ParameterError
from ..validation import check_int
from .splitting import Split


@dataclass(frozen=True, eq=False)
class Interactions:
    """Sparse matrices over one item universe.

    Attributes
    ----------
    user_ids : int64 [n_users], every user with a training or test rating.
    item_ids : int64 [n_items], every item with a training or test rating: the catalogue
        ranked for each user (full ranking, no sampled negatives).
    train : CSR float64 [n_users, n_items], the training rating (a repeated pair keeps its
        last rating); a stored entry means "rated in training", so it is never recommended.
    test : CSR bool [n_users, n_items], the held-out positives.
    eval_users : int64, the rows of users with at least one held-out item (ascending), or
        the seeded sample of them that :meth:`sample_eval_users` keeps.
    threshold : ratings at or above it are positives.
    train_order : CSR int64, same pattern as ``train``: each training rating's place in time
        (1 = the oldest; ties by the split's row order), or None when the split has no timestamps.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    train: sp.csr_matrix
    test: sp.csr_matrix
    eval_users: np.ndarray
    threshold: float
    train_order: sp.csr_matrix | None = None
    #: Users with a held-out item before any sampling (None: no sample was drawn).
    eval_users_total: int | None = None

    @property
    def n_users(self) -> int:
        return int(self.user_ids.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.item_ids.shape[0])

    def positives(self, min_rating: float | None = None) -> sp.csr_matrix:
        """Binary float64 training matrix of ratings >= ``min_rating`` (None: every rating)."""
        x = self.train.copy()
        if min_rating is not None:
            x.data = (x.data >= min_rating).astype(np.float64)
            x.eliminate_zeros()
        else:
            x.data = np.ones_like(x.data)
        return x

    def item_rows(self, item_ids: np.ndarray) -> np.ndarray:
        """Item row of each item id, -1 for items outside the universe."""
        item_ids = np.asarray(item_ids, dtype=np.int64)
        pos = np.searchsorted(self.item_ids, item_ids)
        pos = np.minimum(pos, max(self.n_items - 1, 0))
        found = self.item_ids[pos] == item_ids if self.n_items else np.zeros(item_ids.shape, bool)
        return np.where(found, pos, -1)

    @classmethod
    def from_split(cls, split: Split) -> "Interactions":
        train, test = split.train, split.test
        user_ids = np.union1d(pd.unique(train["userId"].to_numpy()), pd.unique(test["userId"].to_numpy()))
        item_ids = np.union1d(pd.unique(train["movieId"].to_numpy()), pd.unique(test["movieId"].to_numpy()))
        user_ids, item_ids = user_ids.astype(np.int64), item_ids.astype(np.int64)
        shape = (len(user_ids), len(item_ids))
        threshold = float(split.params["threshold"])
        timed = "timestamp" in train.columns

        rows, cols = _positions(user_ids, train["userId"].to_numpy()), _positions(item_ids, train["movieId"].to_numpy())
        order = np.argsort(train["timestamp"].to_numpy(), kind="stable") if timed else None
        train_m = _csr(rows, cols, train["rating"].to_numpy(np.float64), shape)
        if train_m.nnz == len(train):
            place = None
            if timed:
                place = np.empty(len(train), dtype=np.int64)
                place[order] = np.arange(1, len(train) + 1)
                place = _csr(rows, cols, place, shape)
        else:
            # A repeated (user, item) pair keeps its last rating in time: the frame way,
            # only for logs that have repeats (the loader removes them).
            frame = train.iloc[order] if timed else train
            frame = frame.drop_duplicates(["userId", "movieId"], keep="last")
            rows = _positions(user_ids, frame["userId"].to_numpy())
            cols = _positions(item_ids, frame["movieId"].to_numpy())
            train_m = _csr(rows, cols, frame["rating"].to_numpy(np.float64), shape)
            place = _csr(rows, cols, np.arange(1, len(frame) + 1), shape) if timed else None
        test_m = _csr(_positions(user_ids, test["userId"].to_numpy()), _positions(item_ids, test["movieId"].to_numpy()),
                      np.ones(len(test), dtype=bool), shape)
        eval_users = np.flatnonzero(np.diff(test_m.indptr) > 0).astype(np.int64)
        return cls(user_ids, item_ids, train_m, test_m, eval_users, threshold, place)

    def history(self, row: int, min_rating: float | None = None) -> np.ndarray:
        """Item ids of user ``row``'s training ratings >= ``min_rating`` (None: all), oldest
        first when the split has timestamps (else by item id)."""
        lo, hi = self.train.indptr[row], self.train.indptr[row + 1]
        cols, ratings = self.train.indices[lo:hi], self.train.data[lo:hi]
        keep = np.ones(len(cols), bool) if min_rating is None else ratings >= min_rating
        cols = cols[keep]
        if self.train_order is not None:
            cols = cols[np.argsort(self.train_order.data[lo:hi][keep], kind="stable")]
        return self.item_ids[cols]

    def sample_eval_users(self, max_users: int | None, seed: int | None = 0) -> "Interactions":
        """The same matrices, evaluated on a seeded sample of ``max_users`` eval users.

        Training is untouched (every user still trains); only who is scored changes, so
        every model measured on the result scores the same users. The sample is drawn from
        its own stream of ``seed`` (the split seed), so it is the same for the same split
        seed; ``max_users`` None, or at least the number of eval users, keeps them all.
        """
        if max_users is None:
            return self
        max_users = check_int("max_users", max_users)
        total = int(self.eval_users.shape[0])
        if max_users >= total:
            return replace(self, eval_users_total=total)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ParameterError(f"The sample seed must be an integer >= 0 or None; got {seed!r}.")
        # A child of the seed, so the sample does not reuse the random split's stream.
        rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
        picked = np.sort(rng.choice(self.eval_users, size=max_users, replace=False))
        return replace(self, eval_users=picked.astype(np.int64), eval_users_total=total)


def _positions(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each of ``values`` in the sorted unique ``ids`` (every value is one of them)."""
    values = np.asarray(values, dtype=np.int64)
    if ids.size and int(ids[-1]) - int(ids[0]) < max(4 * values.size, 1 << 20):
        # A lookup table over the id range: one gather instead of a binary search per row.
        table = np.empty(int(ids[-1]) - int(ids[0]) + 1, dtype=np.int64)
        table[ids - ids[0]] = np.arange(ids.size)
        return table[values - ids[0]]
    return np.searchsorted(ids, values)


def _csr(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape) -> sp.csr_matrix:
    m = sp.csr_matrix((values, (rows, cols)), shape=shape)
    m.sort_indices()
    return m
