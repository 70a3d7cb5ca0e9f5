"""Presets: named run configurations, resolved for each backend (recgraph.presets + recgraph.config)."""

from __future__ import annotations

import pytest

from recgraph.config import preset_config, resolve_config
from recgraph.errors import ParameterError
from recgraph.scoring import ScoringOptions


def test_presets_resolve_per_backend():
    from recgraph.presets import available_presets

    assert {"seed", "tuned"} <= set(available_presets())
    gensim = resolve_config("tuned", "gensim")
    keras = resolve_config("tuned", "keras", trainer={"epochs": 3})
    assert gensim.views == keras.views and gensim.walks == keras.walks
    assert "vectors" in gensim.trainer.params and "vectors" not in keras.trainer.params
    assert keras.trainer.params["epochs"] == 3
    assert isinstance(gensim.scoring, ScoringOptions) and gensim.scoring.fallback == "popular"
    seed = resolve_config("seed", "gensim")
    assert seed.walks.to_dict() == {"num_walks": 5, "walk_length": 10, "p": 2.0, "q": 1.5}
    # tuned: the 5-star graph first, then the >= 4 and >= 4.5 views; overrides change the first only.
    assert [v.min_rating for v in gensim.views] == [5.0, 4.0, 4.5] and len(seed.views) == 1
    views = gensim.to_dict()["graph"]
    limits = {"max_degree": 60, "max_user_items": 1000}  # size-free limits (docs/graph_options.md)
    assert views[0] == {"min_rating": 5.0, "min_weight": 10.0, "min_item_users": 0, **limits}
    assert views[1] == {"min_rating": 4.0, "min_weight": 30.0, "min_item_users": 10, **limits}
    assert views[2] == {"min_rating": 4.5, "min_weight": 20.0, "min_item_users": 0, **limits}
    assert len(seed.to_dict()["graph"]) == 1
    moved = resolve_config("tuned", "gensim", graph={"min_weight": 20.0})
    assert [v.min_weight for v in moved.views] == [20.0, 30.0, 20.0]
    assert resolve_config("tuned", "gensim", one_view=True).views == gensim.views[:1]
    with pytest.raises(ParameterError, match="tuned"):
        resolve_config("best")
    with pytest.raises(ParameterError, match="tuned"):
        preset_config("best")


@pytest.mark.parametrize("backend", ["gensim", "keras"])
def test_preset_trainer_params_are_accepted_by_the_backends(backend):
    from recgraph.trainers import trainer_class

    cls = trainer_class(backend) if backend == "gensim" else pytest.importorskip("recgraph.trainers.keras_backend").KerasTrainer
    for name in ("seed", "tuned"):
        params = preset_config(name, backend).trainer.params
        assert set(params) <= set(cls.param_names()), (name, backend)
        trainer = cls(**params)
        checked = trainer.validate()  # every value in range, not only every name known
        assert {k: checked[k] for k in params if k in checked} == {k: params[k] for k in params if k in checked}


def test_preset_is_recorded_as_a_label():
    config = preset_config("seed", "keras")
    assert config.preset == "seed" and config.backend == "keras"
    assert config.trainer.params["batch_size"] == 1024  # the keras-only values come with the backend
    assert "batch_size" not in preset_config("seed", "gensim").trainer.params


@pytest.mark.slow
def test_seed_preset_reproduces_the_example_graph(ml_small):
    from recgraph.graph import build_item_graph

    graph = build_item_graph(ml_small, **preset_config("seed").views[0].build_kwargs())
    assert graph.stats() == {"nodes": 1405, "edges": 40043, "avg_degree": 57.0}
