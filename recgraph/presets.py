"""Named configurations: graph, walks, trainer and scoring parameters in one place.

- ``seed``: the Keras node2vec example, exactly (5-star graph with min_weight 10, which on
  ml-latest-small gives 1,405 nodes, 40,043 edges, average degree 57.0; 5 walks of 10
  steps with p 2, q 1.5; dim 50, window 10, 4 negatives, 10 epochs; plain cosine).
- ``tuned``: the best configuration found on validation splits carved from training
  (``docs/tuning.md``): three graph views, ratings >= 5, >= 4 (among movies at least 10
  users liked) and >= 4.5 (see :mod:`recgraph.corpus`), each pruned by size-free limits
  (every movie's 60 strongest edges, the union over both ends; a user's 1,000 most recent
  liked movies; PMI x count >= 10, 30, 20; ``docs/graph_options.md``), 8x the walks;
  gensim with window 5, 10 negatives and 5 epochs, keras with the example's window 10,
  4 negatives and 10 epochs; and at query time a popularity prior, more weight on the last
  5 watched movies, and a most-popular fallback.

The table only; :func:`recgraph.config.preset_config` turns an entry into a
:class:`~recgraph.config.RunConfig` (and :func:`recgraph.config.resolve_config` applies
a configuration file and command-line overrides on top).

>>> config = preset_config("tuned", "gensim")       # from recgraph.config
>>> config.views, config.walks, config.trainer, config.scoring
"""

from __future__ import annotations

import copy

from .errors import ParameterError

#: Preset name -> parameters. ``trainer`` is shared by every backend; ``backend_trainer``
#: adds what only one backend has. ``scoring`` is applied at query time (see
#: :class:`recgraph.scoring.ScoringOptions`; ``train(..., scoring=...)`` records it in the
#: artifact and ``ItemIndex.recommend`` applies it).
PRESETS: dict[str, dict] = {
    "seed": {
        "description": "the Keras node2vec example's parameters, plain cosine scoring",
        "graph": {"min_rating": 5.0, "min_weight": 10.0},
        "walks": {"num_walks": 5, "walk_length": 10, "p": 2.0, "q": 1.5},
        "trainer": {"dim": 50, "window": 10, "negative": 4, "epochs": 10},
        "backend_trainer": {"keras": {"batch_size": 1024, "learning_rate": 0.001}},
        "scoring": {"history_min_rating": 4.0, "popularity_weight": 0.0, "candidates": 200, "fallback": "none"},
    },
    "tuned": {
        "description": "tuned on validation splits (docs/tuning.md, docs/graph_options.md): graph views from "
                       "ratings >= 5, >= 4 and >= 4.5, 60 strongest edges per movie, "
                       "40 walks per movie, gensim window 5, 10 negatives, 5 epochs (keras: the example's "
                       "10, 4, 10), popularity prior, recency, most-popular fallback",
        # Graph views that keep their meaning as the log grows (docs/graph_options.md): each movie
        # keeps its 60 strongest edges (the union over both ends, so the average degree stays
        # between tens and ~120 at any size), and a user's 1,000 most recent liked movies count
        # (bounds one user's pairs; on ml-latest-small it cuts one user, 1,227 ratings >= 4). The
        # weight floors are the earlier tuned's: they bite on small logs, where they drop pairs seen
        # by one or two users, and fade on large ones, where the degree limit does the pruning.
        "graph": {"min_rating": 5.0, "min_weight": 10.0, "max_degree": 60, "max_user_items": 1000},
        # Embedded separately, concatenated (recgraph.corpus): what the 5-star graph leaves out,
        # ratings >= 4 among movies 10 users liked, and ratings >= 4.5 (docs/tuning.md).
        "extra_views": [{"min_rating": 4.0, "min_weight": 30.0, "min_item_users": 10, "max_degree": 60,
                         "max_user_items": 1000},
                        {"min_rating": 4.5, "min_weight": 20.0, "max_degree": 60, "max_user_items": 1000}],
        "walks": {"num_walks": 40, "walk_length": 10, "p": 2.0, "q": 1.5},
        "trainer": {"dim": 50, "window": 5, "negative": 10, "epochs": 5},
        "backend_trainer": {
            "gensim": {"vectors": "both", "alpha": 0.025, "sample": 0.0, "ns_exponent": 0.75},
            # Measured on the validation splits (docs/tuning.md): the example's own window,
            # negatives and epochs beat the gensim-tuned ones for the Keras model.
            "keras": {"batch_size": 1024, "learning_rate": 0.001, "window": 10, "negative": 4, "epochs": 10},
        },
        # recent_*: the watched list is read oldest first; its last 5 movies get a direction of
        # their own (chosen on validation: the best worst case against item-kNN, docs/tuning.md).
        "scoring": {"history_min_rating": 4.0, "popularity_weight": 0.15, "candidates": 200, "fallback": "popular",
                    "recent_weight": 0.5, "recent_count": 5},
    },
}


def available_presets() -> list[str]:
    """Names accepted by :func:`recgraph.config.preset_config`."""
    return sorted(PRESETS)


def get_preset(name: str) -> dict:
    """A copy of the preset's raw parameters."""
    if name not in PRESETS:
        raise ParameterError(f"Unknown preset {name!r}; available: {', '.join(available_presets())}.")
    return copy.deepcopy(PRESETS[name])
