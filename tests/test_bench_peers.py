"""benchmarks/bench_peers.py: its recgraph row is the public path (Recommender -> save ->
ItemIndex.load -> recommend_many), and it is judged by the same evaluator as the baselines."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gensim")

from benchmarks import bench_peers as bench  # noqa: E402
from recgraph.index import ItemIndex  # noqa: E402
from recgraph.model import Recommender  # noqa: E402


@pytest.fixture(scope="module")
def small_log():
    train, test, order = bench.synth_log("music", 0.03, seed=1)
    return train, test, order, bench.eval_users(test, 60, 1)


def test_recgraph_row_answers_through_item_index(small_log, tmp_path, monkeypatch):
    train, test, order, users = small_log
    calls = []
    original = ItemIndex.recommend_many

    def spy(self, histories, k=10, exclude=None, scoring=None):
        calls.append(len(histories))
        return original(self, histories, k, exclude, scoring)

    monkeypatch.setattr(ItemIndex, "recommend_many", spy)
    report: dict = {}
    scorer = bench.recgraph_public(1, report, workdir=tmp_path)
    path = scorer._fit(train, order)
    top = scorer._top(path, users, train)
    assert calls == [len(users)]
    assert top.shape == (len(users), bench.K)

    # The same lists as the fitted model's own recommend, read back from the artifact.
    h = bench.histories(train, users)
    ids, _ = Recommender.load(path).recommend(h, bench.K, exclude=h)
    np.testing.assert_array_equal(top, ids)
    # Never a training item.
    for row, seen in zip(top, h):
        assert not np.isin(row[row >= 0], seen).any()
    # The blend's choice and its validation figure are recorded for the docs' table.
    assert report["scoring"]["method"] == "blend" and len(report["scoring"]["blend_weights"]) == 6
    assert 0.0 <= report["validation"]["chosen"]["recall@20"] <= 1.0


def test_recgraph_row_beside_a_baseline_in_one_evaluation(small_log, tmp_path):
    train, test, order, users = small_log
    popular = bench.evaluate(bench.baseline("most-popular"), train, test, order, users)
    rg = bench.evaluate(bench.recgraph_public(1, {}, workdir=tmp_path), train, test, order, users)
    for row in (popular, rg):
        assert 0.0 <= row["recall@20"] <= 1.0 and row["fit_s"] >= 0.0
    # On the music shape the co-occurrence structure is strong: recgraph well above popularity.
    assert rg["recall@20"] > popular["recall@20"] + 0.1
