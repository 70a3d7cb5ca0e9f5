"""The run configuration: typed sections, one resolution order, files, manifests."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
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
    assert config.scoring == ScoringOptions() and config.index.n_trees == 50 and config.seed == 0
    tuned = resolve_config("movielens", "keras", seed=4, n_trees=20, graph={"max_degree": 50})
    payload = json.loads(json.dumps(tuned.to_dict()))
    assert RunConfig.from_dict(payload) == tuned
    assert payload["graph"][0]["max_degree"] == 50 and payload["graph"][1]["max_degree"] == 60  # flags: primary view only


def test_resolution_order_preset_then_file_then_flags():
    base = {"preset": "movielens", "seed": 9, "walks": {"num_walks": 7}, "trainer": {"gensim": {"dim": 16}},
            "index": {"n_trees": 11}}
    config = resolve_config(base=base)
    assert config.preset == "movielens" and config.seed == 9 and config.index.n_trees == 11
    assert config.walks == WalkParams(7, 10, 2.0, 1.5, 500_000)  # the file's field, the preset's others
    assert config.trainer.params["dim"] == 16 and config.trainer.params["window"] == 5
    assert len(config.views) == 3
    flags = resolve_config(base=base, walks={"num_walks": 2}, trainer={"dim": 8}, seed=1, one_view=True)
    assert flags.walks.num_walks == 2 and flags.trainer.params["dim"] == 8 and flags.seed == 1
    assert flags.views == config.views[:1]
    # The flag's preset wins over the file's.
    assert resolve_config(preset="seed", base=base).walks == WalkParams(7, 10, 2.0, 1.5)
    assert resolve_config(preset="seed", base=base).trainer.params["window"] == 10


def test_each_backend_keeps_its_own_section():
    gensim = resolve_config("tuned", "gensim", trainer={"window": 3}).to_dict()
    assert gensim["trainer"]["gensim"]["window"] == 3 and gensim["trainer"]["keras"]["window"] == 3
    keras = resolve_config(backend="keras", base=resolve_config("tuned", "gensim").to_dict())
    assert keras.backend == "keras" and "vectors" not in keras.trainer.params
    assert keras.trainer.params["window"] == 10  # tuned's keras values
    # A flag the chosen backend does not have changes nothing that runs: refused in one sentence.
    with pytest.raises(ParameterError, match="The keras backend has no setting vectors; its settings are"):
        resolve_config(backend="keras", trainer={"vectors": "input"})
    # Only the file's backend table changes; the other keeps the preset's values.
    mixed = resolve_config(base={"preset": "seed", "trainer": {"backend": "keras", "keras": {"epochs": 2}}})
    assert mixed.trainer.params["epochs"] == 2 and mixed.trainer.gensim.epochs == 10


@pytest.mark.parametrize("payload, message", [
    ({"graf": {}}, "Unknown configuration section(s) graf; valid: preset, seed, graph"),
    ({"graph": [{"min_ratings": 4}]}, "Unknown graph field(s) min_ratings; valid: min_rating"),
    ({"walks": {"steps": 3}}, "Unknown walks field(s) steps"),
    ({"trainer": {"dim": 3}}, "Unknown trainer field(s) dim; valid: backend, gensim, keras"),
    ({"trainer": {"params": {"dim": 3}}}, "[trainer.params] was replaced in recgraph 0.2 by one table per backend"),
    ({"trainer": {"gensim": {"vectors": "all"}}}, "vectors must be 'input', 'output' or 'both'"),
    ({"trainer": {"keras": {"batch_sizes": 3}}}, "Unknown trainer.keras field(s) batch_sizes; valid: dim"),
    ({"walks": 3}, "The walks section must be a table"),
    ({"preset": "best"}, "Unknown preset 'best'; available: movielens, seed, showcase, tuned."),
])
def test_bad_configuration_is_one_sentence(payload, message):
    with pytest.raises(ParameterError) as info:
        resolve_config(base=payload)
    assert message in str(info.value) and str(info.value).count(". ") == 0


def test_toml_and_json_files(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('preset = "seed"\nseed = 3\ndata = "ratings/"\n\n[[graph]]\nmin_rating = 4.5\nmin_weight = 20\n\n'
                    '[[graph]]\nmin_rating = 4.0\nmax_user_items = 100\n\n[trainer]\nbackend = "gensim"\n\n'
                    '[trainer.gensim]\nepochs = 2\n\n[scoring]\npopularity_weight = 0.1\n')
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
                           "trainer": {"dim": 50, "epochs": 2, "seed": 12345, "workers": 1}, "n_trees": 40},
                "scoring": ScoringOptions().to_dict(), "data": {"source": "ml.zip", "md5": "x"}}
    sections = config_from_manifest(manifest)
    assert sections["data"] == "ml.zip"
    config = resolve_config(base=sections)
    assert config.seed == 3 and config.trainer.params["epochs"] == 2 and config.trainer.params["workers"] == 1
    assert config.trainer.params["window"] == 5  # 0.1 ran the class defaults: the showcase preset
    assert config.views == (GraphParams(),) and config.index.n_trees == 40 and config.preset == "showcase"
    assert RunConfig.from_manifest(manifest) == config


def test_walk_budget_lowers_walks_per_node_on_big_graphs():
    from recgraph.corpus import walk_graphs
    from recgraph.graph import ItemGraph

    budget = WalkParams(num_walks=40, max_walks=1_000)
    assert budget.walks_per_node(10) == 40          # 400 walks: within the budget
    assert budget.walks_per_node(100) == 10         # 1,000 / 100
    assert budget.walks_per_node(5_000) == 1        # never fewer than one walk per node
    assert WalkParams(num_walks=40).walks_per_node(10**6) == 40
    assert "max_walks" not in WalkParams().to_dict() and budget.to_dict()["max_walks"] == 1_000
    with pytest.raises(ParameterError, match="max_walks must be an integer >= 1; got 0."):
        WalkParams(max_walks=0)
    ring = ItemGraph.from_edges(np.arange(50), (np.arange(50) + 1) % 50)
    corpus = walk_graphs([ring], [GraphParams()], WalkParams(num_walks=8, walk_length=4, max_walks=100), seed=1)
    assert corpus.walks[0].shape == (100, 4)        # 2 walks per node, not 8
