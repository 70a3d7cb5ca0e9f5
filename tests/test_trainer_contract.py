"""Every trainer backend honours the same contract (recgraph.trainers.base.Trainer).

The graph: two complete clusters of 12 movies joined by one edge, so walks stay in
their cluster almost always and a trained model must put each movie nearer its own
cluster than the other one. Few epochs, tiny dimensions: seconds per backend.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recgraph.graph import ItemGraph
from recgraph.trainers import get_trainer
from recgraph.walks import node2vec_walks

REPO = Path(__file__).resolve().parent.parent
CLUSTER = 12

#: Small, fast settings per backend; same seed, same result where noted.
PARAMS = {
    "gensim": {"dim": 16, "window": 3, "negative": 5, "epochs": 5, "workers": 1},
    # One negative per positive: on 24 movies, uniform negatives land mostly on pairs that
    # also co-occur (dropped by the document's aggregation), and few are left to separate.
    "keras": {"dim": 16, "window": 3, "negative": 1, "epochs": 5, "batch_size": 32, "learning_rate": 0.01,
              "show_progress": False},
}


def _require_backend(name: str) -> None:
    """Skip unless the backend's packages are installed (found, not imported: importing
    keras here, before the trainer picks JAX, would load Keras' configured default)."""
    if name == "keras":
        needed = ["keras"] + ([] if os.environ.get("KERAS_BACKEND") else ["jax"])
        for module in needed:
            if importlib.util.find_spec(module) is None:
                pytest.skip(f"{module} is not installed")


@pytest.fixture(scope="module")
def clusters() -> ItemGraph:
    edges = [(a, b) for start in (0, CLUSTER) for a, b in itertools.combinations(range(start, start + CLUSTER), 2)]
    edges.append((0, CLUSTER))  # the one bridge
    src, dst = (np.array(x) for x in zip(*edges))
    return ItemGraph.from_edges(src, dst)


@pytest.fixture(scope="module")
def walks(clusters) -> np.ndarray:
    return node2vec_walks(clusters, num_walks=10, walk_length=10, seed=0)


@pytest.fixture(scope="module", params=sorted(PARAMS))
def trained(request, clusters, walks):
    """(backend name, embeddings, trainer), trained once per backend."""
    _require_backend(request.param)
    trainer = get_trainer(request.param, seed=3, **PARAMS[request.param])
    embeddings = trainer.fit(walks, clusters.num_nodes)
    return request.param, embeddings, trainer


def _cosines(embeddings: np.ndarray) -> tuple[float, float]:
    """Mean cosine within a cluster (self excluded) and across the two."""
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    sims = unit @ unit.T
    side = np.arange(embeddings.shape[0]) >= CLUSTER
    same = side[:, None] == side[None, :]
    off_diagonal = ~np.eye(embeddings.shape[0], dtype=bool)
    return float(sims[same & off_diagonal].mean()), float(sims[~same].mean())


class TestTrainerContract:
    def test_shape_dtype_finite(self, trained, clusters):
        name, embeddings, trainer = trained
        assert embeddings.shape == (clusters.num_nodes, PARAMS[name]["dim"])
        assert embeddings.dtype == np.float32
        assert np.isfinite(embeddings).all()
        assert trainer.embeddings_ is embeddings
        assert isinstance(trainer.history_, dict)

    def test_neighbours_rank_above_strangers(self, trained):
        _, embeddings, _ = trained
        within, across = _cosines(embeddings)
        assert within > across + 0.3, (within, across)
        # Each movie's nearest other movie is in its own cluster, except for the bridge's
        # two ends (0 and CLUSTER), which are true neighbours of each other.
        unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
        sims = unit @ unit.T
        np.fill_diagonal(sims, -np.inf)
        nearest = sims.argmax(axis=1)
        inner = np.setdiff1d(np.arange(len(nearest)), [0, CLUSTER])
        assert np.array_equal(nearest[inner] >= CLUSTER, inner >= CLUSTER)

    def test_same_seed_same_embeddings(self, trained, clusters, walks):
        name, embeddings, trainer = trained
        if name == "keras" and trainer.history_["keras_backend"] != "jax":
            pytest.skip("bit-for-bit reproducibility is only checked on JAX/CPU")
        again = get_trainer(name, seed=3, **PARAMS[name]).fit(walks, clusters.num_nodes)
        np.testing.assert_array_equal(again, embeddings)

    def test_padding_is_ignored(self, trained, clusters, walks):
        # Walks padded with -1 train as their unpadded prefix would; shape stays num_nodes.
        name, _, _ = trained
        padded = walks.copy()
        padded[::3, 7:] = -1
        embeddings = get_trainer(name, seed=3, **PARAMS[name]).fit(padded, clusters.num_nodes)
        assert embeddings.shape == (clusters.num_nodes, PARAMS[name]["dim"])
        assert np.isfinite(embeddings).all()


