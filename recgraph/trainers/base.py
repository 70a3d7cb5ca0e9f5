"""The trainer interface every backend implements."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod

import numpy as np

from ..errors import ParameterError


class Trainer(ABC):
    """Learn node embeddings from a walk corpus.

    Subclasses follow scikit-learn's conventions: ``__init__`` only stores keyword
    hyperparameters, validation happens in :meth:`fit`, and fitted attributes end
    in ``_``: ``embeddings_`` (float32 [num_nodes, dim]) and ``history_`` (a dict of
    what training recorded, e.g. ``loss`` per epoch).
    """

    name: str = ""

    @classmethod
    def param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [n for n in sig.parameters if n != "self"]

    def get_params(self) -> dict:
        """The hyperparameters, as passed to ``__init__``."""
        return {n: getattr(self, n) for n in self.param_names()}

    def validate(self) -> dict:
        """Check every hyperparameter; return them validated. Called by :func:`get_trainer`
        (so a bad value fails before any work) and again by :meth:`fit`."""
        return self.get_params()

    @abstractmethod
    def _fit(self, walks: np.ndarray, num_nodes: int) -> tuple[np.ndarray, dict]:
        """Return (embeddings float32 [num_nodes, dim], history dict)."""

    def fit(self, walks: np.ndarray, num_nodes: int) -> np.ndarray:
        """Train on ``walks`` (int array [n_walks, walk_length], -1 = padding).

        Returns
        -------
        float32 array [num_nodes, dim]; row ``i`` embeds node ``i``.
        """
        walks = np.asarray(walks)
        if walks.ndim != 2 or walks.shape[0] == 0 or walks.shape[1] == 0:
            raise ParameterError(f"walks must be a non-empty 2-D array; got shape {walks.shape}.")
        if not np.issubdtype(walks.dtype, np.integer):
            raise ParameterError(f"walks must hold integer node numbers; got dtype {walks.dtype}.")
        if num_nodes < 1 or walks.max() >= num_nodes or walks.min() < -1:
            raise ParameterError(f"walks must hold node numbers in [0, {num_nodes}) (or -1 for padding).")
        embeddings, history = self._fit(walks, int(num_nodes))
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        if embeddings.shape[0] != num_nodes:
            raise RuntimeError(f"{type(self).__name__} returned {embeddings.shape[0]} rows for {num_nodes} nodes")
        self.embeddings_ = embeddings
        self.history_ = history
        return embeddings
