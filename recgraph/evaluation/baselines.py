"""Reference recommenders scored in the same harness: most-popular, item-kNN, EASE.

Each one follows the same small interface: ``fit(data)`` on an
:class:`~recgraph.evaluation.interactions.Interactions`, then ``scores(users)``, a dense
float64 array [len(users), n_items] (higher is better; items rated in training are
masked by the harness, not here); the harness asks for blocks of users, so memory
follows the block, not every user. They learn from the binary matrix of training
ratings >= ``min_rating`` (None: every rating counts as an interaction).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import ParameterError
from ..validation import check_float
from .interactions import Interactions
from .settings import DEFAULT_EASE_MAX_GB


class BaselineTooLarge(ParameterError):
    """A baseline would need more memory than its limit; the message says how much."""


class Baseline:
    name = ""

    def __init__(self, min_rating: float | None = None):
        self.min_rating = min_rating

    def get_params(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}

    def fit(self, data: Interactions) -> "Baseline":
        raise NotImplementedError

    def scores(self, users: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class MostPopular(Baseline):
    """Everyone gets the items most often in training, by count."""

    name = "most-popular"

    def fit(self, data: Interactions) -> "MostPopular":
        x = data.positives(self.min_rating)
        self.popularity_ = np.asarray(x.sum(axis=0), dtype=np.float64).ravel()
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (len(users), self.popularity_.shape[0])).copy()


class ItemKNN(Baseline):
    """Item-based kNN with cosine similarity over all neighbours (Sarwar et al. 2001).

    ``score(u, j) = sum_i x_ui cos(i, j)`` with ``cos = N X^T X N``, ``N = diag(1/sqrt(item
    counts))``. Computed in item space, one item row of ``X^T X`` at a time for the items the
    scored users liked (:mod:`._knn_kernel`), so memory is the output block plus one row:
    no item x item or user x user matrix is ever held, whatever the catalogue.
    """

    name = "item-knn"
    #: Users are scored in blocks of this many (user, item) scores (2.6 GB of float64: 5,000
    #: users of a 62k-movie catalogue at once): every block expands the item rows its users
    #: liked again, so fewer, larger blocks cost less.
    block_entries = 320_000_000

    def fit(self, data: Interactions) -> "ItemKNN":
        x = data.positives(self.min_rating)
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

    def scores(self, users: np.ndarray) -> np.ndarray:
        from ._knn_kernel import item_knn_block

        users = np.asarray(users, dtype=np.int64)
        liked = self.x_[users]
        # Each user's liked items as positions in the processing order, ascending.
        pos = sp.csr_matrix((np.ones(liked.nnz), self.rank_[liked.indices], liked.indptr),
                            shape=liked.shape)
        pos.sort_indices()
        order = np.argsort(self.rank_)[np.unique(pos.indices)]
        # Positions among the items actually expanded (those some user of the block liked).
        compact = np.searchsorted(np.sort(self.rank_[order]), pos.indices)
        out = np.zeros((len(users), self.weight_.shape[0]))
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

    def plan(self, data: Interactions) -> str:
        """The solver ``fit`` will use on ``data``; BaselineTooLarge when it is over ``max_gb``."""
        if self.solver not in ("auto", "users", "items"):
            raise ParameterError(f"EASE solver must be 'auto', 'users' or 'items'; got {self.solver!r}.")
        max_gb = check_float("max_gb", self.max_gb, low=0.0, open_low=True)
        need = self.memory_needed(data.n_users, data.n_items)
        solver = min(need, key=need.get) if self.solver == "auto" else self.solver
        if need[solver] > max_gb * 1e9:
            what = (f"{data.n_items:,} items need {need[solver] / 1e9:.1f} GB for the item-item matrix"
                    if solver == "items" else
                    f"{data.n_users:,} users need {need[solver] / 1e9:.1f} GB for the user-user system")
            raise BaselineTooLarge(f"EASE skipped: {what}; limit {max_gb:g} GB.")
        return solver

    def fit(self, data: Interactions) -> "EASE":
        lam = check_float("lam", self.lam, low=0.0, open_low=True)
        self.solver_ = self.plan(data)
        x = data.positives(self.min_rating)
        if self.solver_ == "users":
            gram = (x @ x.T).toarray()
            gram[np.diag_indices_from(gram)] += lam
            xd = x.toarray()
            xp = np.linalg.solve(gram, xd)  # X P  [users, items]
            del gram
            diag_p = (1.0 - np.einsum("ui,ui->i", xd, xp)) / lam
            xp /= -diag_p[None, :]
            xp += xd  # X - X P / diag(P), in place: the same numbers, one matrix less
            self.scores_, self.b_ = xp, None
        else:
            import scipy.linalg

            gram = (x.T @ x).toarray()
            gram[np.diag_indices_from(gram)] += lam
            # Symmetric, so its transpose is the Fortran-ordered view LAPACK inverts in place.
            p = scipy.linalg.inv(gram.T, overwrite_a=True, check_finite=False).T
            diag_p = np.diag(p).copy()
            p /= -diag_p[None, :]
            p[np.diag_indices_from(p)] = 0.0  # B = I - P / diag(P)
            self.scores_, self.b_, self.x_ = None, p, x.tocsr()
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        if self.b_ is None:
            return self.scores_[users]
        return np.asarray(self.x_[users] @ self.b_)


#: Baseline name -> class.
BASELINES = {cls.name: cls for cls in (MostPopular, ItemKNN, EASE)}


def make_baseline(name: str, **params) -> Baseline:
    """Create the baseline registered as ``name``."""
    if name not in BASELINES:
        raise ParameterError(f"Unknown baseline {name!r}; available: {', '.join(sorted(BASELINES))}.")
    return BASELINES[name](**params)
