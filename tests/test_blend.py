"""The "blend" scoring end to end on built logs: fitted in the one training path, chosen on a
validation slice, saved with the artifact and answered the same by the model and the index."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recgraph import Recommender
from recgraph.blend import interactions
from recgraph.errors import ArtifactError, ParameterError
from recgraph.index import ItemIndex
from recgraph.scoring import IdMap, Scorer, ScoringOptions


def clustered_log(n_users: int = 120, n_clusters: int = 4, per_cluster: int = 15, seed: int = 0) -> pd.DataFrame:
    """Users who each like items of one cluster (and a few others): co-occurrence follows the
    clusters, so a model that learns the log ranks a user's own cluster first. Implicit, timed."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        cluster = user % n_clusters
        own = cluster * per_cluster + rng.choice(per_cluster, size=8, replace=False)
        other = rng.choice(n_clusters * per_cluster, size=2, replace=False)
        for t, item in enumerate(np.concatenate([own, other])):
            rows.append((user, int(item) + 1, 1000 * user + t))
    frame = pd.DataFrame(rows, columns=["user", "item", "ts"]).drop_duplicates(["user", "item"])
    return frame.reset_index(drop=True)


SMALL = {"graph": {"min_rating": 0.0, "min_weight": 0.0, "max_degree": 20}, "walks": {"num_walks": 5},
         "trainer": {"dim": 8, "epochs": 2}}
LOG = {"user_col": "user", "item_col": "item", "time_col": "ts"}


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    model = Recommender(preset="tuned", seed=3, **SMALL).fit(clustered_log(), **LOG)
    out = tmp_path_factory.mktemp("blend") / "artifact"
    model.save(out)
    return model, out


def test_the_search_is_recorded_and_its_choice_applied(searched):
    model, out = searched
    options = model.config_.scoring
    assert options.method == "blend" and options.search is True
    report = model.manifest_["validation"]
    chosen = report["chosen"]
    # The values the search chose are the ones the model scores with, and the manifest says so.
    assert list(options.blend_weights) == chosen["weights"] and options.blend_lam == chosen["lam"]
    assert options.blend_edge_power == chosen["edge_power"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["scoring"]["blend_weights"] == chosen["weights"]
    assert manifest["validation"]["chosen"]["recall@20"] == chosen["recall@20"]
    assert report["validation_users"] > 0 and "user_model.npz" in manifest["files"]


def test_the_artifact_answers_the_blend_as_the_model(searched):
    model, out = searched
    index = ItemIndex.load(out)
    histories = [[1, 2, 3], [16, 17], [40, 41, 42, 43], [], [999]]
    ids, scores = model.recommend(histories, n=6)
    assert np.array_equal(index.recommend_many(histories, 6)[0], ids)
    for row, history in enumerate(histories[:3]):
        hits = index.recommend(history, k=6)
        assert [h.item_id for h in hits] == ids[row].tolist()
        assert np.allclose([h.score for h in hits], scores[row])
    # A loaded model answers the same.
    again = Recommender.load(out)
    assert np.array_equal(again.recommend(histories, n=6)[0], ids)
    # tuned has the popular fallback: a user with nothing known still gets the most liked items.
    assert (ids[3] >= 0).all() and (ids[4] >= 0).all()


def test_the_blend_ranks_a_users_own_cluster_first(searched):
    model, _ = searched
    ids, _ = model.recommend([[1, 2, 3, 4], [31, 32, 33, 34]], n=5)
    assert np.all((ids[0] >= 1) & (ids[0] <= 15))  # cluster 0: items 1-15
    assert np.all((ids[1] >= 31) & (ids[1] <= 45))  # cluster 2: items 31-45


def test_blend_without_a_user_model_is_refused():
    with pytest.raises(ParameterError, match="needs a fitted user model"):
        Scorer(np.eye(3), np.ones(3), ScoringOptions(method="blend"))
    with pytest.raises(ParameterError, match="blend_weights must be 6 numbers"):
        ScoringOptions(blend_weights=(0, 0, 0, 0))


def test_a_graph_directory_cannot_fit_a_blend(tmp_path):
    with pytest.raises(ParameterError, match="graph directory holds none"):
        Recommender(preset="tuned").fit(None, graph=tmp_path)


def test_a_tampered_user_model_is_one_sentence(searched, tmp_path):
    import shutil

    _, out = searched
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "user_model.npz").write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match="user_model.npz"):
        ItemIndex.load(copy, verify=False)
    with pytest.raises(ArtifactError, match="user_model.npz"):
        ItemIndex.load(copy)  # the checksum catches it first


