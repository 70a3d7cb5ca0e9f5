"""Reference recommenders with the fitted model's interface: most-popular, item-kNN, EASE.

Each one is fitted like :class:`recgraph.model.Recommender` (``fit(log)``: anything
``recgraph train --data`` reads, or loaded :class:`~recgraph.data.Ratings`) and answers like
it (``recommend(histories, n, exclude)`` -> ``(ids, scores)`` arrays [users, n]), ranking
through the same :func:`recgraph.scoring.rank_top`, so the evaluation and ``compare`` treat
every method alike. They learn from the binary user x item matrix of ratings >=
``min_rating`` (None: every rating counts as an interaction); a history is the set of items
a user interacted with (order does not matter to them).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import NotFittedError, ParameterError
from ..scoring import IdMap, rank_top, recommend_ids
from ..validation import check_float
from .settings import DEFAULT_EASE_MAX_GB


class BaselineTooLarge(ParameterError):
    """A baseline would need more memory than its limit; the message says how much."""


class Baseline:
    name = ""

    def __init__(self, min_rating: float | None = None):
        self.min_rating = min_rating

    def get_params(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}

    @property
    def history_min_rating(self) -> float | None:
        """Ratings at or above it form a user's history (the evaluation's query)."""
        return self.min_rating

    def fit(self, log) -> "Baseline":
        """Fit on ``log`` (a path, DataFrame or Ratings, as ``recgraph train --data`` reads)."""
        from ..pipeline import load_log_source

        ratings = load_log_source(log)
        frame = ratings.ratings
        rating = frame["rating"].to_numpy(np.float64)
        keep = np.ones(len(frame), bool) if self.min_rating is None else rating >= self.min_rating
        users = frame["userId"].to_numpy(np.int64)[keep]
        items = frame["movieId"].to_numpy(np.int64)[keep]
        user_ids, user_rows = np.unique(users, return_inverse=True)
        self.item_ids_, item_cols = np.unique(items, return_inverse=True)
        x = sp.csr_matrix((np.ones(users.size), (user_rows, item_cols)), shape=(user_ids.size, self.item_ids_.size))
        x.data = np.ones_like(x.data)  # a repeated pair counts once
        x.sort_indices()
        self.ids_ = IdMap(self.item_ids_)
        return self.fit_matrix(x)

    def fit_interactions(self, data) -> "Baseline":
        """Fit on a split's training matrix (:class:`~recgraph.evaluation.interactions.Interactions`):
        its positives >= ``min_rating``, over its whole item universe."""
        self.item_ids_ = np.asarray(data.item_ids, dtype=np.int64)
        self.ids_ = IdMap(self.item_ids_)
        return self.fit_matrix(data.positives(self.min_rating))

    def fit_matrix(self, x: sp.csr_matrix) -> "Baseline":
        """Fit on a binary user x item CSR whose columns are ``item_ids_``."""
        raise NotImplementedError

    def scores(self, history: sp.csr_matrix) -> np.ndarray:
        """Scores [users, n_items] for a block of histories (CSR over ``item_ids_``)."""
        raise NotImplementedError

    def top(self, history, n: int, exclude=None, options=None) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` best columns per history row (:func:`recgraph.scoring.rank_top`)."""
        binary = history.copy()
        binary.data = np.ones_like(binary.data)
        return rank_top(self.scores, binary, n, exclude, len(self.item_ids_), getattr(self, "block_entries", None))

    def recommend(self, histories, n: int = 10, exclude=None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` item ids and scores for many users, as :meth:`recgraph.model.Recommender.recommend`."""
        if not hasattr(self, "ids_"):
            raise NotFittedError(f"The {self.name} baseline is not fitted yet; call fit(log) first.")
        from ..model import check_n

        return recommend_ids(self, self.ids_, histories, check_n(n), exclude)


class MostPopular(Baseline):
    """Everyone gets the items most often in training, by count."""

    name = "most-popular"

    def fit_matrix(self, x: sp.csr_matrix) -> "MostPopular":
        self.popularity_ = np.asarray(x.sum(axis=0), dtype=np.float64).ravel()
        return self

    def scores(self, history: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (history.shape[0], self.popularity_.shape[0])).copy()


class ItemKNN(Baseline):
    """Item-based kNN with cosine similarity over all neighbours (Sarwar et al. 2001).

    ``score(u, j) = sum_i x_ui cos(i, j)`` with ``cos = N X^T X N``, ``N = diag(1/sqrt(item
    counts))``. Computed in item space, one item row of ``X^T X`` at a time for the items the
    scored users liked (:mod:`._knn_kernel`), so memory is the output block plus one row:
    no item x item or user x user matrix is ever held, whatever the catalogue.
    """

    name = "item-knn"
    #: Users are scored in blocks of this many (user, item) scores (2.6 GB of float64: 5,000
    #: users of a 62k-item catalogue at once): every block expands the item rows its users
    #: liked again, so fewer, larger blocks cost less.
    block_entries = 320_000_000

    def fit_matrix(self, x: sp.csr_matrix) -> "ItemKNN":
        by_item = x.tocsc()
        counts = np.diff(by_item.indptr).astype(np.float64)
        self.weight_ = np.divide(1.0, np.sqrt(counts), out=np.zeros_like(counts), where=counts > 0)
        self.x_ = x.tocsr()
        self.x_.sort_indices()
        self.item_indptr_, self.item_users_ = by_item.indptr, by_item.indices
        # Most liked first (ties by item), the order the kernel expands item rows in.
        self.rank_ = np.empty(len(counts), dtype=np.int64)
        self.rank_[np.lexsort((np.arange(len(counts)), -counts))] = np.arange(len(counts))
        return self

    def scores(self, history: sp.csr_matrix) -> np.ndarray:
        from ._knn_kernel import item_knn_block

        liked = sp.csr_matrix(history)
        # Each user's liked items as positions in the processing order, ascending.
        pos = sp.csr_matrix((np.ones(liked.nnz), self.rank_[liked.indices], liked.indptr),
                            shape=liked.shape)
        pos.sort_indices()
        order = np.argsort(self.rank_)[np.unique(pos.indices)]
        # Positions among the items actually expanded (those some user of the block liked).
        compact = np.searchsorted(np.sort(self.rank_[order]), pos.indices)
        out = np.zeros((liked.shape[0], self.weight_.shape[0]))
        item_knn_block(self.item_indptr_, self.item_users_, self.x_.indptr, self.x_.indices, self.weight_,
                       order, pos.indptr.astype(np.int64), compact.astype(np.int64), out)
        return out


class EASE(Baseline):
    """EASE^R (Steck, WWW 2019): a ridge item-item model with a zero diagonal.

    ``B = I - P / diag(P)`` with ``P = (X^T X + lambda I)^-1``. Two exact ways to it, and
    ``fit`` takes the one that needs less memory (``solver="auto"``):

    - ``"users"``: through the Woodbury identity ``X P = (lambda I + X X^T)^-1 X``, only a
      users x users system is solved, without the items x items inverse (few users);
    - ``"items"``: the items x items inverse itself, inverted in place (many users).

    Before fitting, the memory either needs is estimated; when even the smaller one is
    over ``max_gb``, ``fit`` raises :class:`BaselineTooLarge` with one sentence saying so.
    """

    name = "ease"

    def __init__(self, lam: float = 100.0, min_rating: float | None = None, max_gb: float = DEFAULT_EASE_MAX_GB,
                 solver: str = "auto"):
        super().__init__(min_rating)
        self.lam = lam
        self.max_gb = max_gb
        self.solver = solver

    @staticmethod
    def memory_needed(n_users: int, n_items: int) -> dict:
        """Bytes of the dense float64 matrices each solver holds at its peak."""
        return {
            # gram and its factorisation, then X and X P as dense users x items
            "users": 8 * (2 * n_users * n_users + 2 * n_users * n_items),
            # the item-item matrix, inverted in place
            "items": 8 * n_items * n_items,
        }

    def plan(self, data) -> str:
        """The solver ``fit`` will use on ``data``; BaselineTooLarge when it is over ``max_gb``."""
        if self.solver not in ("auto", "users", "items"):
            raise ParameterError(f"EASE solver must be 'auto', 'users' or 'items'; got {self.solver!r}.")
        max_gb = check_float("max_gb", self.max_gb, low=0.0, open_low=True)
        n_users, n_items = data.shape
        need = self.memory_needed(n_users, n_items)
        solver = min(need, key=lambda s: need[s]) if self.solver == "auto" else self.solver
        if need[solver] > max_gb * 1e9:
            what = (f"{n_items:,} items need {need[solver] / 1e9:.1f} GB for the item-item matrix"
                    if solver == "items" else
                    f"{n_users:,} users need {need[solver] / 1e9:.1f} GB for the user-user system")
            raise BaselineTooLarge(f"EASE skipped: {what}; limit {max_gb:g} GB.")
        return solver

    def fit_matrix(self, x: sp.csr_matrix) -> "EASE":
        lam = check_float("lam", self.lam, low=0.0, open_low=True)
        self.solver_ = self.plan(x)
        if self.solver_ == "users":
            # Woodbury: P = (I - X^T (lam I + X X^T)^-1 X) / lam, so only a users x users
            # system is solved; Y = (lam I + X X^T)^-1 X and diag(P) are kept.
            gram = (x @ x.T).toarray()
            gram[np.diag_indices_from(gram)] += lam
            xd = x.toarray()
            self.y_ = np.linalg.solve(gram, xd)
            del gram
            self.diag_p_ = (1.0 - np.einsum("ui,ui->i", xd, self.y_)) / lam
            self.x_, self.b_ = x.tocsr(), None
        else:
            import scipy.linalg

            gram = (x.T @ x).toarray()
            gram[np.diag_indices_from(gram)] += lam
            # Symmetric, so its transpose is the Fortran-ordered view LAPACK inverts in place.
            p = scipy.linalg.inv(gram.T, overwrite_a=True, check_finite=False).T
            diag_p = np.diag(p).copy()
            p /= -diag_p[None, :]
            p[np.diag_indices_from(p)] = 0.0  # B = I - P / diag(P)
            self.b_ = p
        return self

    def scores(self, history: sp.csr_matrix) -> np.ndarray:
        if self.b_ is not None:
            return np.asarray(history @ self.b_)
        # H B = H - (H P) / diag(P), with H P = (H - (H X^T) Y) / lam.
        dense = history.toarray()
        hp = (dense - np.asarray((history @ self.x_.T) @ self.y_)) / float(self.lam)
        return dense - hp / self.diag_p_[None, :]


#: Baseline name -> class.
BASELINES = {cls.name: cls for cls in (MostPopular, ItemKNN, EASE)}


def make_baseline(name: str, **params) -> Baseline:
    """Create the baseline registered as ``name``."""
    if name not in BASELINES:
        raise ParameterError(f"Unknown baseline {name!r}; available: {', '.join(sorted(BASELINES))}.")
    return BASELINES[name](**params)
