"""Embedding trainers: one interface, several engines, imported only when chosen.

>>> trainer = get_trainer("gensim", dim=64, seed=0)
>>> embeddings = trainer.fit(walks, num_nodes)   # float32 [num_nodes, dim]
"""

from __future__ import annotations

import importlib

from ..errors import MissingDependencyError, ParameterError
from .base import Trainer

#: Backend name -> (module, class, pip extra that brings its dependencies or None).
TRAINERS: dict[str, tuple[str, str, str | None]] = {
    "gensim": ("recgraph.trainers.gensim_backend", "GensimTrainer", None),
    "keras": ("recgraph.trainers.keras_backend", "KerasTrainer", "keras"),
}


def available_trainers() -> list[str]:
    """Names accepted by :func:`get_trainer`."""
    return sorted(TRAINERS)


def trainer_class(name: str) -> type[Trainer]:
    """Import and return the trainer class registered as ``name``."""
    if name not in TRAINERS:
        raise ParameterError(f"Unknown backend {name!r}; available: {', '.join(available_trainers())}.")
    module_name, class_name, extra = TRAINERS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if isinstance(exc, MissingDependencyError):
            raise
        missing = getattr(exc, "name", None) or str(exc)
        hint = f'pip install "recgraph[{extra}]"' if extra else "pip install recgraph"
        raise MissingDependencyError(
            f"The {name} backend needs {missing}, which is not installed; install it with {hint}."
        ) from None
    return getattr(module, class_name)


def get_trainer(name: str, **params) -> Trainer:
    """Create the trainer registered as ``name`` with keyword hyperparameters."""
    cls = trainer_class(name)
    unknown = sorted(set(params) - set(cls.param_names()))
    if unknown:
        raise ParameterError(
            f"The {name} backend has no parameter {', '.join(unknown)}; its parameters are "
            f"{', '.join(cls.param_names())}."
        )
    trainer = cls(**params)
    trainer.validate()  # a bad value fails here, before any data is loaded
    return trainer


__all__ = ["Trainer", "TRAINERS", "available_trainers", "get_trainer", "trainer_class"]
