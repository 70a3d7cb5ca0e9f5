"""The run configuration: typed sections, one resolution order, files, manifests."""

from __future__ import annotations

import dataclasses
import json

import pytest

from recgraph.config import (GraphParams, IndexConfig, RunConfig, TrainerConfig, WalkParams, config_from_manifest,
                             load_config, resolve_config)
from recgraph.errors import ParameterError
from recgraph.scoring import ScoringOptions


def test_graph_params_have_exactly_the_specs_fields():
    assert [(f.name, f.default) for f in dataclasses.fields(GraphParams)] == [
        ("min_rating", 5.0), ("min_weight", 10.0), ("min_item_users", 0), ("max_degree", None),
        ("max_user_items", None)]
    # A cap that is off is left out of the record and of build_item_graph's arguments.
    assert GraphParams().to_dict() == {"min_rating": 5.0, "min_weight": 10.0, "min_item_users": 0}
    assert GraphParams(max_degree=30).build_kwargs()["max_degree"] == 30


@pytest.mark.parametrize("make, message", [
    (lambda: GraphParams(max_degree=0), "max_degree must be an integer >= 1; got 0."),
    (lambda: GraphParams(max_user_items=2.5), "max_user_items must be an integer >= 1"),
    (lambda: WalkParams(p=0), "p must be a finite number > 0"),
    (lambda: TrainerConfig("torch"), "Unknown backend 'torch'; available: gensim, keras."),
    (lambda: IndexConfig(0), "n_trees must be an integer >= 1"),
    (lambda: RunConfig(seed=-1), "seed must be an integer >= 0"),
    (lambda: RunConfig(graph=()), "at least one graph view"),
    (lambda: RunConfig(scoring={"fallback": "random"}), "fallback must be one of popular, none"),
])
def test_sections_validate_when_made(make, message):
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_defaults_and_round_trip():
    config = RunConfig()
    assert config.views == (GraphParams(),) and config.walks == WalkParams() and config.backend == "gensim"
    assert config.scoring == ScoringOptions() and config.index.n_trees == 50 and config.seed is None
    tuned = resolve_config("tuned", "keras", seed=4, n_trees=20, graph={"max_degree": 50})
    payload = json.loads(json.dumps(tuned.to_dict()))
    assert RunConfig.from_dict(payload) == tuned
    assert payload["graph"][0]["max_degree"] == 50 and payload["graph"][1]["max_degree"] == 60  # flags: primary view only


def test_resolution_order_preset_then_file_then_flags():
    base = {"preset": "tuned", "seed": 9, "walks": {"num_walks": 7}, "trainer": {"params": {"dim": 16}},
            "index": {"n_trees": 11}}
    config = resolve_config(base=base)
    assert config.preset == "tuned" and config.seed == 9 and config.index.n_trees == 11
    assert config.walks == WalkParams(7, 10, 2.0, 1.5)  # the file's field, the preset's others
    assert config.trainer.params["dim"] == 16 and config.trainer.params["window"] == 5
    assert len(config.views) == 3
    flags = resolve_config(base=base, walks={"num_walks": 2}, trainer={"dim": 8}, seed=1, one_view=True)
    assert flags.walks.num_walks == 2 and flags.trainer.params["dim"] == 8 and flags.seed == 1
    assert flags.views == config.views[:1]
    # The flag's preset wins over the file's.
    assert resolve_config(preset="seed", base=base).walks == WalkParams(7, 10, 2.0, 1.5)
    assert resolve_config(preset="seed", base=base).trainer.params["window"] == 10


def test_another_backend_starts_from_the_presets_trainer_values():
    gensim = resolve_config("tuned", "gensim").to_dict()
    keras = resolve_config(backend="keras", base=gensim)
    assert keras.backend == "keras" and "vectors" not in keras.trainer.params
    assert keras.trainer.params["window"] == 10  # tuned's keras values


@pytest.mark.parametrize("payload, message", [
    ({"graf": {}}, "Unknown configuration section(s) graf; valid: preset, seed, graph"),
    ({"graph": [{"min_ratings": 4}]}, "Unknown graph field(s) min_ratings; valid: min_rating"),
    ({"walks": {"steps": 3}}, "Unknown walks field(s) steps"),
    ({"trainer": {"dim": 3}}, "Unknown trainer field(s) dim; valid: backend, params"),
    ({"walks": 3}, "The walks section must be a table"),
    ({"preset": "best"}, "Unknown preset 'best'; available: seed, tuned."),
])
def test_bad_configuration_is_one_sentence(payload, message):
    with pytest.raises(ParameterError) as info:
        resolve_config(base=payload)
    assert message in str(info.value) and str(info.value).count(". ") == 0


def test_toml_and_json_files(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('preset = "seed"\nseed = 3\ndata = "ratings/"\n\n[[graph]]\nmin_rating = 4.5\nmin_weight = 20\n\n'
                    '[[graph]]\nmin_rating = 4.0\nmax_user_items = 100\n\n[trainer]\nbackend = "gensim"\n\n'
                    '[trainer.params]\nepochs = 2\n\n[scoring]\npopularity_weight = 0.1\n')
    base = load_config(toml)
    assert base["data"] == "ratings/"
    config = resolve_config(base=base)
    assert config.views == (GraphParams(4.5, 20.0), GraphParams(4.0, max_user_items=100))
    assert config.seed == 3 and config.trainer.params["epochs"] == 2 and config.trainer.params["window"] == 10
    assert config.scoring.popularity_weight == 0.1
    as_json = tmp_path / "run.json"
    as_json.write_text(json.dumps(config.to_dict()))
    assert resolve_config(base=load_config(as_json)) == config
    (tmp_path / "bad.toml").write_text("seed = \n")
    with pytest.raises(ParameterError, match="is not valid TOML"):
        load_config(tmp_path / "bad.toml")
    with pytest.raises(ParameterError, match="does not exist"):
        load_config(tmp_path / "missing.json")


def test_an_older_manifest_is_rebuilt_from_its_params():
    manifest = {"format_version": 1, "files": {}, "backend": "gensim", "seed": 3, "preset": None,
                "params": {"graph": {"min_rating": 5.0, "min_weight": 10.0, "min_item_users": 0},
                           "walks": {"num_walks": 5, "walk_length": 10, "p": 2.0, "q": 1.5},
                           "trainer": {"dim": 50, "epochs": 2, "seed": 12345, "workers": 1}, "n_trees": 50},
                "scoring": ScoringOptions().to_dict(), "data": {"source": "ml.zip", "md5": "x"}}
    sections = config_from_manifest(manifest)
    assert sections["data"] == "ml.zip"
    config = resolve_config(base=sections)
    assert config.seed == 3 and config.trainer.params == {"dim": 50, "epochs": 2, "workers": 1}
    assert config.views == (GraphParams(),) and config.index.n_trees == 50
