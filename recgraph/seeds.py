"""One run seed -> independent random streams for each stage.

Every stage that draws random numbers gets its stream from here, so "same seed, same
run" has one definition:

- :func:`stage_seeds`: the walks', the trainer's and Annoy's seeds from the run's seed;
- :func:`view_seed`: the walk seed of graph view ``i`` (view 0 keeps the walk seed);
- :func:`walk_streams`: what :func:`recgraph.walks.node2vec_walks` draws from a walk seed
  (the start-order generator and the walk kernel's seed).

>>> walks, trainer, index = stage_seeds(7)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .validation import check_int


class StageSeeds(NamedTuple):
    """The seeds of one run's random stages (None everywhere for a run without a seed)."""

    walks: int | None
    trainer: int | None
    index: int | None  # type: ignore[assignment]  # shadows tuple.index; the field name is public


def check_seed(seed) -> int | None:
    """``seed`` as an int >= 0, or None (fresh entropy)."""
    return None if seed is None else check_int("seed", seed, low=0)


def stage_seeds(seed: int | None) -> StageSeeds:
    """Independent seeds for the walks, the trainer and Annoy, from the run's one seed.

    None gives three fresh seeds: the stages stay independent, the run is not repeatable.
    """
    spawned = np.random.SeedSequence(check_seed(seed)).spawn(3)
    return StageSeeds(*(int(s.generate_state(1)[0]) for s in spawned))


def view_seed(seed: int | None, view: int) -> int | None:
    """The walk seed of graph view ``view``: the walk seed itself for the first view, so a
    one-view corpus is exactly the walks :func:`~recgraph.walks.node2vec_walks` gives for ``seed``."""
    if seed is None or view == 0:
        return seed
    return int(np.random.SeedSequence([int(seed), view]).generate_state(1)[0])


def walk_streams(seed: int | None) -> tuple[np.random.Generator, np.uint64]:
    """The walk stage's streams from its seed: a Generator for the start order of each round,
    and the 64-bit seed of the (numba) walk kernel."""
    seq = np.random.SeedSequence(seed)
    order_rng = np.random.default_rng(seq.spawn(1)[0])
    return order_rng, seq.generate_state(1, dtype=np.uint64)[0]
