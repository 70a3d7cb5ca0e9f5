"""Reference recommenders scored in the same harness: most-popular, item-kNN, EASE.

Each one follows the same small interface: ``fit(data)`` on an
:class:`~recgraph.evaluation.interactions.Interactions`, then ``scores(users)``, a dense
float64 array [len(users), n_items] (higher is better; items rated in training are
masked by the harness, not here). They learn from the binary matrix of training
ratings >= ``min_rating`` (None: every rating counts as an interaction).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import ParameterError
from ..validation import check_float
from .interactions import Interactions


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
    counts))``. Computed as ``(x_u N) X^T (X N)``, so no item x item matrix is ever held.
    """

    name = "item-knn"

    def fit(self, data: Interactions) -> "ItemKNN":
        x = data.positives(self.min_rating)
        counts = np.asarray(x.sum(axis=0)).ravel()
        norm = np.divide(1.0, np.sqrt(counts), out=np.zeros_like(counts), where=counts > 0)
        self.x_ = x.tocsr()
        self.xn_ = (x @ sp.diags(norm)).tocsr()
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        user_space = (self.xn_[users] @ self.x_.T).toarray()  # [users, all users]
        return np.asarray(self.xn_.T @ user_space.T).T


class EASE(Baseline):
    """EASE^R (Steck, WWW 2019): a ridge item-item model with a zero diagonal.

    ``B = I - P / diag(P)`` with ``P = (X^T X + lambda I)^-1``. Through the Woodbury identity
    ``X P = (lambda I + X X^T)^-1 X``, so only a users x users system is solved; the
    result is exactly EASE's, without the items x items inverse.
    """

    name = "ease"

    def __init__(self, lam: float = 100.0, min_rating: float | None = None):
        super().__init__(min_rating)
        self.lam = lam

    def fit(self, data: Interactions) -> "EASE":
        lam = check_float("lam", self.lam, low=0.0, open_low=True)
        x = data.positives(self.min_rating)
        gram = (x @ x.T).toarray()
        gram[np.diag_indices_from(gram)] += lam
        xd = x.toarray()
        xp = np.linalg.solve(gram, xd)  # X P  [users, items]
        diag_p = (1.0 - np.einsum("ui,ui->i", xd, xp)) / lam
        self.scores_ = xd - xp / diag_p[None, :]
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        return self.scores_[users]


#: Baseline name -> class.
BASELINES = {cls.name: cls for cls in (MostPopular, ItemKNN, EASE)}


def make_baseline(name: str, **params) -> Baseline:
    """Create the baseline registered as ``name``."""
    if name not in BASELINES:
        raise ParameterError(f"Unknown baseline {name!r}; available: {', '.join(sorted(BASELINES))}.")
    return BASELINES[name](**params)