@pytest.fixture(scope="module")
def keras_trainer(clusters, walks):
    _require_backend("keras")
    trainer = get_trainer("keras", seed=3, **PARAMS["keras"])
    trainer.fit(walks, clusters.num_nodes)
    return trainer


class TestKerasBackend:
    def test_history(self, keras_trainer):
        h = keras_trainer.history_
        assert len(h["loss"]) == PARAMS["keras"]["epochs"]
        assert all(isinstance(x, float) and np.isfinite(x) for x in h["loss"])
        assert h["loss"][-1] < h["loss"][0]
        assert set(h["timings_s"]) >= {"examples", "train"}
        assert h["n_examples"] == h["n_positive"] + h["n_negative"] > 0
        assert h["n_negative_pairs"] == PARAMS["keras"]["negative"] * h["n_positive_pairs"]
        # The document's aggregation: negative draws of co-occurring pairs are dropped.
        assert h["n_dropped_negative"] > 0
        assert not keras_trainer.keep_cooccurring_negatives
        assert len(h["epoch_s"]) == PARAMS["keras"]["epochs"] and h["examples_per_s"] > 0

    def test_batch_larger_than_examples(self, clusters, walks):
        _require_backend("keras")
        from recgraph.errors import ParameterError

        trainer = get_trainer("keras", seed=0, batch_size=10**6, show_progress=False)
        with pytest.raises(ParameterError, match="batch_size"):
            trainer.fit(walks, clusters.num_nodes)

    def test_keep_cooccurring_negatives(self, clusters, walks, keras_trainer):
        """The option keeps the negative draws the default drops, as rows of their own."""
        params = {**PARAMS["keras"], "epochs": 1}
        kept = get_trainer("keras", seed=3, keep_cooccurring_negatives=True, **params)
        kept.fit(walks, clusters.num_nodes)
        h, default = kept.history_, keras_trainer.history_
        assert h["n_dropped_negative"] == 0
        assert h["n_positive"] == default["n_positive"]
        assert h["n_negative"] > default["n_negative"]

    def test_bad_parameter(self, clusters, walks):
        _require_backend("keras")
        from recgraph.errors import ParameterError

        with pytest.raises(ParameterError, match="learning_rate"):
            get_trainer("keras", learning_rate=0, show_progress=False).fit(walks, clusters.num_nodes)
        with pytest.raises(ParameterError, match="keep_cooccurring_negatives must be True or False"):
            get_trainer("keras", keep_cooccurring_negatives="yes", show_progress=False).fit(walks, clusters.num_nodes)


