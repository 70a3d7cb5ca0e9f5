"""The one training path: train, train_on_corpus (compare's), the manifest shape, reproduction."""

from __future__ import annotations

import json

import pytest

from recgraph.artifact import manifest_config
from recgraph.config import RunConfig, load_config, resolve_config
from recgraph.errors import ParameterError
from recgraph.pipeline import load_inputs, train, train_on_corpus

SMALL = {"walks": {"num_walks": 3, "walk_length": 6}, "trainer": {"dim": 8, "epochs": 1, "workers": 1}}


def small_config(**changes) -> RunConfig:
    return resolve_config(walks=SMALL["walks"], trainer=SMALL["trainer"], seed=2, **changes)


def test_manifest_records_the_config_once(tiny_ratings, tmp_path):
    config = small_config(scoring={"popularity_weight": 0.2}, n_trees=7)
    result = train(tiny_ratings, tmp_path / "a", config, show_progress=False)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["format_version"] == 2
    assert {"config", "graph", "data", "walks_sha256", "training", "timings_s", "format_version", "files"} <= set(manifest)
    # Format 2: the configuration once, no copies beside it.
    assert not {"backend", "seed", "preset", "params", "scoring", "n_trees"} & set(manifest)
    assert manifest["walks_sha256"] == result.corpus.sha256()
    assert RunConfig.from_dict(manifest["config"]) == config == RunConfig.from_manifest(manifest)
    assert manifest_config(manifest) == config.to_dict()
    # Every backend's section, each complete; not the trainer's derived seed.
    assert manifest["config"]["trainer"]["gensim"]["dim"] == 8 and "window" in manifest["config"]["trainer"]["gensim"]
    assert manifest["config"]["trainer"]["keras"]["batch_size"] == 1024
    assert "seed" not in manifest["config"]["trainer"]["gensim"]
    assert {"load", "graph", "walks", "train", "index", "total"} <= set(manifest["timings_s"])


def test_train_takes_a_run_config_only(tiny_ratings):
    with pytest.raises(TypeError):
        train(tiny_ratings, None, backend="gensim", seed=2)  # the 0.1 keywords are gone
    with pytest.raises(ParameterError, match="config must be a RunConfig"):
        train(tiny_ratings, None, {"seed": 2})


def test_config_file_from_a_manifest_reproduces_the_run(tiny_ratings, tmp_path):
    train(tiny_ratings, tmp_path / "a", config=small_config(), show_progress=False)
    again = resolve_config(base=load_config(tmp_path / "a" / "manifest.json"))
    train(tiny_ratings, tmp_path / "b", config=again, show_progress=False)
    assert (tmp_path / "a" / "embeddings.npy").read_bytes() == (tmp_path / "b" / "embeddings.npy").read_bytes()
    a, b = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in "ab")
    assert a["config"] == b["config"] and a["walks_sha256"] == b["walks_sha256"]


def test_train_on_a_prebuilt_corpus_is_train(tiny_ratings, tmp_path):
    config = small_config()
    direct = train(tiny_ratings, tmp_path / "direct", config=config, show_progress=False)
    inputs, _ = load_inputs(tiny_ratings, config)
    shared = train_on_corpus(inputs, tmp_path / "shared", config)
    assert (tmp_path / "direct" / "embeddings.npy").read_bytes() == (tmp_path / "shared" / "embeddings.npy").read_bytes()
    assert sorted(direct.manifest) == sorted(shared.manifest)
    assert direct.manifest["walks_sha256"] == shared.manifest["walks_sha256"]


def test_compares_artifacts_have_trains_manifest_keys(tiny_ratings, tmp_path):
    from recgraph.compare import compare_backends
    from recgraph.evaluation.splitting import random_split

    from recgraph.evaluation.settings import EvaluationSettings

    compare_backends(tiny_ratings, tmp_path / "cmp", resolve_config("seed", trainer={"epochs": 1}),
                     EvaluationSettings(protocol="random", baselines=("most-popular",)), backends=("gensim",),
                     keep_artifacts=True)
    compared = json.loads((tmp_path / "cmp" / "artifacts" / "gensim" / "manifest.json").read_text())
    split = random_split(tiny_ratings, seed=0)
    trained = train(split.train_ratings(tiny_ratings), tmp_path / "t", show_progress=False,
                    config=resolve_config("seed", "gensim", trainer={"epochs": 1}, seed=0)).manifest
    assert sorted(compared) == sorted(trained)
    assert "walks_sha256" in compared and compared["walks_sha256"] == trained["walks_sha256"]
    assert compared["config"] == trained["config"]
