"""Backend comparison on one shared walk corpus: schema, shared walks, quality, agreement."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recgraph.compare import BACKEND_KEYS, REPORT_FILES, REPORT_KEYS, report_markdown
from recgraph.corpus import walks_sha256


def keras_available() -> bool:
    from recgraph.errors import MissingDependencyError
    from recgraph.trainers import trainer_class

    try:
        trainer_class("keras")
    except (MissingDependencyError, ImportError):
        return False
    return True


KERAS = keras_available()
BACKENDS = ("gensim", "keras") if KERAS else ("gensim",)
EACH_BACKEND = pytest.mark.parametrize(
    "backend", ["gensim", pytest.param("keras", marks=pytest.mark.skipif(not KERAS, reason="keras is not installed"))]
)


@pytest.fixture(scope="module")
def comparison(ml_small, tmp_path_factory):
    """The movielens preset (three views), on the 80/20 split, every installed backend; run once for this module."""
    from recgraph.compare import compare_backends

    out = tmp_path_factory.mktemp("compare") / "report"
    from recgraph.config import resolve_config
    from recgraph.evaluation.settings import EvaluationSettings

    report = compare_backends(ml_small, out, resolve_config("movielens"), EvaluationSettings(protocol="random"),
                              backends=BACKENDS)
    return out, report


pytestmark = pytest.mark.slow


def test_report_files_and_schema(comparison):
    out, report = comparison
    assert sorted(p.name for p in out.iterdir()) == sorted(REPORT_FILES)
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    assert set(REPORT_KEYS) <= set(on_disk)
    assert len(on_disk["walks_sha256"]) == 64
    assert on_disk["protocol"] == "random" and on_disk["preset"] == "movielens"
    for name in BACKENDS:
        entry = on_disk["backends"][name]
        assert set(BACKEND_KEYS) <= set(entry)
        assert entry["available"] is True and entry["train_s"] > 0
        for key in ("hr@10", "ndcg@10", "recall@20", "coverage"):
            assert 0.0 <= entry[key] <= 1.0
    assert set(on_disk["baselines"]) == {"most-popular", "item-knn", "ease"}
    for entry in on_disk["baselines"].values():
        assert {"hr@10", "ndcg@10", "recall@20", "coverage", "fit_s"} <= set(entry)
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (out / "report.md").read_text()
    assert "| model | HR@10 | NDCG@10 | Recall@20 | Coverage@10 | train s |" in markdown
    for name in BACKENDS:
        assert f"| {name} |" in markdown


def test_walks_are_the_pipelines_corpus(comparison, ml_small):
    """The shared corpus is exactly what recgraph.pipeline.train builds from the same seed."""
    from recgraph.evaluation.splitting import random_split
    from recgraph.config import resolve_config
    from recgraph.pipeline import train

    _, report = comparison
    split = random_split(ml_small, seed=0)
    config = resolve_config("movielens", "gensim", trainer={"epochs": 1}, seed=0)
    result = train(split.train_ratings(ml_small), None, config=config, show_progress=False)
    assert result.corpus.sha256() == report["walks_sha256"]
    assert walks_sha256(*result.corpus.walks) == report["walks_sha256"]
    assert result.corpus.shape == report["walks_shape"]
    assert result.manifest["graph"] == report["graph"]
    # The same configuration record as the pipeline writes, every field spelled out.
    assert report["config"]["graph"] == result.manifest["config"]["graph"]
    assert report["config"]["graph"][0]["min_item_users"] == 0
    # movielens has three graph views; the primary one is the pipeline's first corpus.
    assert len(report["graph"]["views"]) == 3 and report["graph"]["views"][0]["nodes"] == report["graph"]["nodes"]


@EACH_BACKEND
def test_each_backend_beats_most_popular(comparison, backend):
    _, report = comparison
    mine, popular = report["backends"][backend], report["baselines"]["most-popular"]
    assert mine["hr@10"] > popular["hr@10"]
    assert mine["ndcg@10"] > popular["ndcg@10"]
    assert mine["recall@20"] > popular["recall@20"]
    assert mine["coverage"] > popular["coverage"]


@EACH_BACKEND
def test_empire_strikes_back_is_near_star_wars(comparison, backend):
    _, report = comparison
    assert 1196 in report["backends"][backend]["similar"]["260"]


def test_agreement(comparison):
    _, report = comparison
    pairs = report["agreement"]["pairs"]
    if len(BACKENDS) < 2:
        assert pairs == [] and "note" in report["agreement"]
        return
    (pair,) = pairs
    assert (pair["a"], pair["b"]) == ("gensim", "keras")
    assert pair["items"] == report["graph"]["items"]  # every movie of either graph view
    assert 0.0 < pair["mean_jaccard"] <= 1.0
    assert 0.0 < pair["popular_100"]["mean_jaccard"] <= 1.0


def test_missing_backend_is_reported_not_fatal(ml_small, tmp_path, monkeypatch):
    """A backend whose dependency is missing gets a note; the others are still covered."""
    import recgraph.trainers as trainers
    from recgraph.compare import compare_backends
    from recgraph.errors import MissingDependencyError

    real = trainers.get_trainer

    def fake(name, **params):
        if name == "keras":
            raise MissingDependencyError('The keras backend needs keras, which is not installed; '
                                         'install it with pip install "recgraph[keras]".')
        return real(name, **params)

    monkeypatch.setattr(trainers, "get_trainer", fake)
    from recgraph.config import resolve_config
    from recgraph.evaluation.settings import EvaluationSettings

    report = compare_backends(ml_small, tmp_path / "out", resolve_config("seed", trainer={"epochs": 1}, seed=1),
                              EvaluationSettings(baselines=("most-popular",)), backends=("gensim", "keras"))
    assert report["backends"]["keras"] == {"available": False, "error": report["backends"]["keras"]["error"]}
    assert "recgraph[keras]" in report["backends"]["keras"]["error"]
    assert report["backends"]["gensim"]["available"] is True
    assert "keras: not run." in report_markdown(report)
    assert report["agreement"]["pairs"] == []


def test_refuses_to_replace_a_foreign_directory(ml_small, tmp_path):
    from recgraph.compare import compare_backends
    from recgraph.errors import ArtifactError

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ArtifactError, match="not a report directory recgraph wrote"):
        compare_backends(ml_small, tmp_path, backends=("gensim",))
    assert (tmp_path / "notes.txt").read_text() == "mine"
    # A report.json that recgraph did not write does not make the directory replaceable.
    (tmp_path / "report.json").write_text('{"title": "quarterly report"}')
    with pytest.raises(ArtifactError, match="not a report directory recgraph wrote"):
        compare_backends(ml_small, tmp_path, backends=("gensim",))


def test_walks_sha256_depends_on_content_and_shape():
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    assert walks_sha256(a) == walks_sha256(a.astype(np.int64))
    assert walks_sha256(a) != walks_sha256(a.reshape(4, 3))
    assert walks_sha256(a) != walks_sha256(a[::-1])
