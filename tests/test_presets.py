"""Presets: TOML files in the configuration's own shape, resolved for each backend."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from recgraph.config import (BACKEND_SECTIONS, GensimParams, KerasParams, RunConfig, load_preset, parse_toml,
                             resolve_config)
from recgraph.errors import ParameterError
from recgraph.presets import DEFAULT_PRESET, available_presets, preset_text
from recgraph.scoring import ScoringOptions


def test_the_default_configuration_is_the_showcase_preset():
    assert DEFAULT_PRESET == "showcase" and available_presets() == ["movielens", "seed", "showcase", "tuned"]
    assert RunConfig() == load_preset("showcase") == resolve_config()
    # The showcase is what `recgraph train` ran in 0.1 without a preset: the gensim class defaults.
    from recgraph.trainers.gensim_backend import GensimTrainer

    defaults = {n: p.default for n, p in inspect.signature(GensimTrainer).parameters.items()
                if n not in ("seed", "show_progress")}
    assert RunConfig().trainer.params == defaults
    assert RunConfig().seed == 0 and RunConfig().preset == "showcase"


def test_every_preset_file_gives_every_section():
    for name in available_presets():
        sections = parse_toml(preset_text(name), name)
        assert {"graph", "walks", "trainer", "scoring", "index"} <= set(sections), name
        assert set(sections["trainer"]) == {"backend", *BACKEND_SECTIONS}, name
        for backend, cls in BACKEND_SECTIONS.items():
            optional = {f.name for f in dataclasses.fields(cls) if f.default is None}
            assert set(sections["trainer"][backend]) | optional == {f.name for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("backend, cls", [("gensim", GensimParams), ("keras", KerasParams)])
def test_backend_sections_mirror_the_trainers(backend, cls):
    from recgraph.trainers import trainer_class

    trainer = trainer_class(backend) if backend == "gensim" else pytest.importorskip(
        "recgraph.trainers.keras_backend").KerasTrainer
    signature = {n: p.default for n, p in inspect.signature(trainer).parameters.items()
                 if n not in ("seed", "show_progress")}
    assert {f.name: f.default for f in dataclasses.fields(cls)} == signature


def test_presets_resolve_per_backend():
    gensim = resolve_config("movielens", "gensim")
    keras = resolve_config("movielens", "keras", trainer={"epochs": 3})
    assert gensim.views == keras.views and gensim.walks == keras.walks
    assert "vectors" in gensim.trainer.params and "vectors" not in keras.trainer.params
    assert keras.trainer.params["epochs"] == 3 and keras.trainer.params["window"] == 10
    assert gensim.trainer.params["negative"] == 10 and gensim.trainer.params["ns_exponent"] == 0.75
    assert isinstance(gensim.scoring, ScoringOptions) and gensim.scoring.fallback == "popular"
    seed = resolve_config("seed", "gensim")
    assert seed.walks.to_dict() == {"num_walks": 5, "walk_length": 10, "p": 2.0, "q": 1.5}
    # movielens: the 5-star graph first, then the >= 4 and >= 4.5 views; overrides change the first only.
    assert [v.min_rating for v in gensim.views] == [5.0, 4.0, 4.5] and len(seed.views) == 1
    views = gensim.to_dict()["graph"]
    limits = {"max_degree": 60, "max_user_items": 1000}  # size-free limits (docs/graph_options.md)
    assert views[0] == {"min_rating": 5.0, "min_weight": 10.0, "min_item_users": 0, **limits}
    assert views[1] == {"min_rating": 4.0, "min_weight": 30.0, "min_item_users": 10, **limits}
    assert views[2] == {"min_rating": 4.5, "min_weight": 20.0, "min_item_users": 0, **limits}
    moved = resolve_config("movielens", "gensim", graph={"min_weight": 20.0})
    assert [v.min_weight for v in moved.views] == [20.0, 30.0, 20.0]
    assert resolve_config("movielens", "gensim", one_view=True).views == gensim.views[:1]
    # tuned names the search: one view that keeps a sparse log's pairs, the blend chosen at fit time.
    tuned = resolve_config("tuned", "gensim")
    assert len(tuned.views) == 1 and tuned.views[0].min_weight == 1.0 and tuned.walks.max_walks == 100_000
    assert tuned.scoring.method == "blend" and tuned.scoring.search is True
    with pytest.raises(ParameterError, match="Unknown preset 'best'; available: movielens, seed, showcase, tuned[.]"):
        resolve_config("best")
    with pytest.raises(ParameterError, match="showcase"):
        load_preset("best")


@pytest.mark.parametrize("backend", ["gensim", "keras"])
def test_preset_trainer_params_are_accepted_by_the_backends(backend):
    from recgraph.trainers import trainer_class

    cls = trainer_class(backend) if backend == "gensim" else pytest.importorskip("recgraph.trainers.keras_backend").KerasTrainer
    for name in available_presets():
        params = load_preset(name).with_backend(backend).trainer.params
        assert set(params) <= set(cls.param_names()), (name, backend)
        trainer = cls(**params)
        checked = trainer.validate()  # every value in range, not only every name known
        assert {k: checked[k] for k in params if k in checked} == {k: params[k] for k in params if k in checked}


def test_preset_is_recorded_as_a_label():
    config = resolve_config("seed", "keras")
    assert config.preset == "seed" and config.backend == "keras"
    assert config.trainer.params["batch_size"] == 1024  # the keras section comes with the backend
    assert "batch_size" not in resolve_config("seed", "gensim").trainer.params


def test_presets_ship_as_package_data():
    from pathlib import Path

    setup = (Path(__file__).resolve().parent.parent / "setup.cfg").read_text()
    assert "recgraph.presets = *.toml" in setup


@pytest.mark.slow
def test_seed_preset_reproduces_the_example_graph(ml_small):
    from recgraph.graph import build_item_graph

    graph = build_item_graph(ml_small, **load_preset("seed").views[0].build_kwargs())
    assert graph.stats() == {"nodes": 1405, "edges": 40043, "avg_degree": 57.0}