def test_interactions_keep_each_pairs_latest_time():
    from recgraph.data import load_log

    frame = pd.DataFrame({"user": [1, 1, 1, 2], "item": [10, 20, 10, 20], "ts": [5, 1, 9, 3]})
    ratings = load_log(frame, user_col="user", item_col="item", time_col="ts")
    x, order = interactions(ratings, IdMap(np.array([10, 20])), None)
    assert x.toarray().tolist() == [[1, 1], [0, 1]]
    # user 1's item 10 was seen last (time 9): it holds the highest rank of that user's pairs.
    assert order is not None and order[0, 0] > order[0, 1]


def test_a_small_log_is_trained_again_after_the_search(searched):
    model, _ = searched
    report = model.manifest_["validation"]
    # 120 users, all of them validation users: a fifth of the log was held out, too much to keep
    # the slice's model, so the whole log was walked and trained once more.
    assert report["held_share"] > 0.05
    assert "trained_on" not in model.manifest_["training"] and model.timings_["train"] > 0


def test_a_large_log_keeps_the_model_it_validated(monkeypatch):
    # 3,000 users of ten items each, 500 of them validation users (as on a large catalogue, where
    # the validation scores cap them) losing two items: 1,000 held-out pairs, 3% of the log, so
    # the slice's embeddings are the fitted ones (no second training).
    from recgraph import blend

    monkeypatch.setattr(blend, "SEARCH_MAX_ENTRIES", 100 * 60)
    frame = clustered_log(n_users=3000, seed=4)
    model = Recommender(preset="tuned", seed=3, **SMALL).fit(frame, **LOG)
    report = model.manifest_["validation"]
    assert report["validation_users"] == 500 and 0 < report["held_share"] <= 0.05
    assert model.manifest_["training"]["trained_on"].startswith("the log without the validation pairs")
    assert model.timings_["train"] > 0 and model.timings_["search"] > 0  # the slice's training counted once
    assert "graph" not in model.timings_  # no graph of the whole log was built
    # Every item of the log still has a vector and the blend still ranks a user's own cluster first.
    assert len(model.item_ids_) == 60
    ids, _ = model.recommend([[1, 2, 3]], n=5)
    assert set(ids[0].tolist()) <= set(range(1, 16))


def test_the_recent_scores_follow_the_order_of_the_history(searched):
    model, _ = searched
    report = model.manifest_["validation"]
    assert report["ordered"] is True and report["recent_count"] == 5  # the log has times: searched
    a, b = [1, 2, 3, 4, 5], [16, 17, 18, 19, 20]  # items of cluster 0, then of cluster 1
    only_recent = {"blend_weights": [0, 0, 0, 0, 1, 0], "recent_count": 5}
    ids, _ = model.recommend([a + b, b + a], n=5, scoring=only_recent)
    assert set(ids[0].tolist()) <= set(range(16, 31))  # the latest five: cluster 1's
    assert set(ids[1].tolist()) <= set(range(1, 16))
    # Without order (a sparse history) every item counts: the two lists agree.
    import scipy.sparse as sp

    cols = model.ids_.columns(np.array(a + b))
    unordered = sp.csr_matrix((np.ones(len(cols)), (np.zeros(len(cols), int), cols)), shape=(1, len(model.ids_.item_ids)))
    whole = model.recommend(unordered, n=5, scoring=only_recent)[0]
    assert np.array_equal(whole, model.recommend(unordered, n=5, scoring={"blend_weights": [1, 0, 0, 0]})[0])


def test_a_shared_corpus_is_never_swapped_for_the_slice(monkeypatch):
    # compare trains every backend on one prebuilt corpus: the search must not replace it.
    from recgraph import blend
    from recgraph.config import resolve_config
    from recgraph.pipeline import load_inputs, train_on_corpus

    monkeypatch.setattr(blend, "SEARCH_MAX_ENTRIES", 100 * 60)
    frame = clustered_log(n_users=3000, seed=4)
    config = resolve_config("tuned", "gensim", seed=3, **SMALL)
    inputs, config = load_inputs(frame, config, log=LOG)
    result = train_on_corpus(inputs, None, config)
    assert result.manifest["validation"]["held_share"] <= 0.05
    assert "trained_on" not in result.manifest["training"]
    assert result.manifest["walks_sha256"] == inputs.corpus.sha256()