def _run(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("blocked, backend_env", [("keras", None), ("jax", None), ("jax", "jax")])
def test_missing_dependency_names_the_extra(blocked, backend_env):
    """Without keras, or without jax when JAX is the backend, one sentence naming the extra."""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    if backend_env:
        env["KERAS_BACKEND"] = backend_env
    code = (
        f"import sys; sys.modules[{blocked!r}] = None\n"
        "import recgraph.trainers as t\n"  # importing the registry never needs keras
        "from recgraph.errors import MissingDependencyError\n"
        "try:\n"
        "    t.get_trainer('keras')\n"
        "except MissingDependencyError as exc:\n"
        "    print(exc)\n"
        "print('KERAS_BACKEND' in __import__('os').environ)\n"
    )
    proc = _run(code, env)
    assert proc.returncode == 0, proc.stderr
    message, backend_set = proc.stdout.strip().splitlines()
    assert message == (f"The keras backend needs {blocked}, which is not installed; "
                       'install it with pip install "recgraph[keras]".')
    assert backend_set == str(bool(backend_env))  # choosing the backend set no environment variable


def test_importing_recgraph_sets_no_keras_backend():
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    code = ("import os, recgraph, recgraph.trainers, recgraph.pipeline, recgraph.trainers.skipgrams\n"
            "print(os.environ.get('KERAS_BACKEND'), 'keras' in __import__('sys').modules)")
    proc = _run(code, env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["None", "False"]


def test_keras_backend_env_is_honoured():
    """Unset, KERAS_BACKEND becomes jax when training starts; set by the user, it wins."""
    _require_backend("keras")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    train = (
        "import os, numpy as np\n"
        "from recgraph.trainers import get_trainer\n"
        "t = get_trainer('keras', epochs=1, batch_size=8, dim=4, window=2, seed=0, show_progress=False)\n"
        "t.fit(np.array([[0, 1, 2, 3, 4, 5]] * 40), 6)\n"
        "print(os.environ['KERAS_BACKEND'], t.history_['keras_backend'])\n"
    )
    proc = _run(train, env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["jax", "jax"]
    # Keras' numpy backend needs nothing more to import (it cannot train: only the choice is checked).
    choose = ("from recgraph.trainers.keras_backend import import_keras\n"
              "print(import_keras().backend.backend())\n")
    proc = _run(choose, {**env, "KERAS_BACKEND": "numpy"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["numpy"]


@pytest.mark.slow
def test_keras_pipeline_end_to_end(ml_small, tmp_path):
    """The whole job on ml-latest-small with the keras backend (2 epochs, for speed)."""
    _require_backend("keras")
    from recgraph.pipeline import train

    from recgraph.config import resolve_config

    result = train(ml_small, tmp_path / "art", resolve_config(backend="keras", seed=0, trainer={"epochs": 2}),
                   show_progress=False)
    manifest = result.manifest
    assert manifest["config"]["trainer"]["backend"] == "keras"
    assert len(manifest["loss"]) == 2 and manifest["loss"][1] < manifest["loss"][0]
    # The document's aggregation: 1.99 at seed 0 (the document printed 2.1005), and its
    # example count within 1% of the document's 730,460.
    assert 1.8 < manifest["loss"][0] < 2.2
    assert abs(manifest["training"]["n_examples"] - 730_460) < 7_305
    stages = {"load", "graph", "walks", "examples", "keras_setup", "train", "index", "total"}
    assert stages <= set(manifest["timings_s"])
    training = manifest["training"]
    assert training["n_examples"] == training["n_positive"] + training["n_negative"]
    assert training["steps_per_epoch"] == training["n_examples"] // 1024
    assert manifest["config"]["trainer"]["keras"]["window"] == 10
    assert result.embeddings.shape == (result.graph.num_nodes, 50)
    assert (tmp_path / "art" / "manifest.json").is_file()
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert (tmp_path / "art" / "loss.png").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["gensim", "keras"])
def test_default_main_job_is_bit_for_bit_reproducible(backend, ml_small_path, tmp_path):
    """The default main job, twice with one seed, in two processes with different hash seeds:
    byte-identical embeddings.npy (and so the same index answers)."""
    _require_backend(backend)
    script = str(REPO / "scripts" / "train.py")
    outputs = []
    for run, hash_seed in enumerate(("1", "2")):
        out = tmp_path / f"run{run}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        proc = subprocess.run([sys.executable, script, "--backend", backend, "--data", str(ml_small_path),
                               "--out", str(out), "--seed", "5", "--quiet"], capture_output=True, text=True,
                              env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr
        outputs.append(out)
    first, second = ((out / "embeddings.npy").read_bytes() for out in outputs)
    assert first == second
    manifest = json.loads((outputs[0] / "manifest.json").read_text())
    if backend == "gensim":
        assert manifest["training"]["workers"] == 1 and manifest["training"]["reproducible"] is True


class TestGensimThreads:
    def test_auto_workers_threshold(self):
        from recgraph.trainers.gensim_backend import SINGLE_THREAD_MAX_TOKENS, auto_workers, available_cores

        assert auto_workers(70_250) == 1  # ml-latest-small's default walks
        assert auto_workers(SINGLE_THREAD_MAX_TOKENS - 1) == 1
        assert auto_workers(SINGLE_THREAD_MAX_TOKENS) == available_cores() >= 1

    def test_history_reports_threads_and_speed(self, clusters, walks):
        params = {k: v for k, v in PARAMS["gensim"].items() if k != "workers"}
        trainer = get_trainer("gensim", seed=3, **params)
        assert trainer.workers is None  # the default: chosen from the corpus size
        embeddings = trainer.fit(walks, clusters.num_nodes)
        h = trainer.history_
        assert h["workers"] == 1 and h["reproducible"] is True
        assert h["words"] == walks.size and h["words_per_s"] > 0 and h["train_s"] > 0
        again = get_trainer("gensim", seed=3, **params).fit(walks, clusters.num_nodes)
        np.testing.assert_array_equal(again, embeddings)

    def test_explicit_threads_are_not_reproducible_by_promise(self, clusters, walks):
        trainer = get_trainer("gensim", seed=3, **{**PARAMS["gensim"], "workers": 2})
        trainer.fit(walks, clusters.num_nodes)
        assert trainer.history_["workers"] == 2 and trainer.history_["reproducible"] is False
